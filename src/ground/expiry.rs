//! Certificate expiry on the ground: `--lifetime-s` (the default, [`DEFAULT_LIFETIME_S`] from
//! the ground's UTC clock), `--expiry-ms` (an explicit mission time) or `--no-expiry` (accepted
//! only by a server whose registry entry says `no-expiry`).
//!
//! The node checks the expiry on its mission clock (`signer::clock`), which the ground sets with
//! `spacenode ground time`; a node never correlated refuses every certificate with an expiry.
//!
//! Avoids: a default that never expires.

use crate::failure::Failure;
use clap::Args;

/// Default certificate lifetime: one hour, enough for a batch to cross a slow link in one or two
/// contact windows, short enough that a certificate lost on the ground is soon worthless.
pub const DEFAULT_LIFETIME_S: u64 = 3600;

/// A certificate's expiry, as the node takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Valid while the node's mission time (ms since 1970-01-01 UTC) is at or before this; a
    /// node whose clock was never correlated (`spacenode ground time`) refuses it. At most
    /// `signer::cert::NO_EXPIRY - 1` (one more would mean no expiry).
    At(u64),
    /// No expiry (`signer::cert::NO_EXPIRY`): the node accepts it only from a server whose
    /// registry entry says `no-expiry`, and refuses it from any other.
    OnlyIfRegistryAllows,
}

impl Expiry {
    /// The certificate's expiry field.
    pub fn field(self) -> u64 {
        match self {
            Expiry::At(ms) => ms.min(signer::cert::NO_EXPIRY - 1),
            Expiry::OnlyIfRegistryAllows => signer::cert::NO_EXPIRY,
        }
    }

    /// `lifetime_s` seconds from the ground's UTC clock now.
    pub fn from_now(lifetime_s: u64) -> Result<Expiry, Failure> {
        let lifetime = lifetime_s
            .checked_mul(1000)
            .filter(|&l| l > 0)
            .ok_or_else(|| {
                Failure::Usage(format!(
                    "--lifetime-s {lifetime_s}: give 1 to {} seconds (or --no-expiry)",
                    u64::MAX / 1000
                ))
            })?;
        Ok(Expiry::At(ground_now_ms()?.saturating_add(lifetime)))
    }
}

#[derive(Args, Clone, Copy, Debug)]
pub struct ExpiryArgs {
    /// Certificate lifetime in seconds from the ground's UTC clock now; the node refuses the
    /// batch once its mission time is past it (set the node's clock with `spacenode ground time`)
    #[arg(long, value_name = "S", default_value_t = DEFAULT_LIFETIME_S)]
    lifetime_s: u64,
    /// Certificate expiry as mission time, ms since 1970-01-01 UTC (instead of --lifetime-s)
    #[arg(long, value_name = "MS", conflicts_with_all = ["lifetime_s", "no_expiry"])]
    expiry_ms: Option<u64>,
    /// A certificate that never expires: the node accepts it only from a server whose registry
    /// entry says `no-expiry`
    #[arg(long, conflicts_with = "lifetime_s")]
    no_expiry: bool,
}

impl ExpiryArgs {
    /// The certificate's expiry.
    pub fn expiry(&self) -> Result<Expiry, Failure> {
        if self.no_expiry {
            return Ok(Expiry::OnlyIfRegistryAllows);
        }
        if let Some(ms) = self.expiry_ms {
            if ms == signer::cert::NO_EXPIRY {
                return Err(Failure::Usage(format!(
                    "--expiry-ms {ms} means no expiry: say --no-expiry"
                )));
            }
            return Ok(Expiry::At(ms));
        }
        Expiry::from_now(self.lifetime_s)
    }

    /// The certificate's expiry field (mission ms, or `signer::cert::NO_EXPIRY`).
    pub fn expiry_ms(&self) -> Result<u64, Failure> {
        self.expiry().map(Expiry::field)
    }
}

/// The ground's UTC clock, ms since 1970-01-01.
pub fn ground_now_ms() -> Result<u64, Failure> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_millis()).ok())
        .ok_or_else(|| Failure::Usage("the ground's clock is before 1970: set it to UTC".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        e: ExpiryArgs,
    }

    fn expiry(args: &[&str]) -> Result<u64, String> {
        let t = T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .map_err(|e| e.kind().to_string())?;
        t.e.expiry_ms().map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn the_default_is_a_short_lifetime_and_never_expiring_must_be_asked_for() {
        let before = ground_now_ms().expect("clock");
        let d = expiry(&[]).expect("default");
        assert!(d >= before + DEFAULT_LIFETIME_S * 1000, "{d}");
        assert!(d <= ground_now_ms().expect("clock") + DEFAULT_LIFETIME_S * 1000);
        let l = expiry(&["--lifetime-s", "60"]).expect("60 s");
        assert!(l >= before + 60_000 && l < d, "{l}");
        assert_eq!(expiry(&["--expiry-ms", "1234"]), Ok(1234));
        assert_eq!(expiry(&["--no-expiry"]), Ok(signer::cert::NO_EXPIRY));
        assert!(expiry(&["--lifetime-s", "0"]).is_err());
        assert!(expiry(&["--expiry-ms", "18446744073709551615"]).is_err());
        assert!(expiry(&["--no-expiry", "--lifetime-s", "5"]).is_err());
        assert!(expiry(&["--no-expiry", "--expiry-ms", "5"]).is_err());
    }

    #[test]
    fn an_expiry_never_means_no_expiry_unless_it_says_so() {
        let max = signer::cert::NO_EXPIRY;
        assert_eq!(Expiry::At(max).field(), max - 1);
        assert_eq!(Expiry::At(1234).field(), 1234);
        assert_eq!(Expiry::OnlyIfRegistryAllows.field(), max);
        assert!(Expiry::from_now(0).is_err());
        assert!(matches!(
            Expiry::from_now(u64::MAX / 1000),
            Ok(Expiry::At(_))
        ));
    }
}
