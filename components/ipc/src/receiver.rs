//! The receiving endpoint: validates the next slot with bytecheck and hands the handler the
//! archived message, then releases the slot.
//!
//! Two modes, chosen at construction and bounded by the capability's [`SenderTrust`]:
//! - zero copy: the slot is validated and read in place (sender trusted by the runtime);
//! - copy-in: the slot is first copied into receiver-private memory, and the copy is validated
//!   and read, so a sender that rewrites the slot after publication cannot change what was
//!   checked (no double fetch). The copy uses word-sized atomic loads, so even a concurrent
//!   rewrite is a defined (if garbage) read.
//!
//! Malformed slots (length over the slot size, bytes that fail validation) are dropped, counted
//! and reported as `RecvError::Malformed`; the channel keeps working.
//!
//! Avoids: panics on any slot content, reading outside the region, and blocking.

use core::marker::PhantomData;
use core::mem::size_of;
use core::sync::atomic::{AtomicUsize, Ordering};

use rkyv::Archived;
use rkyv::api::low::access;
use rkyv::rancor::Failure;

use crate::endpoint::{check_message, resume_index};
use crate::error::{EndpointError, RecvError};
use crate::layout::SLOT_HEADER;
use crate::region::{RawRegion, RecvCap, SenderTrust};
use crate::ring::{self, ConsumeError, Cursor};
use crate::wire::Wire;

/// Counters of a receiver since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecvStats {
    /// Valid messages handed to a handler.
    pub received: u64,
    /// Slots dropped because they did not hold a valid message.
    pub malformed: u64,
    /// Receives refused because the sender's producer index was out of range.
    pub corrupt_index: u64,
}

enum Mode<'r> {
    ZeroCopy,
    CopyIn(&'r mut [u64]),
}

/// Receives messages of type `M` from one channel.
pub struct Receiver<'r, M> {
    raw: RawRegion<'r>,
    cursor: Cursor,
    tail: u32,
    mode: Mode<'r>,
    stats: RecvStats,
    _message: PhantomData<fn() -> M>,
}

// SAFETY: the receiver exclusively owns the consumer role of its region and its scratch buffer.
unsafe impl<M> Send for Receiver<'_, M> {}

/// `u64` words a copy-in buffer needs for channels of this slot size.
pub const fn scratch_words(slot_size: u32) -> usize {
    (slot_size as usize).div_ceil(8)
}

impl<'r, M: Wire> Receiver<'r, M> {
    /// A receiver that validates and reads slots in place. Refused with `CopyInRequired` if the
    /// runtime marked the sender [`SenderTrust::Untrusted`].
    pub fn zero_copy(cap: RecvCap<'r>) -> Result<Self, EndpointError> {
        if cap.trust != SenderTrust::Trusted {
            return Err(EndpointError::CopyInRequired);
        }
        Self::make(cap, Mode::ZeroCopy)
    }

    /// A receiver that copies each slot into `scratch` (receiver-private, at least
    /// [`scratch_words`]`(slot_size)` words) and validates the copy.
    pub fn copy_in(cap: RecvCap<'r>, scratch: &'r mut [u64]) -> Result<Self, EndpointError> {
        let needed = scratch_words(cap.raw.spec().slot_size());
        if scratch.len() < needed {
            return Err(EndpointError::ScratchTooSmall {
                needed: needed * 8,
                provided: scratch.len() * 8,
            });
        }
        Self::make(cap, Mode::CopyIn(scratch))
    }

    fn make(cap: RecvCap<'r>, mode: Mode<'r>) -> Result<Self, EndpointError> {
        let spec = cap.raw.spec();
        check_message::<M>(&spec)?;
        let cursor = Cursor::new(spec.slot_count());
        let tail = resume_index(cursor, cap.raw.consumer())?;
        Ok(Self {
            raw: cap.raw,
            cursor,
            tail,
            mode,
            stats: RecvStats::default(),
            _message: PhantomData,
        })
    }

    /// Hands the next message to `handler` and releases its slot. Returns at once with `Empty`
    /// if none is waiting; a malformed slot is dropped, counted and reported as `Malformed`.
    pub fn try_recv<R>(&mut self, handler: impl FnOnce(&Archived<M>) -> R) -> Result<R, RecvError> {
        let raw = &self.raw;
        let mode = &mut self.mode;
        let slot_size = raw.spec().slot_size() as usize;
        let outcome = ring::consume(
            self.cursor,
            &mut self.tail,
            raw.producer(),
            raw.consumer(),
            |slot| {
                let start = raw.slot_ptr(slot);
                // One fetch of the length: everything below uses this local copy.
                // SAFETY: slot start is 64-aligned and inside the region.
                let len = unsafe { start.cast::<u32>().read_volatile() } as usize;
                if len > slot_size {
                    return None;
                }
                // SAFETY: `start + 8 .. start + 8 + slot_size` is the slot's message area, inside
                // the region; `len <= slot_size`.
                let area = unsafe { start.add(SLOT_HEADER) };
                let bytes: &[u8] = match mode {
                    // SAFETY: the area is readable for `len` bytes; the runtime vouched that the
                    // sender does not rewrite published slots (SenderTrust::Trusted).
                    Mode::ZeroCopy => unsafe { core::slice::from_raw_parts(area, len) },
                    Mode::CopyIn(scratch) => copy_in(area, len, scratch)?,
                };
                access::<Archived<M>, Failure>(bytes).ok().map(handler)
            },
        );
        match outcome {
            Ok(Some(out)) => {
                self.stats.received += 1;
                Ok(out)
            }
            Ok(None) => {
                self.stats.malformed += 1;
                Err(RecvError::Malformed)
            }
            Err(ConsumeError::Empty) => Err(RecvError::Empty),
            Err(ConsumeError::Corrupt(index)) => {
                self.stats.corrupt_index += 1;
                Err(RecvError::PeerCorrupt(index))
            }
        }
    }

    /// Messages waiting (published and not yet received).
    pub fn pending(&self) -> Result<u32, RecvError> {
        ring::pending(self.cursor, self.tail, self.raw.producer()).ok_or(RecvError::PeerCorrupt(
            self.raw.producer().load(Ordering::Relaxed),
        ))
    }

    /// Counters since this receiver was made.
    pub fn stats(&self) -> RecvStats {
        self.stats
    }

    /// Whether this receiver copies slots before validating them.
    pub fn is_copy_in(&self) -> bool {
        matches!(self.mode, Mode::CopyIn(_))
    }
}

/// Copies `len` bytes from the slot's message area into `scratch` with word-sized atomic loads
/// and returns the copied bytes. `None` if `scratch` is too small (cannot happen: checked at
/// construction against the slot size, and `len <= slot_size`).
fn copy_in(area: *const u8, len: usize, scratch: &mut [u64]) -> Option<&[u8]> {
    const WORD: usize = size_of::<usize>();
    let words = len.div_ceil(WORD);
    let dst_bytes = scratch.len() * 8;
    if words * WORD > dst_bytes {
        return None;
    }
    let dst = scratch.as_mut_ptr().cast::<usize>();
    for i in 0..words {
        // SAFETY: source word i lies within the slot: `8 + round_up(len, 8)` bytes from the slot
        // start is at most `8 + round_up(slot_size, 8)`, which the 64-rounded stride covers; it is
        // word-aligned (area is 8-aligned). Loading it atomically makes a concurrent rewrite by
        // the peer a defined read. Destination word i is inside `scratch` (checked above).
        unsafe {
            let word = AtomicUsize::from_ptr(area.add(i * WORD).cast::<usize>().cast_mut())
                .load(Ordering::Relaxed);
            dst.add(i).write(word);
        }
    }
    // SAFETY: the first `len <= words * WORD` bytes of scratch were just written.
    Some(unsafe { core::slice::from_raw_parts(scratch.as_ptr().cast::<u8>(), len) })
}
