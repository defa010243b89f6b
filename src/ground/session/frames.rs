//! A ground session on the radio as a CCSDS space link (`--link ccsds:`): telecommands and
//! CFDP packets through FOP-1 ([`crate::ground::frame_link`]), the TM packets it extracts read
//! like units' (floors noted, reports matched).
//!
//! Avoids: a second report-matching loop (it shares [`Session::absorb`] with units).

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

    /// Hands one telecommand or CFDP packet to FOP-1 and sends what it can; `false` if FOP-1
    /// did not take it before `deadline` (or gave up: its alert).
    pub(super) fn submit_frame(
        &mut self,
        packet: &[u8],
        deadline: Instant,
    ) -> Result<bool, SessionError> {
        let (Some(frames), dir) = (self.frames.as_mut(), &self.cfg.state_dir) else {
            return Ok(false);
        };
        let mut save = |g: &Ground| save_states(g, dir).map_err(|e| e.to_string());
        frames
            .submit(
                packet,
                &mut self.wire,
                &mut self.ground,
                &mut save,
                deadline,
            )
            .map_err(frame_error)
    }

    /// [`Session::run`] on the CCSDS radio: FOP-1 retransmits a lost TC frame itself (each
    /// time under a new SDLS sequence number); a lost *report* it cannot know of, so a
    /// command without its final report after the timeout goes to FOP-1 again as the same
    /// telecommand (same request ID), which the node's duplicate check answers with its reports
    /// without running it again, up to the session's attempts.
    pub(super) fn run_frames(
        &mut self,
        service: u8,
        subservice: u8,
        app_data: &[u8],
        attempts: u32,
    ) -> Result<Answer, SessionError> {
        let mut packet = vec![0u8; comms::sdls::MAX_DATA_LEN];
        let (n, request) = self
            .ground
            .telecommand(service, subservice, 0, app_data, &mut packet)
            .map_err(SessionError::Build)?;
        packet.truncate(n);
        self.refusal = None;
        let start = Instant::now();
        let mut answer = Answer {
            reports: Vec::new(),
            other: Vec::new(),
            attempts: 0,
            elapsed: Duration::ZERO,
        };
        for attempt in 1..=attempts {
            answer.attempts = attempt;
            let deadline = Instant::now() + self.cfg.timeout;
            if !self.submit_frame(&packet, deadline)? {
                continue;
            }
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                let Some(tm) = self.next_tm(left)? else {
                    break;
                };
                match self.absorb(tm, request, &mut answer, start)? {
                    Step::Done => return Ok(answer),
                    Step::Again => break,
                    Step::Wait => {}
                }
            }
        }
        self.save()?;
        Err(self.unreachable(answer.attempts))
    }
}
