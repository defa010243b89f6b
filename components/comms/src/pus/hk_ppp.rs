//! Housekeeping structure 6: the standby serial line's PPP session, on request (TC 3,27). All
//! integers big-endian.
//!
//! Source data: structure ID 6 (1), LCP state (1), IPCP state (1) (RFC 1661's automaton
//! states, 0 Initial to 9 Opened, [`STATE_NAMES`]), then eleven counters since comms started
//! (4 each): frames in (good FCS), frames out (queued for the line), FCS errors, frames aborted
//! by the sender, bad frames (too short, bad header, longer than the MRU), Echo-Requests sent,
//! echoes missed (an interval with one outstanding and nothing heard), links declared down for
//! echo silence, peer restarts seen (a new Magic-Number), frames not sent for a full transmit
//! queue, line read/write errors. 47 bytes.
//!
//! The comms partition copies the engine's counters into the node after every step of the
//! line ([`crate::node::Node::set_standby_ppp`]); a node with no standby line refuses the
//! structure with `NoData`.
//!
//! Avoids: heap; panics on any input to [`decode`].

/// Structure 6: the standby line's PPP session.
pub const SID_PPP: u8 = 6;
/// Length of structure 6.
pub const LEN: usize = 3 + 4 * 11;

/// RFC 1661's names of the automaton states, by code.
pub const STATE_NAMES: [&str; 10] = [
    "Initial", "Starting", "Closed", "Stopped", "Closing", "Stopping", "Req-Sent", "Ack-Rcvd",
    "Ack-Sent", "Opened",
];

/// The standby line's PPP session as housekeeping reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PppTelemetry {
    /// LCP's state code (index into [`STATE_NAMES`]).
    pub lcp: u8,
    /// IPCP's state code.
    pub ipcp: u8,
    /// Good frames received.
    pub frames_in: u32,
    /// Frames queued for the line.
    pub frames_out: u32,
    /// Frames dropped for a bad FCS.
    pub fcs_errors: u32,
    /// Frames aborted by the sender.
    pub aborted: u32,
    /// Frames too short, with a bad header, or longer than the MRU.
    pub bad_frames: u32,
    /// Echo-Requests sent.
    pub echoes_sent: u32,
    /// Echo intervals that ended with one outstanding and nothing heard.
    pub echoes_missed: u32,
    /// Times the link was declared down for echo silence.
    pub echo_failures: u32,
    /// Peer restarts seen.
    pub peer_restarts: u32,
    /// Frames not sent: the transmit queue was full.
    pub tx_overflow: u32,
    /// Serial line read or write errors.
    pub line_errors: u32,
}

impl PppTelemetry {
    /// Both protocols Initial, every counter 0 (a line that has not run yet).
    pub const ZERO: Self = PppTelemetry {
        lcp: 0,
        ipcp: 0,
        frames_in: 0,
        frames_out: 0,
        fcs_errors: 0,
        aborted: 0,
        bad_frames: 0,
        echoes_sent: 0,
        echoes_missed: 0,
        echo_failures: 0,
        peer_restarts: 0,
        tx_overflow: 0,
        line_errors: 0,
    };

    /// The session of a standby line.
    pub fn of(line: &crate::standby::StandbyLine) -> Self {
        let p = line.ppp();
        let st = p.stats();
        let s = p.status();
        PppTelemetry {
            lcp: s.lcp as u8,
            ipcp: s.ipcp as u8,
            frames_in: st.frames_in,
            frames_out: st.frames_out,
            fcs_errors: st.fcs_errors,
            aborted: st.aborted,
            bad_frames: st.bad_frames.wrapping_add(st.too_long),
            echoes_sent: st.echoes_sent,
            echoes_missed: st.echoes_missed,
            echo_failures: st.echo_failures,
            peer_restarts: st.peer_restarts,
            tx_overflow: st.tx_overflow,
            line_errors: line.stats().line_errors,
        }
    }

    fn counters(&self) -> [u32; 11] {
        [
            self.frames_in,
            self.frames_out,
            self.fcs_errors,
            self.aborted,
            self.bad_frames,
            self.echoes_sent,
            self.echoes_missed,
            self.echo_failures,
            self.peer_restarts,
            self.tx_overflow,
            self.line_errors,
        ]
    }
}

/// Structure 6's source data.
pub fn encode(t: &PppTelemetry) -> [u8; LEN] {
    let mut o = [0u8; LEN];
    o[0] = SID_PPP;
    o[1] = t.lcp;
    o[2] = t.ipcp;
    for (chunk, v) in o[3..].chunks_exact_mut(4).zip(t.counters()) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    o
}

/// Structure 6, decoded; `None` unless it is exactly one with known state codes.
pub fn decode(b: &[u8]) -> Option<PppTelemetry> {
    if b.len() != LEN || b[0] != SID_PPP {
        return None;
    }
    if usize::from(b[1]) >= STATE_NAMES.len() || usize::from(b[2]) >= STATE_NAMES.len() {
        return None;
    }
    let mut c = [0u32; 11];
    for (v, chunk) in c.iter_mut().zip(b[3..].chunks_exact(4)) {
        *v = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    Some(PppTelemetry {
        lcp: b[1],
        ipcp: b[2],
        frames_in: c[0],
        frames_out: c[1],
        fcs_errors: c[2],
        aborted: c[3],
        bad_frames: c[4],
        echoes_sent: c[5],
        echoes_missed: c[6],
        echo_failures: c[7],
        peer_restarts: c[8],
        tx_overflow: c[9],
        line_errors: c[10],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let t = PppTelemetry {
            lcp: 9,
            ipcp: 6,
            frames_in: 1,
            frames_out: 2,
            fcs_errors: 3,
            aborted: 4,
            bad_frames: 5,
            echoes_sent: 6,
            echoes_missed: 7,
            echo_failures: 8,
            peer_restarts: 9,
            tx_overflow: 10,
            line_errors: 0xA0B0_C0D0,
        };
        let b = encode(&t);
        assert_eq!(decode(&b), Some(t));
        for cut in 0..LEN {
            assert_eq!(decode(&b[..cut]), None);
        }
        let mut bad = b;
        bad[1] = 10;
        assert_eq!(decode(&bad), None);
        bad = b;
        bad[0] = 5;
        assert_eq!(decode(&bad), None);
    }

    #[test]
    fn state_codes_follow_the_engine() {
        use ppp::fsm::State;
        for (s, name) in [
            (State::Initial, "Initial"),
            (State::ReqSent, "Req-Sent"),
            (State::AckSent, "Ack-Sent"),
            (State::Opened, "Opened"),
        ] {
            assert_eq!(STATE_NAMES[s as usize], name);
        }
    }
}
