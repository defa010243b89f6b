//! NOR flash: the `embedded-storage` traits, re-exported so components name one crate.
//!
//! The contract every board's flash honours (and the sim flash enforces):
//! - every flash says the value an erased byte reads as ([`ErasedValue::ERASED`]: `0xFF` on NOR
//!   parts, `0x00` on some others); [`NorFlash::erase`] sets whole `ERASE_SIZE` sectors to it;
//! - [`NorFlash::write`] offsets and lengths are multiples of `WRITE_SIZE`, and a write can only
//!   move bits away from their erased value (clear them when `ERASED` is `0xFF`, set them when
//!   it is `0x00`); moving one back needs an erase first;
//! - if power is lost during a write or an erase, the bytes that operation touches are undefined
//!   afterwards (the sim flash lands a documented prefix), and everything else is unchanged.
//!
//! Crash-safe records on top of this contract are the `store` crate's job. This module re-exports
//! the `embedded-storage` traits unchanged and adds one: [`ErasedValue`], which `embedded-storage`
//! does not have, so that nothing above a driver assumes `0xFF`.

pub use embedded_storage::nor_flash::{
    ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
    check_erase, check_read, check_write,
};

/// The value every byte of an erased sector reads as. Each flash driver states its own; code
/// that detects blank flash or pads a write uses this instead of assuming `0xFF`.
pub trait ErasedValue {
    /// The erased byte.
    const ERASED: u8;
}

impl<T: ErasedValue> ErasedValue for &mut T {
    const ERASED: u8 = T::ERASED;
}
