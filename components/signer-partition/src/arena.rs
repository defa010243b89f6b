//! The partition's two large buffers, in static memory (the component itself lives on the event
//! loop's stack, which is far too small for a megabyte).
//!
//! [`BatchArena`] holds the batch being received and, once complete, the [`BatchJob`] that
//! borrows it. The arena enforces the borrow rule the type system cannot see across handler
//! calls: the buffer is writable only while no job exists ([`BatchArena::bytes_mut`] returns
//! `None` while one does), and the job is dropped before the buffer is written again
//! ([`BatchArena::finish`]).
//!
//! Avoids: the heap. This module holds the crate's only `unsafe` code.

use crate::MAX_BATCH;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};
use hal::flash::NorFlash;
use signer::batch::{BatchJob, MAX_SIGNED_PSBT, Step};
use signer::node::Signer;

struct Static<const N: usize> {
    taken: AtomicBool,
    bytes: UnsafeCell<[u8; N]>,
}

// SAFETY: the bytes are reachable only through `take`, which hands out one pointer at most once
// per process (the atomic flag), so no two threads ever see them.
unsafe impl<const N: usize> Sync for Static<N> {}

impl<const N: usize> Static<N> {
    const fn new() -> Self {
        Self {
            taken: AtomicBool::new(false),
            bytes: UnsafeCell::new([0; N]),
        }
    }

    fn take(&'static self) -> Option<*mut [u8; N]> {
        (!self.taken.swap(true, Ordering::AcqRel)).then(|| self.bytes.get())
    }
}

static BATCH: Static<MAX_BATCH> = Static::new();
/// Four bytes of length prefix, then a signed PSBT.
pub const OUT_LEN: usize = 4 + MAX_SIGNED_PSBT;
static OUT: Static<OUT_LEN> = Static::new();

/// The output buffer of signing steps (taken once per process).
pub fn take_out() -> Option<&'static mut [u8; OUT_LEN]> {
    // SAFETY: `take` returns the pointer once per process, so this is the only reference.
    OUT.take().map(|p| unsafe { &mut *p })
}

/// The batch buffer and the job that borrows it.
pub struct BatchArena {
    ptr: *mut [u8; MAX_BATCH],
    job: Option<BatchJob<'static>>,
}

impl core::fmt::Debug for BatchArena {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BatchArena")
            .field("job", &self.job.is_some())
            .finish()
    }
}

impl BatchArena {
    /// The arena (taken once per process; `None` the second time).
    pub fn take() -> Option<Self> {
        BATCH.take().map(|ptr| Self { ptr, job: None })
    }

    /// The buffer, writable while no job exists.
    pub fn bytes_mut(&mut self) -> Option<&mut [u8; MAX_BATCH]> {
        if self.job.is_some() {
            return None;
        }
        // SAFETY: no job exists, so no shared reference to the buffer is alive (the only
        // ones are held by the job); the returned borrow is tied to `&mut self`.
        Some(unsafe { &mut *self.ptr })
    }

    /// Starts `signer`'s batch job on the first `len` bytes at mission time `mission_ms`.
    /// Returns false if a job already exists.
    pub fn start<F: NorFlash>(&mut self, len: usize, signer: &Signer<F>, mission_ms: u64) -> bool {
        if self.job.is_some() {
            return false;
        }
        // SAFETY: from here until `finish` drops the job, the buffer is only read: `bytes_mut`
        // refuses while the job exists, the job never leaves the arena, and nothing else
        // reaches the pointer.
        let all: &'static [u8; MAX_BATCH] = unsafe { &*self.ptr };
        self.job = Some(signer.begin_batch(all.get(..len).unwrap_or(&[]), mission_ms));
        true
    }

    /// True while a job exists.
    pub fn busy(&self) -> bool {
        self.job.is_some()
    }

    /// One step of the job in progress (`None` if there is none). The job itself never leaves
    /// the arena, so no copy of it can outlive [`BatchArena::finish`].
    pub fn step<F: NorFlash>(&mut self, signer: &mut Signer<F>, out: &mut [u8]) -> Option<Step> {
        self.job.as_mut().map(|job| job.step(signer, out))
    }

    /// Drops the job; the buffer is writable again.
    pub fn finish(&mut self) {
        self.job = None;
    }
}
