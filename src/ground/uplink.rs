//! The ground's windowed uplink of a bundle: up to [`IN_FLIGHT`] transfer messages on the link
//! at once, each sent again only when the node's status still reports it missing a
//! retransmission timeout after it was last sent.
//!
//! The node's status (housekeeping structure 5, sent down after every message the agent takes)
//! names the first message it needs (`next_chunk`) and, in `held_ahead`, which of the 64
//! following ones it need not get (kept in its receive window, or inside chunks it already has:
//! the adaptive transfer's copies). The ground sends only messages in that horizon whose bit is
//! clear. While the agent still collects the bundle header (which it takes in order, before it
//! knows the chunks) the ground sends nothing past the header's last message, so the image is
//! not sent before the node says which of it it needs.
//!
//! The timeout follows the measured round trip (time from a message's only send to the first
//! status that reports it taken) as TCP's does (RFC 6298: smoothed round trip plus four mean
//! deviations), within [`RTO_MIN`]..[`RTO_MAX`]. A message sent once that the node still
//! needs while it has taken [`DUP_THRESHOLD`] messages sent after it is resent at once, without
//! waiting for the timeout (TCP's loss detection from selective acknowledgements, RFC 6675:
//! the link does not reorder, and the agent takes messages in the order they arrive).
//! The caller asks for the status when the node has been silent for [`SILENCE`] (it may be
//! resetting).
//!
//! On the CCSDS radio each message goes as type-BD frames (its two segments back to back,
//! [`comms::radio_ccsds::GroundRadio::submit_expedited`]), as CFDP's file data does: this
//! sender's selective repeat is the one repair layer, and this window the one pacing. Under
//! FOP-1 (type-AD) its 7-frame window and go-back-N fought this sender's own repair: a 4 MiB
//! upgrade at 10 % loss took 124 s against an ideal of 23 s (`BENCHMARKS.md`). A message with
//! a segment lost is dropped by the node's reassembler and reported missing in the status like
//! any lost message. The timeout still runs only while the link is idle
//! ([`Session::uplink_busy`]: FOP-1 holds nothing unacknowledged, such as a status request),
//! and the loss detection from later messages taken stays (the link does not reorder).
//!
//! Avoids: resending what the node holds, and waiting without a deadline (the caller's).

use super::frame_link::Service;
use super::session::{Session, SessionError};
use comms::pus::function::{self, Chunk, FN_UPGRADE_CHUNK};
use comms::pus::hk_upgrade;
use comms::pus::tc::Ack;
use comms::pus::{ST_FUNCTION, ST_HOUSEKEEPING};
use protocol::{ChunkPosition, UpgradeStatus};
use std::time::{Duration, Instant};

/// Messages on the link at once: below comms' 16 forwarded commands pending and the agent's
/// 16-message ring, so a burst is not refused as busy.
pub const IN_FLIGHT: usize = 12;
/// Shortest retransmission timeout.
pub const RTO_MIN: Duration = Duration::from_millis(200);
/// Longest retransmission timeout.
pub const RTO_MAX: Duration = Duration::from_secs(3);
/// Silence after which the ground asks for the status.
pub const SILENCE: Duration = Duration::from_secs(2);
/// Messages sent later and taken by the node that mark a message still needed as lost.
pub const DUP_THRESHOLD: usize = 3;

/// The sender's state for one bundle.
pub struct Window<'b> {
    bundle: &'b [u8],
    id: u64,
    piece: usize,
    count: u32,
    /// Messages holding header bytes (the last may hold image bytes too).
    header_msgs: u32,
    sent_at: Vec<Option<Instant>>,
    /// When each message was last sent (kept once it is taken, unlike `sent_at`).
    last_send: Vec<Option<Instant>>,
    sends: Vec<u8>,
    /// Smoothed round trip and its mean deviation (RFC 6298).
    srtt: Option<(Duration, Duration)>,
    /// The last time the link still held messages it retransmits itself (FOP-1): timeouts
    /// run from then at the earliest.
    link_busy_at: Option<Instant>,
    /// Bundle bytes sent (retransmissions included).
    pub uplinked: u64,
    /// Messages sent.
    pub messages: u32,
    /// Messages sent again.
    pub resent: u32,
}

/// The latest structure 5 in a TM, if it is one.
pub fn status_of(tm: &super::session::Tm) -> Option<UpgradeStatus> {
    (tm.service == ST_HOUSEKEEPING && tm.subservice == 25)
        .then(|| hk_upgrade::decode(&tm.source))
        .flatten()
}

impl<'b> Window<'b> {
    /// A window over `bundle` (id `id`) in messages of `piece` bytes.
    pub fn new(bundle: &'b [u8], id: u64, piece: usize) -> Window<'b> {
        let count = bundle.len().div_ceil(piece) as u32;
        let header = upgrade::header_len(bundle).unwrap_or(bundle.len());
        Window {
            bundle,
            id,
            piece,
            count,
            header_msgs: header.div_ceil(piece).max(1) as u32,
            sent_at: vec![None; count as usize],
            last_send: vec![None; count as usize],
            sends: vec![0; count as usize],
            srtt: None,
            link_busy_at: None,
            uplinked: 0,
            messages: 0,
            resent: 0,
        }
    }

    fn rto(&self) -> Duration {
        self.srtt
            .map_or(Duration::from_secs(1), |(r, v)| r + v * 4)
            .clamp(RTO_MIN, RTO_MAX)
    }

    /// The messages `s` says the node still needs, in order (only message 0 for a status of
    /// another bundle).
    fn needed(&self, s: &UpgradeStatus) -> Vec<u32> {
        if s.bundle_id != self.id {
            return vec![0];
        }
        let limit = if s.chunks_total == 0 {
            self.header_msgs
        } else {
            self.count
        };
        let mut v = Vec::with_capacity(65);
        if s.next_chunk < limit {
            v.push(s.next_chunk);
        }
        for k in 0..64u32 {
            let p = s.next_chunk.saturating_add(1 + k);
            if p < limit && s.held_ahead & (1 << k) == 0 {
                v.push(p);
            }
        }
        v
    }

    /// Whether message `p`, sent once and still needed, is lost: status `s` shows
    /// [`DUP_THRESHOLD`] messages sent after it taken (in the 64 it reports on after
    /// `next_chunk`).
    fn lost(&self, s: &UpgradeStatus, p: u32) -> bool {
        let Some(t) = self.last_send[p as usize].filter(|_| self.sends[p as usize] == 1) else {
            return false;
        };
        let hi = s.next_chunk.saturating_add(65).min(self.count);
        (p + 1..hi)
            .filter(|&q| s.has(q) && self.last_send[q as usize].is_some_and(|u| u > t))
            .nth(DUP_THRESHOLD - 1)
            .is_some()
    }

    /// Notes what status `s` says was taken: a round-trip sample from each message sent once.
    fn note(&mut self, s: &UpgradeStatus) {
        if s.bundle_id != self.id {
            return;
        }
        let now = Instant::now();
        let lo = s.next_chunk.saturating_sub(IN_FLIGHT as u32 * 4);
        let hi = s.next_chunk.saturating_add(65).min(self.count);
        for p in lo..hi {
            let i = p as usize;
            if !s.has(p) {
                continue;
            }
            if let Some(t) = self.sent_at[i].take()
                && self.sends[i] == 1
            {
                let sample = now - t;
                self.srtt = Some(match self.srtt {
                    None => (sample, sample / 2),
                    Some((r, v)) => {
                        let dev = sample.abs_diff(r);
                        ((r * 7 + sample) / 8, (v * 3 + dev) / 4)
                    }
                });
            }
        }
    }

    fn send(&mut self, session: &mut Session, index: u32) -> Result<(), SessionError> {
        let off = index as usize * self.piece;
        let data = self
            .bundle
            .get(off..(off + self.piece).min(self.bundle.len()))
            .unwrap_or(&[]);
        let chunk = Chunk {
            id: self.id,
            position: ChunkPosition {
                index,
                count: self.count,
                offset: off as u32,
                total_len: self.bundle.len() as u32,
            },
            data,
        };
        let mut app = vec![0u8; 2 + function::CHUNK_ARGS_LEN + data.len()];
        app[..2].copy_from_slice(&FN_UPGRADE_CHUNK.to_be_bytes());
        function::encode_chunk(&chunk, &mut app[2..]);
        // No success reports: the agent's status after each message is the answer.
        session.send_telecommand(ST_FUNCTION, 1, &app, Ack::NONE, Service::Expedited)?;
        let i = index as usize;
        if self.sends[i] > 0 {
            self.resent += 1;
        }
        self.sends[i] = self.sends[i].saturating_add(1);
        self.sent_at[i] = Some(Instant::now());
        self.last_send[i] = self.sent_at[i];
        self.uplinked += data.len() as u64;
        self.messages += 1;
        Ok(())
    }

    /// Sends what `s` says is needed and may go now, then waits up to one timeout for the
    /// node's next status. Returns the newest status heard, if any.
    pub fn pump(
        &mut self,
        session: &mut Session,
        s: &UpgradeStatus,
    ) -> Result<Option<UpgradeStatus>, SessionError> {
        let now = Instant::now();
        if session.uplink_busy() {
            self.link_busy_at = Some(now);
        }
        let rto = self.rto();
        // A message's timeout runs from its send, or from when the link last held messages it
        // retransmits itself, whichever is later.
        let busy_at = self.link_busy_at;
        let timed_out = |t: Instant| now - busy_at.map_or(t, |b| b.max(t)) >= rto;
        let in_flight = self
            .sent_at
            .iter()
            .filter(|t| t.is_some_and(|t| !timed_out(t)))
            .count();
        let mut budget = IN_FLIGHT.saturating_sub(in_flight);
        for p in self.needed(s) {
            if budget == 0 {
                break;
            }
            let due = self.sent_at[p as usize].is_none_or(timed_out)
                || (s.bundle_id == self.id && self.lost(s, p));
            if due {
                self.send(session, p)?;
                budget -= 1;
            }
        }
        // Wait up to one timeout for the node's next status, then drain what else arrived.
        let start = Instant::now();
        let mut newest = None;
        while start.elapsed() < SILENCE {
            let wait = if newest.is_some() {
                Duration::from_micros(200)
            } else {
                rto.saturating_sub(start.elapsed())
            };
            if wait.is_zero() {
                break;
            }
            match session.recv_tm(wait)? {
                Some(tm) => {
                    if let Some(st) = status_of(&tm) {
                        self.note(&st);
                        newest = Some(st);
                    }
                }
                None => break,
            }
        }
        Ok(newest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window over 100 messages where messages `0..sent` were each sent once, in order.
    fn sent_in_order(sent: u32) -> Window<'static> {
        static BUNDLE: [u8; 100] = [0; 100];
        let mut w = Window::new(&BUNDLE, 7, 1);
        let t0 = Instant::now();
        for p in 0..sent {
            let at = t0 + Duration::from_millis(u64::from(p));
            w.last_send[p as usize] = Some(at);
            w.sent_at[p as usize] = Some(at);
            w.sends[p as usize] = 1;
        }
        w
    }

    fn status(next_chunk: u32, held_ahead: u64) -> UpgradeStatus {
        UpgradeStatus {
            bundle_id: 7,
            next_chunk,
            held_ahead,
            chunks_total: 1,
            ..UpgradeStatus::default()
        }
    }

    #[test]
    fn a_message_is_lost_once_three_sent_after_it_were_taken() {
        let w = sent_in_order(10);
        // Message 5 needed; 6 and 7 taken (bits 0 and 1 after next_chunk 5): not yet.
        assert!(!w.lost(&status(5, 0b11), 5));
        // 6, 7 and 8 taken: lost.
        assert!(w.lost(&status(5, 0b111), 5));
        // Taken messages sent before it do not count: message 8 needed, 9 the only one after.
        assert!(!w.lost(&status(8, 0b1), 8));
    }

    #[test]
    fn a_message_resent_once_waits_for_its_timeout_again() {
        let mut w = sent_in_order(10);
        w.sends[5] = 2;
        assert!(!w.lost(&status(5, 0b1111), 5));
        // Never sent: not lost, just due.
        let w = sent_in_order(0);
        assert!(!w.lost(&status(5, 0b1111), 5));
    }
}
