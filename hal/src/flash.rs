//! NOR flash: the `embedded-storage` traits, re-exported so components name one crate.
//!
//! The contract every board's flash honours (and the sim flash enforces):
//! - the erased value is `0xFF`; [`NorFlash::erase`] works on whole `ERASE_SIZE` sectors;
//! - [`NorFlash::write`] offsets and lengths are multiples of `WRITE_SIZE`, and a write can only
//!   clear bits (1 -> 0); setting a bit needs an erase first;
//! - if power is lost during a write or an erase, the bytes that operation touches are undefined
//!   afterwards (the sim flash lands a documented prefix), and everything else is unchanged.
//!
//! Crash-safe records on top of this contract are the `store` crate's job; this module only
//! re-exports. It does not wrap or add methods, so any `embedded-storage` driver fits as is.

pub use embedded_storage::nor_flash::{
    ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
    check_erase, check_read, check_write,
};
