//! The ground's secret key files (a server's certificate key, an admin's key): P-256 secret
//! scalars as 64 hex characters, surrounding whitespace ignored.
//!
//! - **Reading** refuses a file that group or others may access (any of the mode bits `0o077`),
//!   as `ssh` does, and names the `chmod 600 FILE` that fixes it. The mode is read from the
//!   opened file, so the file checked is the file read. The text and the decoded bytes live in
//!   [`Zeroizing`] buffers (the text in one allocation of fixed capacity, read through a
//!   bounded reader so that it never grows and leaves a copy behind), and `p256::SecretKey`
//!   zeroizes itself on drop.
//! - **Writing** ([`write_new`], `spacenode ground keygen`) creates the file with mode 0600
//!   and never replaces an existing one.
//!
//! Avoids: key material in error messages, and any copy of it that is not wiped.

use hex_conservative::{DisplayHex, HexToBytesIter};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Longest key file read (64 hex characters and generous whitespace).
const MAX_FILE_LEN: u64 = 256;

/// Why a key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Group or others may access it.
    #[error(
        "key file {path}: group or others may access it (mode {mode:04o}); run `chmod 600 {path}` to keep it to its owner"
    )]
    Exposed {
        /// File.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// It does not hold a key.
    #[error("key file {path}: {what}")]
    Bad {
        /// File.
        path: PathBuf,
        /// Problem.
        what: String,
    },
    /// It could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// Open a secret file, refusing it if group or others may access it.
fn open_private(path: &Path) -> Result<File, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Exposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(file)
}

/// Read a raw 32-byte secret (the link recovery key, `FILE.recovery` of
/// `spacenode provision-link --generate FILE`), with the same mode check.
pub fn read_raw32(path: &Path) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let mut file = open_private(path)?;
    let mut key = Zeroizing::new([0u8; 32]);
    let mut extra = [0u8; 1];
    let io = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    file.read_exact(key.as_mut_slice())
        .map_err(|_| KeyFileError::Bad {
            path: path.to_path_buf(),
            what: "shorter than a link recovery key (32 bytes)".into(),
        })?;
    if file.read(&mut extra).map_err(io)? != 0 {
        return Err(KeyFileError::Bad {
            path: path.to_path_buf(),
            what: "longer than a link recovery key (32 bytes)".into(),
        });
    }
    Ok(key)
}

/// Read a P-256 secret key file (see the module documentation).
pub fn read(path: &Path) -> Result<p256::SecretKey, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bad = |what: &str| KeyFileError::Bad {
        path: path.to_path_buf(),
        what: what.to_string(),
    };
    let file = open_private(path)?;
    let mut text = Zeroizing::new(String::with_capacity(2 * MAX_FILE_LEN as usize));
    file.take(MAX_FILE_LEN + 1)
        .read_to_string(&mut text)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => bad("not text"),
            _ => io(e),
        })?;
    if text.len() as u64 > MAX_FILE_LEN {
        return Err(bad("longer than a key file (64 hex characters)"));
    }
    let hex = text.trim();
    if hex.len() != 64 {
        return Err(bad(&format!(
            "expected 64 hex characters (a P-256 secret key), found {}",
            hex.len()
        )));
    }
    // Decoded straight into the buffer that is wiped: no copy of the key on the way.
    let mut bytes = Zeroizing::new([0u8; 32]);
    let digits = HexToBytesIter::new(hex).map_err(|_| bad("not hexadecimal"))?;
    for (b, d) in bytes.iter_mut().zip(digits) {
        *b = d.map_err(|_| bad("not hexadecimal"))?;
    }
    p256::SecretKey::from_slice(bytes.as_slice())
        .map_err(|_| bad("not a valid P-256 secret key (zero or above the group order)"))
}

/// Write `key` to a new file at `path` with mode 0600 (an existing file is never replaced).
pub fn write_new(path: &Path, key: &p256::SecretKey) -> Result<(), KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    let bytes = Zeroizing::new(key.to_bytes());
    // Into one buffer of its final size (never reallocated): no intermediate strings to wipe.
    let mut text = Zeroizing::new(String::with_capacity(65));
    bytes[..].append_hex_to_string(hex_conservative::Case::Lower, &mut text);
    text.push('\n');
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

/// A new random P-256 secret key from the operating system's generator.
pub fn generate() -> Result<p256::SecretKey, getrandom::Error> {
    loop {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice())?;
        // Zero or at/above the group order (probability about 2^-32): draw again.
        if let Ok(k) = p256::SecretKey::from_slice(bytes.as_slice()) {
            return Ok(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let p = dir.join("k");
        let _ = std::fs::remove_file(&p);
        std::fs::write(&p, text).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }

    #[test]
    fn files_open_to_group_or_others_are_refused_with_the_chmod_to_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = "0a".repeat(32);
        for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o660] {
            let p = file(dir.path(), &key, mode);
            let e = read(&p).unwrap_err().to_string();
            assert_eq!(
                e,
                format!(
                    "key file {0}: group or others may access it (mode {mode:04o}); run `chmod 600 {0}` to keep it to its owner",
                    p.display()
                )
            );
        }
        for mode in [0o600, 0o400] {
            assert!(read(&file(dir.path(), &key, mode)).is_ok(), "{mode:o}");
        }
    }

    #[test]
    fn contents_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = |text: &str| {
            read(&file(dir.path(), text, 0o600))
                .unwrap_err()
                .to_string()
        };
        assert!(err(&"00".repeat(32)).contains("not a valid P-256"));
        assert!(err(&"zz".repeat(32)).contains("not hexadecimal"));
        // A sign ("+a" was 0x0a to `from_str_radix`), whitespace inside, a non-ASCII character.
        for bad in [
            format!("+a{}", "0a".repeat(31)),
            format!("0a 0{}", "a0".repeat(30)),
            format!("é{}", "0a".repeat(31)),
        ] {
            assert!(err(&bad).contains("not hexadecimal"), "{bad:?}");
        }
        // Odd length.
        assert!(err(&format!("{}0", "0a".repeat(31))).contains("expected 64 hex characters"));
        assert!(err("abc").contains("expected 64 hex characters"));
        assert!(err(&" ".repeat(300)).contains("longer than a key file"));
        assert!(
            read(&file(
                dir.path(),
                &format!("  {}\n", "0a".repeat(32)),
                0o600
            ))
            .is_ok()
        );
    }

    #[test]
    fn new_files_are_mode_0600_never_replace_one_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("new.key");
        let k = generate().expect("random");
        write_new(&p, &k).expect("write");
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read(&p).expect("read").to_bytes(), k.to_bytes());
        let other = generate().expect("random");
        assert_ne!(other.to_bytes(), k.to_bytes());
        assert!(matches!(
            write_new(&p, &other),
            Err(KeyFileError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists
        ));
        assert_eq!(read(&p).expect("read").to_bytes(), k.to_bytes());
    }
}
