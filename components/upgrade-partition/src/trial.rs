//! The trial boot: the agent of the new image confirms it once the watchdog has reported every
//! component healthy for the soak time, or cancels the trial and asks for a reboot into the
//! confirmed image as soon as a component fails, the node falls into safe mode, or the soak
//! deadline passes without the soak.
//!
//! Confirm and cancel are boot control operations (crash-atomic in `store::boot`); the record
//! is written around them only to report the outcome, and [`crate::agent`] reconciles a cut
//! between the two. An image that crashes or hangs never gets here: boot control counts every
//! trial attempt before the image runs and rolls back by itself when they are used up.
//!
//! Avoids: confirming on anything but the watchdog's report, and waiting forever for it.

use crate::agent::{Agent, Health, Mode, Reboot};
use crate::record::Phase;
use hal::boot::BootControl;
use hal::flash::{ErasedValue, NorFlash};
use protocol::{Refusal, UpgradeError};

impl<F: NorFlash + ErasedValue, B: BootControl> Agent<F, B> {
    /// Takes a watchdog health report; acts only on a trial boot. True if the state changed.
    pub fn on_health(&mut self, h: &Health) -> bool {
        if self.mode != Mode::Trial {
            return false;
        }
        if h.safe_mode || h.failed.is_some() {
            let detail = h.failed.map_or(u32::MAX, u32::from);
            log::warn!(
                "trial image unhealthy ({}): cancelling the trial",
                if h.safe_mode {
                    "safe mode"
                } else {
                    "a component failed"
                }
            );
            self.reject(Refusal {
                reason: UpgradeError::TrialUnhealthy,
                detail,
            });
            return true;
        }
        if h.healthy_for_ms >= self.cfg.soak_ms {
            return self.confirm();
        }
        if h.uptime_ms >= self.cfg.soak_deadline_ms {
            log::warn!(
                "trial image not healthy for {} ms by {} ms of uptime: cancelling the trial",
                self.cfg.soak_ms,
                self.cfg.soak_deadline_ms
            );
            self.reject(Refusal {
                reason: UpgradeError::TrialUnhealthy,
                detail: u32::MAX,
            });
            return true;
        }
        false
    }

    fn confirm(&mut self) -> bool {
        let slot = self.boot.state().booted;
        let counter = self.slots[crate::agent::idx(slot)].security_counter;
        if let Err(e) = self.boot.confirm(u64::from(counter)) {
            // Stays on trial: the next report tries again; if it never lands, the attempts
            // run out and boot control rolls back.
            log::error!("confirming slot {slot} failed: {e}");
            self.flash_errors += 1;
            return false;
        }
        log::info!(
            "trial image in slot {slot} confirmed after its health soak; security counter {counter}"
        );
        self.p.phase = Phase::Confirmed;
        self.p.refusal = None;
        self.persist();
        self.mode = Mode::Done;
        true
    }

    /// Ends the trial: record why, cancel it, reboot into the confirmed image.
    pub(crate) fn reject(&mut self, why: Refusal) {
        self.p.phase = Phase::RolledBack;
        self.p.refusal = Some(why);
        self.persist();
        if let Err(e) = self.boot.cancel_trial() {
            // The reboot still happens: the attempt it uses brings the rollback closer.
            log::error!("cancelling the trial failed: {e}");
            self.flash_errors += 1;
        }
        self.mode = Mode::Rebooting;
        self.reboot = Some(Reboot::Rollback);
    }
}
