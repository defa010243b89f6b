//! Policy evaluation: first matching rule wins. Pure: the velocity history comes in through a
//! closure, nothing is recorded here.

use super::{Action, Decision, Miss, Policy, Reason, Rule};
use crate::signer::{Analysis, CheckedOutput};

/// What the policy looks at, taken from a checked PSBT.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a, 'b> {
    /// Inputs minus change outputs (payments plus fee).
    pub outflow: u64,
    /// The fee.
    pub fee: u64,
    /// Upper bound on the signed transaction's virtual size.
    pub vsize: u64,
    /// All outputs (change outputs are skipped by the destination check).
    pub outputs: &'b [CheckedOutput<'a>],
}

impl<'a, 'b> Facts<'a, 'b> {
    /// The facts of a checked PSBT. `None` only if the amounts overflow (they cannot for a
    /// checked PSBT, whose fee and payments are parts of its input total).
    pub fn from_analysis(a: &'b Analysis<'a>) -> Option<Self> {
        Some(Self {
            outflow: a.spent.checked_add(a.fee)?,
            fee: a.fee,
            vsize: a.vsize,
            outputs: &a.outputs,
        })
    }
}

fn first_miss(rule: &Rule, f: &Facts<'_, '_>, used: &impl Fn(u32) -> u64) -> Option<Miss> {
    if let Some(limit) = rule.max_amount
        && f.outflow > limit
    {
        return Some(Miss::Amount {
            limit,
            outflow: f.outflow,
        });
    }
    if let Some(v) = rule.velocity {
        let already = used(v.period_s);
        if already.checked_add(f.outflow).is_none_or(|t| t > v.limit) {
            return Some(Miss::Velocity {
                limit: v.limit,
                used: already,
                outflow: f.outflow,
                period_s: v.period_s,
            });
        }
    }
    if let Some(list) = &rule.destinations {
        for (i, o) in f.outputs.iter().enumerate() {
            if !o.is_change && !list.iter().any(|s| s.as_slice() == o.script_pubkey) {
                return Some(Miss::Destination {
                    output: u16::try_from(i).unwrap_or(u16::MAX),
                });
            }
        }
    }
    if let Some(limit) = rule.max_fee
        && f.fee > limit
    {
        return Some(Miss::Fee { limit, fee: f.fee });
    }
    if let Some(rate) = rule.max_feerate
        && u128::from(f.fee) > u128::from(rate) * u128::from(f.vsize)
    {
        return Some(Miss::FeeRate {
            limit: rate,
            fee: f.fee,
            vsize: f.vsize,
        });
    }
    None
}

/// Evaluates `policy` on one transaction. `used(period_s)` returns the outflow already counted
/// in the current window of that period (earlier batches plus this batch's earlier PSBTs).
pub fn evaluate(policy: &Policy, facts: &Facts<'_, '_>, used: impl Fn(u32) -> u64) -> Decision {
    let mut last = None;
    let mut closest_allow = None;
    for (i, rule) in policy.rules().iter().enumerate() {
        let index = u8::try_from(i).ok();
        match first_miss(rule, facts, &used) {
            None => {
                let allowed = rule.action == Action::Allow;
                return Decision {
                    allowed,
                    rule: index,
                    reason: if allowed {
                        Reason::AllowedByRule
                    } else {
                        Reason::DeniedByRule
                    },
                    closest_allow: if allowed { None } else { closest_allow },
                };
            }
            Some(m) => {
                if rule.action == Action::Allow {
                    closest_allow = index.map(|r| (r, m));
                }
                last = Some((index, m));
            }
        }
    }
    match last {
        None => Decision {
            allowed: false,
            rule: None,
            reason: Reason::NoRules,
            closest_allow: None,
        },
        Some((rule, m)) => Decision {
            allowed: false,
            rule,
            reason: Reason::NoRuleMatched(m),
            closest_allow: None,
        },
    }
}
