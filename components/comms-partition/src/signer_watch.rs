//! Whether the signer can sign a batch at once, from what comms knows: the node's mode at this
//! boot (from the board) and the watchdog's latest health report.
//!
//! The signer is **down** when the node is in safe mode (the signer is not part of it), or when
//! the report shows the signer's entry in any state but healthy or late: stopped (held),
//! inactive, degraded (a damaged or lost store: it refuses everything), failed or restarting.
//! A batch then gets a refusal at once ([`protocol::SignRejection::SignerDown`]) instead of
//! waiting for an answer that cannot come. The signer's restart count is exposed too, so a
//! batch whose signer restarted while it was being fed (its chunks gone with the old process)
//! is refused instead of waiting for the intake timeout.
//!
//! The signer is found in the report by its component id, which the board gives as the peer of
//! the `sign-request` channel ([`runtime::CapSet::peer`]). Before the first report, or on a
//! board that does not name peers, only the boot mode decides.
//!
//! Avoids: guessing the signer's id, and calling a signer down for a late pong (the watchdog
//! itself does not act on that).

use protocol::{ComponentId, HealthReport, HealthState, NodeMode};

/// What comms knows of the signer's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignerWatch {
    signer: Option<ComponentId>,
    mode: NodeMode,
    state: Option<HealthState>,
    restarts: u16,
}

impl SignerWatch {
    /// Nothing reported yet: the boot's `mode` decides; `signer` is the signer's component id
    /// if the board named it.
    pub fn new(signer: Option<ComponentId>, mode: NodeMode) -> Self {
        SignerWatch {
            signer,
            mode,
            state: None,
            restarts: 0,
        }
    }

    /// Take the watchdog's latest report.
    pub fn on_report(&mut self, r: &HealthReport) {
        self.mode = r.mode;
        let entry = self
            .signer
            .and_then(|id| r.components.as_slice().iter().find(|c| c.component == id));
        self.state = entry.map(|c| c.state);
        self.restarts = entry.map_or(self.restarts, |c| c.restarts);
    }

    /// Why the signer cannot sign at once, or `None` if it can (as far as comms knows).
    pub fn down(&self) -> Option<&'static str> {
        if self.mode == NodeMode::Safe {
            return Some("the node is in safe mode (the signer does not run)");
        }
        match self.state? {
            HealthState::Healthy | HealthState::Late => None,
            HealthState::Failed | HealthState::Restarting => Some("the signer is restarting"),
            HealthState::Stopped => Some("the signer is stopped (held by the watchdog)"),
            HealthState::Inactive => Some("the signer is not started in this boot"),
            HealthState::Degraded => {
                Some("the signer is degraded (a damaged or lost store; see `ground status`)")
            }
        }
    }

    /// Whether the signer runs and answers admin requests: not [`SignerWatch::down`] for any
    /// reason but being degraded (a degraded signer still verifies admin envelopes, e.g. a link
    /// recovery while its own ledger is lost).
    pub fn running(&self) -> bool {
        self.mode != NodeMode::Safe
            && (self.down().is_none() || self.state == Some(HealthState::Degraded))
    }

    /// The signer's restarts since power-on, as last reported.
    pub fn restarts(&self) -> u16 {
        self.restarts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{BoundedList, ComponentHealth};

    fn report(mode: NodeMode, entries: &[(u8, HealthState, u16)]) -> HealthReport {
        let mut components = BoundedList::default();
        for &(id, state, restarts) in entries {
            components
                .push(ComponentHealth {
                    component: ComponentId(id),
                    state,
                    restarts,
                    ..ComponentHealth::default()
                })
                .expect("room");
        }
        HealthReport {
            mode,
            components,
            ..HealthReport::default()
        }
    }

    #[test]
    fn safe_mode_and_every_state_but_healthy_or_late_are_down() {
        let w = SignerWatch::new(Some(ComponentId(3)), NodeMode::Safe);
        assert!(w.down().is_some(), "the boot mode decides before a report");
        let mut w = SignerWatch::new(Some(ComponentId(3)), NodeMode::Normal);
        assert_eq!(w.down(), None);
        // Degraded is down for batches but still running (it verifies a link recovery).
        for (state, down, running) in [
            (HealthState::Healthy, false, true),
            (HealthState::Late, false, true),
            (HealthState::Failed, true, false),
            (HealthState::Restarting, true, false),
            (HealthState::Stopped, true, false),
            (HealthState::Inactive, true, false),
            (HealthState::Degraded, true, true),
        ] {
            w.on_report(&report(
                NodeMode::Normal,
                &[(2, HealthState::Stopped, 0), (3, state, 1)],
            ));
            assert_eq!(w.down().is_some(), down, "{state:?}");
            assert_eq!(w.running(), running, "{state:?}");
        }
        assert_eq!(w.restarts(), 1);
        w.on_report(&report(NodeMode::Safe, &[(3, HealthState::Degraded, 1)]));
        assert!(w.down().is_some());
        assert!(!w.running());
    }

    #[test]
    fn another_components_state_does_not_count() {
        let mut w = SignerWatch::new(Some(ComponentId(3)), NodeMode::Normal);
        w.on_report(&report(NodeMode::Normal, &[(4, HealthState::Stopped, 5)]));
        assert_eq!(w.down(), None);
        assert_eq!(w.restarts(), 0);
        let mut unnamed = SignerWatch::new(None, NodeMode::Normal);
        unnamed.on_report(&report(NodeMode::Normal, &[(3, HealthState::Stopped, 0)]));
        assert_eq!(
            unnamed.down(),
            None,
            "without the peer id only the mode decides"
        );
    }
}
