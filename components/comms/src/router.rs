//! The command catalogue and the routing table derived from the system description.
//!
//! The **catalogue** ([`CATALOGUE`]) lists every telecommand the node accepts: its PUS service
//! and subservice (and, for 8,1, its function ID), the permission it needs, and where it goes:
//! handled inside comms (ping, housekeeping, security management) or forwarded to a component as
//! a message kind of the protocol crate.
//!
//! The **routing table** ([`RouteTable`]) is built from the channels comms *sends* on, taken from
//! the system description: for each forwarded command, the channels whose message kind is the
//! command's. Exactly one → the command routes to it; none → `NoRoute`; several → `AmbiguousRoute`.
//! Comms can only ever forward to a channel it holds, because the table is made only of them.
//!
//! [`RouteTable::route`] decides, in this order: known service/subservice (else
//! `UnknownService`), function ID for 8,1 (else `BadAppData` / `UnknownFunction`), permission of
//! the association that authenticated the command (else `Unauthorised`), then the route. Every
//! outcome is a [`Route`] or a [`Failure`]; nothing panics.
//!
//! Avoids: heap (the table is a fixed array the size of the catalogue), names of components
//! (only message kinds and channel indices).

use crate::admin::{
    FN_ADMIN_CHUNK, FN_CLOCK, FN_EXPORT_ACCOUNT, FN_EXPORT_SERVER, FN_LINK_RECOVERY_CHALLENGE,
    FN_RECOVERY_CHALLENGE,
};
use crate::failure::{Failure, FailureCode};
use crate::pus::event_log::TC_REPORT_LOG;
use crate::pus::function::{FN_LEAVE_SAFE_MODE, FN_REBOOT, FN_SIGN_CHUNK, FN_UPGRADE_CHUNK, split};
use crate::pus::tc::Telecommand;
use crate::pus::{ST_EVENT, ST_FUNCTION, ST_HOUSEKEEPING, ST_SECURITY, ST_TEST};
use crate::sdls::Permissions;

/// A command comms handles itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Local {
    /// 17,1 are-you-alive.
    Ping,
    /// 3,27 one-shot housekeeping report.
    Housekeeping,
    /// 5,128 report the event log (`pus::event_log`).
    EventLog,
    /// 130,1 rotate key.
    RotateKey,
    /// 130,2 raise anti-replay floor.
    RaiseFloor,
    /// 130,3 set ARSN: resynchronise the carrying association.
    SetArsn,
    /// 130,4 verify key: challenge/response under an association's key.
    VerifyKey,
    /// 130,6 OTAR: new master keys wrapped under the key-encryption key.
    InstallKeys,
    /// 130,7 activate key: pre-activation -> active.
    ActivateKey,
    /// 130,8 deactivate key: active -> deactivated.
    DeactivateKey,
    /// 130,9 destroy key: deactivated -> destroyed (its bytes erased).
    DestroyKey,
}

/// A function forwarded to a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Forward {
    /// A sign chunk (`sign-request`).
    SignChunk,
    /// An upgrade chunk (`upgrade-chunk`).
    UpgradeChunk,
    /// A chunk of an admin command envelope (one `admin-request` once complete).
    AdminChunk,
    /// A server xpub export request (`admin-request`).
    ExportServer,
    /// An account xpub export request (`admin-request`).
    ExportAccount,
    /// A request for the signer's mission clock (`admin-request`).
    Clock,
    /// The signer's ledger-recovery challenge (`admin-request`).
    RecoveryChallenge,
    /// The signer's link-recovery challenge, for comms' own lost SDLS state (`admin-request`).
    LinkRecoveryChallenge,
    /// Leave safe mode (`node-command` to the watchdog).
    LeaveSafeMode,
    /// Reboot the board (`node-command` to the watchdog).
    Reboot,
}

/// Where a catalogue entry goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Handled by comms.
    Local(Local),
    /// Forwarded on the one channel of this message kind.
    Component {
        /// What it is.
        forward: Forward,
        /// The protocol message kind name.
        kind: &'static str,
    },
}

/// One accepted telecommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandDef {
    /// Service.
    pub service: u8,
    /// Subservice.
    pub subservice: u8,
    /// Function ID (8,1 only).
    pub function: Option<u16>,
    /// Permission needed.
    pub permission: Permissions,
    /// Where it goes.
    pub target: Target,
}

/// Every telecommand the node accepts.
pub const CATALOGUE: [CommandDef; 21] = [
    CommandDef {
        service: ST_TEST,
        subservice: 1,
        function: None,
        permission: Permissions::TEST,
        target: Target::Local(Local::Ping),
    },
    CommandDef {
        service: ST_HOUSEKEEPING,
        subservice: 27,
        function: None,
        permission: Permissions::HOUSEKEEPING,
        target: Target::Local(Local::Housekeeping),
    },
    CommandDef {
        service: ST_EVENT,
        subservice: TC_REPORT_LOG,
        function: None,
        permission: Permissions::HOUSEKEEPING,
        target: Target::Local(Local::EventLog),
    },
    CommandDef {
        service: ST_FUNCTION,
        subservice: 1,
        function: Some(FN_SIGN_CHUNK),
        permission: Permissions::SIGN,
        target: Target::Component {
            forward: Forward::SignChunk,
            kind: "sign-request",
        },
    },
    CommandDef {
        service: ST_FUNCTION,
        subservice: 1,
        function: Some(FN_UPGRADE_CHUNK),
        permission: Permissions::UPGRADE,
        target: Target::Component {
            forward: Forward::UpgradeChunk,
            kind: "upgrade-chunk",
        },
    },
    CommandDef {
        service: ST_FUNCTION,
        subservice: 1,
        function: Some(FN_ADMIN_CHUNK),
        permission: Permissions::SIGN,
        target: Target::Component {
            forward: Forward::AdminChunk,
            kind: "admin-request",
        },
    },
    CommandDef {
        service: ST_FUNCTION,
        subservice: 1,
        function: Some(FN_EXPORT_SERVER),
        permission: Permissions::SIGN,
        target: Target::Component {
            forward: Forward::ExportServer,
            kind: "admin-request",
        },
    },
    CommandDef {
        service: ST_FUNCTION,
        subservice: 1,
        function: Some(FN_EXPORT_ACCOUNT),
        permission: Permissions::SIGN,
        target: Target::Component {
            forward: Forward::ExportAccount,
            kind: "admin-request",
        },
    },
    CommandDef {
        service: ST_FUNCTION,
        subservice: 1,
        function: Some(FN_CLOCK),
        permission: Permissions::SIGN,
        target: Target::Component {
            forward: Forward::Clock,
            kind: "admin-request",
        },
    },
    CommandDef {
        service: ST_FUNCTION,
        subservice: 1,
        function: Some(FN_RECOVERY_CHALLENGE),
        permission: Permissions::SIGN,
        target: Target::Component {
            forward: Forward::RecoveryChallenge,
            kind: "admin-request",
        },
    },
    CommandDef {
        service: ST_FUNCTION,
        subservice: 1,
        function: Some(FN_LINK_RECOVERY_CHALLENGE),
        permission: Permissions::SIGN,
        target: Target::Component {
            forward: Forward::LinkRecoveryChallenge,
            kind: "admin-request",
        },
    },
    CommandDef {
        service: ST_FUNCTION,
        subservice: 1,
        function: Some(FN_LEAVE_SAFE_MODE),
        permission: Permissions::NODE_CONTROL,
        target: Target::Component {
            forward: Forward::LeaveSafeMode,
            kind: "node-command",
        },
    },
    CommandDef {
        service: ST_FUNCTION,
        subservice: 1,
        function: Some(FN_REBOOT),
        permission: Permissions::NODE_CONTROL,
        target: Target::Component {
            forward: Forward::Reboot,
            kind: "node-command",
        },
    },
    CommandDef {
        service: ST_SECURITY,
        subservice: 1,
        function: None,
        permission: Permissions::KEY_MANAGEMENT,
        target: Target::Local(Local::RotateKey),
    },
    CommandDef {
        service: ST_SECURITY,
        subservice: 2,
        function: None,
        permission: Permissions::KEY_MANAGEMENT,
        target: Target::Local(Local::RaiseFloor),
    },
    CommandDef {
        service: ST_SECURITY,
        subservice: 3,
        function: None,
        permission: Permissions::KEY_MANAGEMENT,
        target: Target::Local(Local::SetArsn),
    },
    CommandDef {
        service: ST_SECURITY,
        subservice: 4,
        function: None,
        permission: Permissions::KEY_MANAGEMENT,
        target: Target::Local(Local::VerifyKey),
    },
    CommandDef {
        service: ST_SECURITY,
        subservice: 6,
        function: None,
        permission: Permissions::KEY_MANAGEMENT,
        target: Target::Local(Local::InstallKeys),
    },
    CommandDef {
        service: ST_SECURITY,
        subservice: 7,
        function: None,
        permission: Permissions::KEY_MANAGEMENT,
        target: Target::Local(Local::ActivateKey),
    },
    CommandDef {
        service: ST_SECURITY,
        subservice: 8,
        function: None,
        permission: Permissions::KEY_MANAGEMENT,
        target: Target::Local(Local::DeactivateKey),
    },
    CommandDef {
        service: ST_SECURITY,
        subservice: 9,
        function: None,
        permission: Permissions::KEY_MANAGEMENT,
        target: Target::Local(Local::DestroyKey),
    },
];

/// A channel comms sends on: its index in the system description and its message kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendChannel<'a> {
    /// Channel index (declaration order in the system description).
    pub index: usize,
    /// Message kind name.
    pub kind: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Local,
    None,
    One(usize),
    Many,
}

/// The routing table: one slot per catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    slots: [Slot; CATALOGUE.len()],
}

/// Where a command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Handled by comms.
    Local(Local),
    /// Forwarded on channel `channel`.
    Channel {
        /// Channel index.
        channel: usize,
        /// What to forward.
        forward: Forward,
    },
}

impl RouteTable {
    /// Build the table from the channels comms sends on.
    pub fn build<'a>(sends: impl IntoIterator<Item = SendChannel<'a>> + Clone) -> RouteTable {
        let mut slots = [Slot::Local; CATALOGUE.len()];
        for (slot, def) in slots.iter_mut().zip(CATALOGUE.iter()) {
            if let Target::Component { kind, .. } = def.target {
                *slot = sends.clone().into_iter().filter(|c| c.kind == kind).fold(
                    Slot::None,
                    |acc, c| match acc {
                        Slot::None => Slot::One(c.index),
                        _ => Slot::Many,
                    },
                );
            }
        }
        RouteTable { slots }
    }

    /// Build the table from a validated system description, for the component named `comms`.
    #[cfg(feature = "kernel-config")]
    pub fn from_system(system: &kernel_config::System, comms: &str) -> RouteTable {
        let id = system.component(comms).map(|c| c.id);
        let sends: std::vec::Vec<SendChannel<'_>> = match id {
            Some(id) => system
                .sends(id)
                .map(|ch| SendChannel {
                    index: ch.id,
                    kind: ch.message.name,
                })
                .collect(),
            None => std::vec::Vec::new(),
        };
        RouteTable::build(sends.iter().copied())
    }

    /// The channel a forwarded command goes to, if it routes (for reports and tests).
    pub fn channel_for(&self, forward: Forward) -> Option<usize> {
        CATALOGUE
            .iter()
            .zip(self.slots.iter())
            .find_map(|(d, s)| match (d.target, s) {
                (Target::Component { forward: f, .. }, Slot::One(c)) if f == forward => Some(*c),
                _ => None,
            })
    }

    /// Decide where `tc`, authenticated under an association with `permissions`, goes.
    pub fn route(&self, tc: &Telecommand<'_>, permissions: Permissions) -> Result<Route, Failure> {
        let service_word = u32::from(tc.service) << 8 | u32::from(tc.subservice);
        let matching = || {
            CATALOGUE
                .iter()
                .zip(self.slots.iter())
                .filter(|(d, _)| d.service == tc.service && d.subservice == tc.subservice)
        };
        let Some((first, first_slot)) = matching().next() else {
            return Err(Failure::with(FailureCode::UnknownService, service_word));
        };
        let (def, slot) = if first.function.is_some() {
            let (function, _) = split(tc.app_data)?;
            matching()
                .find(|(d, _)| d.function == Some(function))
                .ok_or(Failure::with(
                    FailureCode::UnknownFunction,
                    u32::from(function),
                ))?
        } else {
            (first, first_slot)
        };
        if !permissions.contains(def.permission) {
            return Err(Failure::new(FailureCode::Unauthorised));
        }
        let function = u32::from(def.function.unwrap_or(0));
        match (def.target, *slot) {
            (Target::Local(l), _) => Ok(Route::Local(l)),
            (Target::Component { forward, .. }, Slot::One(channel)) => {
                Ok(Route::Channel { channel, forward })
            }
            (Target::Component { .. }, Slot::Many) => {
                Err(Failure::with(FailureCode::AmbiguousRoute, function))
            }
            (Target::Component { .. }, _) => Err(Failure::with(FailureCode::NoRoute, function)),
        }
    }
}
