//! The sim board's default provisioning: two associations whose master keys are **public**
//! (derived from fixed, documented labels), so a fresh clone can boot the sim node and talk to it
//! without a key ceremony. It authenticates nothing against anyone who has read this file: it
//! exists for the sim board, tests and the interop script only. A flight or dev board build
//! never uses it (the `comms-partition` crate seals it only with its `sim-default-keys`
//! feature, which only the sim binary enables, and only at the first boot of a board with no
//! sealed keys and an empty provisioning inbox; comms then says so with a WARN at every start).
//!
//! | SPI | permissions | window | telemetry | master key |
//! | --- | --- | --- | --- | --- |
//! | 1 ([`SIM_OPS_SPI`]) | all | 64 | yes | `SHA3-256("spacenode sim board SDLS master key (PUBLIC) spi=1")` |
//! | 2 ([`SIM_MONITOR_SPI`]) | test, housekeeping | 64 | no | `SHA3-256("spacenode sim board SDLS master key (PUBLIC) spi=2")` |
//!
//! (The label is ASCII, no terminator; Python: `hashlib.sha3_256(b"...spi=1").digest()`.)
//!
//! Avoids: heap; any secret.

use sha3::{Digest, Sha3_256};

use super::key_state::KeyState;
use super::mac::{KEY_LEN, Key};
use super::permissions::Permissions;
use super::provision::{ProvisionError, ProvisionedSa, Provisioning};

/// The operations association (all permissions; unsolicited telemetry goes under it).
pub const SIM_OPS_SPI: u16 = 1;
/// The monitoring association (ping and housekeeping only).
pub const SIM_MONITOR_SPI: u16 = 2;
/// Anti-replay window width of both: wider than one reservation block
/// ([`super::DEFAULT_RESERVE_BLOCK`], 256) plus the ground's retry margin, so that the ground's
/// one-block jump on a retry (made in case the node rebooted: its floor is then up to a block
/// above anything the ground sent) also lands inside the window when the node did not reboot.
/// A wide *positive* window costs no replay protection: every accepted ARSN moves the floor
/// up, and nothing at or below it is ever accepted again.
pub const SIM_WINDOW: u16 = 512;
/// Bytes of the encoded default provisioning file.
pub const SIM_DEFAULT_LEN: usize = Provisioning::encoded_len(2);

/// The public master key of sim association `spi`.
pub fn sim_master_key(spi: u16) -> Key {
    let mut h = Sha3_256::new();
    h.update(b"spacenode sim board SDLS master key (PUBLIC) spi=");
    let mut digits = [0u8; 5];
    let mut n = spi;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    h.update(&digits[i..]);
    let mut k = [0u8; KEY_LEN];
    k.copy_from_slice(&h.finalize());
    Key::from_bytes(k)
}

fn associations() -> [ProvisionedSa; 2] {
    [
        ProvisionedSa {
            spi: SIM_OPS_SPI,
            permissions: Permissions::ALL,
            window: SIM_WINDOW,
            telemetry: true,
            master: sim_master_key(SIM_OPS_SPI),
            state: KeyState::Active,
            suite: super::provision::Suite::Aes256Gcm,
            key_id: 0,
        },
        ProvisionedSa {
            spi: SIM_MONITOR_SPI,
            permissions: Permissions::TEST.union(Permissions::HOUSEKEEPING),
            window: SIM_WINDOW,
            telemetry: false,
            master: sim_master_key(SIM_MONITOR_SPI),
            state: KeyState::Active,
            suite: super::provision::Suite::Aes256Gcm,
            key_id: 0,
        },
    ]
}

/// The default provisioning file, encoded (what `spacenode ground` uses when given none).
pub fn sim_default_bytes() -> Result<[u8; SIM_DEFAULT_LEN], ProvisionError> {
    let mut out = [0u8; SIM_DEFAULT_LEN];
    Provisioning::encode(&associations(), &mut out)?;
    Ok(out)
}

/// The default provisioning, parsed.
pub fn sim_default() -> Result<Provisioning, ProvisionError> {
    Provisioning::parse(&sim_default_bytes()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_labels() {
        let want = Sha3_256::digest(b"spacenode sim board SDLS master key (PUBLIC) spi=2");
        assert_eq!(sim_master_key(2).as_bytes()[..], want[..]);
        let want = Sha3_256::digest(b"spacenode sim board SDLS master key (PUBLIC) spi=65534");
        assert_eq!(sim_master_key(65534).as_bytes()[..], want[..]);
        assert_ne!(sim_master_key(1).as_bytes(), sim_master_key(2).as_bytes());
    }

    #[test]
    fn default_parses_with_two_associations() {
        let p = sim_default().unwrap();
        let sas: Vec<_> = p.associations().collect();
        assert_eq!(sas.len(), 2);
        assert!(sas[0].telemetry && !sas[1].telemetry);
        assert!(!sas[1].permissions.contains(Permissions::SIGN));
    }
}
