//! A ground session on the radio as a CCSDS space link: telecommands (type-AD) and CFDP
//! packets (type-BD) through FOP-1 ([`crate::ground::frame_link`]), the TM packets it extracts read like units' (floors
//! noted, reports matched). A command's attempts are [`Session::run`]'s, as for units: FOP-1
//! retransmits a lost TC frame itself (each time under a new SDLS sequence number); a lost
//! *report* it cannot know of, so a command without its final report after the timeout goes
//! to FOP-1 again as the same telecommand (same request ID), which the node's duplicate check
//! answers with its reports without running it again.
//!
//! Avoids: a second send path or report-matching loop (the session's serve both framings).

use super::*;

impl Session {
    /// Waits up to `wait` for one authenticated downlink space packet on the CCSDS radio.
    pub(super) fn frame_packet(
        &mut self,
        wait: Duration,
    ) -> Result<Option<crate::ground::frame_link::Packet>, SessionError> {
        let (Some(frames), dir) = (self.frames.as_mut(), &self.cfg.state_dir) else {
            return Ok(None);
        };
        let mut save = |g: &Ground| save_states(g, dir).map_err(|e| e.to_string());
        let got = frames
            .recv(&mut self.wire, &mut self.ground, &mut save, wait)
            .map_err(frame_error)?;
        self.refused_downlink = frames.refused();
        Ok(got)
    }

    /// Hands one telecommand (type-AD) or CFDP packet (type-BD) to FOP-1 as `service` says
    /// and sends what it can; `false` if FOP-1 did not take it before `deadline`. While FOP-1 cannot take it (its service starts with
    /// Set V(R), which must be acknowledged), the floors the node reports in what arrives are
    /// noted at once: a directive the node refused for its sequence number (after the node
    /// reboot or recovery) is then retransmitted above the node's floor; a refusal beyond the
    /// window ends the wait with [`SessionError::SequenceRefused`]. The packets stay queued
    /// for whoever waits for them.
    pub(super) fn submit_frame(
        &mut self,
        packet: &[u8],
        deadline: Instant,
        service: Service,
    ) -> Result<bool, SessionError> {
        loop {
            let (Some(frames), dir) = (self.frames.as_mut(), &self.cfg.state_dir) else {
                return Ok(false);
            };
            let step = (Instant::now() + frames.t1()).min(deadline);
            let mut save = |g: &Ground| save_states(g, dir).map_err(|e| e.to_string());
            if frames
                .submit(
                    packet,
                    service,
                    &mut self.wire,
                    &mut self.ground,
                    &mut save,
                    step,
                )
                .map_err(frame_error)?
            {
                return Ok(true);
            }
            let arrived: Vec<_> = frames.pending().cloned().collect();
            for (spi, seq, p) in arrived {
                let Some(tm) = Ground::open(spi, seq, &p).ok().map(Tm::from) else {
                    continue;
                };
                if let Some(r) = self.floors_of(&tm).filter(|r| r.beyond) {
                    self.save()?;
                    return Err(self.refused_error(r));
                }
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
        }
    }
}
