//! The partition's large state in static memory, each piece taken once per process: the batch
//! buffer ([`crate::arena`]), the output buffer of signing steps, the chunk buffer of the
//! response stream ([`crate::outbox`]), the buffer the provisioning
//! inbox is read into ([`crate::inbox`]), and the signer's registries
//! (`signer::registry::Registries`, about 290 KB). The component lives on the event loop's
//! stack, which is small (the description's `stack-size`): nothing the size of these may ever
//! be on it, so none of them is ever built on the stack either. Their initial values are
//! constants (zeroed bytes, `Registries::new()` is a `const fn`), placed by the loader.
//!
//! # Soundness (the reasoning a Miri run would check)
//!
//! A [`TakeOnce<T>`] is an `UnsafeCell<T>` with an `AtomicBool`. [`TakeOnce::take`] flips the
//! flag with one atomic swap and, only for the caller that saw it clear, turns the cell's
//! pointer into a `&'static mut T`. Hence:
//!
//! - at most one `&mut T` to the value is ever created in the process (the swap returns
//!   `false` to exactly one caller, across threads too: `AcqRel` makes the cell's initial value
//!   visible to that caller, and nobody else ever touches it);
//! - nothing else reads or writes the cell (its field is private; `take` is the only way in);
//! - the value is initialised (a `const` initialiser) and lives for the whole process, so the
//!   `'static` lifetime is true.
//!
//! A second take is refused with [`AlreadyTaken`] (never a panic, never a second reference).
//! `T: Send` is required for `Sync` because the one reference may be taken on any thread.
//!
//! Avoids: the heap, lazy initialisation, and handing out more than one reference.

use crate::MAX_BATCH;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};
use protocol::CHUNK_MAX;
use signer::batch::MAX_SIGNED_PSBT;
use signer::registry::Registries;

/// A second take of a once-per-process static.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyTaken(pub &'static str);

impl core::fmt::Display for AlreadyTaken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} already taken (once per process)", self.0)
    }
}

impl core::error::Error for AlreadyTaken {}

/// A static value handed out as `&'static mut` once per process (see the module docs).
pub struct TakeOnce<T> {
    what: &'static str,
    taken: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reachable only through `take`, which hands out one reference at most
// once per process (the atomic flag); moving that one reference to another thread is moving
// the `T`, hence `T: Send`.
unsafe impl<T: Send> Sync for TakeOnce<T> {}

impl<T> TakeOnce<T> {
    /// A cell holding `value`, named `what` in the error of a second take.
    pub const fn new(what: &'static str, value: T) -> Self {
        Self {
            what,
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, the first time; [`AlreadyTaken`] every later time.
    #[expect(
        clippy::mut_from_ref,
        reason = "the atomic flag makes this the only reference ever made (module docs)"
    )]
    pub fn take(&'static self) -> Result<&'static mut T, AlreadyTaken> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return Err(AlreadyTaken(self.what));
        }
        // SAFETY: the swap returned false to this caller only, so this is the one reference
        // ever made to the value (module docs); the cell is static and initialised.
        Ok(unsafe { &mut *self.value.get() })
    }
}

static BATCH: TakeOnce<[u8; MAX_BATCH]> = TakeOnce::new("batch buffer", [0; MAX_BATCH]);

/// Four bytes of length prefix, then a signed PSBT.
pub const OUT_LEN: usize = 4 + MAX_SIGNED_PSBT;
static OUT: TakeOnce<[u8; OUT_LEN]> = TakeOnce::new("output buffer", [0; OUT_LEN]);

static CHUNK: TakeOnce<[u8; CHUNK_MAX]> = TakeOnce::new("response chunk buffer", [0; CHUNK_MAX]);

static INBOX_TEXT: TakeOnce<[u8; crate::inbox::MAX_TEXT]> =
    TakeOnce::new("provisioning text buffer", [0; crate::inbox::MAX_TEXT]);

static REGISTRIES: TakeOnce<Registries> = TakeOnce::new("signer registries", Registries::new());

/// The batch buffer (for [`crate::arena::BatchArena`]).
pub fn take_batch() -> Result<&'static mut [u8; MAX_BATCH], AlreadyTaken> {
    BATCH.take()
}

/// The output buffer of signing steps.
pub fn take_out() -> Result<&'static mut [u8; OUT_LEN], AlreadyTaken> {
    OUT.take()
}

/// The chunk buffer of the response stream ([`crate::outbox::Outbox::flush`]).
pub fn take_chunk() -> Result<&'static mut [u8; CHUNK_MAX], AlreadyTaken> {
    CHUNK.take()
}

/// The buffer the provisioning inbox is read into at boot.
pub fn take_inbox_text() -> Result<&'static mut [u8; crate::inbox::MAX_TEXT], AlreadyTaken> {
    INBOX_TEXT.take()
}

/// The signer's live and staging registries, lent to `signer::node::Signer::boot_with`.
pub fn take_registries() -> Result<&'static mut Registries, AlreadyTaken> {
    REGISTRIES.take()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_take_is_refused_with_a_typed_error() {
        static CELL: TakeOnce<u32> = TakeOnce::new("test cell", 7);
        let first = CELL.take().expect("first take");
        assert_eq!(*first, 7);
        *first = 8;
        assert_eq!(CELL.take(), Err(AlreadyTaken("test cell")));
        assert_eq!(*first, 8, "the first reference is still the only one");
    }

    #[test]
    fn the_partition_statics_are_taken_once() {
        let regs = take_registries().expect("registries");
        assert!(regs.live().server_count() == 0);
        assert_eq!(
            take_registries().err(),
            Some(AlreadyTaken("signer registries"))
        );
        assert!(take_out().is_ok());
        assert_eq!(take_out().err(), Some(AlreadyTaken("output buffer")));
        assert!(take_batch().is_ok());
        assert_eq!(take_batch().err(), Some(AlreadyTaken("batch buffer")));
        assert!(take_chunk().is_ok());
        assert!(take_chunk().is_err());
        assert!(take_inbox_text().is_ok());
        assert!(take_inbox_text().is_err());
    }
}
