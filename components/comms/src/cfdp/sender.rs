//! The sending entity (CFDP class 2 source): the ground's uplink of sign batches and the node's
//! downlink of results.
//!
//! [`Sender::new`] starts a transaction over a file the caller keeps in memory and passes to each
//! [`Sender::poll`]; the sender never copies it. `poll` emits, in priority order: the ACK of a
//! received Finished, the metadata (again, if NAKed with `(0, 0)`), requested retransmissions,
//! new file data, then the EOF; it paces itself to `rate_bps` with a token bucket so it does not
//! overrun the link's queue. [`Sender::on_pdu`] takes the receiver's NAKs (segments to resend),
//! its ACK of the EOF and its Finished. The EOF is repeated until acknowledged, first after
//! `ack_interval`, each further wait twice the one before up to `ack_interval_max`
//! ([`super::backoff`]), at most `ack_limit` times (then the transaction fails with "positive
//! ACK limit reached"); and again whenever the receiver has been silent for `inactivity` (backed
//! off the same way) while the transfer is not finished: that is what brings a receiver back
//! after a reset that lost the tail of the transfer.
//!
//! Avoids: allocation (the retransmission queue is a bounded [`RangeSet`] that widens rather than
//! forgets), panics on any PDU, trusting NAK ranges (clamped to the file).

use super::backoff::wait_after;
use super::checksum::checksum_of;
use super::error::CfdpError;
use super::packet::MAX_PDU;
use super::pdu::{self, Parsed, Pdu};
use super::ranges::RangeSet;
use core::time::Duration;
use spacepackets::cfdp::pdu::finished::DeliveryCode;
use spacepackets::cfdp::pdu::{CommonPduConfig, FileDirectiveType};
use spacepackets::cfdp::{
    ChecksumType, ConditionCode, CrcFlag, Direction, LargeFileFlag, TransmissionMode,
};
use spacepackets::util::UnsignedByteField;

/// Sender settings.
#[derive(Debug, Clone, Copy)]
pub struct SenderConfig {
    /// This entity's ID.
    pub local_id: u64,
    /// The receiving entity's ID.
    pub remote_id: u64,
    /// Width in bytes of both entity IDs on the wire (1, 2, 4 or 8).
    pub id_width: usize,
    /// File bytes per file data PDU.
    pub segment_len: usize,
    /// Pacing: link bits per second the sender may use (`None`: at most `burst` PDUs per poll).
    pub rate_bps: Option<u64>,
    /// Bytes counted per PDU on top of the PDU itself (space packet header, SDLS, framing).
    pub frame_overhead: usize,
    /// PDUs that may leave back to back.
    pub burst: u32,
    /// Wait for the EOF's ACK before the first retransmission.
    pub ack_interval: Duration,
    /// The longest wait between EOF retransmissions (each unanswered one doubles the wait, from
    /// `ack_interval`): a slow link's answer can arrive before the limit, and a gone receiver
    /// costs one EOF per this interval.
    pub ack_interval_max: Duration,
    /// EOF transmissions before the transfer is abandoned (and prompts of a silent receiver).
    pub ack_limit: u32,
    /// Receiver silence (after the EOF) that prompts an EOF again (backed off like the EOF).
    pub inactivity: Duration,
    /// File checksum.
    pub checksum: ChecksumType,
    /// Add the PDU CRC.
    pub pdu_crc: bool,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            local_id: 2,
            remote_id: 1,
            id_width: 2,
            segment_len: 1024,
            rate_bps: None,
            frame_overhead: 6,
            burst: 8,
            ack_interval: Duration::from_millis(500),
            ack_interval_max: Duration::from_secs(8),
            // With the back-off: 0.5 + 1 + 2 + 4 + 12 x 8 s, about 100 s before the fault.
            ack_limit: 16,
            inactivity: Duration::from_secs(2),
            checksum: ChecksumType::Crc32,
            pdu_crc: true,
        }
    }
}

/// Where a send stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendState {
    /// Data, retransmissions or the EOF still going out, or waiting for the Finished.
    Active,
    /// The receiver reported the file complete and verified.
    Delivered,
    /// The receiver reported a failure, or the EOF was never acknowledged.
    Failed(ConditionCode),
}

/// Progress and counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxProgress {
    /// File size.
    pub total: u64,
    /// Bytes the receiver has confirmed holding (from its NAKs' scopes, or all at Finished).
    pub acknowledged: u64,
    /// New file bytes sent (first transmission).
    pub sent: u64,
    /// File bytes sent again on request.
    pub retransmitted: u64,
    /// PDUs emitted.
    pub pdus: u64,
    /// NAKs received.
    pub naks: u64,
    /// EOFs sent.
    pub eofs: u64,
}

/// One outgoing transaction.
pub struct Sender {
    cfg: SenderConfig,
    conf: CommonPduConfig,
    size: u64,
    checksum: u32,
    name: [u8; 64],
    name_len: usize,
    next: u64,
    retx: RangeSet<128>,
    metadata_due: bool,
    eof_sent_at: Option<Duration>,
    eof_acked: bool,
    eof_tries: u32,
    prompts: u32,
    ack_finished_due: bool,
    last_heard: Duration,
    tokens: u64,
    refill_at: Option<Duration>,
    state: SendState,
    progress: TxProgress,
}

impl Sender {
    /// Start transaction `seq` sending `data` as `dest_name` (at most 64 bytes).
    pub fn new(
        cfg: SenderConfig,
        seq: u32,
        dest_name: &[u8],
        data: &[u8],
    ) -> Result<Self, CfdpError> {
        if dest_name.len() > 64 || dest_name.is_empty() {
            return Err(CfdpError::NameTooLong(64));
        }
        let w = cfg.id_width;
        let fits = |v: u64| w == 8 || (matches!(w, 1 | 2 | 4) && v >> (8 * w) == 0);
        if !fits(cfg.local_id)
            || !fits(cfg.remote_id)
            || cfg.segment_len == 0
            || cfg.segment_len > MAX_PDU - 64
        {
            return Err(CfdpError::BadRequest);
        }
        let size = data.len() as u64;
        let large = size > u64::from(u32::MAX);
        let conf = CommonPduConfig::new(
            UnsignedByteField::new(w, cfg.local_id),
            UnsignedByteField::new(w, cfg.remote_id),
            UnsignedByteField::new(4, u64::from(seq)),
            TransmissionMode::Acknowledged,
            if large {
                LargeFileFlag::Large
            } else {
                LargeFileFlag::Normal
            },
            if cfg.pdu_crc {
                CrcFlag::WithCrc
            } else {
                CrcFlag::NoCrc
            },
            Direction::TowardsReceiver,
        )?;
        let mut name = [0u8; 64];
        name.get_mut(..dest_name.len())
            .ok_or(CfdpError::NameTooLong(64))?
            .copy_from_slice(dest_name);
        Ok(Sender {
            checksum: checksum_of(cfg.checksum, data)?,
            cfg,
            conf,
            size,
            name,
            name_len: dest_name.len(),
            next: 0,
            retx: RangeSet::new(),
            metadata_due: true,
            eof_sent_at: None,
            eof_acked: false,
            eof_tries: 0,
            prompts: 0,
            ack_finished_due: false,
            last_heard: Duration::ZERO,
            tokens: 0,
            refill_at: None,
            state: SendState::Active,
            progress: TxProgress {
                total: size,
                ..TxProgress::default()
            },
        })
    }

    /// Where the send stands.
    pub fn state(&self) -> SendState {
        self.state
    }

    /// Progress and counters.
    pub fn progress(&self) -> TxProgress {
        self.progress
    }

    /// Handle a PDU from the receiver.
    pub fn on_pdu(&mut self, raw: &[u8], now: Duration) -> Result<(), CfdpError> {
        let Parsed { conf, pdu } = pdu::parse(raw)?;
        if conf.source_id().value() != self.cfg.local_id
            || conf.dest_id().value() != self.cfg.remote_id
        {
            return Err(CfdpError::WrongEntity(conf.source_id().value()));
        }
        if !pdu::same_transaction(&conf, &self.conf) {
            return Err(CfdpError::UnknownTransaction);
        }
        self.last_heard = now;
        self.prompts = 0;
        match pdu {
            Pdu::Nak(nak) => {
                self.progress.naks += 1;
                let (scope_start, scope_end) =
                    (nak.start_of_scope(), nak.end_of_scope().min(self.size));
                let mut requested = 0u64;
                if let Some(reqs) = nak.get_segment_requests_iterator() {
                    for (s, e) in reqs {
                        if s == 0 && e == 0 {
                            self.metadata_due = true;
                            continue;
                        }
                        let (s, e) = (s.min(self.size), e.min(self.size));
                        if s < e {
                            requested += e - s;
                            self.retx.insert_coarse(s, e);
                        }
                    }
                }
                if scope_start == 0 && self.state == SendState::Active {
                    let held = scope_end.saturating_sub(requested);
                    self.progress.acknowledged = self.progress.acknowledged.max(held);
                }
                Ok(())
            }
            Pdu::Ack { of } => {
                if of != FileDirectiveType::Eof {
                    return Err(CfdpError::UnexpectedPdu);
                }
                self.eof_acked = true;
                Ok(())
            }
            Pdu::Finished {
                condition,
                delivery,
            } => {
                self.eof_acked = true;
                self.ack_finished_due = true;
                if self.state == SendState::Active {
                    self.state = if condition == ConditionCode::NoError
                        && delivery == DeliveryCode::Complete
                    {
                        self.progress.acknowledged = self.size;
                        SendState::Delivered
                    } else {
                        SendState::Failed(condition)
                    };
                    self.retx.clear();
                }
                Ok(())
            }
            Pdu::Other => Ok(()),
            Pdu::FileData { .. } | Pdu::Metadata { .. } | Pdu::Eof { .. } => {
                Err(CfdpError::UnexpectedPdu)
            }
        }
    }

    fn refill(&mut self, now: Duration) {
        let cap = u64::from(self.cfg.burst.max(1))
            * (self.cfg.segment_len + 64 + self.cfg.frame_overhead) as u64;
        match (self.cfg.rate_bps, self.refill_at) {
            (Some(bps), Some(at)) if now > at => {
                let dt = (now - at).as_nanos();
                let add = (dt * u128::from(bps) / 8 / 1_000_000_000) as u64;
                if add > 0 {
                    self.tokens = (self.tokens + add).min(cap);
                    // Advance by exactly what was credited, so no fraction is lost.
                    let used = Duration::from_nanos(
                        (u128::from(add) * 8 * 1_000_000_000 / u128::from(bps)) as u64,
                    );
                    self.refill_at = Some(if self.tokens == cap { now } else { at + used });
                }
            }
            (Some(_), Some(_)) => {}
            _ => {
                self.tokens = cap;
                self.refill_at = Some(now);
            }
        }
    }

    /// Emit what is due at `now`. `data` must be the file given to [`Sender::new`].
    pub fn poll(
        &mut self,
        now: Duration,
        data: &[u8],
        mut emit: impl FnMut(&[u8]),
    ) -> Result<(), CfdpError> {
        if data.len() as u64 != self.size {
            return Err(CfdpError::BadRequest);
        }
        let mut buf = [0u8; MAX_PDU];
        if self.ack_finished_due {
            self.ack_finished_due = false;
            let n = pdu::ack(
                self.conf,
                FileDirectiveType::Finished,
                ConditionCode::NoError,
                &mut buf,
            )?;
            self.out(&buf, n, &mut emit);
        }
        if self.state != SendState::Active {
            return Ok(());
        }
        self.refill(now);
        if self.metadata_due {
            self.metadata_due = false;
            let name = self.name.get(..self.name_len).unwrap_or(&[]);
            let n = pdu::metadata(
                self.conf,
                self.size,
                self.cfg.checksum,
                name,
                name,
                &mut buf,
            )?;
            self.spend(n);
            self.out(&buf, n, &mut emit);
        }
        let seg = self.cfg.segment_len as u64;
        let mut sent_now = 0u32;
        loop {
            let budget_ok = match self.cfg.rate_bps {
                Some(_) => self.tokens > 0,
                None => sent_now < self.cfg.burst.max(1),
            };
            if !budget_ok {
                break;
            }
            let (s, e, retx) = if let Some((s, e)) = self.retx.pop_front(seg) {
                (s, e, true)
            } else if self.next < self.size {
                let e = (self.next + seg).min(self.size);
                (self.next, e, false)
            } else {
                break;
            };
            let chunk = data
                .get(s as usize..e as usize)
                .ok_or(CfdpError::BadRequest)?;
            let n = pdu::file_data(self.conf, s, chunk, &mut buf)?;
            if self.cfg.rate_bps.is_some() && self.tokens < (n + self.cfg.frame_overhead) as u64 {
                // Not enough credit for this PDU: put the work back and wait.
                if retx {
                    self.retx.insert_coarse(s, e);
                }
                break;
            }
            self.spend(n);
            self.out(&buf, n, &mut emit);
            sent_now += 1;
            if retx {
                self.progress.retransmitted += e - s;
            } else {
                self.next = e;
                self.progress.sent += e - s;
            }
        }
        let eof_due = match self.eof_sent_at {
            None => self.next >= self.size && self.retx.is_empty(),
            Some(at) if !self.eof_acked => {
                now >= at
                    + wait_after(
                        self.cfg.ack_interval,
                        self.cfg.ack_interval_max,
                        self.eof_tries,
                    )
            }
            // Acknowledged but no Finished: prompt a silent receiver (e.g. after its reset).
            Some(at) => {
                let wait = wait_after(self.cfg.inactivity, self.cfg.ack_interval_max, self.prompts);
                now >= at + wait && now >= self.last_heard + self.cfg.inactivity
            }
        };
        if eof_due {
            if !self.eof_acked {
                if self.eof_tries >= self.cfg.ack_limit {
                    self.state = SendState::Failed(ConditionCode::PositiveAckLimitReached);
                    return Ok(());
                }
                self.eof_tries += 1;
            } else {
                if self.prompts >= self.cfg.ack_limit {
                    self.state = SendState::Failed(ConditionCode::InactivityDetected);
                    return Ok(());
                }
                self.prompts += 1;
            }
            let n = pdu::eof(self.conf, self.checksum, self.size, &mut buf)?;
            self.spend(n);
            self.out(&buf, n, &mut emit);
            self.progress.eofs += 1;
            self.eof_sent_at = Some(now);
        }
        Ok(())
    }

    fn spend(&mut self, n: usize) {
        self.tokens = self
            .tokens
            .saturating_sub((n + self.cfg.frame_overhead) as u64);
    }

    fn out(&mut self, buf: &[u8], n: usize, emit: &mut impl FnMut(&[u8])) {
        self.progress.pdus += 1;
        emit(buf.get(..n).unwrap_or(&[]));
    }
}
