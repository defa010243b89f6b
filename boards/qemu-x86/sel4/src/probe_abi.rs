//! What the monitor and the isolation probe agree on: the probe's CSpace slots (its grants), its
//! VSpace layout, and the violation each start commits. One place, used by both binaries.

use crate::{CPtr, Word};

/// The probe's CNode has 2^4 slots; only the two below are filled.
pub const CNODE_BITS: Word = 4;
/// Its heartbeat notification (write only, badge 1).
pub const SLOT_HEARTBEAT: CPtr = 1;
/// Its fault endpoint (write and grant, badged).
pub const SLOT_FAULT_EP: CPtr = 2;
/// A slot it was not granted (empty).
pub const SLOT_NOT_GRANTED: CPtr = 5;

/// The 2 MiB of virtual memory the probe's VSpace maps (one page table): its ELF from here.
pub const VSPACE_BASE: Word = 0x1000_0000;
/// Its stack: `STACK_PAGES` pages ending here.
pub const STACK_TOP: Word = 0x1018_0000;
pub const STACK_PAGES: Word = 4;
/// The ring frame the monitor shares with it, mapped read-only for the probe.
pub const RING_ADDR: Word = 0x101c_0000;
/// The word the monitor writes at the start of the ring; the probe checks it before its heartbeat.
pub const RING_MAGIC: Word = 0x5350_4143_454e_4f44;

/// The violation committed by start number `generation` (0-based).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// Receives on a slot it was not granted: a capability fault.
    UngrantedCap,
    /// Writes to an address of the monitor's (passed as its second argument): a VM fault,
    /// since nothing of the monitor is mapped in its VSpace.
    MonitorMemory,
    /// Writes to the ring it may only read: a VM fault (write to a read-only page).
    ReadOnlyRing,
}

impl Violation {
    /// The violation of start `generation`.
    pub const fn of(generation: Word) -> Self {
        match generation % 3 {
            0 => Self::UngrantedCap,
            1 => Self::MonitorMemory,
            _ => Self::ReadOnlyRing,
        }
    }
}
