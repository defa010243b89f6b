//! Helpers shared by the ipc integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use ipc::{CacheLine, ChannelSpec};
use protocol::Message;

/// Zeroed, 64-aligned memory for a region of `spec`.
pub fn memory(spec: &ChannelSpec) -> Vec<CacheLine> {
    vec![CacheLine::ZERO; CacheLine::count_for(spec)]
}

/// A spec for `M` with `slots` slots of exactly `M::MAX_SIZE` bytes.
pub fn spec_for<M: Message>(slots: u32) -> ChannelSpec {
    ChannelSpec::new(M::NAME, slots, M::MAX_SIZE as u32).expect("valid test geometry")
}

/// The bytes of a local region (for tests that play a hostile peer).
pub fn bytes(memory: &mut [CacheLine]) -> &mut [u8] {
    let len = std::mem::size_of_val(memory);
    // SAFETY: CacheLine is 64 plain bytes with no padding; the slice covers exactly `memory`.
    unsafe { std::slice::from_raw_parts_mut(memory.as_mut_ptr().cast::<u8>(), len) }
}
