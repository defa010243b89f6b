//! The text form of a rule (`rule allow max-amount=... velocity=.../... to=...,... max-fee=...
//! max-feerate=...`): parsing from whitespace-separated tokens and writing back in canonical
//! form (conditions in table order), so `parse(write(r)) == r`.

use super::{Action, MAX_SATS, Rule, Spk, Velocity};
use core::fmt;

/// Why a rule line did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyParseError {
    /// Not `allow` or `deny`.
    #[error("rule action must be allow or deny")]
    BadAction,
    /// A token that is not a known `name=value` condition.
    #[error("unknown rule condition")]
    UnknownCondition,
    /// The same condition twice in one rule.
    #[error("condition given twice in one rule")]
    DuplicateCondition,
    /// An amount that is not a number in `0..=21e14`.
    #[error("bad amount (satoshis, at most 2100000000000000)")]
    BadAmount,
    /// A velocity that is not `SATS/SECONDS` with a period of at least 1 s.
    #[error("bad velocity (SATS/SECONDS, SECONDS >= 1)")]
    BadVelocity,
    /// A `to=` list entry that is not hex of a scriptPubKey of 1..=42 bytes, or too many.
    #[error("bad destination list (1-8 hex scriptPubKeys of 1-42 bytes)")]
    BadDestination,
    /// A fee rate that is not a number in `0..=21e14`.
    #[error("bad fee rate (sat/vB)")]
    BadFeeRate,
}

fn amount(v: &str) -> Result<u64, PolicyParseError> {
    let n: u64 = v.parse().map_err(|_| PolicyParseError::BadAmount)?;
    if n > MAX_SATS {
        return Err(PolicyParseError::BadAmount);
    }
    Ok(n)
}

fn set<T>(slot: &mut Option<T>, v: T) -> Result<(), PolicyParseError> {
    if slot.is_some() {
        return Err(PolicyParseError::DuplicateCondition);
    }
    *slot = Some(v);
    Ok(())
}

impl Rule {
    /// Parses the tokens after the `rule` keyword.
    pub fn parse<'t>(mut tokens: impl Iterator<Item = &'t str>) -> Result<Self, PolicyParseError> {
        let action = match tokens.next() {
            Some("allow") => Action::Allow,
            Some("deny") => Action::Deny,
            _ => return Err(PolicyParseError::BadAction),
        };
        let mut r = Rule::new(action);
        for tok in tokens {
            let (name, value) = tok
                .split_once('=')
                .ok_or(PolicyParseError::UnknownCondition)?;
            match name {
                "max-amount" => set(&mut r.max_amount, amount(value)?)?,
                "velocity" => {
                    let (l, p) = value.split_once('/').ok_or(PolicyParseError::BadVelocity)?;
                    let limit = amount(l).map_err(|_| PolicyParseError::BadVelocity)?;
                    let period_s: u32 = p.parse().map_err(|_| PolicyParseError::BadVelocity)?;
                    if period_s == 0 {
                        return Err(PolicyParseError::BadVelocity);
                    }
                    set(&mut r.velocity, Velocity { limit, period_s })?
                }
                "to" => {
                    let mut list = heapless::Vec::new();
                    for item in value.split(',') {
                        let spk: Spk = crate::hexfmt::decode(item)
                            .filter(|s: &Spk| !s.is_empty())
                            .ok_or(PolicyParseError::BadDestination)?;
                        list.push(spk)
                            .map_err(|_| PolicyParseError::BadDestination)?;
                    }
                    set(&mut r.destinations, list)?
                }
                "max-fee" => set(&mut r.max_fee, amount(value)?)?,
                "max-feerate" => set(
                    &mut r.max_feerate,
                    amount(value).map_err(|_| PolicyParseError::BadFeeRate)?,
                )?,
                _ => return Err(PolicyParseError::UnknownCondition),
            }
        }
        Ok(r)
    }
}

impl fmt::Display for Rule {
    /// The canonical line, `rule` keyword included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.action {
            Action::Allow => "rule allow",
            Action::Deny => "rule deny",
        })?;
        if let Some(a) = self.max_amount {
            write!(f, " max-amount={a}")?;
        }
        if let Some(v) = self.velocity {
            write!(f, " velocity={}/{}", v.limit, v.period_s)?;
        }
        if let Some(list) = &self.destinations {
            f.write_str(" to=")?;
            for (i, s) in list.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                crate::hexfmt::write(f, s)?;
            }
        }
        if let Some(x) = self.max_fee {
            write!(f, " max-fee={x}")?;
        }
        if let Some(x) = self.max_feerate {
            write!(f, " max-feerate={x}")?;
        }
        Ok(())
    }
}
