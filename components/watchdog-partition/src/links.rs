//! The partition's channel endpoints, taken from its capability set by the names the build-time
//! table gives ([`crate::table`]): per pinged component a ping sender and a pong receiver, the
//! fault-notice and restart-result receivers, the restart-request sender, every
//! health-report sender, and the ground's node-command receiver if one is granted (a
//! description without it has no way for the ground to take the node out of safe mode; safe
//! mode then only decays).
//!
//! [`Links::take`] refuses to start when the grants and the table disagree: a channel of the
//! table not granted (or of another kind), or a ping or pong channel granted that the table
//! does not name (the image was built for another description and would watch the wrong
//! components).
//!
//! Avoids: finding channels by kind alone (which pong channel belongs to which component must
//! come from the table, never from the order of grants).

use crate::table::{COUNT, FAULTS, HEARTBEATS, REPORTS, RESTARTS, RESULTS};
use protocol::{
    FaultNotice, HealthReport, Message, NodeCommand, Ping, Pong, RestartRequest, RestartResult,
};
use runtime::{CapSet, InitError, Rx, Source, Tx};

/// Every endpoint of the watchdog partition.
pub struct Links {
    /// Ping senders by component id (`None`: not pinged).
    pub pings: [Option<Tx<Ping>>; COUNT],
    /// Pong receivers by component id, with their sources.
    pub pongs: [Option<(Rx<Pong>, Source)>; COUNT],
    /// Fault notices from the monitor.
    pub faults: (Rx<FaultNotice>, Source),
    /// Restart requests to the monitor.
    pub restarts: Tx<RestartRequest>,
    /// Restart results from the monitor.
    pub results: (Rx<RestartResult>, Source),
    /// Health reports (comms, the upgrade agent).
    pub reports: [Option<Tx<HealthReport>>; REPORTS.len()],
    /// The ground's commands, forwarded by comms.
    pub commands: Option<(Rx<NodeCommand>, Source)>,
}

impl Links {
    /// Takes every endpoint the table names; see the module docs for what is refused.
    pub fn take(caps: &mut CapSet) -> Result<Links, InitError> {
        let mut pings = [const { None }; COUNT];
        let mut pongs = [const { None }; COUNT];
        for (i, hb) in HEARTBEATS.iter().enumerate() {
            if let Some((ping, pong)) = hb {
                if let Some(slot) = pings.get_mut(i) {
                    *slot = Some(caps.sender::<Ping>(ping)?);
                }
                if let Some(slot) = pongs.get_mut(i) {
                    *slot = Some(caps.receiver::<Pong>(pong)?);
                }
            }
        }
        if caps.find_send_kind(Ping::NAME).is_some() || caps.find_receive_kind(Pong::NAME).is_some()
        {
            return Err(InitError::Component(
                "granted a ping or pong channel the build-time table does not name: this image was built for another system description",
            ));
        }
        let faults = caps.receiver::<FaultNotice>(FAULTS)?;
        let restarts = caps.sender::<RestartRequest>(RESTARTS)?;
        let results = caps.receiver::<RestartResult>(RESULTS)?;
        let mut reports = [const { None }; REPORTS.len()];
        for (slot, name) in reports.iter_mut().zip(REPORTS) {
            *slot = Some(caps.sender::<HealthReport>(name)?);
        }
        let commands = match caps.find_receive_kind(NodeCommand::NAME) {
            Some(name) => Some(caps.receiver::<NodeCommand>(name)?),
            None => None,
        };
        Ok(Links {
            commands,
            pings,
            pongs,
            faults,
            restarts,
            results,
            reports,
        })
    }
}
