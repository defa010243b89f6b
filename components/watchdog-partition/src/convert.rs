//! The inputs the watchdog reads, from their validated archived form (read in place in
//! the ring, or in the private copy for copy-in channels) to the core's plain values.
//!
//! All of them are fixed-size structs and enums of integers, so rkyv deserialises them with
//! no allocator (`deserialize_using` with a unit deserializer); bytecheck has already validated
//! every enum tag and field when the receiver hands out the archived value.
//!
//! Avoids: trusting anything beyond what bytecheck checked: the core checks the meaning (ids,
//! request ids, nonces) and refuses what does not fit.

use protocol::{FaultNotice, NodeCommand, Pong, RestartResult};
use rkyv::Archived;
use rkyv::rancor::Failure;

/// A pong.
pub fn pong(a: &Archived<Pong>) -> Option<Pong> {
    rkyv::api::deserialize_using::<Pong, (), Failure>(a, &mut ()).ok()
}

/// A fault notice.
pub fn fault(a: &Archived<FaultNotice>) -> Option<FaultNotice> {
    rkyv::api::deserialize_using::<FaultNotice, (), Failure>(a, &mut ()).ok()
}

/// A restart result.
pub fn result(a: &Archived<RestartResult>) -> Option<RestartResult> {
    rkyv::api::deserialize_using::<RestartResult, (), Failure>(a, &mut ()).ok()
}

/// A ground command forwarded by comms.
pub fn command(a: &Archived<NodeCommand>) -> Option<NodeCommand> {
    rkyv::api::deserialize_using::<NodeCommand, (), Failure>(a, &mut ()).ok()
}
