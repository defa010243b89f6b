//! The catalogue of message kinds: name, fixed size, maximum size and summary of every
//! [`Message`](crate::Message) type, for the system-description loader (which checks channel
//! message types and slot sizes) and for `spacenode config graph`.
//!
//! Avoids: any runtime registration; the list is a `static` built at compile time.

use core::mem::size_of;

use rkyv::Archived;

use crate::Message;

/// One message type as the system description sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageKind {
    /// Stable kebab-case name used by the system description, e.g. "sign-request".
    pub name: &'static str,
    /// size_of::<Archived<M>>(): the fixed part every slot must hold.
    pub fixed_size: usize,
    /// Largest serialised size of any value of this type (fixed part + bounded variable part,
    /// with rkyv's alignment padding). A slot of this size always fits any message of the type.
    pub max_size: usize,
    /// One line for reviewers and `spacenode config graph`.
    pub summary: &'static str,
}

/// The catalogue entry of message type `M`.
pub const fn kind_of<M: Message>() -> MessageKind {
    MessageKind {
        name: M::NAME,
        fixed_size: size_of::<Archived<M>>(),
        max_size: M::MAX_SIZE,
        summary: M::SUMMARY,
    }
}

static ALL: [MessageKind; 17] = [
    kind_of::<crate::Ping>(),
    kind_of::<crate::Pong>(),
    kind_of::<crate::FaultNotice>(),
    kind_of::<crate::RestartRequest>(),
    kind_of::<crate::RestartResult>(),
    kind_of::<crate::HealthReport>(),
    kind_of::<crate::LogRecord>(),
    kind_of::<crate::SignRequest>(),
    kind_of::<crate::SignResponse>(),
    kind_of::<crate::AdminRequest>(),
    kind_of::<crate::AdminResponse>(),
    kind_of::<crate::LinkStatus>(),
    kind_of::<crate::Telemetry>(),
    kind_of::<crate::UpgradeChunk>(),
    kind_of::<crate::UpgradeStatus>(),
    kind_of::<crate::RebootRequest>(),
    kind_of::<crate::NodeCommand>(),
];

/// Every message kind, in a stable order.
pub fn all() -> &'static [MessageKind] {
    &ALL
}

/// The message kind with this name, if any.
pub fn lookup(name: &str) -> Option<&'static MessageKind> {
    ALL.iter().find(|kind| kind.name == name)
}
