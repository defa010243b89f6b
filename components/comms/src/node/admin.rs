//! The node's side of the admin functions ([`crate::admin`]): decode, reassemble, forward one
//! `admin-request`, and complete the command from the signer's `admin-response`.
//!
//! Avoids: a buffer of its own (the envelope is reassembled in the staging buffer the
//! [`Forwarder`] lends: the node stays small on the partition's stack); panics on any input.

use protocol::admin::AdminOutcome;
use protocol::{AdminOp, AdminRequest, AdminResponse, BoundedBytes, XPUB_EXPORT_LEN};

use super::{Ctx, Downlink, ForwardError, Forwarder, Node, Now, Outbound, Pending, Waiting};
use crate::admin::{self, Accepted, ResponseReport};
use crate::dedup::{CommandKey, Progress};
use crate::failure::{Failure, FailureCode};
use crate::pus::ST_FUNCTION;
use crate::pus::function;
use crate::pus::tc::Telecommand;
use crate::pus::verification::Report;
use crate::router::Forward;
use crate::sdls::StatePersist;

/// Whether `forward` is one of the admin functions.
pub(super) fn is_admin(forward: Forward) -> bool {
    matches!(
        forward,
        Forward::AdminChunk
            | Forward::ExportServer
            | Forward::ExportAccount
            | Forward::Clock
            | Forward::RecoveryChallenge
            | Forward::LinkRecoveryChallenge
    )
}

/// What an admin TC asks, once its arguments are decoded (before acceptance). Inline on
/// purpose: no heap, and the envelope is copied once, into the message.
#[allow(clippy::large_enum_variant)]
enum Step {
    /// An envelope chunk that is stored; the envelope is not complete.
    Stored,
    /// Send this op to the signer.
    Send(AdminOp),
}

impl<P: StatePersist> Node<P> {
    /// Decode and run one admin TC routed to `channel`. An `Err` is an acceptance refusal (1,2);
    /// otherwise the reports up to 1,3/1,4 (and 1,7 for a stored chunk) are sent.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn admin_command(
        &mut self,
        key: CommandKey,
        ctx: &Ctx,
        channel: usize,
        forward: Forward,
        tc: &Telecommand<'_>,
        now: Now,
        fwd: &mut impl Forwarder,
        down: &mut impl Downlink,
    ) -> Result<Progress, Failure> {
        let (_, args) = function::split(tc.app_data)?;
        let step = match forward {
            Forward::ExportServer => Step::Send(admin::decode_export_server(args)?),
            Forward::ExportAccount => Step::Send(admin::decode_export_account(args)?),
            Forward::Clock => Step::Send(admin::decode_clock(args)?),
            Forward::RecoveryChallenge => Step::Send(admin::decode_recovery_challenge(args)?),
            Forward::LinkRecoveryChallenge => Step::Send(admin::decode_link_recovery_challenge(
                args,
                self.recovery.is_some(),
            )?),
            _ => {
                let chunk = function::decode_chunk(args)?;
                let staging = fwd.admin_staging().ok_or(Failure::with(
                    FailureCode::AdminTooLarge,
                    chunk.position.total_len,
                ))?;
                match self.admin.accept(&chunk, staging)? {
                    Accepted::Stored => Step::Stored,
                    Accepted::Complete(n) => {
                        let bytes = staging.get(..n).unwrap_or(&[]);
                        let envelope = BoundedBytes::new(bytes)
                            .map_err(|_| Failure::with(FailureCode::AdminTooLarge, n as u32))?;
                        // While the SDLS state is lost, only a `recover-link` goes on, to be
                        // verified (`node/recovery.rs`).
                        if self.recovering() {
                            self.expect_recovery(bytes)?;
                            Step::Send(AdminOp::VerifyLinkRecovery { envelope })
                        } else {
                            Step::Send(AdminOp::Command { envelope })
                        }
                    }
                }
            }
        };
        self.report(ctx, Report::AcceptanceSuccess, now, down);
        match step {
            Step::Stored => {
                self.report(ctx, Report::StartSuccess, now, down);
                self.report(ctx, Report::CompletionSuccess, now, down);
                Ok(Progress::Completed)
            }
            Step::Send(op) => {
                let verify = matches!(op, AdminOp::VerifyLinkRecovery { .. });
                let p = self.admin_forward(key, ctx, channel, op, fwd);
                if let Some(r) = self.recovery.as_mut().filter(|_| verify) {
                    r.sent(matches!(p, Progress::Started).then_some(self.admin_token));
                }
                match p {
                    Progress::StartFailed(f) => {
                        self.report(ctx, Report::StartFailure(f), now, down)
                    }
                    _ => self.report(ctx, Report::StartSuccess, now, down),
                }
                Ok(p)
            }
        }
    }

    fn admin_forward(
        &mut self,
        key: CommandKey,
        ctx: &Ctx,
        channel: usize,
        op: AdminOp,
        fwd: &mut impl Forwarder,
    ) -> Progress {
        let Some(slot) = self.pending.iter().position(Option::is_none) else {
            return Progress::StartFailed(Failure::new(FailureCode::Busy));
        };
        self.admin_token = self.admin_token.wrapping_add(1);
        let token = self.admin_token;
        let request = AdminRequest {
            request_id: token,
            op,
        };
        let ch = channel as u32;
        match fwd.forward(channel, Outbound::Admin(&request)) {
            Err(ForwardError::Full) => {
                Progress::StartFailed(Failure::with(FailureCode::ChannelFull, ch))
            }
            Err(ForwardError::Failed) => {
                Progress::StartFailed(Failure::with(FailureCode::ChannelError, ch))
            }
            Ok(()) => {
                if let Some(s) = self.pending.get_mut(slot) {
                    *s = Some(Pending {
                        key,
                        ctx: *ctx,
                        waiting: Waiting::Admin { token },
                        since: ctx.at,
                    });
                }
                Progress::Started
            }
        }
    }

    /// An `admin-response` arrived: send TM\[8,128\] for an applied command or an export, then
    /// complete the command (1,7, or 1,8 with the signer's refusal). A response that answers no
    /// pending command is dropped.
    pub fn on_admin_response(&mut self, r: &AdminResponse, now: Now, down: &mut impl Downlink) {
        let token = r.request_id;
        let found = self
            .pending
            .iter()
            .position(|p| p.is_some_and(|p| p.waiting == Waiting::Admin { token }));
        let Some(i) = found else {
            return;
        };
        let Some(p) = self.pending.get_mut(i).and_then(Option::take) else {
            return;
        };
        let result = match &r.outcome {
            AdminOutcome::Applied { counter } => Ok(Some(ResponseReport::Applied(*counter))),
            AdminOutcome::Export { export } => {
                match <[u8; XPUB_EXPORT_LEN]>::try_from(export.as_slice()) {
                    Ok(e) => Ok(Some(ResponseReport::Export(e))),
                    // A short export is the signer's bug; the ground could not verify it anyway.
                    Err(_) => Err(FailureCode::from_export_refusal(0)),
                }
            }
            AdminOutcome::Challenge { challenge } => {
                Ok(Some(ResponseReport::Challenge(*challenge)))
            }
            AdminOutcome::LinkRecoveryVerified => self.link_recovered(token).map(|()| None),
            AdminOutcome::Refused { code } => Err(self
                .link_refused(token, *code)
                .unwrap_or(FailureCode::from_admin_refusal(*code))),
            AdminOutcome::ExportRefused { code } => Err(FailureCode::from_export_refusal(*code)),
            AdminOutcome::Clock {
                mission_ms,
                correlated_ms,
                mark_ms,
            } => Ok(Some(ResponseReport::Clock {
                mission_ms: *mission_ms,
                correlated_ms: *correlated_ms,
                mark_ms: *mark_ms,
            })),
        };
        let progress = match result {
            Ok(report) => {
                if let Some(report) = report {
                    let mut src = [0u8; admin::MAX_RESPONSE_LEN];
                    let n = admin::encode_response(p.ctx.request, &report, &mut src);
                    self.emit(
                        p.ctx.spi,
                        p.ctx.dest,
                        ST_FUNCTION,
                        admin::TM_ADMIN_RESPONSE,
                        src.get(..n).unwrap_or(&[]),
                        now,
                        down,
                    );
                }
                self.report(&p.ctx, Report::CompletionSuccess, now, down);
                Progress::Completed
            }
            Err(f) => {
                self.report(&p.ctx, Report::CompletionFailure(f), now, down);
                Progress::CompletionFailed(f)
            }
        };
        self.dedup.record(p.key, progress);
        self.finish_key_recovery();
    }

    /// The admin envelope transfer under way, if any (its transfer ID).
    pub fn admin_transfer(&self) -> Option<u64> {
        self.admin.in_progress()
    }
}
