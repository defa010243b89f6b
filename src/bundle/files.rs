//! Reading and writing the tool's files, with errors that name the file and say what to do.
//! Secret key files are created with mode 0600 (never overwritten) and read into zeroizing memory.

use crate::failure::Failure;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use upgrade::builder::{BuildError, OwnedKey, SecretKey, SignedDoc};
use zeroize::Zeroizing;

pub fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))
}

pub fn write(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes)
        .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))
}

/// Creates `path` with mode 0600; refuses to replace an existing file (a lost key is not undone).
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            Failure::Usage(format!(
                "cannot create {}: {e} (an existing key file is never overwritten; choose another name)",
                path.display()
            ))
        })?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))
}

/// A rejected input: the file name and the builder's reason.
pub fn rejected(path: &Path, e: impl std::fmt::Display) -> Failure {
    Failure::Rejected(format!("{}: {e}\n", path.display()))
}

pub fn secret_key(path: &Path) -> Result<SecretKey, Failure> {
    let bytes = Zeroizing::new(read(path)?);
    SecretKey::from_file(&bytes).map_err(|e| rejected(path, e))
}

pub fn public_key(path: &Path) -> Result<OwnedKey, Failure> {
    OwnedKey::from_file(&read(path)?).map_err(|e| rejected(path, e))
}

pub fn signed_doc(path: &Path) -> Result<SignedDoc, Failure> {
    SignedDoc::decode(&read(path)?).map_err(|e: BuildError| rejected(path, e))
}
