//! Receiving on a ground session: one authenticated receive for both links
//! ([`Session::next_packet`]), the telemetry a command's wait reads ([`Session::next_tm`]) with
//! the CFDP packets it sets aside, and [`Session::recv_any`], which hands those over first.
//!
//! Avoids: a receive loop per link (the set-aside once held for the CCSDS radio only).

use super::*;

impl Session {
    /// Own one authenticated TM; note floors it reports.
    pub(super) fn open_tm(&mut self, d: comms::ground::Downlinked<'_>) -> Option<Tm> {
        let tm = Tm::from(d);
        self.note_floors(&tm);
        Some(tm)
    }

    /// Waits up to `wait` for one authenticated downlink space packet from whichever link
    /// the session speaks, refused downlink (counted) passed over; `None` when nothing
    /// authentic came within `wait`.
    pub(super) fn next_packet(&mut self, wait: Duration) -> Result<Option<Packet>, SessionError> {
        if self.frames.is_some() {
            return self.frame_packet(wait);
        }
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; 65_536];
        while let Some(left) = time_left(deadline) {
            let Some(k) = self.wire.recv(&mut buf, left)? else {
                return Ok(None);
            };
            match self.ground.downlink_packet(buf.get(..k).unwrap_or(&[])) {
                Ok((spi, seq, packet)) => return Ok(Some((spi, seq, packet.to_vec()))),
                Err(_) => self.refused_downlink += 1,
            }
        }
        Ok(None)
    }

    /// Waits up to `wait` for one authenticated TM. Packets that are not PUS telemetry (CFDP)
    /// are kept aside for [`Session::recv_any`]; `None` when nothing else came within `wait`.
    pub(super) fn next_tm(&mut self, wait: Duration) -> Result<Option<Tm>, SessionError> {
        let deadline = Instant::now() + wait;
        while let Some(left) = time_left(deadline) {
            let Some((spi, seq, packet)) = self.next_packet(left)? else {
                return Ok(None);
            };
            if let Ok(d) = Ground::open(spi, seq, &packet) {
                return Ok(self.open_tm(d));
            }
            if self.set_aside.len() >= SET_ASIDE_MAX {
                self.set_aside.pop_front();
            }
            self.set_aside.push_back((spi, seq, packet));
        }
        Ok(None)
    }

    /// The next authenticated downlink packet, first those a command's wait set aside, or
    /// else one that arrives within `wait`: a CFDP packet is returned as is, PUS telemetry as
    /// a [`Tm`] (its floors noted). `None` when nothing (authentic) arrived in time.
    pub fn recv_any(&mut self, wait: Duration) -> Result<Option<Incoming>, SessionError> {
        let got = match self.set_aside.pop_front() {
            Some(p) => Some(p),
            None => self.next_packet(wait)?,
        };
        let Some((spi, seq, packet)) = got else {
            return Ok(None);
        };
        if comms::cfdp::packet::is_cfdp(&packet) {
            return Ok(Some(Incoming::Packet(packet)));
        }
        Ok(Ground::open(spi, seq, &packet)
            .ok()
            .and_then(|d| self.open_tm(d))
            .map(Incoming::Tm))
    }

    /// Wait up to `wait` for one authenticated TM (floors noted); `None` if none arrived.
    pub fn recv_tm(&mut self, wait: Duration) -> Result<Option<Tm>, SessionError> {
        self.next_tm(wait)
    }

    /// Collect every TM that arrives within `wait` (tests: what a unit caused).
    pub fn collect(&mut self, wait: Duration) -> Result<Vec<Tm>, SessionError> {
        let mut out = Vec::new();
        let deadline = Instant::now() + wait;
        while let Some(left) = time_left(deadline) {
            match self.recv_tm(left)? {
                Some(tm) => out.push(tm),
                None => break,
            }
        }
        Ok(out)
    }
}
