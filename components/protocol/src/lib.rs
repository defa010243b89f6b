//! Every message that crosses a spacenode partition boundary, in one place.
//!
//! This crate is the interface a security reviewer audits: each type is a plain struct or enum
//! derived with rkyv (`Archive`, `Serialize`, `Deserialize`, bytecheck validation on), has a
//! stable kebab-case name that system descriptions use for channels ([`Message::NAME`]), and a
//! documented maximum serialised size ([`Message::MAX_SIZE`]) that a channel slot must hold.
//! [`catalogue`] lists them all for the system-description loader.
//!
//! Every variable-length field is a bounded inline container ([`BoundedBytes`], [`BoundedStr`],
//! [`BoundedList`]), so no message has out-of-line data: a serialised message is exactly
//! `size_of::<Archived<M>>()` bytes, and validation bounds every length. Large transfers (PSBT
//! batches, upgrade bundles) travel as chunks of at most [`CHUNK_MAX`] bytes.
//!
//! Wire format: rkyv 0.8 defaults (little-endian, aligned primitives, 32-bit relative pointers,
//! none of which these types use). A crate enabling rkyv's `big_endian`, `unaligned` or
//! `pointer_width_*` features would change the format for the whole build; the size test in this
//! crate then fails.
//!
//! Avoids: `std`, `alloc`, heap types, key material, and component names on the wire (components
//! are [`ComponentId`]s assigned by the system description in declaration order).
#![no_std]

pub mod admin;
pub mod bounded;
pub mod catalogue;
pub mod chunk;
pub mod health;
pub mod ids;
pub mod lifecycle;
pub mod link;
pub mod link_recovery;
pub mod log;
pub mod signing;
pub mod telemetry;
pub mod upgrade;
pub mod watchdog;

pub use admin::{
    ADMIN_COMMAND_MAX, AdminOp, AdminOutcome, AdminRequest, AdminResponse, RECOVERY_CHALLENGE_LEN,
    XPUB_EXPORT_LEN,
};
pub use bounded::{BoundedBytes, BoundedList, BoundedStr, CapacityError, InvalidBounded};
pub use chunk::{CHUNK_MAX, ChunkPosition};
pub use health::{
    ComponentHealth, Escalation, FaultKind, HealthReport, HealthState, MAX_COMPONENTS, NodeMode,
};
pub use ids::{ComponentId, FaultCause};
pub use lifecycle::{
    FaultNotice, NodeCommand, NodeCommandKind, RebootReason, RebootRequest, RestartOutcome,
    RestartRefusal, RestartRequest, RestartResult,
};
pub use link::{LinkId, LinkState, LinkStatus};
pub use log::{LOG_TEXT_MAX, Level, LogRecord};
pub use signing::{SignRejection, SignRequest, SignResponse, SignStatus};
pub use telemetry::{TELEMETRY_POINTS_MAX, Telemetry, TelemetryPoint};
pub use upgrade::{
    Refusal, Slot, SlotVersion, UpgradeChunk, UpgradeError, UpgradeState, UpgradeStatus,
};
pub use watchdog::{Ping, Pong, Progress};

/// A message type that may cross a partition boundary.
pub trait Message: rkyv::Archive {
    /// Stable kebab-case name used by system descriptions, e.g. `"sign-request"`.
    const NAME: &'static str;
    /// One line describing who sends it to whom, for reviewers and `spacenode config graph`.
    const SUMMARY: &'static str;
    /// Largest serialised size of any value of this type, in bytes. A slot of this size always
    /// holds any message of the type. Checked against rkyv by this crate's tests.
    const MAX_SIZE: usize;
}

macro_rules! message {
    ($ty:ty, $name:literal, $max:literal, $summary:literal) => {
        impl Message for $ty {
            const NAME: &'static str = $name;
            const SUMMARY: &'static str = $summary;
            const MAX_SIZE: usize = $max;
        }
    };
}

message!(
    Ping,
    "ping",
    16,
    "watchdog -> component: liveness ping with a nonce to echo"
);
message!(
    Pong,
    "pong",
    32,
    "component -> watchdog: echoed nonce and progress counters"
);
message!(
    FaultNotice,
    "fault-notice",
    40,
    "monitor -> watchdog: a component exited or was killed, and why"
);
message!(
    RestartRequest,
    "restart-request",
    32,
    "watchdog -> monitor: restart one component"
);
message!(
    RestartResult,
    "restart-result",
    12,
    "monitor -> watchdog: outcome of a restart request"
);
message!(
    HealthReport,
    "health-report",
    416,
    "watchdog -> comms: health snapshot of every component"
);
message!(
    LogRecord,
    "log-record",
    256,
    "component -> comms: one log line, at most 240 bytes of text"
);
message!(
    SignRequest,
    "sign-request",
    4096,
    "comms -> signer: one chunk of a PSBT batch to co-sign"
);
message!(
    SignResponse,
    "sign-response",
    4096,
    "signer -> comms: batch progress, a chunk of the signed batch, or a rejection"
);
message!(
    AdminRequest,
    "admin-request",
    4008,
    "comms -> signer: an authenticated registry command or an xpub export request"
);
message!(
    AdminResponse,
    "admin-response",
    184,
    "signer -> comms: outcome of a registry command, or a signed xpub export"
);
message!(
    LinkStatus,
    "link-status",
    32,
    "comms -> consumers: state and counters of one ground link"
);
message!(
    Telemetry,
    "telemetry",
    280,
    "component -> comms: up to 16 numbered measurements"
);
message!(
    UpgradeChunk,
    "upgrade-chunk",
    4096,
    "comms -> upgrade: one chunk of a signed upgrade bundle"
);
message!(
    UpgradeStatus,
    "upgrade-status",
    88,
    "upgrade -> comms: transfer and boot state, next chunk needed"
);
message!(
    RebootRequest,
    "reboot-request",
    8,
    "upgrade or watchdog -> monitor: power-cycle the board, with the reason"
);
message!(
    NodeCommand,
    "node-command",
    8,
    "comms -> watchdog: an authenticated ground command for the health authority"
);
