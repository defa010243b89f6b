//! What the watchdog needs to know about this boot: normal or safe mode, how many resets led to
//! it, and the last escalation recorded before it. Produced by
//! [`crate::ResetCounter::boot`] (from the record on flash) and handed to [`crate::Watchdog::new`].
//!
//! Avoids: flash access; this is the decoded result only.

use protocol::{Escalation, NodeMode};

/// The boot the watchdog runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BootInfo {
    /// Normal, or safe mode (the reset cap was passed): only `safe-mode` components run.
    pub mode: NodeMode,
    /// Board resets since the node was last healthy for the clearing period.
    pub resets: u16,
    /// The last escalation recorded on flash, if any: why the node reset.
    pub last_escalation: Option<Escalation>,
}

impl BootInfo {
    /// A first boot: normal mode, no resets, no escalation on record.
    pub const FIRST: BootInfo = BootInfo {
        mode: NodeMode::Normal,
        resets: 0,
        last_escalation: None,
    };

    /// What to boot when the reset counter cannot be read or written: safe mode, because the
    /// cap can no longer be enforced. The ground sees `resets = u16::MAX` in the health report.
    pub const COUNTER_UNAVAILABLE: BootInfo = BootInfo {
        mode: NodeMode::Safe,
        resets: u16::MAX,
        last_escalation: None,
    };
}
