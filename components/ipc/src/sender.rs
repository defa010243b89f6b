//! The sending endpoint: serialises a message with rkyv straight into the next free slot,
//! publishes it, and signals the receiver's notification.
//!
//! Avoids: blocking (a full ring is `SendError::Full` at once), intermediate buffers and the heap,
//! and trusting the receiver's consumer index (checked on every send).

use core::marker::PhantomData;

use crate::endpoint::{check_message, resume_index};
use crate::error::{EndpointError, SendError};
use crate::layout::SLOT_HEADER;
use crate::notify::Notify;
use crate::region::{RawRegion, SendCap};
use crate::ring::{self, Cursor, ProduceError};
use crate::wire::{Wire, serialise_into};

/// Sends messages of type `M` on one channel and signals `N` after each.
pub struct Sender<'r, M, N> {
    raw: RawRegion<'r>,
    cursor: Cursor,
    head: u32,
    notify: N,
    sent: u64,
    _message: PhantomData<fn(&M)>,
}

// SAFETY: the sender exclusively owns the producer role of its region (capability contract);
// moving it to another thread moves that role. `N` must be Send itself.
unsafe impl<M, N: Send> Send for Sender<'_, M, N> {}

impl<'r, M: Wire, N: Notify> Sender<'r, M, N> {
    /// Makes the sender from its capability. Fails if the channel carries another message kind,
    /// its slots are smaller than `M::MAX_SIZE`, or its producer index is corrupt.
    pub fn new(cap: SendCap<'r>, notify: N) -> Result<Self, EndpointError> {
        let spec = cap.raw.spec();
        check_message::<M>(&spec)?;
        let cursor = Cursor::new(spec.slot_count());
        let head = resume_index(cursor, cap.raw.producer())?;
        Ok(Self {
            raw: cap.raw,
            cursor,
            head,
            notify,
            sent: 0,
            _message: PhantomData,
        })
    }

    /// Serialises `msg` into the next slot, publishes it and signals the receiver. Returns at once:
    /// `Full` if no slot is free, `TooLarge` if the message does not fit a slot.
    pub fn try_send(&mut self, msg: &M) -> Result<(), SendError> {
        self.publish(msg)?;
        self.notify.signal().map_err(SendError::Notify)
    }

    /// Like [`Sender::try_send`] but without signalling; call [`Sender::signal`] after a batch.
    pub fn try_send_quiet(&mut self, msg: &M) -> Result<(), SendError> {
        self.publish(msg)
    }

    /// Signals the receiver's notification.
    pub fn signal(&self) -> Result<(), SendError> {
        self.notify.signal().map_err(SendError::Notify)
    }

    /// Messages sent since this endpoint was made.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// The notification this sender signals.
    pub fn notify(&self) -> &N {
        &self.notify
    }

    fn publish(&mut self, msg: &M) -> Result<(), SendError> {
        let raw = &self.raw;
        let slot_size = raw.spec().slot_size() as usize;
        let result = ring::produce(
            self.cursor,
            &mut self.head,
            raw.producer(),
            raw.consumer(),
            |slot| {
                let start = raw.slot_ptr(slot);
                // SAFETY: the slot is free (the ring gives it to the producer alone until published),
                // and its message area `start + 8 .. start + 8 + slot_size` lies inside the region.
                let area =
                    unsafe { core::slice::from_raw_parts_mut(start.add(SLOT_HEADER), slot_size) };
                let len = serialise_into(msg, area).map_err(|overflow| {
                    if overflow {
                        SendError::TooLarge
                    } else {
                        SendError::Serialize
                    }
                })?;
                // len <= slot_size <= 2^20 fits u32. SAFETY: slot start is 64-aligned, in the region.
                unsafe { start.cast::<u32>().write_volatile(len as u32) };
                Ok(())
            },
        );
        match result {
            Ok(()) => {
                self.sent += 1;
                Ok(())
            }
            Err(ProduceError::Full) => Err(SendError::Full),
            Err(ProduceError::Corrupt(index)) => Err(SendError::PeerCorrupt(index)),
            Err(ProduceError::Write(e)) => Err(e),
        }
    }
}
