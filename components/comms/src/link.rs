//! Link statistics and the primary/standby failover state machine.
//!
//! The node listens on both links all the time and accepts authenticated uplink from either;
//! downlink goes out on the *active* link only. Each link's condition is judged from what it
//! delivered recently, judged **only from authenticated traffic**: a frame counts for a link once
//! it passed the security layer, and the only evidence against a link is the uplink units it
//! demonstrably lost, which are the ARSNs an authenticated unit skipped ahead of the last accepted
//! one (a gap inside the anti-replay window, [`LinkManager::on_gap`]):
//!
//! - **Down**: nothing accepted for `silence_ms` (or never);
//! - **Degraded**: in the current `window_ms`, at least `min_errors` lost units and more lost
//!   units than accepted ones;
//! - **Up**: otherwise.
//!
//! Framing/CRC errors, authentication failures and replays are **counted** (housekeeping
//! structure 2, and the security counters of structure 3) but never move a link's state: anyone
//! in radio range can send units with a bad MAC, garbage bytes or recorded old units, and if
//! those counted, a flood of them would degrade the primary and move the downlink to the standby
//! line without the attacker knowing a single key. A jammer that really stops authenticated
//! units still makes the primary Down (silence) or Degraded (gaps), as it should.
//!
//! Switching, evaluated by [`LinkManager::tick`]:
//!
//! | active | condition | action |
//! | --- | --- | --- |
//! | primary | primary Down, or Degraded in two consecutive windows, and at least `min_dwell_ms` since the last switch | switch to standby (reason silence / errors) |
//! | standby | primary Up continuously for `switch_back_ms` (hysteresis), and `min_dwell_ms` since the last switch | switch back to primary |
//! | standby | standby Down and primary not Down | switch back to primary at once |
//!
//! The hysteresis (`switch_back_ms` > 0 and the dwell time) keeps a flapping primary from
//! bouncing the downlink between links.
//!
//! Avoids: clocks of its own (callers pass `hal::time::Instant`), heap.

use hal::time::Instant;
use protocol::{LinkId, LinkState, LinkStatus};

/// Failover tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailoverConfig {
    /// No accepted frame for this long: the link is down.
    pub silence_ms: u64,
    /// Length of the error-counting window.
    pub window_ms: u64,
    /// Lost uplink units (sequence gaps) in a window needed to call a link degraded.
    pub min_errors: u32,
    /// The primary must be up this long before the downlink returns to it.
    pub switch_back_ms: u64,
    /// Least time between two switches.
    pub min_dwell_ms: u64,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        FailoverConfig {
            silence_ms: 10_000,
            window_ms: 5_000,
            min_errors: 8,
            switch_back_ms: 30_000,
            min_dwell_ms: 5_000,
        }
    }
}

/// Why a switch happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SwitchReason {
    /// Nothing heard on the primary.
    Silence = 0,
    /// Too many errors on the primary.
    Errors = 1,
    /// The primary is back (or the standby died).
    PrimaryRecovered = 2,
}

/// A switch of the active link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch {
    /// From.
    pub from: LinkId,
    /// To.
    pub to: LinkId,
    /// Why.
    pub reason: SwitchReason,
}

/// What went wrong with a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RxError {
    /// Framing or checksum.
    Crc,
    /// Security layer refused it: the MAC does not verify.
    Auth,
    /// Not authenticable: a malformed unit, or an SPI with no association.
    Unauthenticated,
    /// Authenticated but a replay / outside the window.
    Duplicate,
}

#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    frames_rx: u32,
    frames_tx: u32,
    crc_errors: u32,
    auth_failures: u32,
    unauthenticated: u32,
    duplicates: u32,
    gaps: u32,
    last_rx: Option<Instant>,
    window_start: Instant,
    window_ok: u32,
    window_err: u32,
    degraded_windows: u32,
    up_since: Option<Instant>,
}

/// Both links' statistics and which one is active.
#[derive(Debug, Clone)]
pub struct LinkManager {
    cfg: FailoverConfig,
    stats: [Stats; 2],
    active: LinkId,
    last_switch: Option<Instant>,
    failovers: u32,
}

fn idx(l: LinkId) -> usize {
    match l {
        LinkId::Primary => 0,
        LinkId::Standby => 1,
    }
}

fn ms(from: Instant, to: Instant) -> u64 {
    to.as_micros().saturating_sub(from.as_micros()) / 1000
}

impl LinkManager {
    /// Start on the primary link.
    pub fn new(cfg: FailoverConfig) -> Self {
        LinkManager {
            cfg,
            stats: [Stats::default(); 2],
            active: LinkId::Primary,
            last_switch: None,
            failovers: 0,
        }
    }

    /// The link downlink goes out on.
    pub fn active(&self) -> LinkId {
        self.active
    }

    /// Switches since start.
    pub fn failovers(&self) -> u32 {
        self.failovers
    }

    fn roll(&mut self, link: LinkId, now: Instant) {
        let w = self.cfg.window_ms;
        let s = &mut self.stats[idx(link)];
        if ms(s.window_start, now) >= w {
            let degraded = s.window_err >= self.cfg.min_errors && s.window_err > s.window_ok;
            s.degraded_windows = if degraded { s.degraded_windows + 1 } else { 0 };
            s.window_start = now;
            s.window_ok = 0;
            s.window_err = 0;
        }
    }

    /// A frame on `link` passed the security layer.
    pub fn on_rx_ok(&mut self, link: LinkId, now: Instant) {
        self.roll(link, now);
        let s = &mut self.stats[idx(link)];
        s.frames_rx = s.frames_rx.wrapping_add(1);
        s.window_ok = s.window_ok.saturating_add(1);
        s.last_rx = Some(now);
    }

    /// A frame on `link` was refused: counted, but it does not change the link's state (see the
    /// module docs: unauthenticated traffic must not move the downlink).
    pub fn on_rx_error(&mut self, link: LinkId, e: RxError, now: Instant) {
        self.roll(link, now);
        let s = &mut self.stats[idx(link)];
        let c = match e {
            RxError::Crc => &mut s.crc_errors,
            RxError::Auth => &mut s.auth_failures,
            RxError::Unauthenticated => &mut s.unauthenticated,
            RxError::Duplicate => &mut s.duplicates,
        };
        *c = c.wrapping_add(1);
    }

    /// An authenticated unit on `link` skipped `skipped` uplink sequence numbers (a gap inside
    /// the anti-replay window): that many units were lost on the way up. This is the evidence
    /// that degrades a link.
    pub fn on_gap(&mut self, link: LinkId, skipped: u64, now: Instant) {
        self.roll(link, now);
        let s = &mut self.stats[idx(link)];
        let n = u32::try_from(skipped).unwrap_or(u32::MAX);
        s.gaps = s.gaps.saturating_add(n);
        s.window_err = s.window_err.saturating_add(n);
    }

    /// Uplink units `link` lost, as the anti-replay window saw them (sum of the gaps).
    pub fn gaps(&self, link: LinkId) -> u32 {
        self.stats[idx(link)].gaps
    }

    /// A frame went out on `link`.
    pub fn on_tx(&mut self, link: LinkId) {
        let s = &mut self.stats[idx(link)];
        s.frames_tx = s.frames_tx.wrapping_add(1);
    }

    /// The condition of `link` at `now`.
    pub fn state(&self, link: LinkId, now: Instant) -> LinkState {
        let s = &self.stats[idx(link)];
        match s.last_rx {
            None => LinkState::Down,
            Some(t) if ms(t, now) >= self.cfg.silence_ms => LinkState::Down,
            Some(_) => {
                let current_bad = s.window_err >= self.cfg.min_errors && s.window_err > s.window_ok;
                if current_bad || s.degraded_windows > 0 {
                    LinkState::Degraded
                } else {
                    LinkState::Up
                }
            }
        }
    }

    /// Evaluate the switching rules at `now`; returns the switch made, if any.
    pub fn tick(&mut self, now: Instant) -> Option<Switch> {
        self.roll(LinkId::Primary, now);
        self.roll(LinkId::Standby, now);
        let primary = self.state(LinkId::Primary, now);
        let standby = self.state(LinkId::Standby, now);
        let p = &mut self.stats[0];
        if primary == LinkState::Up {
            p.up_since.get_or_insert(now);
        } else {
            p.up_since = None;
        }
        let up_for = p.up_since.map_or(0, |t| ms(t, now));
        let degraded_long = p.degraded_windows >= 2;
        let dwell_ok = self
            .last_switch
            .is_none_or(|t| ms(t, now) >= self.cfg.min_dwell_ms);
        let decision = match self.active {
            LinkId::Primary if dwell_ok && primary == LinkState::Down => {
                Some((LinkId::Standby, SwitchReason::Silence))
            }
            LinkId::Primary if dwell_ok && degraded_long => {
                Some((LinkId::Standby, SwitchReason::Errors))
            }
            LinkId::Standby if standby == LinkState::Down && primary != LinkState::Down => {
                Some((LinkId::Primary, SwitchReason::PrimaryRecovered))
            }
            LinkId::Standby if dwell_ok && up_for >= self.cfg.switch_back_ms => {
                Some((LinkId::Primary, SwitchReason::PrimaryRecovered))
            }
            _ => None,
        };
        let (to, reason) = decision?;
        let from = self.active;
        self.active = to;
        self.last_switch = Some(now);
        self.failovers = self.failovers.wrapping_add(1);
        Some(Switch { from, to, reason })
    }

    /// The `link-status` of `link` at `now`.
    pub fn status(&self, link: LinkId, now: Instant) -> LinkStatus {
        let s = &self.stats[idx(link)];
        LinkStatus {
            frames_rx: s.frames_rx,
            frames_tx: s.frames_tx,
            crc_errors: s.crc_errors,
            auth_failures: s.auth_failures,
            unauthenticated: s.unauthenticated,
            duplicates: s.duplicates,
            last_rx_age_ms: s.last_rx.map_or(u32::MAX, |t| {
                u32::try_from(ms(t, now)).unwrap_or(u32::MAX - 1)
            }),
            link,
            state: self.state(link, now),
            active: self.active == link,
        }
    }
}
