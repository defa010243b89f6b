//! Checks shared by both endpoint constructors: the capability's channel carries this message
//! type, its slots hold the type's maximum size, and the shared index to resume from is sane.
//!
//! Avoids: any check that would have to be repeated per message.

use core::mem::align_of;
use core::sync::atomic::{AtomicU32, Ordering};

use rkyv::Archived;

use crate::error::EndpointError;
use crate::layout::{ChannelSpec, MESSAGE_ALIGN};
use crate::ring::Cursor;
use crate::wire::Wire;

pub(crate) fn check_message<M: Wire>(spec: &ChannelSpec) -> Result<(), EndpointError> {
    if spec.kind() != M::NAME {
        return Err(EndpointError::KindMismatch {
            channel: spec.kind(),
            message: M::NAME,
        });
    }
    if (spec.slot_size() as usize) < M::MAX_SIZE {
        return Err(EndpointError::SlotTooSmall {
            slot_size: spec.slot_size(),
            needed: M::MAX_SIZE,
        });
    }
    if align_of::<Archived<M>>() > MESSAGE_ALIGN {
        return Err(EndpointError::Alignment(align_of::<Archived<M>>()));
    }
    Ok(())
}

/// The index an endpoint resumes from: its own shared index, as left by a previous incarnation
/// (0 after `Region::init`). Checked because the peer could have written it.
pub(crate) fn resume_index(cursor: Cursor, shared: &AtomicU32) -> Result<u32, EndpointError> {
    let index = shared.load(Ordering::Acquire);
    if cursor.valid(index) {
        Ok(index)
    } else {
        Err(EndpointError::CorruptIndex(index))
    }
}
