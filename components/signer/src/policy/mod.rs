//! The signing policy: per ground server, an ordered list of rules; the first rule whose
//! conditions all hold decides (allow or deny); no matching rule, or no rules at all, means the
//! PSBT is not signed.
//!
//! # The policy language
//!
//! One rule per line in the provisioning file and in admin commands ([`crate::provision`]):
//!
//! ```text
//! rule allow max-amount=1000000 velocity=5000000/86400 to=0014ab..,0020cd.. max-fee=20000 max-feerate=50
//! rule deny
//! ```
//!
//! `rule` then the action, `allow` or `deny`, then any of these conditions (each at most once;
//! all must hold for the rule to match; a rule without conditions matches everything):
//!
//! | condition | holds when |
//! | --- | --- |
//! | `max-amount=SATS` | the transaction's outflow (inputs minus change outputs: payments plus fee) is at most `SATS` |
//! | `velocity=SATS/SECONDS` | this server's outflow already signed in the current `SECONDS`-long window, plus this batch's earlier transactions, plus this one, is at most `SATS` |
//! | `to=HEX[,HEX...]` | every non-change output pays to one of the listed scriptPubKeys (hex), at most [`MAX_DESTINATIONS`] of at most [`MAX_SPK`] bytes |
//! | `max-fee=SATS` | the fee is at most `SATS` |
//! | `max-feerate=SATS_PER_VBYTE` | `fee <= rate * vsize`, where vsize is [`crate::signer::Analysis::vsize`] |
//!
//! Amounts are satoshis, at most 21e14. Conditions are checked in the table's order; the first
//! that fails is the rule's *miss*. Velocity windows are fixed windows on the mission clock
//! (see [`velocity`]); every signed transaction of a server counts in every window of that
//! server's policy, whichever rule allowed it, so velocity limits bound the server's total
//! outflow. The fee-rate check divides by an *upper bound* on the signed size (it assumes 73-byte
//! signatures, DER plus sighash byte; real ones are 71-73): the true rate can exceed the cap by
//! at most 2 weight units per signature, below 1% for any multisig input.
//!
//! # Decisions
//!
//! [`evaluate`] returns a [`Decision`]: allowed or not, the index of the deciding rule, and the
//! reason ([`Reason`]). When a `deny` rule decides (the usual last line, `rule deny`), the
//! decision also names the nearest `allow` rule above it and the condition that rule failed,
//! so the refusal can say which limit was hit rather than only "denied by a rule". It never
//! panics and never allocates; the caller logs it.

mod eval;
mod text;
pub mod velocity;

pub use eval::{Facts, evaluate};
pub use text::PolicyParseError;

/// Most rules per policy.
pub const MAX_RULES: usize = 8;
/// Most scriptPubKeys per `to=` list.
pub const MAX_DESTINATIONS: usize = 8;
/// Longest whitelisted scriptPubKey in bytes.
pub const MAX_SPK: usize = 42;
/// Most distinct velocity periods per policy.
pub const MAX_PERIODS: usize = 4;
/// Largest amount a policy may name (the 21 million BTC supply, in satoshis).
pub const MAX_SATS: u64 = 2_100_000_000_000_000;

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Sign.
    Allow,
    /// Refuse.
    Deny,
}

/// A velocity limit: at most `limit` satoshis of outflow per `period_s`-second window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Velocity {
    /// Satoshis.
    pub limit: u64,
    /// Window length in seconds (at least 1).
    pub period_s: u32,
}

/// A whitelisted scriptPubKey.
pub type Spk = heapless::Vec<u8, MAX_SPK>;

/// One rule: an action and the conditions under which it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// What happens when every condition holds.
    pub action: Action,
    /// `max-amount`.
    pub max_amount: Option<u64>,
    /// `velocity`.
    pub velocity: Option<Velocity>,
    /// `to`.
    pub destinations: Option<heapless::Vec<Spk, MAX_DESTINATIONS>>,
    /// `max-fee`.
    pub max_fee: Option<u64>,
    /// `max-feerate` (sat/vB).
    pub max_feerate: Option<u64>,
}

impl Rule {
    /// A rule with no conditions.
    pub fn new(action: Action) -> Self {
        Self {
            action,
            max_amount: None,
            velocity: None,
            destinations: None,
            max_fee: None,
            max_feerate: None,
        }
    }
}

/// Why a policy was refused when built or parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// More than [`MAX_RULES`] rules.
    #[error("more than {MAX_RULES} rules")]
    TooManyRules,
    /// More than [`MAX_PERIODS`] distinct velocity periods.
    #[error("more than {MAX_PERIODS} distinct velocity periods")]
    TooManyPeriods,
}

/// An ordered rule list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    rules: heapless::Vec<Rule, MAX_RULES>,
}

impl Policy {
    /// The empty policy (signs nothing).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Appends a rule (checked against the limits).
    pub fn push(&mut self, rule: Rule) -> Result<(), PolicyError> {
        let mut next = self.clone();
        next.rules
            .push(rule)
            .map_err(|_| PolicyError::TooManyRules)?;
        if next.periods().count() > MAX_PERIODS {
            return Err(PolicyError::TooManyPeriods);
        }
        *self = next;
        Ok(())
    }

    /// The rules in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The distinct velocity periods (seconds), in first-use order.
    pub fn periods(&self) -> impl Iterator<Item = u32> + '_ {
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.velocity.map(|v| (i, v.period_s)))
            .filter(|(i, p)| {
                !self.rules[..*i]
                    .iter()
                    .any(|r| r.velocity.is_some_and(|v| v.period_s == *p))
            })
            .map(|(_, p)| p)
    }
}

/// The condition of a rule that did not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// Outflow above `max-amount`.
    Amount {
        /// The cap.
        limit: u64,
        /// The outflow.
        outflow: u64,
    },
    /// Outflow would exceed the velocity limit.
    Velocity {
        /// The cap.
        limit: u64,
        /// Already counted in the window (earlier batches and this batch's earlier PSBTs).
        used: u64,
        /// This transaction's outflow.
        outflow: u64,
        /// The window length in seconds.
        period_s: u32,
    },
    /// A non-change output pays to a script not in the `to=` list.
    Destination {
        /// The output index.
        output: u16,
    },
    /// Fee above `max-fee`.
    Fee {
        /// The cap.
        limit: u64,
        /// The fee.
        fee: u64,
    },
    /// Fee rate above `max-feerate`.
    FeeRate {
        /// The cap, sat/vB.
        limit: u64,
        /// The fee.
        fee: u64,
        /// The (upper-bound) vsize.
        vsize: u64,
    },
}

impl Miss {
    /// The output this miss is about (a destination not in the `to=` list).
    pub fn output(&self) -> Option<u16> {
        match self {
            Miss::Destination { output } => Some(*output),
            _ => None,
        }
    }

    /// Wire code of the condition kind (1 amount, 2 velocity, 3 destination, 4 fee, 5 fee rate).
    pub fn code(&self) -> u8 {
        match self {
            Miss::Amount { .. } => 1,
            Miss::Velocity { .. } => 2,
            Miss::Destination { .. } => 3,
            Miss::Fee { .. } => 4,
            Miss::FeeRate { .. } => 5,
        }
    }
}

/// Why a decision came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Rule `rule` (an `allow`) matched.
    AllowedByRule,
    /// Rule `rule` (a `deny`) matched.
    DeniedByRule,
    /// The policy has no rules: nothing is signed.
    NoRules,
    /// No rule matched; the miss of the last rule (`rule`) is given.
    NoRuleMatched(Miss),
}

/// The outcome of evaluating a policy on one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Sign or not.
    pub allowed: bool,
    /// The rule that decided (for `NoRuleMatched`, the last rule tried; `None` for `NoRules`).
    pub rule: Option<u8>,
    /// Why.
    pub reason: Reason,
    /// When a `deny` rule decided: the nearest `allow` rule above it and the condition it
    /// failed (what kept the transaction from being allowed). `None` otherwise, or when no
    /// `allow` rule comes before the deciding `deny`.
    pub closest_allow: Option<(u8, Miss)>,
}

impl Decision {
    /// Wire code: 0 allowed, 1 denied by a rule, 2 no rules, `0x10 + miss code` no rule matched.
    pub fn code(&self) -> u8 {
        match self.reason {
            Reason::AllowedByRule => 0,
            Reason::DeniedByRule => 1,
            Reason::NoRules => 2,
            Reason::NoRuleMatched(m) => 0x10 + m.code(),
        }
    }
}
