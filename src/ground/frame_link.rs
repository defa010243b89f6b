//! A ground session's end of the CCSDS radio (`--link ccsds:SCID`): the session's
//! telecommand packets go to FOP-1 ([`comms::radio_ccsds::GroundRadio`]) as type-AD frames
//! and its CFDP packets as type-BD frames ([`Service`]), every CLTU it
//! (re)transmits goes out as one UDP datagram after the ground's state was saved (each CLTU's
//! TC frame takes a new SDLS sequence number), and the TM frames that come back are turned
//! into packets for the session.
//!
//! FOP-1's timer runs on the wall clock: with no acknowledgment for T1 while frames are
//! outstanding, it expires and FOP-1 retransmits; T1 follows the measured round trip
//! ([`FopTimer`]) (up to its transmission limit, then an
//! alert, which [`FrameLink::alert`] reports). The next packet offered after an alert starts
//! the AD service again (Set V(R) to V(S): [`GroundRadio::restart`]), so one lost contact or
//! a node reboot (its FARM-1 starts again at 0) does not end a long session such as an
//! upgrade; what FOP-1 dropped with the alert is the caller's to send again.
//!
//! Avoids: blocking without a deadline; sending a frame whose sequence number was not saved.

use super::fop_timer::FopTimer;
use super::wire::Wire;
use comms::ground::Ground;
use comms::radio_ccsds::{Alert, CcsdsConfig, FopReject, GroundRadio, GroundRadioError, MAX_CLTU};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One authenticated downlink packet: (SPI, sequence number, packet).
pub type Packet = (u16, u64, Vec<u8>);

/// How a packet goes up (COP-1's two services, 232.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Type-AD: FOP-1 numbers it, holds it in its window and retransmits it until FARM-1's
    /// CLCW acknowledges it; delivered in order. Telecommands.
    Sequenced,
    /// Type-BD: sent once, taken by FARM-1 in any state, never retransmitted by COP-1. For
    /// packets whose own protocol repairs losses (CFDP class 2).
    Expedited,
}

/// The ground's end of the CCSDS radio.
pub struct FrameLink {
    radio: GroundRadio,
    pending: VecDeque<Packet>,
    /// When the timer was last (re)armed.
    armed: Option<(u32, Instant)>,
    /// T1, from the round trips measured.
    timer: FopTimer,
    /// When the timer was first armed since everything was last acknowledged.
    outstanding_since: Option<Instant>,
    /// The last alert FOP-1 raised, kept after the service was started again.
    last_alert: Option<Alert>,
    /// The last CLTU sent (what an eavesdropper could record: the demo's attack step).
    last_cltu: Vec<u8>,
}

impl FrameLink {
    /// The ground's end for `cfg`, commanding under `spi`.
    pub fn new(cfg: CcsdsConfig, spi: u16) -> Result<Self, GroundRadioError> {
        Ok(Self {
            radio: GroundRadio::new(cfg, spi)?,
            pending: VecDeque::new(),
            armed: None,
            timer: FopTimer::default(),
            outstanding_since: None,
            last_alert: None,
            last_cltu: Vec::new(),
        })
    }

    /// FOP-1's last alert, if it ever gave up (transmission limit, or a CLCW it cannot
    /// follow), even if the service was started again since.
    pub fn alert(&self) -> Option<Alert> {
        self.radio.fop().alert().or(self.last_alert)
    }

    /// FOP-1's current retransmission timeout.
    pub fn t1(&self) -> Duration {
        self.timer.t1()
    }

    /// The round-trip estimate behind T1 (to keep for the next session).
    pub fn timer(&self) -> &FopTimer {
        &self.timer
    }

    /// Start from an estimate an earlier session kept.
    pub fn restore_timer(&mut self, timer: FopTimer) {
        self.timer = timer;
    }

    /// Secures the frames sent from now on under association `spi`.
    pub fn set_spi(&mut self, spi: u16) {
        self.radio.set_spi(spi);
    }

    /// The downlink packets received and not yet taken by [`FrameLink::recv`].
    pub fn pending(&self) -> impl Iterator<Item = &Packet> {
        self.pending.iter()
    }

    /// The last CLTU sent, and how many TC frames were sent in all (transmissions included).
    pub fn last_sent(&self) -> (&[u8], u32) {
        (&self.last_cltu, self.radio.stats().tc_frames)
    }

    /// Whether FOP-1 still holds telecommand data it has to get acknowledged
    /// ([`GroundRadio::busy`]).
    pub fn busy(&self) -> bool {
        self.radio.busy()
    }

    /// TM frames the ground's SDLS refused.
    pub fn refused(&self) -> u32 {
        self.radio.stats().tm_refused
    }

    /// Sends every CLTU FOP-1 has now; `save` runs before each (the sequence number it took).
    pub fn flush(
        &mut self,
        wire: &mut Wire,
        ground: &mut Ground,
        save: &mut dyn FnMut(&Ground) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut cltu = [0u8; MAX_CLTU];
        while let Some(n) = self
            .radio
            .next_cltu(ground, &mut cltu)
            .map_err(|e| e.to_string())?
        {
            save(ground)?;
            wire.send(&cltu[..n]).map_err(|e| e.to_string())?;
            self.last_cltu.clear();
            self.last_cltu.extend_from_slice(&cltu[..n]);
        }
        self.track_timer();
        Ok(())
    }

    /// Follows FOP-1's timer: armed at each (re)start (a transmission, or an acknowledgment
    /// that leaves frames outstanding); stopped with everything acknowledged, which measures
    /// the round trip since the last (re)start (and since the first, [`FopTimer::acknowledged`]).
    fn track_timer(&mut self) {
        match (self.radio.timer(), self.armed) {
            (None, Some((_, at))) => {
                let since = self.outstanding_since.take().unwrap_or(at);
                // Stopped by an alert (FOP-1 gave up), not by an acknowledgment: no round trip.
                if self.radio.fop().alert().is_none() {
                    self.timer.acknowledged(at.elapsed(), since.elapsed());
                }
                self.armed = None;
            }
            (None, None) => {}
            (Some(epoch), Some((armed, _))) if armed == epoch => {}
            (Some(epoch), _) => {
                let now = Instant::now();
                self.outstanding_since.get_or_insert(now);
                self.armed = Some((epoch, now));
            }
        }
    }

    /// Offers `packet` to FOP-1 for `service` until it takes it (the AD service starts with
    /// Set V(R) and needs the node's CLCW first; a BD frame waits only for the one before it
    /// to leave), moving the link on meanwhile; gives up at `deadline`.
    pub fn submit(
        &mut self,
        packet: &[u8],
        service: Service,
        wire: &mut Wire,
        ground: &mut Ground,
        save: &mut dyn FnMut(&Ground) -> Result<(), String>,
        deadline: Instant,
    ) -> Result<bool, String> {
        loop {
            if let Some(a) = self.radio.fop().alert() {
                self.last_alert = Some(a);
                self.radio.restart().map_err(|e| e.to_string())?;
            }
            let taken = match service {
                Service::Sequenced => self.radio.submit(packet),
                Service::Expedited => self.radio.submit_expedited(packet),
            };
            match taken {
                Ok(()) => {
                    self.flush(wire, ground, save)?;
                    return Ok(true);
                }
                Err(GroundRadioError::Fop(
                    FopReject::NotRunning | FopReject::WaitQueueFull | FopReject::OutNotReady,
                )) => {}
                Err(e) => return Err(e.to_string()),
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Ok(false);
            };
            self.pump(wire, ground, save, left)?;
        }
    }

    /// Waits up to `wait` for one authenticated downlink packet, driving FOP-1 meanwhile.
    pub fn recv(
        &mut self,
        wire: &mut Wire,
        ground: &mut Ground,
        save: &mut dyn FnMut(&Ground) -> Result<(), String>,
        wait: Duration,
    ) -> Result<Option<Packet>, String> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(p) = self.pending.pop_front() {
                return Ok(Some(p));
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Ok(None);
            };
            if left.is_zero() {
                return Ok(None);
            }
            self.pump(wire, ground, save, left)?;
        }
    }

    /// One datagram (or `wait` of silence): its frames into packets and CLCWs, then whatever
    /// FOP-1 now sends (retransmissions, queued frames); the timer expired if due.
    fn pump(
        &mut self,
        wire: &mut Wire,
        ground: &mut Ground,
        save: &mut dyn FnMut(&Ground) -> Result<(), String>,
        wait: Duration,
    ) -> Result<(), String> {
        // Never past the timer's expiry.
        let wait = match self.armed {
            Some((_, at)) => wait.min(self.timer.t1().saturating_sub(at.elapsed())),
            None => wait,
        };
        let mut buf = vec![0u8; 65_536];
        if let Some(k) = wire.recv(&mut buf, wait).map_err(|e| e.to_string())? {
            let pending = &mut self.pending;
            self.radio
                .on_bytes(ground, buf.get(..k).unwrap_or(&[]), &mut |spi, seq, p| {
                    pending.push_back((spi, seq, p.to_vec()));
                });
        }
        self.track_timer();
        if let Some((epoch, at)) = self.armed
            && at.elapsed() >= self.timer.t1()
        {
            self.radio.timer_expired(epoch);
            self.timer.expired();
            self.armed = None;
        }
        self.flush(wire, ground, save)
    }
}
