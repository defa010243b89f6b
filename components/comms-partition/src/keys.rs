//! Where the partition's SDLS provisioning (associations and master keys) comes from.
//!
//! 1. **Build time**: `SPACENODE_COMMS_PROVISIONING=/path/to/file` when building names a
//!    provisioning file (format: [`comms::sdls::provision`]); `comms`' build script embeds it
//!    ([`comms::sdls::provision::BUILD_TIME`]). This is the only way for a flight image.
//! 2. **Sim default**: without it, and only with this crate's `sim-default-keys` feature (which
//!    only the sim binary `spacenode` enables), the sim board's public default
//!    ([`comms::sdls::sim_default`]): fine for a developer's machine, worthless as security.
//! 3. Otherwise the partition refuses to start ([`KeysError::NotProvisioned`]).
//!
//! The ground uses the same file (`spacenode ground --provisioning FILE`, default the sim
//! default).
//!
//! Avoids: keys in source code (the sim default's are derived from public labels on purpose).

use comms::sdls::{ProvisionError, Provisioning};

/// Where the provisioning came from (for the boot log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysOrigin {
    /// Embedded at build time from `SPACENODE_COMMS_PROVISIONING`.
    BuildTime,
    /// The sim board's public default.
    SimDefault,
}

/// Why there are no usable keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    /// Nothing embedded and no sim default in this build.
    #[error(
        "no SDLS provisioning: build with SPACENODE_COMMS_PROVISIONING=FILE (or the sim-default-keys feature on the sim board)"
    )]
    NotProvisioned,
    /// The embedded file does not parse.
    #[error("the SDLS provisioning embedded at build time is invalid: {0}")]
    Invalid(ProvisionError),
}

/// The provisioning this build boots with.
pub fn provisioning() -> Result<(Provisioning, KeysOrigin), KeysError> {
    if let Some(bytes) = comms::sdls::provision::BUILD_TIME {
        return Provisioning::parse(bytes)
            .map(|p| (p, KeysOrigin::BuildTime))
            .map_err(KeysError::Invalid);
    }
    sim_default()
}

#[cfg(feature = "sim-default-keys")]
fn sim_default() -> Result<(Provisioning, KeysOrigin), KeysError> {
    comms::sdls::sim_default::sim_default()
        .map(|p| (p, KeysOrigin::SimDefault))
        .map_err(KeysError::Invalid)
}

#[cfg(not(feature = "sim-default-keys"))]
fn sim_default() -> Result<(Provisioning, KeysOrigin), KeysError> {
    Err(KeysError::NotProvisioned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without the sim feature, a build either embeds its keys or refuses to boot.
    #[cfg(not(feature = "sim-default-keys"))]
    #[test]
    fn without_the_sim_feature_only_build_time_keys_boot() {
        match comms::sdls::provision::BUILD_TIME {
            None => assert_eq!(provisioning().unwrap_err(), KeysError::NotProvisioned),
            Some(_) => assert_eq!(provisioning().map(|(_, o)| o), Ok(KeysOrigin::BuildTime)),
        }
    }

    /// With it, the sim default is used only when nothing was embedded.
    #[cfg(feature = "sim-default-keys")]
    #[test]
    fn the_sim_default_never_overrides_build_time_keys() {
        let want = if comms::sdls::provision::BUILD_TIME.is_some() {
            KeysOrigin::BuildTime
        } else {
            KeysOrigin::SimDefault
        };
        assert_eq!(provisioning().map(|(_, o)| o), Ok(want));
    }
}
