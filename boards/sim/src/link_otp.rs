//! The sim board's stand-in for the write-once memory that holds comms' **link recovery key**
//! (`runtime::drivers::Drivers::link_recovery_key`): `STATE/link-recovery.otp`, burnt once by
//! `spacenode provision-link`, apart from `comms-flash`, so that a lost or damaged sealed key
//! record on that flash can still be replaced over the link.
//!
//! Format (40 bytes): the magic `SNLRK\0v1`, then the 32-byte key. Burnt with `O_EXCL` (another key
//! later is refused; the same key again changes nothing) and left read-only (0444). The monitor grants it to the owner of
//! [`LINK_RECOVERY_DEVICE`] read-only, right after that flash's image ([`crate::grants`]); a board
//! with nothing burnt grants `/dev/null`, which reads as "no key".
//!
//! Avoids: pretending to be secret. On the sim board anyone who can read the state directory
//! reads the key; on a flight board it sits in OTP or eFuse that only comms' core can read.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The file's name in the state directory.
pub const LINK_OTP_FILE: &str = "link-recovery.otp";
/// The device whose owner is handed the key (comms' flash).
pub const LINK_RECOVERY_DEVICE: &str = "comms-flash";
/// The file's length.
pub const LINK_OTP_LEN: usize = 40;
const MAGIC: &[u8; 8] = b"SNLRK\0v1";

/// Why the key could not be read or burnt.
#[derive(Debug, thiserror::Error)]
pub enum LinkOtpError {
    /// The file exists but is not a link recovery key of this format.
    #[error(
        "the link recovery key's OTP stand-in ({LINK_OTP_FILE}) is damaged (not 40 bytes starting with SNLRK\\0v1): lost link keys can then only be re-provisioned"
    )]
    Damaged,
    /// A second burn of another key.
    #[error(
        "{0}: another link recovery key is already burnt; it is written once, at provisioning (a board set up again starts from a fresh state directory)"
    )]
    AlreadyBurnt(PathBuf),
    /// The file system failed.
    #[error("{path}: {err}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        err: std::io::Error,
    },
}

/// The key in the bytes read from the stand-in: `Ok(None)` for nothing burnt (no bytes).
pub fn parse(bytes: &[u8]) -> Result<Option<[u8; 32]>, LinkOtpError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    match bytes.split_first_chunk::<8>() {
        Some((magic, key)) if magic == MAGIC && key.len() == 32 => {
            let mut out = [0u8; 32];
            out.copy_from_slice(key);
            Ok(Some(out))
        }
        _ => Err(LinkOtpError::Damaged),
    }
}

/// Burns `key` into `state`'s stand-in: `Ok(true)` when burnt now, `Ok(false)` when exactly
/// this key was burnt before (programming the same bits again changes nothing, as on real OTP;
/// a provisioning interrupted after the burn can be run again). Another key burnt before is
/// refused.
pub fn burn(state: &Path, key: &[u8; 32]) -> Result<bool, LinkOtpError> {
    let path = state.join(LINK_OTP_FILE);
    let io = |err| LinkOtpError::Io {
        path: path.clone(),
        err,
    };
    match burn_once(&path, MAGIC, key) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let held = std::fs::read(&path).map_err(io)?;
            match parse(&held) {
                Ok(Some(k)) if k == *key => Ok(false),
                _ => Err(LinkOtpError::AlreadyBurnt(path.clone())),
            }
        }
        Err(e) => Err(io(e)),
    }
}

/// A sim board write-once stand-in (this key, and the root of trust's OTP in the `spacenode`
/// boot stage): creates `path` with `O_EXCL` holding `magic ‖ value`, flushed, left read-only
/// (0444). `ErrorKind::AlreadyExists` if it was burnt before.
pub fn burn_once(path: &Path, magic: &[u8; 8], value: &[u8; 32]) -> std::io::Result<()> {
    let mut f = std::fs::File::options()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(path)?;
    f.write_all(magic)?;
    f.write_all(value)?;
    f.sync_all()?;
    f.set_permissions(std::fs::Permissions::from_mode(0o444))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burnt_once_read_back_and_damage_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(burn(dir.path(), &[7; 32]).expect("burn"));
        let bytes = std::fs::read(dir.path().join(LINK_OTP_FILE)).expect("read");
        assert_eq!(parse(&bytes).expect("parse"), Some([7; 32]));
        assert!(!burn(dir.path(), &[7; 32]).expect("the same key again"));
        assert!(matches!(
            burn(dir.path(), &[8; 32]),
            Err(LinkOtpError::AlreadyBurnt(_))
        ));
        assert_eq!(parse(&[]).expect("blank"), None);
        assert!(matches!(parse(&bytes[..39]), Err(LinkOtpError::Damaged)));
        let mut bad = bytes.clone();
        bad[0] ^= 1;
        assert!(matches!(parse(&bad), Err(LinkOtpError::Damaged)));
    }
}
