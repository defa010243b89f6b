//! Identifiers shared by several messages: which component, and why it failed.
//!
//! Components are named on the wire by a one-byte [`ComponentId`]; the system description assigns
//! ids in declaration order (first component = 0). Names never cross a partition boundary.
//!
//! Avoids: strings and anything a component could use to address a channel by itself.

use rkyv::{Archive, Deserialize, Serialize};

/// A component, by the index the system description gives it (declaration order, from 0).
///
/// Archived size: 1 byte.
#[derive(
    Archive,
    Serialize,
    Deserialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
)]
#[rkyv(derive(Debug, Clone, Copy, PartialEq, Eq))]
pub struct ComponentId(pub u8);

impl ArchivedComponentId {
    /// The native id.
    pub fn get(&self) -> ComponentId {
        ComponentId(self.0)
    }
}

/// Why a component stopped being healthy. Reported by the monitor (process-level causes) or
/// decided by the watchdog (liveness causes).
///
/// Archived size: 24 bytes (1-byte tag, largest variant two `u64`).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug, Clone, Copy, PartialEq, Eq))]
pub enum FaultCause {
    /// The process exited by itself with this exit code.
    Exit {
        /// Exit status passed to `exit`.
        code: i32,
    },
    /// The process was killed by this signal (other than a seccomp violation).
    Signal {
        /// Signal number.
        signal: u8,
    },
    /// The kernel killed the process for a system call its seccomp filter does not allow.
    SeccompViolation {
        /// The offending system call number (architecture specific), 0 if unknown.
        syscall: u32,
    },
    /// The component did not answer this many consecutive watchdog pings.
    MissedPings {
        /// Consecutive pings without a pong.
        count: u8,
    },
    /// The component answered a ping with a nonce other than the one sent.
    WrongNonce {
        /// Nonce the watchdog sent.
        expected: u64,
        /// Nonce the component answered with.
        received: u64,
    },
}
