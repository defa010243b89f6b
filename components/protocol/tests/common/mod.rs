#![allow(dead_code)] // each test binary uses a different subset
//! Helpers shared by the protocol tests: serialise into an aligned buffer, validate, deserialise.

use protocol::Message;
use rkyv::api::low::{LowDeserializer, LowSerializer, LowValidator, access, deserialize};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::Failure;
use rkyv::ser::allocator::SubAllocator;
use rkyv::ser::writer::Buffer;
use rkyv::util::Align;
use rkyv::{Archive, Archived, Deserialize, Portable, Serialize};

pub type Ser<'a> = LowSerializer<Buffer<'a>, SubAllocator<'a>, Failure>;

/// An 8-aligned buffer larger than any message.
pub fn buffer() -> Box<Align<[u8; 8192]>> {
    Box::new(Align([0u8; 8192]))
}

/// Serialises `m` at the start of `buf` with no allocator; returns the length written.
pub fn serialise<M>(m: &M, buf: &mut [u8]) -> usize
where
    M: for<'a> Serialize<Ser<'a>>,
{
    let written = rkyv::api::low::to_bytes_in_with_alloc::<_, _, Failure>(
        m,
        Buffer::from(buf),
        SubAllocator::empty(),
    )
    .expect("serialising into a large enough buffer cannot fail");
    written.len()
}

/// Validates `bytes` as an archived `M`.
pub fn check<M>(bytes: &[u8]) -> Result<&Archived<M>, Failure>
where
    M: Archive,
    Archived<M>: Portable + for<'a> CheckBytes<LowValidator<'a, Failure>>,
{
    access::<Archived<M>, Failure>(bytes)
}

/// Serialises, validates and deserialises `m`; returns the copy and the serialised length.
pub fn round_trip<M>(m: &M) -> (M, usize)
where
    M: Message + for<'a> Serialize<Ser<'a>>,
    Archived<M>: Portable
        + for<'a> CheckBytes<LowValidator<'a, Failure>>
        + Deserialize<M, LowDeserializer<Failure>>,
{
    let mut buf = buffer();
    let n = serialise(m, &mut buf.0);
    let archived = check::<M>(&buf.0[..n]).expect("a serialised message validates");
    let back = deserialize::<M, Failure>(archived).expect("deserialising a valid archive");
    (back, n)
}
