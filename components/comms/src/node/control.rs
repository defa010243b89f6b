//! The node's side of the node-control functions: 8,1 function 0x0010 "leave safe mode" and
//! 0x0011 "reboot", each forwarded as one `node-command` to the watchdog.
//!
//! **Reboot**: forwarded in any mode and completed (1,7) as soon as the watchdog's ring took
//! it; the watchdog marks a clean power-off (the reset counter keeps its count, so repeated
//! reboots never push the node into safe mode) and stops kicking, and the hardware watchdog
//! resets the board, which boots through the normal boot path. Nothing answers after the 1,7:
//! the ground sees the node back by its security-restored event and its housekeeping.
//!
//! **Leave safe mode**: comms refuses the command at acceptance (1,2 `NotInSafeMode`) unless the watchdog's last
//! health report says the node is in safe mode, so a command sent to a node in normal mode
//! changes nothing and says why. Otherwise it is forwarded and completed (1,7) as soon as the
//! watchdog's ring took it: the watchdog acts on every such command in safe mode (clears the
//! reset counter, marks a clean power-off, stops kicking), the board resets within the hardware
//! watchdog timeout, and the ground sees the normal boot in the next housekeeping report. No
//! answer comes back from the watchdog: the reset that follows ends comms too.
//!
//! Also the standby line's PPP counters for housekeeping ([`Node::set_standby_ppp`]), and the
//! signer's availability for sign chunks ([`Node::set_signer_down`]): a chunk for a
//! signer that cannot sign at once is refused at acceptance instead of waiting for `NoAnswer`.
//!
//! Avoids: arguments (the function has none; any are refused), panics on any input.

use protocol::{NodeCommand, NodeCommandKind, NodeMode};

use super::{Ctx, Downlink, ForwardError, Forwarder, Node, Now, Outbound};
use crate::dedup::Progress;
use crate::failure::{Failure, FailureCode};
use crate::pus::function;
use crate::pus::tc::Telecommand;
use crate::pus::verification::Report;
use crate::router::Forward;
use crate::sdls::StatePersist;

impl<P: StatePersist> Node<P> {
    /// Whether the signer can sign at once, as the partition knows it (the boot mode and the
    /// watchdog's reports, `comms_partition::signer_watch`): while it cannot, a sign chunk is
    /// refused at acceptance (1,2 `SignerDown`) instead of being forwarded to a signer that
    /// will not answer.
    pub fn set_signer_down(&mut self, down: bool) {
        self.signer_down = down;
    }

    /// Lend the node the buffer it keeps its recent events in (TC\[5,128\]) for the rest of the
    /// process; without one the event log command is refused with `NoEventLog`.
    pub fn attach_event_log(&mut self, log: &'static mut crate::pus::event_log::EventLog) {
        self.events = Some(log);
    }

    /// Lend the node the buffer it keeps the standby line's PPP session in, for housekeeping
    /// structure 6, for the rest of the process; without one (no standby line) that structure
    /// is refused with `NoData`.
    pub fn attach_standby_ppp(&mut self, t: &'static mut crate::pus::hk_ppp::PppTelemetry) {
        self.standby_ppp = Some(t);
    }

    /// The standby line's PPP session as of now (the partition calls it after every step of
    /// the line); kept only when a buffer was lent ([`Node::attach_standby_ppp`]).
    pub fn set_standby_ppp(&mut self, t: crate::pus::hk_ppp::PppTelemetry) {
        if let Some(slot) = self.standby_ppp.as_deref_mut() {
            *slot = t;
        }
    }

    /// Check and forward a node command ("leave safe mode" or "reboot") on `channel`. An `Err`
    /// is an acceptance refusal (1,2); otherwise 1,1, 1,3 and 1,7 (or 1,4 if the ring is full)
    /// were sent.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn node_command(
        &mut self,
        ctx: &Ctx,
        channel: usize,
        forward: Forward,
        tc: &Telecommand<'_>,
        now: Now,
        fwd: &mut impl Forwarder,
        down: &mut impl Downlink,
    ) -> Result<Progress, Failure> {
        let (_, args) = function::split(tc.app_data)?;
        if !args.is_empty() {
            return Err(Failure::with(
                FailureCode::BadAppData,
                tc.app_data.len() as u32,
            ));
        }
        let command = match forward {
            Forward::Reboot => NodeCommandKind::Reboot,
            _ if self.health.as_ref().map(|h| h.mode) != Some(NodeMode::Safe) => {
                return Err(Failure::new(FailureCode::NotInSafeMode));
            }
            _ => NodeCommandKind::LeaveSafeMode,
        };
        self.report(ctx, Report::AcceptanceSuccess, now, down);
        let msg = NodeCommand {
            request_id: u32::from(ctx.request.packet_id) << 16 | u32::from(ctx.request.psc),
            command,
        };
        let ch = channel as u32;
        let progress = match fwd.forward(channel, Outbound::Node(&msg)) {
            Ok(()) => {
                self.report(ctx, Report::StartSuccess, now, down);
                self.report(ctx, Report::CompletionSuccess, now, down);
                Progress::Completed
            }
            Err(e) => {
                let code = match e {
                    ForwardError::Full => FailureCode::ChannelFull,
                    ForwardError::Failed => FailureCode::ChannelError,
                };
                let f = Failure::with(code, ch);
                self.report(ctx, Report::StartFailure(f), now, down);
                Progress::StartFailed(f)
            }
        };
        Ok(progress)
    }
}
