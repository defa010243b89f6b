//! Commands comms runs itself: ping (17,1), housekeeping (3,27), the event log (5,128), and the security management
//! functions (130,x: key rotation, floor raise, set ARSN, key verification, OTAR, key
//! activation and deactivation).
//!
//! Avoids: running anything before its arguments decoded (a refusal is 1,2).

use protocol::LinkId;

use crate::dedup::Progress;
use crate::failure::{Failure, FailureCode};
use crate::pus::event::{self, Event, Severity};
use crate::pus::event_log::{EVENT_LOG_LEN, TM_LOG_ENTRY};
use crate::pus::function;
use crate::pus::hk::{self, MAX_REPORT_LEN};
use crate::pus::hk_ppp;
use crate::pus::hk_upgrade;
use crate::pus::tc::Telecommand;
use crate::pus::verification::Report;
use crate::pus::{ST_EVENT, ST_HOUSEKEEPING, ST_SECURITY, ST_TEST};
use crate::router::Local;
use crate::sdls::engine::ManageError;
use crate::sdls::engine::VERIFY_CHALLENGE_LEN;
use crate::sdls::{KeyState, OtarError, StatePersist, otar};

use super::{Ctx, Downlink, Node, Now};

impl<P: StatePersist> Node<P> {
    pub(super) fn run_local(
        &mut self,
        local: Local,
        tc: &Telecommand<'_>,
        ctx: &Ctx,
        now: Now,
        down: &mut impl Downlink,
    ) -> Result<Progress, Failure> {
        // Decode arguments before acceptance.
        let args = decode_args(local, tc)?;
        self.report(ctx, Report::AcceptanceSuccess, now, down);
        self.report(ctx, Report::StartSuccess, now, down);
        let result: Result<(), Failure> = match args {
            Args::Ping => {
                self.emit(ctx.spi, ctx.dest, ST_TEST, 2, &[], now, down);
                Ok(())
            }
            Args::Hk(req) => self.housekeeping(&req, ctx, now, down),
            Args::EventLog if self.events.is_none() => Err(Failure::new(FailureCode::NoEventLog)),
            Args::EventLog => {
                // Oldest first (slots not yet filled are skipped).
                for i in 0..EVENT_LOG_LEN {
                    let Some((buf, n)) = self.events.as_deref().and_then(|l| l.entry(i, now.mono))
                    else {
                        continue;
                    };
                    let src = buf.get(..n).unwrap_or(&[]);
                    self.emit(ctx.spi, ctx.dest, ST_EVENT, TM_LOG_ENTRY, src, now, down);
                }
                Ok(())
            }
            // Rotating the carrier: its downlink moves after the reports below.
            Args::Rotate(spi, epoch) if spi == ctx.spi => self
                .engine
                .rotate_carrier(spi, epoch, &mut self.persist)
                .map_err(manage_failure)
                .map(|()| {
                    self.spi_event(event::EV_KEY_ROTATED, spi, &epoch.to_be_bytes(), now, down)
                }),
            Args::Rotate(spi, epoch) => self
                .engine
                .rotate_key(spi, epoch, &mut self.persist)
                .map_err(manage_failure)
                .map(|()| {
                    self.spi_event(event::EV_KEY_ROTATED, spi, &epoch.to_be_bytes(), now, down)
                }),
            Args::Floor(spi, floor) => self
                .engine
                .raise_floor(spi, floor, &mut self.persist)
                .map_err(manage_failure)
                .map(|()| {
                    self.spi_event(event::EV_FLOOR_RAISED, spi, &floor.to_be_bytes(), now, down)
                }),
            // The unit that carried it already moved the window ([`Node::is_set_arsn`]); a
            // 130,3 naming another association or a number the window has not reached is a
            // mistake of the sender and changes nothing.
            Args::SetArsn(spi, arsn) => match self.engine.status(spi) {
                Some(sa) if spi == ctx.spi && sa.rx_last >= arsn => {
                    self.spi_event(event::EV_FLOOR_RAISED, spi, &arsn.to_be_bytes(), now, down);
                    Ok(())
                }
                _ => Err(Failure::with(FailureCode::BadAppData, u32::from(spi))),
            },
            Args::KeyState(spi, wanted) => self
                .engine
                .set_key_state(spi, wanted, ctx.spi, &mut self.persist)
                .map_err(manage_failure)
                .map(|()| self.spi_event(event::EV_KEY_STATE, spi, &[wanted.code()], now, down)),
            Args::Install => self
                .engine
                .install_keys(tc.app_data, &mut self.persist)
                .map_err(manage_failure)
                .map(|installed| {
                    for (spi, _kid) in installed.into_iter().flatten() {
                        let state = [KeyState::PreActive.code()];
                        self.spi_event(event::EV_KEY_STATE, spi, &state, now, down);
                    }
                }),
            Args::Verify(spi, challenge) => self
                .engine
                .verify_answer(spi, &challenge)
                .map_err(manage_failure)
                .map(|(epoch, tag)| {
                    let r = function::encode_verify_report(spi, epoch, &challenge, &tag);
                    self.emit(ctx.spi, ctx.dest, ST_SECURITY, 5, &r, now, down);
                }),
        };
        Ok(match result {
            Ok(()) => {
                self.report(ctx, Report::CompletionSuccess, now, down);
                if let Args::Rotate(spi, _) = args {
                    // The reports above go down under the old downlink key: on the radio they
                    // may still wait in the TM packer, so they are sealed before it moves.
                    self.flush_frames(down);
                    self.engine.settle_downlink(spi);
                }
                Progress::Completed
            }
            Err(f) => {
                self.report(ctx, Report::CompletionFailure(f), now, down);
                Progress::CompletionFailed(f)
            }
        })
    }

    /// An informative event about association `spi`: its SPI, then `tail` (at most 8 bytes).
    fn spi_event(&mut self, id: u16, spi: u16, tail: &[u8], now: Now, down: &mut impl Downlink) {
        let mut aux = [0u8; 10];
        aux[..2].copy_from_slice(&spi.to_be_bytes());
        let n = tail.len().min(8);
        aux[2..2 + n].copy_from_slice(&tail[..n]);
        let ev = Event::new(Severity::Informative, id, &aux[..2 + n]);
        self.send_event(&ev, now, down);
    }

    /// The housekeeping structures asked for, one report each (a structure with no data yet
    /// fails the command with `NoData`, the others still go down).
    fn housekeeping(
        &mut self,
        req: &hk::Request,
        ctx: &Ctx,
        now: Now,
        down: &mut impl Downlink,
    ) -> Result<(), Failure> {
        let mut r = Ok(());
        for &sid in req.ids() {
            let mut buf = [0u8; MAX_REPORT_LEN];
            let n = match sid {
                hk_upgrade::SID_UPGRADE => match &self.upgrade {
                    Some(u) => {
                        let b = hk_upgrade::encode(u);
                        buf[..b.len()].copy_from_slice(&b);
                        b.len()
                    }
                    None => {
                        r = Err(Failure::with(FailureCode::NoData, u32::from(sid)));
                        continue;
                    }
                },
                hk_ppp::SID_PPP => match self.standby_ppp.as_deref() {
                    Some(t) => {
                        let b = hk_ppp::encode(t);
                        buf[..b.len()].copy_from_slice(&b);
                        b.len()
                    }
                    None => {
                        r = Err(Failure::with(FailureCode::NoData, u32::from(sid)));
                        continue;
                    }
                },
                hk::SID_HEALTH => match &self.health {
                    Some(h) => hk::encode_health(h, &mut buf),
                    None => {
                        r = Err(Failure::with(FailureCode::NoData, u32::from(sid)));
                        continue;
                    }
                },
                hk::SID_LINKS => {
                    let l = [
                        self.links.status(LinkId::Primary, now.mono),
                        self.links.status(LinkId::Standby, now.mono),
                    ];
                    hk::encode_links(
                        self.links.active(),
                        self.links.failovers(),
                        &l,
                        [
                            self.links.gaps(LinkId::Primary),
                            self.links.gaps(LinkId::Standby),
                        ],
                        [self.ccsds.is_some(), false],
                        &mut buf,
                    )
                }
                _ => hk::encode_security(&self.engine.counters(), self.engine.statuses(), &mut buf),
            };
            let src = buf;
            self.emit(
                ctx.spi,
                ctx.dest,
                ST_HOUSEKEEPING,
                25,
                src.get(..n).unwrap_or(&[]),
                now,
                down,
            );
        }
        r
    }
}

/// A local command's arguments, decoded before acceptance.
enum Args {
    Ping,
    Hk(hk::Request),
    EventLog,
    Rotate(u16, u32),
    Floor(u16, u64),
    SetArsn(u16, u64),
    Verify(u16, [u8; VERIFY_CHALLENGE_LEN]),
    KeyState(u16, KeyState),
    Install,
}

fn decode_args(local: Local, tc: &Telecommand<'_>) -> Result<Args, Failure> {
    Ok(match local {
        Local::Ping if tc.app_data.is_empty() => Args::Ping,
        Local::Ping => {
            return Err(Failure::with(
                FailureCode::BadAppData,
                tc.app_data.len() as u32,
            ));
        }
        Local::Housekeeping => Args::Hk(hk::parse_request(tc.app_data)?),
        Local::EventLog if tc.app_data.is_empty() => Args::EventLog,
        Local::EventLog => {
            return Err(Failure::with(
                FailureCode::BadAppData,
                tc.app_data.len() as u32,
            ));
        }
        Local::RotateKey => {
            let (s, e) = function::decode_rotate(tc.app_data)?;
            Args::Rotate(s, e)
        }
        Local::RaiseFloor => {
            let (s, f) = function::decode_floor(tc.app_data)?;
            Args::Floor(s, f)
        }
        Local::SetArsn => {
            let (s, a) = function::decode_floor(tc.app_data)?;
            Args::SetArsn(s, a)
        }
        Local::VerifyKey => {
            let (s, c) = function::decode_verify(tc.app_data)?;
            Args::Verify(s, c)
        }
        // The length here; the wrapped keys are checked by the engine.
        Local::InstallKeys if otar::valid_len(tc.app_data.len()) => Args::Install,
        Local::InstallKeys => {
            return Err(Failure::with(
                FailureCode::BadAppData,
                tc.app_data.len() as u32,
            ));
        }
        Local::ActivateKey => {
            Args::KeyState(function::decode_key_spi(tc.app_data)?, KeyState::Active)
        }
        Local::DeactivateKey => Args::KeyState(
            function::decode_key_spi(tc.app_data)?,
            KeyState::Deactivated,
        ),
        Local::DestroyKey => {
            Args::KeyState(function::decode_key_spi(tc.app_data)?, KeyState::Destroyed)
        }
    })
}

fn manage_failure(e: ManageError) -> Failure {
    match e {
        ManageError::UnknownSpi(spi) => Failure::with(FailureCode::UnknownSpi, u32::from(spi)),
        ManageError::EpochNotIncreasing { current } => {
            Failure::with(FailureCode::EpochNotIncreasing, current)
        }
        ManageError::FloorNotIncreasing { current } => {
            Failure::with(FailureCode::FloorNotIncreasing, current as u32)
        }
        ManageError::KeyState { current, wanted } => Failure::with(
            FailureCode::KeyStateRefused,
            u32::from(current.code()) << 8 | u32::from(wanted.code()),
        ),
        ManageError::KeyInUse(spi) => Failure::with(FailureCode::KeyInUse, u32::from(spi)),
        ManageError::KeyActive(spi) => Failure::with(FailureCode::OtarKeyActive, u32::from(spi)),
        ManageError::Otar(e) => otar_failure(e),
        ManageError::PersistFailed | ManageError::Mac => Failure::new(FailureCode::PersistFailed),
    }
}

fn otar_failure(e: OtarError) -> Failure {
    match e {
        OtarError::NoKek => Failure::new(FailureCode::OtarNoKek),
        OtarError::BadLength(len) => Failure::with(FailureCode::BadAppData, len as u32),
        OtarError::WrongMkid { ours, .. } => {
            Failure::with(FailureCode::OtarWrongMkid, u32::from(ours))
        }
        OtarError::BadTag => Failure::new(FailureCode::OtarBadWrap),
        OtarError::KidNotNew { last, .. } => {
            Failure::with(FailureCode::OtarKidNotNew, u32::from(last))
        }
        OtarError::BadEntry(i) => Failure::with(FailureCode::OtarBadEntry, i as u32),
    }
}
