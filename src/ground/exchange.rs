//! The CFDP exchange of one `ground sign`: upload the batch file, receive the signer's result.
//!
//! Both CFDP entities run in one loop (the node may start the result before the upload's
//! Finished reaches the ground). [`Exchange`] holds the two entities and the link they share;
//! each of its methods is one step of the loop: send what both want to send, take one unit
//! from the node, report upload progress, take a completed result, ping a silent node, give
//! up at the deadline.
//!
//! Avoids: waiting without a deadline, blocking the node (one PDU at a time, paced by CFDP),
//! and reporting a result before it is known to be this batch's.

use super::batch::BatchError;
use super::session::{Incoming, Session};
use super::sign::{GROUND_ENTITY, Progress, SILENCE, SignError, TransferStats, Uplink, ping};
use comms::cfdp::ground::RamFlash;
use comms::cfdp::packet;
use comms::cfdp::{
    CfdpLayout, Receiver, ReceiverConfig, SendState, Sender, SenderConfig, TxProgress,
};
use comms::pus::event::EV_SECURITY_RESTORED;
use comms_partition::batches::{ENTITY_ID_WIDTH, NODE_ENTITY, RESULT_MAX};
use comms_partition::intake;
use std::path::Path;
use std::time::{Duration, Instant};

/// The ground's side of the exchange: the uplink sender, the downlink receiver (on a RAM
/// flash) and what the operator has been told so far.
struct Exchange<'a> {
    session: &'a mut Session,
    file: &'a [u8],
    batch_id: u64,
    tx: Sender,
    rx: Receiver,
    flash: RamFlash,
    t0: Instant,
    pkt_seq: u16,
    wrap_buf: Vec<u8>,
    out: Vec<Vec<u8>>,
    last_heard: Instant,
    next_decile: u64,
    naks_seen: u64,
    last_line: Instant,
    uploaded: Option<TransferStats>,
    down_start: Option<Instant>,
    down_pdus: u64,
}

/// Upload `file` (batch `batch_id`) and receive its result: the result file and the figures
/// of both directions. See the module docs.
pub(super) fn transfer(
    session: &mut Session,
    state_dir: &Path,
    file: &[u8],
    batch_id: u64,
    job: &Uplink,
    start: Instant,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Vec<u8>, TransferStats, TransferStats), SignError> {
    let seq = next_transaction(state_dir)?;
    let mut x = Exchange::open(session, file, batch_id, job, seq, start)?;
    loop {
        x.send_pending(start, true)?;
        x.receive_one(progress)?;
        x.report_upload(progress)?;
        if let Some(result) = x.take_result(start, progress)? {
            return Ok(result);
        }
        x.ping_if_silent(progress);
        if start.elapsed() > job.timeout {
            return Err(SignError::Timeout {
                stage: x.stage(),
                elapsed: start.elapsed(),
            });
        }
    }
}

impl<'a> Exchange<'a> {
    /// Both entities: the sender with CFDP transaction `seq`, the receiver on a RAM flash
    /// large enough for the largest result.
    fn open(
        session: &'a mut Session,
        file: &'a [u8],
        batch_id: u64,
        job: &Uplink,
        seq: u32,
        start: Instant,
    ) -> Result<Self, SignError> {
        // A PDU (the segment, at most 64 bytes of CFDP header) in one space packet (6 bytes of
        // header) must fit one uplink transmission: a unit, or a TC frame on the CCSDS radio.
        let (max_packet, link_overhead) = session.packet_limits();
        let cfg = SenderConfig {
            local_id: GROUND_ENTITY,
            remote_id: NODE_ENTITY,
            id_width: ENTITY_ID_WIDTH,
            segment_len: 1024.min(max_packet - 64 - 6),
            rate_bps: job.rate_bps,
            // Space packet header, and the link's own bytes around each PDU.
            frame_overhead: 6 + link_overhead,
            ..SenderConfig::default()
        };
        let tx = Sender::new(cfg, seq, b"batch.snbc", file).map_err(|e| SignError::Timeout {
            stage: format!("before the upload: {e}"),
            elapsed: start.elapsed(),
        })?;
        let data_base = CfdpLayout::comms(0).data_base as usize;
        let capacity = (data_base + RESULT_MAX).div_ceil(4096) * 4096; // whole RamFlash sectors
        let mut flash = RamFlash::new(capacity);
        let layout = CfdpLayout::comms(u32::try_from(capacity).unwrap_or(u32::MAX));
        let rcfg = ReceiverConfig {
            local_id: GROUND_ENTITY,
            ..ReceiverConfig::default()
        };
        let rx = Receiver::open(&mut flash, rcfg, layout).map_err(|e| SignError::Timeout {
            stage: format!("before the download: {e}"),
            elapsed: start.elapsed(),
        })?;
        let now = Instant::now();
        Ok(Exchange {
            session,
            file,
            batch_id,
            tx,
            rx,
            flash,
            t0: now,
            pkt_seq: 0,
            wrap_buf: vec![0u8; packet::MAX_PDU + 16],
            out: Vec::new(),
            last_heard: now,
            next_decile: 1,
            naks_seen: 0,
            last_line: now,
            uploaded: None,
            down_start: None,
            down_pdus: 0,
        })
    }

    /// Send everything both entities want to send now. `strict`: a sender or link error ends
    /// the sign; otherwise (the linger after the result, the upload settled) it is ignored.
    fn send_pending(&mut self, start: Instant, strict: bool) -> Result<(), SignError> {
        self.out.clear();
        let now = self.t0.elapsed();
        let out = &mut self.out;
        let polled = self.tx.poll(now, self.file, |pdu| out.push(pdu.to_vec()));
        if strict {
            polled.map_err(|e| SignError::Timeout {
                stage: format!("during the upload: {e}"),
                elapsed: start.elapsed(),
            })?;
        }
        let up = self.out.len();
        let out = &mut self.out;
        let _ = self
            .rx
            .poll(&mut self.flash, now, |pdu| out.push(pdu.to_vec()));
        self.down_pdus += (self.out.len() - up) as u64;
        for pdu in &self.out {
            if let Ok(n) = packet::wrap(pdu, self.pkt_seq, true, &mut self.wrap_buf) {
                self.pkt_seq = self.pkt_seq.wrapping_add(1);
                let sent = self
                    .session
                    .send_packet(self.wrap_buf.get(..n).unwrap_or(&[]));
                if strict {
                    sent.map_err(SignError::Session)?;
                }
            }
        }
        Ok(())
    }

    /// Hand one CFDP PDU to the entity it is for.
    fn deliver(&mut self, pdu: &[u8]) {
        let towards_sender = pdu.first().is_some_and(|b| b & 0x08 != 0);
        if towards_sender {
            let _ = self.tx.on_pdu(pdu, self.t0.elapsed());
        } else {
            if self.down_start.is_none() {
                self.down_start = Some(Instant::now());
            }
            let _ = self.rx.on_pdu(&mut self.flash, pdu, self.t0.elapsed());
        }
    }

    /// Take one unit from the node (or wait 2 ms for one).
    fn receive_one(&mut self, progress: &mut dyn FnMut(&Progress)) -> Result<(), SignError> {
        match self
            .session
            .recv_any(Duration::from_millis(2))
            .map_err(SignError::Session)?
        {
            Some(Incoming::Packet(p)) => {
                self.last_heard = Instant::now();
                if let Ok(pdu) = packet::unwrap(&p) {
                    self.deliver(pdu);
                }
            }
            Some(Incoming::Tm(tm)) => {
                self.last_heard = Instant::now();
                if tm.service == comms::pus::ST_EVENT
                    && tm.source.get(..2) == Some(&EV_SECURITY_RESTORED.to_be_bytes()[..])
                {
                    progress(&Progress::NodeRebooted);
                }
            }
            None => {}
        }
        Ok(())
    }

    /// Report the upload about every 10 % (and NAKs at most once a second) until the
    /// node confirms the whole file.
    fn report_upload(&mut self, progress: &mut dyn FnMut(&Progress)) -> Result<(), SignError> {
        let p = self.tx.progress();
        if self.uploaded.is_none() {
            let total = p.total.max(1);
            let decile = p.acknowledged * 10 >= self.next_decile * total;
            let naks =
                p.naks > self.naks_seen && self.last_line.elapsed() >= Duration::from_secs(1);
            if decile || naks {
                self.naks_seen = p.naks;
                self.last_line = Instant::now();
                while self.next_decile * total <= p.acknowledged * 10 {
                    self.next_decile += 1;
                }
                progress(&Progress::Upload(p));
            }
            match self.tx.state() {
                SendState::Delivered => {
                    progress(&Progress::Uploaded(p));
                    self.uploaded = Some(self.upload_stats(p));
                }
                SendState::Failed(c) => {
                    return Err(SignError::UploadFailed(
                        comms::cfdp::condition_text(c).to_string(),
                    ));
                }
                SendState::Active => {}
            }
        }
        Ok(())
    }

    fn upload_stats(&self, p: TxProgress) -> TransferStats {
        TransferStats {
            bytes: p.total,
            pdus: p.pdus,
            retransmitted: p.retransmitted,
            naks: p.naks,
            elapsed: self.t0.elapsed(),
        }
    }

    /// A completed result file of this batch, with the figures of both directions.
    /// The result of an earlier batch (a run that gave up before it came) is passed over: the
    /// receiver takes the next transfer.
    fn take_result(
        &mut self,
        start: Instant,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Option<(Vec<u8>, TransferStats, TransferStats)>, SignError> {
        let Some(f) = self
            .rx
            .take_received(&mut self.flash)
            .map_err(|e| SignError::Timeout {
                stage: format!("receiving the result: {e}"),
                elapsed: start.elapsed(),
            })?
        else {
            return Ok(None);
        };
        let mut bytes = vec![0u8; usize::try_from(f.size).unwrap_or(0)];
        self.rx
            .read_received(&mut self.flash, 0, &mut bytes)
            .map_err(|e| SignError::Timeout {
                stage: format!("reading the result: {e}"),
                elapsed: start.elapsed(),
            })?;
        if let Ok(v) = intake::parse_result(&bytes)
            && v.batch_id != self.batch_id
        {
            progress(&Progress::OtherResult {
                batch_id: v.batch_id,
            });
            return Ok(None);
        }
        progress(&Progress::Received { size: f.size });
        self.linger(start);
        let upload = match self.uploaded {
            Some(u) => u,
            None => self.upload_stats(self.tx.progress()),
        };
        let c = self.rx.counters();
        let download = TransferStats {
            bytes: f.size,
            pdus: self.down_pdus,
            retransmitted: c.duplicate_bytes,
            naks: c.naks,
            elapsed: self.down_start.map_or(Duration::ZERO, |t| t.elapsed()),
        };
        Ok(Some((bytes, upload, download)))
    }

    /// Let the Finished (and the upload's ACK) leave, and answer a repeated EOF, for 300 ms.
    fn linger(&mut self, start: Instant) {
        let linger = Instant::now();
        while linger.elapsed() < Duration::from_millis(300) {
            let _ = self.send_pending(start, false);
            if let Ok(Some(Incoming::Packet(p))) = self.session.recv_any(Duration::from_millis(5))
                && let Ok(pdu) = packet::unwrap(&p)
            {
                self.deliver(pdu);
            }
        }
    }

    /// After [`SILENCE`], ping the node. A ping retried through the loss jumps a
    /// reservation block from its second attempt on, above the floor of a node that
    /// rebooted. An unanswered ping is not final: the deadline is.
    fn ping_if_silent(&mut self, progress: &mut dyn FnMut(&Progress)) {
        if self.last_heard.elapsed() > SILENCE {
            progress(&Progress::Silent(self.last_heard.elapsed()));
            let _ = ping(self.session);
            self.last_heard = Instant::now();
        }
    }

    /// How far the exchange got, for a timeout.
    fn stage(&self) -> String {
        let p = self.tx.progress();
        match self.uploaded {
            None => format!(
                "uploading the batch: {} of {} bytes confirmed by the node, {} re-sent",
                p.acknowledged, p.total, p.retransmitted
            ),
            Some(_) => match self.rx.progress() {
                None => "waiting for the signer's result (the batch was delivered)".into(),
                Some(rp) => format!("receiving the result: {} of {} bytes", rp.received, rp.size),
            },
        }
    }
}

/// The next CFDP transaction number of this ground (`STATE/cfdp.seq`).
fn next_transaction(state_dir: &Path) -> Result<u32, SignError> {
    let path = state_dir.join("cfdp.seq");
    let last = match std::fs::read_to_string(&path) {
        Ok(t) => t.trim().parse::<u32>().unwrap_or(0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => {
            return Err(SignError::Batch(BatchError::Io { path, source: e }));
        }
    };
    let next = last.wrapping_add(1).max(1);
    std::fs::write(&path, format!("{next}\n")).map_err(|source| {
        SignError::Batch(BatchError::Io {
            path: path.clone(),
            source,
        })
    })?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_numbers_increase_per_state_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = next_transaction(dir.path()).expect("first");
        let b = next_transaction(dir.path()).expect("second");
        assert_eq!((a, b), (1, 2));
        std::fs::write(dir.path().join("cfdp.seq"), "junk").expect("write");
        assert_eq!(next_transaction(dir.path()).expect("after junk"), 1);
    }
}
