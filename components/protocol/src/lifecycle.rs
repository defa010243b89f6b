//! Lifecycle messages between the monitor, the watchdog and the upgrade agent: fault notices,
//! restart requests and results, and reboot requests; and the ground's node commands, which
//! comms forwards to the watchdog after authenticating them.
//!
//! The monitor decides nothing: it reports faults, and restarts or reboots only when asked on a
//! channel whose capability the system description grants (watchdog for restarts; watchdog or
//! upgrade agent for reboots).
//!
//! Avoids: component names on the wire (ids only) and any free-form payload.

use rkyv::{Archive, Deserialize, Serialize};

use crate::ids::{ComponentId, FaultCause};

/// `fault-notice`: monitor → watchdog. A component process exited or was killed.
///
/// Maximum serialised size: 40 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct FaultNotice {
    /// Monitor's monotonic clock at detection, milliseconds since board power-on.
    pub at_ms: u64,
    /// Number of faults of this component since power-on, including this one.
    pub occurrence: u32,
    /// The failed component.
    pub component: ComponentId,
    /// What happened.
    pub cause: FaultCause,
}

/// `restart-request`: watchdog → monitor. Restart one component.
///
/// Maximum serialised size: 32 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct RestartRequest {
    /// Chosen by the watchdog, echoed in the [`RestartResult`].
    pub request_id: u32,
    /// The component to restart.
    pub component: ComponentId,
    /// Why (for the monitor's log and the health report).
    pub cause: FaultCause,
}

/// Why the monitor refused a restart request.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum RestartRefusal {
    /// No component has this id.
    UnknownComponent,
    /// The component's restart policy is `never`.
    NotRestartable,
    /// The restart budget of the component's policy is used up (escalate to a reset).
    BudgetExhausted,
    /// The component is the monitor or the requester itself.
    NotAllowed,
}

/// Outcome of a restart request.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum RestartOutcome {
    /// The component was started again.
    Restarted {
        /// Restarts of this component since power-on, including this one.
        restarts: u16,
    },
    /// The monitor did not try.
    Refused {
        /// Why not.
        reason: RestartRefusal,
    },
    /// The monitor tried and the new process failed to start.
    Failed,
}

/// `restart-result`: monitor → watchdog. The answer to one [`RestartRequest`].
///
/// Maximum serialised size: 12 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct RestartResult {
    /// The `request_id` of the request being answered.
    pub request_id: u32,
    /// The component concerned.
    pub component: ComponentId,
    /// What the monitor did.
    pub outcome: RestartOutcome,
}

/// Why a reboot is requested.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum RebootReason {
    /// A new image was written and boot control set to a trial boot of it.
    TrialBoot,
    /// A trial image failed its health check; boot control was set back to the previous image.
    Rollback,
    /// The watchdog gave up restarting components and escalates to a board reset.
    WatchdogEscalation,
    /// The ground commanded a reboot.
    Commanded,
}

/// `reboot-request`: upgrade agent or watchdog → monitor. Power-cycle the board.
///
/// Maximum serialised size: 8 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct RebootRequest {
    /// Chosen by the requester, logged by the monitor across the reset.
    pub request_id: u32,
    /// The requesting component (checked by the monitor against the channel it arrived on).
    pub requester: ComponentId,
    /// Why.
    pub reason: RebootReason,
}

/// What the ground asks of the node's health authority (the watchdog).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum NodeCommandKind {
    /// Leave safe mode: clear the reset counter and reboot into a normal boot.
    LeaveSafeMode,
    /// Reboot the board through the normal boot path: the reset counter marks a clean
    /// power-off (the reboot is not a fault and never counts towards safe mode), then the
    /// watchdog stops kicking and the hardware watchdog resets the board.
    Reboot,
}

/// `node-command`: comms → watchdog. An authenticated ground command for the watchdog (comms
/// checked the security association's permission before forwarding it).
///
/// Maximum serialised size: 8 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct NodeCommand {
    /// The telecommand's request id (for the watchdog's log).
    pub request_id: u32,
    /// What to do.
    pub command: NodeCommandKind,
}

impl core::fmt::Display for RestartRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RestartRefusal::UnknownComponent => "no component has this id",
            RestartRefusal::NotRestartable => "its restart policy is `never`",
            RestartRefusal::BudgetExhausted => "its restart budget is used up",
            RestartRefusal::NotAllowed => "it is the monitor or the requester itself",
        })
    }
}

impl core::fmt::Display for RestartOutcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RestartOutcome::Restarted { restarts } => {
                write!(f, "restarted ({restarts} restarts since power-on)")
            }
            RestartOutcome::Refused { reason } => write!(f, "refused by the monitor: {reason}"),
            RestartOutcome::Failed => f.write_str("the new process failed to start"),
        }
    }
}

impl core::fmt::Display for RebootReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RebootReason::TrialBoot => "trial boot of a new image",
            RebootReason::Rollback => "rollback of a failed trial",
            RebootReason::WatchdogEscalation => "watchdog escalation",
            RebootReason::Commanded => "commanded by the ground",
        })
    }
}
