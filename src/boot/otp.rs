//! The sim board's one-time-programmable memory: `STATE/otp.bin`, burnt once at factory
//! provisioning, holding the root of trust for secure boot (the SHA-256 of the first root
//! metadata's body, as MCUboot keeps a key hash in OTP or eFuse).
//!
//! Format (40 bytes): the magic `SNOTP\0v1`, then the 32-byte anchor. The file is created with
//! `O_EXCL` (never overwritten: a second burn is refused) and left read-only (mode 0444). A file
//! of any other length or magic is reported as damaged: the boot stage then runs nothing, since
//! it can verify nothing.
//!
//! Avoids: pretending to be secret. On the sim board anyone who can write the state directory can
//! replace this file; on flight hardware the anchor is in eFuse and the boot ROM reads it.

use std::path::{Path, PathBuf};

/// The file's name in the state directory.
pub const OTP_FILE: &str = "otp.bin";
const MAGIC: &[u8; 8] = b"SNOTP\0v1";

/// Why the OTP could not be read or burnt.
#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    /// The file exists but is not an OTP image of this format.
    #[error(
        "{0}: the OTP stand-in is damaged (not 40 bytes starting with SNOTP\\0v1); the boot stage cannot verify any image without it. Restore it from a backup of this state directory, or start a new one"
    )]
    Damaged(PathBuf),
    /// A second burn.
    #[error("{0}: OTP already burnt; it is written once, at factory provisioning")]
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

/// The root-of-trust anchor burnt in `state`'s OTP, or `None` if nothing was burnt yet (a fresh
/// board).
pub fn read(state: &Path) -> Result<Option<[u8; 32]>, OtpError> {
    let path = state.join(OTP_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(OtpError::Io { path, err }),
    };
    match bytes.split_first_chunk::<8>() {
        Some((magic, anchor)) if magic == MAGIC && anchor.len() == 32 => {
            let mut out = [0u8; 32];
            out.copy_from_slice(anchor);
            Ok(Some(out))
        }
        _ => Err(OtpError::Damaged(path)),
    }
}

/// Burns `anchor` into `state`'s OTP. Refused if it was burnt before.
pub fn burn(state: &Path, anchor: &[u8; 32]) -> Result<(), OtpError> {
    let path = state.join(OTP_FILE);
    board_sim::link_otp::burn_once(&path, MAGIC, anchor).map_err(|err| match err.kind() {
        std::io::ErrorKind::AlreadyExists => OtpError::AlreadyBurnt(path.clone()),
        _ => OtpError::Io {
            path: path.clone(),
            err,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn burnt_once_read_back_and_damage_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read(dir.path()).expect("read").is_none(), "fresh board");
        burn(dir.path(), &[7; 32]).expect("burn");
        assert_eq!(read(dir.path()).expect("read"), Some([7; 32]));
        assert!(matches!(
            burn(dir.path(), &[8; 32]),
            Err(OtpError::AlreadyBurnt(_))
        ));
        assert_eq!(read(dir.path()).expect("read"), Some([7; 32]), "unchanged");
        let path = dir.path().join(OTP_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::write(&path, b"SNOTP\0v1short").expect("damage");
        assert!(matches!(read(dir.path()), Err(OtpError::Damaged(_))));
    }
}
