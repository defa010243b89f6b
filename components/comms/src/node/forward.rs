//! Commands forwarded to a component: the pending slots, their completion from the component's
//! answer, and their expiry when no answer comes.
//!
//! Avoids: slots that fill up for good ([`PENDING_TIMEOUT_S`]).

use protocol::{SignResponse, SignStatus, UpgradeError, UpgradeState, UpgradeStatus};

use crate::dedup::{CommandKey, Progress};
use crate::failure::{Failure, FailureCode};
use crate::pus::ST_HOUSEKEEPING;
use crate::pus::function::{self, Chunk};
use crate::pus::hk_upgrade;
use crate::pus::verification::Report;
use crate::router::Forward;
use crate::sdls::StatePersist;

use super::{
    Ctx, Downlink, ForwardError, Forwarder, MAX_PENDING, Node, Now, Outbound, PENDING_TIMEOUT_S,
    Peer, Pending, Waiting, sign_token,
};

impl<P: StatePersist> Node<P> {
    /// Fails the forwarded commands whose component has not answered for
    /// [`PENDING_TIMEOUT_S`] (1,8 `NoAnswer`, recorded for duplicates) and frees their slots.
    pub(super) fn expire_pending(&mut self, now: Now, down: &mut impl Downlink) {
        self.fail_unanswered(|_, waited_s| waited_s >= PENDING_TIMEOUT_S, now, down);
    }

    /// `peer` started afresh (it was restarted): the commands forwarded to its earlier
    /// instance will never be answered (the board empties a restarted component's rings, and
    /// what it had taken died with it). They fail at once with 1,8 `NoAnswer` and free their
    /// slots, instead of holding them for [`PENDING_TIMEOUT_S`] and refusing every new command
    /// (to any component) as busy meanwhile. One way for both peers; what tells comms differs:
    /// the upgrade agent's first status ([`UpgradeStatus::STARTED`]), the signer's restart
    /// count in the watchdog's report ([`Node::on_signer_restarts`]).
    ///
    /// A command forwarded after the restart but before comms learns of it fails too, although
    /// the new instance may still answer it (that answer then finds no slot and is dropped): to
    /// the ground it is a command whose answer was lost.
    fn lost_answers(&mut self, peer: Peer, now: Now, down: &mut impl Downlink) {
        self.fail_unanswered(|w, _| w.peer() == peer, now, down);
    }

    /// The signer's restart count since power-on, from the watchdog's latest health report
    /// (the count the CFDP batch intake watches too). When it moved, the sign and admin
    /// requests the earlier signer was given are lost: they fail at once with 1,8 `NoAnswer`
    /// and free comms' pending slots (as the upgrade agent's [`UpgradeStatus::STARTED`] does for
    /// its messages).
    pub fn on_signer_restarts(&mut self, restarts: u16, now: Now, down: &mut impl Downlink) {
        if core::mem::replace(&mut self.signer_restarts, restarts) != restarts {
            self.lost_answers(Peer::Signer, now, down);
        }
    }

    /// Fails the forwarded commands `unanswered(waiting, seconds waited)` picks with 1,8
    /// `NoAnswer` (its data the seconds waited, recorded for duplicates) and frees their slots.
    fn fail_unanswered(
        &mut self,
        unanswered: impl Fn(&Waiting, u64) -> bool,
        now: Now,
        down: &mut impl Downlink,
    ) {
        for i in 0..MAX_PENDING {
            let Some(p) = self.pending.get(i).copied().flatten() else {
                continue;
            };
            let waited_s = now.mono.as_micros().saturating_sub(p.since.as_micros()) / 1_000_000;
            if !unanswered(&p.waiting, waited_s) {
                continue;
            }
            if let Some(s) = self.pending.get_mut(i) {
                *s = None;
            }
            let f = Failure::with(
                FailureCode::NoAnswer,
                u32::try_from(waited_s).unwrap_or(u32::MAX),
            );
            self.report(&p.ctx, Report::CompletionFailure(f), now, down);
            self.dedup.record(p.key, Progress::CompletionFailed(f));
        }
    }

    pub(super) fn forward(
        &mut self,
        key: CommandKey,
        ctx: &Ctx,
        channel: usize,
        forward: Forward,
        chunk: &Chunk<'_>,
        fwd: &mut impl Forwarder,
    ) -> Progress {
        let Some(slot) = self.pending.iter().position(Option::is_none) else {
            return Progress::StartFailed(Failure::new(FailureCode::Busy));
        };
        let sent = match forward {
            Forward::SignChunk => function::sign_request(chunk, sign_token(chunk.id)).map(|m| {
                (
                    fwd.forward(channel, Outbound::Sign(&m)),
                    Waiting::Sign {
                        batch: chunk.id,
                        index: chunk.position.index,
                    },
                )
            }),
            Forward::UpgradeChunk => function::upgrade_chunk(chunk).map(|m| {
                (
                    fwd.forward(channel, Outbound::Upgrade(&m)),
                    Waiting::Upgrade {
                        bundle: chunk.id,
                        index: chunk.position.index,
                    },
                )
            }),
            // Handled by `admin_command` and `node_command`; never routed here.
            Forward::AdminChunk
            | Forward::ExportServer
            | Forward::ExportAccount
            | Forward::Clock
            | Forward::RecoveryChallenge
            | Forward::LinkRecoveryChallenge
            | Forward::LeaveSafeMode
            | Forward::Reboot => Err(Failure::with(FailureCode::ChannelError, channel as u32)),
        };
        let ch = channel as u32;
        match sent {
            Err(f) => Progress::StartFailed(f),
            Ok((Err(ForwardError::Full), _)) => {
                Progress::StartFailed(Failure::with(FailureCode::ChannelFull, ch))
            }
            Ok((Err(ForwardError::Failed), _)) => {
                Progress::StartFailed(Failure::with(FailureCode::ChannelError, ch))
            }
            Ok((Ok(()), waiting)) => {
                if let Some(s) = self.pending.get_mut(slot) {
                    *s = Some(Pending {
                        key,
                        ctx: *ctx,
                        waiting,
                        since: ctx.at,
                    });
                }
                Progress::Started
            }
        }
    }

    pub(super) fn complete(
        &mut self,
        matches: impl Fn(&Waiting) -> bool,
        result: Result<(), Failure>,
        now: Now,
        down: &mut impl Downlink,
    ) {
        for i in 0..MAX_PENDING {
            let Some(p) = self.pending.get(i).copied().flatten() else {
                continue;
            };
            if !matches(&p.waiting) {
                continue;
            }
            if let Some(s) = self.pending.get_mut(i) {
                *s = None;
            }
            let progress = match result {
                Ok(()) => {
                    self.report(&p.ctx, Report::CompletionSuccess, now, down);
                    Progress::Completed
                }
                Err(f) => {
                    self.report(&p.ctx, Report::CompletionFailure(f), now, down);
                    Progress::CompletionFailed(f)
                }
            };
            self.dedup.record(p.key, progress);
        }
    }

    /// A `sign-response` arrived: complete the sign chunk commands it answers. A refusal of a
    /// batch the signer examined carries the signer's signed receipt; a certificate refusal is
    /// reported with its precise code (0x1101-0x1109), anything else with the coarse reason.
    pub fn on_sign_response(&mut self, r: &SignResponse, now: Now, down: &mut impl Downlink) {
        let batch = r.batch_id;
        match r.status {
            SignStatus::Accepted => {
                let index = r.position.index;
                self.complete(|w| *w == Waiting::Sign { batch, index }, Ok(()), now, down);
            }
            SignStatus::Signed => self.complete(
                |w| matches!(w, Waiting::Sign { batch: b, .. } if *b == batch),
                Ok(()),
                now,
                down,
            ),
            SignStatus::Rejected { reason } => self.complete(
                |w| matches!(w, Waiting::Sign { batch: b, .. } if *b == batch),
                Err(Failure::new(FailureCode::from_sign_rejection(
                    reason,
                    receipt_cert_code(r.data.as_slice()),
                ))),
                now,
                down,
            ),
        }
    }

    /// An `upgrade-status` arrived: send it down (housekeeping structure 5, under the telemetry
    /// association, so the ground learns the next message the agent needs and the outcome of
    /// a trial), keep it for 3,27 requests, and complete the upgrade chunk commands it answers:
    /// the message named in `answers` (kept or dropped by the agent, so a window of messages
    /// never fills comms' pending slots), and every message it took (before `next_chunk`, or
    /// held ahead of it), whose own answer may have been lost. The first status of a freshly
    /// started agent ([`UpgradeStatus::STARTED`]) fails every upgrade message still waiting
    /// with `NoAnswer`: the earlier instance that was given them will never answer, and they
    /// would otherwise hold the pending slots for [`PENDING_TIMEOUT_S`], refusing every new
    /// message (of any component) as busy meanwhile.
    pub fn on_upgrade_status(&mut self, s: &UpgradeStatus, now: Now, down: &mut impl Downlink) {
        self.upgrade = Some(*s);
        let spi = self.engine.telemetry_spi();
        self.emit(
            spi,
            0,
            ST_HOUSEKEEPING,
            25,
            &hk_upgrade::encode(s),
            now,
            down,
        );
        let bundle = s.bundle_id;
        if s.answers == UpgradeStatus::STARTED {
            self.lost_answers(Peer::Upgrade, now, down);
        }
        // The message this status answers: failed with the refusal, or completed.
        if s.answers != UpgradeStatus::UNSOLICITED && s.answers != UpgradeStatus::STARTED {
            let index = s.answers;
            let result = match s.state {
                UpgradeState::Failed { reason } => {
                    Err(Failure::new(FailureCode::from_upgrade_error(reason)))
                }
                _ => Ok(()),
            };
            self.complete(
                |w| matches!(w, Waiting::Upgrade { bundle: b, index: i } if *b == bundle && *i == index),
                result,
                now,
                down,
            );
        }
        // A refusal of the bundle fails every message of it still waiting; otherwise the ones
        // the agent took (before the next it needs, or held ahead of it) are complete, in case
        // their own answers were lost.
        if let UpgradeState::Failed { reason } = s.state
            && !matches!(reason, UpgradeError::BadHash | UpgradeError::OutOfOrder)
        {
            self.complete(
                |w| matches!(w, Waiting::Upgrade { bundle: b, .. } if *b == bundle),
                Err(Failure::new(FailureCode::from_upgrade_error(reason))),
                now,
                down,
            );
        } else {
            self.complete(
                |w| matches!(w, Waiting::Upgrade { bundle: b, index } if *b == bundle && s.has(*index)),
                Ok(()),
                now,
                down,
            );
        }
    }
}

/// The certificate error code in a signer receipt (`signer::batch::receipt`: byte 60 is the error
/// class, 1 for the certificate, byte 61 the code), if the receipt says the certificate failed.
fn receipt_cert_code(receipt: &[u8]) -> Option<u8> {
    const CLASS: usize = 60;
    const CERTIFICATE: u8 = 1;
    match (receipt.get(CLASS), receipt.get(CLASS + 1)) {
        (Some(&CERTIFICATE), Some(&code)) => Some(code),
        _ => None,
    }
}
