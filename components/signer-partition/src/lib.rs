//! # The signer partition
//!
//! The `signer` component as it runs in its own partition: a [`runtime::Component`]
//! ([`SignerPd`]) around the `no_std` signer core (crate `signer`). It is a separate crate so
//! the core stays free of the runtime, the channels and rkyv, and can be used as is by host
//! tools (the interop harness, fuzzers) and reviewed on its own.
//!
//! What it does, in order:
//!
//! 1. **Boot** ([`SignerPd`]'s `init`): takes its static memory ([`statics`]: the signer's
//!    registries, the batch, output, chunk and inbox buffers, each once per process), takes the
//!    `key-flash` and `rng` devices, makes their
//!    drivers through the board's [`runtime::Drivers`], boots [`signer::node::Signer`] (first boot
//!    creates the seed from the board RNG and seals it with the board's sealing secret), and, if
//!    the signer is not provisioned yet, provisions it from the inbox on its own flash
//!    ([`inbox`]: how a ground operator provisions).
//! 2. **Receive** on `sign-requests`: chunks are reassembled in a bounded buffer
//!    ([`reassembly`], at most [`MAX_BATCH`] bytes, chunks in order); each stored chunk is
//!    acknowledged with `Accepted`; bad chunking is refused with `BadChunking`, a chunk of
//!    another batch while one is in progress with `Busy`. Malformed messages are counted
//!    (`Context::count_malformed`) and dropped; nothing panics.
//! 3. **Sign**: one [`signer::batch::BatchJob::step`] per timer notification (the component
//!    asks to be woken at once after each step), so the event loop answers the watchdog's
//!    pings between PSBTs however long the batch.
//! 4. **Answer** on `sign-responses` ([`outbox`]): a signed batch streams as `Signed` chunks of
//!    the byte stream `u32 BE length ‖ signed PSBT` per PSBT, then the 163-byte signed receipt
//!    (`signer::batch::receipt`). A refused batch gets one `Rejected { reason }` response whose
//!    `data` is the signed receipt: its bytes 60 and 61 are the signer's exact error class and
//!    code (the coarse `reason` is for routing only; see [`rejection_of`]). A full ring never
//!    blocks: the stream resumes on the next tick.
//! 5. **Administer** on `admin-requests`/`admin-responses` ([`admin`]): authenticated registry
//!    commands and signed xpub exports, one per call, only between batches.
//!
//! Avoids: the heap, `std`, any OS call (the board's drivers do I/O), secrets in anything
//! it sends (only PSBTs, receipts and progress leave the partition), and anything large on the
//! stack: the component itself is about 3 KB, and the whole first-boot path fits the declared
//! 256 KiB `stack-size` unoptimised (`tests/stack.rs`).
#![no_std]
#![warn(missing_docs)]

pub mod admin;
pub mod arena;
pub mod component;
pub mod inbox;
pub mod link_recovery;
pub mod outbox;
pub mod reassembly;
pub mod statics;

pub use component::{PdSigner, SignerPd, rejection_of};

/// Largest batch (certificate plus framed PSBTs) the partition accepts, in bytes.
pub const MAX_BATCH: usize = 1 << 20;
