//! Liveness messages: the watchdog's ping and every component's pong.
//!
//! The runtime answers pings from inside the component's event loop, so a stuck handler misses
//! them. The pong echoes the nonce and carries progress counters, so the watchdog can tell a live
//! but idle component from one that spins without progress.
//!
//! Avoids: timestamps from the component (the watchdog trusts only its own clock).

use rkyv::{Archive, Deserialize, Serialize};

use crate::ids::ComponentId;

/// `ping`: watchdog → component. "Answer with this nonce."
///
/// Maximum serialised size: 16 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct Ping {
    /// Unpredictable value the pong must echo (from the watchdog's RNG).
    pub nonce: u64,
    /// Ping counter of this watchdog, wrapping.
    pub sequence: u32,
}

/// Progress counters a component reports in each pong; all wrap at `u32::MAX`.
///
/// Archived size: 16 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct Progress {
    /// Event-loop iterations since start.
    pub loop_iterations: u32,
    /// Messages received and handled since start.
    pub messages_in: u32,
    /// Messages sent since start.
    pub messages_out: u32,
    /// Malformed messages dropped since start (all channels).
    pub malformed: u32,
}

/// `pong`: component → watchdog. The answer to one [`Ping`].
///
/// Maximum serialised size: 32 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct Pong {
    /// The nonce of the ping being answered.
    pub nonce: u64,
    /// The sequence of the ping being answered.
    pub sequence: u32,
    /// The answering component (checked by the watchdog against the channel it arrived on).
    pub component: ComponentId,
    /// The component runs but cannot do its job: its store is damaged or its start failed, and
    /// its log says why. It answers pings so that it is not restarted in a loop (a restart
    /// would find the same damage), and the health report shows it as degraded.
    pub degraded: bool,
    /// The component's progress counters.
    pub progress: Progress,
}
