//! Capability-limited channels: single-producer single-consumer rings of rkyv messages in shared
//! memory, plus notifications. `no_std`, and no heap anywhere.
//!
//! # Using a channel
//!
//! The runtime (never component code) maps a channel's region and mints capabilities from it;
//! components make endpoints from the capabilities they are handed:
//!
//! ```
//! use ipc::{CacheLine, ChannelSpec, InProcessNotify, Receiver, Region, RecvError, Sender, SenderTrust};
//! use protocol::{Message, Ping};
//!
//! let spec = ChannelSpec::new(Ping::NAME, 4, Ping::MAX_SIZE as u32).unwrap();
//! let mut memory = vec![CacheLine::ZERO; CacheLine::count_for(&spec)];
//! let (send_cap, recv_cap) = Region::local(&mut memory, spec).unwrap().split(SenderTrust::Trusted);
//! let notify = InProcessNotify::new();
//! let mut tx = Sender::<Ping, _>::new(send_cap, &notify).unwrap();
//! let mut rx = Receiver::<Ping>::zero_copy(recv_cap).unwrap();
//! tx.try_send(&Ping { nonce: 42, sequence: 1 }).unwrap();
//! assert_eq!(rx.try_recv(|ping| ping.nonce.to_native()), Ok(42));
//! assert_eq!(rx.try_recv(|_| ()), Err(RecvError::Empty));
//! ```
//!
//! In separate processes the monitor calls the `unsafe` [`Region::init`] on its mapping of a memfd
//! at boot, and each component's runtime calls the `unsafe` [`Region::attach`] on its own mapping
//! and mints only the capability (send or receive) the system description grants it. Both are
//! `unsafe` because only the runtime can promise what the memory is; see their contracts.
//!
//! # Region layout (layout version 1)
//!
//! All multi-byte header fields are little-endian. The region starts on a 64-byte boundary and is
//! `384 + slot_count * slot_stride` bytes long ([`ChannelSpec::region_size`]).
//!
//! | offset | size | field | written by |
//! | --- | --- | --- | --- |
//! | 0 | 8 | magic, ASCII `SNODEIPC` | `init` |
//! | 8 | 4 | layout version, `1` | `init` |
//! | 12 | 4 | slot count, 1 ..= 65536 | `init` |
//! | 16 | 4 | slot size: message capacity of a slot in bytes, 1 ..= 1 MiB | `init` |
//! | 20 | 4 | slot stride: `8 + slot size` rounded up to 64 | `init` |
//! | 24 | 8 | reserved, zero | `init` |
//! | 32 | 32 | message kind name (a `protocol::catalogue` name), UTF-8, zero-padded | `init` |
//! | 64 | 64 | reserved, zero | `init` |
//! | 128 | 4 | producer index, `u32` in native byte order, accessed atomically | sender |
//! | 132 | 124 | reserved, zero (keeps the producer index alone on its cache lines) | `init` |
//! | 256 | 4 | consumer index, `u32` in native byte order, accessed atomically | receiver |
//! | 260 | 124 | reserved, zero | `init` |
//! | 384 + i × stride | stride | slot `i`, for `i` in `0 .. slot count` | sender |
//!
//! Each slot (starting on a 64-byte boundary):
//!
//! | offset in slot | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | message length in bytes, `u32` native byte order, at most the slot size |
//! | 4 | 4 | reserved |
//! | 8 | slot size | the rkyv archive of the message (8-aligned, root object at the end of the `length` bytes) |
//! | 8 + slot size | to the stride | padding |
//!
//! Indices count messages modulo `2 × slot count`: message `n` lives in slot `n mod slot count`;
//! the ring is empty when the indices are equal and full when they differ by the slot count. The
//! sender writes a slot, then stores the producer index with Release; the receiver loads it with
//! Acquire, reads the slot, then stores the consumer index with Release, which the sender loads
//! with Acquire before reusing the slot. Each side keeps its own index privately and checks the
//! peer's on every load, so a corrupted index is reported (`PeerCorrupt`) and never used to
//! address memory. The header is checked once at [`Region::attach`] and never read again; the
//! geometry in use is always the runtime's [`ChannelSpec`].
//!
//! # Trust
//!
//! A receiver whose sender is of lower integrity gets a capability marked
//! [`SenderTrust::Untrusted`] and can only be a copy-in receiver ([`Receiver::copy_in`]): the slot
//! is copied to receiver-private memory, then validated, so bytes changed after publication cannot
//! affect a message that passed validation. A malformed slot is dropped and counted.
//!
//! Avoids: the heap, blocking sends, names or addresses as a way to reach a channel, and trusting
//! any byte of the shared region.
#![no_std]

#[cfg(test)]
extern crate std;

mod endpoint;
mod error;
#[cfg(target_os = "linux")]
mod eventfd;
mod layout;
mod notify;
mod receiver;
mod region;
mod ring;
mod sender;
mod wire;

#[cfg(test)]
mod loom_model;

pub use error::{EndpointError, GeometryError, NotifyError, RecvError, RegionError, SendError};
#[cfg(target_os = "linux")]
pub use eventfd::EventFd;
pub use layout::{
    ChannelSpec, KIND_NAME_MAX, LAYOUT_VERSION, MAGIC, MAX_SLOT_COUNT, MAX_SLOT_SIZE,
    MESSAGE_ALIGN, OFF_CONSUMER, OFF_PRODUCER, OFF_SLOTS, REGION_ALIGN, SLOT_ALIGN, SLOT_HEADER,
};
pub use notify::{InProcessNotify, Notify, Polling};
pub use receiver::{Receiver, RecvStats, scratch_words};
pub use region::{CacheLine, RecvCap, Region, SendCap, SenderTrust};
pub use sender::Sender;
pub use wire::{SlotWriter, Wire, WireError, WireSerializer, WireValidator};
