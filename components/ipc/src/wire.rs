//! How a message type goes on the wire: the rkyv serializer that writes straight into a slot
//! (no intermediate buffer, no allocator), the validator used on receive, and the [`Wire`] trait
//! that bundles the bounds an endpoint's message type must meet.
//!
//! Avoids: rkyv's scratch allocator (messages with out-of-line data that need one fail with
//! `SendError::Serialize`) and any copy of the serialised bytes.

use core::fmt;

use core::mem::size_of;
use protocol::Message;
use rkyv::api::low::LowValidator;
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::{Failure, Source, Strategy, Trace};
use rkyv::ser::allocator::SubAllocator;
use rkyv::ser::{Positional, Serializer, Writer, WriterExt};

use rkyv::{Archive, Archived, Place, Portable, Serialize};

/// A writer over one slot's message area. Remembers whether a write ran past the end, so a send
/// can tell `TooLarge` from other serialiser failures.
pub struct SlotWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
    overflowed: bool,
}

impl<'a> SlotWriter<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            overflowed: false,
        }
    }

    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed
    }
}

impl Positional for SlotWriter<'_> {
    fn pos(&self) -> usize {
        self.pos
    }
}

impl<E: Source> Writer<E> for SlotWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), E> {
        let end = self.pos.checked_add(bytes.len());
        match end.and_then(|end| self.buf.get_mut(self.pos..end)) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.pos += bytes.len();
                Ok(())
            }
            None => {
                self.overflowed = true;
                Err(E::new(Overflow))
            }
        }
    }
}

#[derive(Debug)]
struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("message does not fit in the slot")
    }
}

impl core::error::Error for Overflow {}

/// The error type of the wire serializer: only "it failed" (the writer knows whether it was size).
#[derive(Debug)]
pub struct WireError;

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("serialisation failed")
    }
}

impl core::error::Error for WireError {}

impl Trace for WireError {
    fn trace<R>(self, _: R) -> Self
    where
        R: fmt::Debug + fmt::Display + Send + Sync + 'static,
    {
        self
    }
}

impl Source for WireError {
    fn new<T: core::error::Error + Send + Sync + 'static>(_: T) -> Self {
        Self
    }
}

/// The serializer a [`crate::Sender`] runs: writes into the slot, no allocator, no sharing.
pub type WireSerializer<'a> = Strategy<Serializer<SlotWriter<'a>, SubAllocator<'a>, ()>, WireError>;

/// The validator a [`crate::Receiver`] runs (rkyv's low-level bytecheck validator).
pub type WireValidator<'a> = LowValidator<'a, Failure>;

/// A message type that can travel on a channel: a `protocol::Message` whose archived form can be
/// validated with bytecheck and that serialises without an allocator.
///
/// Implemented automatically for every such type (all of `protocol`'s messages).
pub trait Wire:
    Message
    + for<'a> Serialize<WireSerializer<'a>>
    + Archive<Archived: Portable + for<'a> CheckBytes<WireValidator<'a>>>
{
}

impl<T> Wire for T where
    T: Message
        + for<'a> Serialize<WireSerializer<'a>>
        + Archive<Archived: Portable + for<'a> CheckBytes<WireValidator<'a>>>
{
}

/// Serialises `msg` into `buf`; returns the length, or whether it failed for lack of space.
///
/// Does what `rkyv::api::serialize_using` does for a sized root (serialise dependencies, align,
/// resolve), except that the root is resolved directly in `buf` instead of in a stack temporary
/// that is then copied: one pass over the message's bytes fewer, and no message-sized stack use.
/// `buf` must start 8-aligned (a slot's message area is) and `Archived<M>` needs at most 8
/// (checked when the endpoint is made).
pub(crate) fn serialise_into<M: Wire>(msg: &M, buf: &mut [u8]) -> Result<usize, bool> {
    let mut serializer = Serializer::new(SlotWriter::new(buf), SubAllocator::empty(), ());
    let strategy = Strategy::<_, WireError>::wrap(&mut serializer);
    let resolved = msg.serialize(strategy).and_then(|resolver| {
        let pos = strategy.align_for::<Archived<M>>()?;
        Ok((resolver, pos))
    });
    let (resolver, pos) = match resolved {
        Ok(ok) => ok,
        Err(WireError) => return Err(serializer.writer.overflowed()),
    };
    let size = size_of::<Archived<M>>();
    let end = pos.checked_add(size).ok_or(true)?;
    if end > serializer.writer.buf.len() {
        return Err(true);
    }
    // SAFETY: `pos .. end` lies inside `buf` (checked); `buf + pos` is aligned for
    // `Archived<M>` because `buf` is 8-aligned, `pos` was aligned to `align_of::<Archived<M>>()`
    // and that alignment divides 8. The bytes are zeroed first, so the place is initialised, as
    // `Place::new_unchecked` requires, and padding never carries stale slot contents. `resolver`
    // comes from serialising `msg` with this serializer.
    unsafe {
        let out = serializer.writer.buf.as_mut_ptr().add(pos);
        out.write_bytes(0, size);
        msg.resolve(
            resolver,
            Place::new_unchecked(pos, out.cast::<Archived<M>>()),
        );
    }
    Ok(end)
}
