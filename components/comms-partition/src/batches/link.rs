//! CFDP on the link: an authenticated packet from the ground goes to the upload's receiver or,
//! by the direction bit of its header, to the result's sender; the receiver's PDUs (kept in the
//! outbox by [`Batches::step`]) and the result downlink's go down under the association of the
//! last uplink. A result ready starts its downlink; its end marks the batch file taken.
//!
//! Avoids: blocking and more than [`OUTBOX`] buffered PDUs per poll.

use super::{Batches, DOWNLINK_RATE_BPS, ENTITY_ID_WIDTH, NODE_ENTITY, OUTBOX};
use comms::cfdp::packet::{self, MAX_PDU};
use comms::cfdp::{CfdpError, SendState, Sender, SenderConfig};
use core::time::Duration;
use hal::flash::NorFlash;

/// Sends one wrapped packet down (the partition gives its node and links).
pub trait PacketOut {
    /// Send `packet` under association `spi`.
    fn send(&mut self, spi: u16, packet: &[u8]);
}
impl Batches {
    /// One authenticated CFDP packet from the ground under `spi`.
    pub fn on_packet<F: NorFlash>(
        &mut self,
        flash: &mut F,
        spi: u16,
        packet: &[u8],
        now: Duration,
    ) {
        let Some(s) = self.state.as_mut() else {
            return;
        };
        let Ok(pdu) = packet::unwrap(packet) else {
            self.counters.bad_packets += 1;
            return;
        };
        self.counters.packets += 1;
        self.spi = spi;
        self.last_packet = Some(now);
        // Header byte 0, bit 3: 0 towards the file receiver, 1 towards the file sender.
        let towards_sender = pdu.first().is_some_and(|b| b & 0x08 != 0);
        let r = if towards_sender {
            match s.tx.as_mut() {
                Some(tx) => tx.on_pdu(pdu, now),
                None => Err(CfdpError::UnknownTransaction),
            }
        } else {
            s.rx.on_pdu(flash, pdu, now)
        };
        if r.is_err() {
            self.counters.bad_packets += 1;
        }
    }

    pub(super) fn result_ready(&mut self, len: usize) {
        let Some(s) = self.state.as_mut() else {
            return;
        };
        let Some(intake) = s.intake.take() else {
            return;
        };
        self.counters.results += 1;
        s.tx_seq = s.tx_seq.wrapping_add(1);
        let cfg = SenderConfig {
            local_id: NODE_ENTITY,
            remote_id: intake.ground,
            id_width: ENTITY_ID_WIDTH,
            rate_bps: Some(DOWNLINK_RATE_BPS),
            frame_overhead: 6 + comms::sdls::engine::OVERHEAD,
            ..SenderConfig::default()
        };
        let seq = (intake.batch_id as u32) ^ s.tx_seq.rotate_left(16);
        let data = self.result.get(..len).unwrap_or(&[]);
        match Sender::new(cfg, seq, b"result.snrf", data) {
            Ok(tx) => {
                log::info!(
                    "batch {:#x}: result of {len} bytes ready, downlinking",
                    intake.batch_id
                );
                s.tx = Some(tx);
                s.tx_ended = false;
                s.tx_batch = intake.batch_id;
                s.result_len = len;
            }
            Err(e) => log::error!("result downlink of batch {:#x}: {e}", intake.batch_id),
        }
    }

    /// Send what is due: the receiver's PDUs from the last [`Batches::step`], and the result
    /// downlink's.
    pub fn send_due(&mut self, now: Duration, out: &mut dyn PacketOut) {
        if let Some(s) = self.state.as_mut() {
            let ob = &mut s.outbox;
            for i in 0..ob.n.min(OUTBOX) {
                let (Some(pdu), Some(&len)) = (ob.pdus.get(i), ob.lens.get(i)) else {
                    continue;
                };
                Self::send_pdu(
                    self.spi,
                    &mut self.pkt_seq,
                    pdu.get(..len).unwrap_or(&[]),
                    out,
                );
            }
            ob.n = 0;
        }
        self.poll_sender(now, out);
    }

    fn send_pdu(spi: u16, pkt_seq: &mut u16, pdu: &[u8], out: &mut dyn PacketOut) {
        let mut buf = [0u8; MAX_PDU + 16];
        if let Ok(n) = packet::wrap(pdu, *pkt_seq, false, &mut buf) {
            *pkt_seq = pkt_seq.wrapping_add(1);
            out.send(spi, buf.get(..n).unwrap_or(&[]));
        }
    }

    pub(super) fn poll_receiver<F: NorFlash>(&mut self, flash: &mut F, now: Duration) {
        let Some(s) = self.state.as_mut() else {
            return;
        };
        let ob = &mut s.outbox;
        let r = s.rx.poll(flash, now, |pdu| {
            if let (Some(dst), Some(len)) = (ob.pdus.get_mut(ob.n), ob.lens.get_mut(ob.n))
                && let Some(d) = dst.get_mut(..pdu.len())
            {
                d.copy_from_slice(pdu);
                *len = pdu.len();
                ob.n += 1;
            }
        });
        if let Err(e) = r {
            log::warn!("CFDP receiver: {e}");
        }
    }

    fn poll_sender(&mut self, now: Duration, out: &mut dyn PacketOut) {
        let Some(s) = self.state.as_mut() else {
            return;
        };
        let Some(tx) = s.tx.as_mut() else {
            return;
        };
        let data = self.result.get(..s.result_len).unwrap_or(&[]);
        let spi = self.spi;
        let seq = &mut self.pkt_seq;
        if let Err(e) = tx.poll(now, data, |pdu| Self::send_pdu(spi, seq, pdu, out)) {
            log::warn!("CFDP result downlink: {e}");
        }
        if s.tx_ended {
            return;
        }
        match tx.state() {
            SendState::Active => return,
            SendState::Delivered => {
                self.counters.delivered += 1;
                log::info!("batch {:#x}: result delivered", s.tx_batch);
            }
            SendState::Failed(c) => {
                log::warn!(
                    "batch {:#x}: result downlink failed: {}",
                    s.tx_batch,
                    comms::cfdp::condition_text(c)
                );
            }
        }
        s.tx_ended = true;
        s.release_due = true;
    }
}
