//! Requests on the monitor's own channels: the watchdog's pings, restart requests and reboot
//! requests, and the clean power-off mark.
//!
//! Avoids: acting on a request that fails its checks ([`super::restart`]).

use super::*;

impl Monitor {
    pub(super) fn answer_pings(&mut self) {
        let (Some(ping), Some(pong)) = (&mut self.own.ping, &mut self.own.pong) else {
            return;
        };
        self.own.progress.loop_iterations = self.own.progress.loop_iterations.wrapping_add(1);
        loop {
            match ping
                .rx
                .try_recv(|p| (p.nonce.to_native(), p.sequence.to_native()))
            {
                Ok((nonce, sequence)) => {
                    self.own.progress.messages_in = self.own.progress.messages_in.wrapping_add(1);
                    let answer = Pong {
                        nonce,
                        sequence,
                        component: protocol::ComponentId(self.system.root().id as u8),
                        degraded: false,
                        progress: self.own.progress,
                    };
                    if pong.try_send(&answer).is_ok() {
                        self.own.progress.messages_out =
                            self.own.progress.messages_out.wrapping_add(1);
                    }
                }
                Err(RecvError::Empty) => return,
                Err(RecvError::Malformed) => {
                    self.own.progress.malformed = self.own.progress.malformed.wrapping_add(1);
                }
                Err(RecvError::PeerCorrupt(_)) => {
                    self.own.progress.malformed = self.own.progress.malformed.wrapping_add(1);
                    return;
                }
            }
        }
    }

    pub(super) fn handle_restart_requests(
        &mut self,
        events: &mut dyn FnMut(MonitorEvent),
    ) -> Result<(), MonitorError> {
        loop {
            let Some(req) = &mut self.own.restarts else {
                return Ok(());
            };
            let channel = req.channel;
            let got = req
                .rx
                .try_recv(|r| (r.request_id.to_native(), r.component.0));
            let (request_id, target) = match got {
                Ok(v) => v,
                Err(RecvError::Empty) => return Ok(()),
                Err(e) => {
                    req.rejected += 1;
                    let count = req.rejected;
                    events(MonitorEvent::Rejected {
                        channel: self.system.channels[channel].name.clone(),
                        what: format!("{e}"),
                        count,
                    });
                    if matches!(e, RecvError::PeerCorrupt(_)) {
                        return Ok(());
                    }
                    continue;
                }
            };
            let requester = self.system.channels[channel].sender;
            let now = self.now_us();
            let checked = restart::check(&self.system, requester, target, &self.history, now)
                .and_then(|c| {
                    // Safe mode: what was not started in this power cycle is not started now.
                    if self.active.get(c).copied().unwrap_or(false) {
                        Ok(c)
                    } else {
                        Err(protocol::RestartRefusal::NotAllowed)
                    }
                });
            let outcome = match checked {
                Err(reason) => {
                    if let Some(req) = &mut self.own.restarts {
                        req.rejected += 1;
                    }
                    events(MonitorEvent::RestartRefused {
                        target,
                        reason,
                        request_id,
                    });
                    RestartOutcome::Refused { reason }
                }
                Ok(c) => {
                    let with = match &self.system.components[c].restart {
                        Some(kernel_config::model::RestartPolicy::Restart { with, .. }) => {
                            with.clone()
                        }
                        _ => Vec::new(),
                    };
                    match self.restart(c, events) {
                        Ok(restarts) => {
                            events(MonitorEvent::Restarted {
                                component: self.system.components[c].name.clone(),
                                restarts,
                                request_id,
                            });
                            for w in with {
                                if w != c && !self.system.components[w].root && self.active[w] {
                                    self.restart(w, events)?;
                                }
                            }
                            RestartOutcome::Restarted { restarts }
                        }
                        Err(MonitorError::Spawn {
                            component,
                            exe,
                            err,
                        }) => {
                            events(MonitorEvent::Log {
                                component: "monitor".into(),
                                line: format!(
                                    "restart of {component} from {} failed: {err}",
                                    exe.display()
                                ),
                            });
                            RestartOutcome::Failed
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            if let Some(tx) = &mut self.own.results {
                let _ = tx.try_send(&RestartResult {
                    request_id,
                    component: protocol::ComponentId(target),
                    outcome,
                });
            }
        }
    }

    pub(super) fn handle_reboot_requests(
        &mut self,
        events: &mut dyn FnMut(MonitorEvent),
    ) -> Option<ResetCause> {
        for req in &mut self.own.reboots {
            loop {
                let sender = self.system.channels[req.channel].sender;
                let got = req.rx.try_recv(|r| {
                    use protocol::RebootReason as R;
                    use protocol::lifecycle::ArchivedRebootReason as A;
                    let reason = match r.reason {
                        A::TrialBoot => R::TrialBoot,
                        A::Rollback => R::Rollback,
                        A::WatchdogEscalation => R::WatchdogEscalation,
                        A::Commanded => R::Commanded,
                    };
                    (r.request_id.to_native(), r.requester.0, reason)
                });
                match got {
                    Ok((request_id, requester, reason)) if usize::from(requester) == sender => {
                        return Some(ResetCause::RebootRequest {
                            requester: self.system.components[sender].name.clone(),
                            reason,
                            request_id,
                        });
                    }
                    Ok((_, requester, _)) => {
                        req.rejected += 1;
                        events(MonitorEvent::Rejected {
                            channel: self.system.channels[req.channel].name.clone(),
                            what: format!("requester id {requester} is not the channel's sender"),
                            count: req.rejected,
                        });
                    }
                    Err(RecvError::Empty) => break,
                    Err(e) => {
                        req.rejected += 1;
                        events(MonitorEvent::Rejected {
                            channel: self.system.channels[req.channel].name.clone(),
                            what: format!("{e}"),
                            count: req.rejected,
                        });
                        if matches!(e, RecvError::PeerCorrupt(_)) {
                            break;
                        }
                    }
                }
            }
        }
        None
    }

    /// With every component stopped: the power cycle ends on purpose, so the next boot is not
    /// counted as a reset ([`resets::mark_clean_power_off`]).
    pub(super) fn mark_clean_power_off(&self, events: &mut dyn FnMut(MonitorEvent)) {
        events(MonitorEvent::Log {
            component: "monitor".into(),
            line: resets::mark_clean_power_off(&self.system, &self.config.state_dir),
        });
    }
}
