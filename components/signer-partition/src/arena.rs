//! The batch buffer, in static memory ([`crate::statics`]: the component itself lives on the
//! event loop's stack, which is far too small for a megabyte), and the job that borrows it.
//!
//! [`BatchArena`] holds the batch being received and, once complete, the [`BatchJob`] that
//! borrows it. The arena enforces the borrow rule the type system cannot see across handler
//! calls: the buffer is writable only while no job exists ([`BatchArena::bytes_mut`] returns
//! `None` while one does), and the job is dropped before the buffer is written again
//! ([`BatchArena::finish`]).
//!
//! Avoids: the heap. With [`crate::statics`], this module holds the crate's only `unsafe` code.

use crate::MAX_BATCH;
use crate::statics::{self, AlreadyTaken};
use core::borrow::BorrowMut;
use hal::flash::NorFlash;
use hal::time::Instant;
use signer::batch::{BatchJob, Step};
use signer::node::Signer;
use signer::registry::Registries;

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
    /// The arena (taken once per process; [`AlreadyTaken`] the second time).
    pub fn take() -> Result<Self, AlreadyTaken> {
        let buf = statics::take_batch()?;
        Ok(Self {
            ptr: core::ptr::from_mut(buf),
            job: None,
        })
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
    pub fn start<F: NorFlash, M: BorrowMut<Registries>>(
        &mut self,
        len: usize,
        signer: &Signer<F, M>,
        now: Instant,
    ) -> bool {
        if self.job.is_some() {
            return false;
        }
        // SAFETY: from here until `finish` drops the job, the buffer is only read: `bytes_mut`
        // refuses while the job exists, the job never leaves the arena, and nothing else
        // reaches the pointer.
        let all: &'static [u8; MAX_BATCH] = unsafe { &*self.ptr };
        self.job = Some(signer.begin_batch(all.get(..len).unwrap_or(&[]), now));
        true
    }

    /// True while a job exists.
    pub fn busy(&self) -> bool {
        self.job.is_some()
    }

    /// One step of the job in progress (`None` if there is none). The job itself never leaves
    /// the arena, so no copy of it can outlive [`BatchArena::finish`].
    pub fn step<F: NorFlash, M: BorrowMut<Registries>>(
        &mut self,
        signer: &mut Signer<F, M>,
        out: &mut [u8],
    ) -> Option<Step> {
        self.job.as_mut().map(|job| job.step(signer, out))
    }

    /// Drops the job; the buffer is writable again.
    pub fn finish(&mut self) {
        self.job = None;
    }
}
