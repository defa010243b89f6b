//! The node's receiving entity (CFDP class 2 destination), resumable across resets.
//!
//! Drive it from an event loop: [`Receiver::on_pdu`] for every CFDP PDU that arrives,
//! [`Receiver::poll`] regularly (it emits ACKs, NAKs and Finished PDUs, and runs the NAK and
//! Finished timers), [`Receiver::take_received`] when a file is complete. The file's bytes go
//! straight to the comms flash (see [`super::layout`]), so a 1 MiB sign batch needs no RAM
//! buffer; [`Receiver::read_received`] reads them back.
//!
//! Lost data is found three ways: a file data PDU past the highest offset seen opens a gap that
//! is NAKed at once (immediate NAK mode); the EOF triggers a NAK of every gap; a NAK timer
//! repeats the NAK of what is still missing. Metadata that never arrived (or was lost in a reset
//! before it was persisted) is requested with the `(0, 0)` segment request, again after a wait
//! that doubles while unanswered ([`super::backoff`]): each request draws the whole file again.
//!
//! Resume: [`Receiver::open`] reloads the journal. A checkpoint (journal rewrite) happens every
//! `checkpoint_bytes` of new data, on EOF (before the EOF is acknowledged), on completion and
//! when data stops for a NAK interval. After a reset the sender's EOF retransmission and the
//! NAKs fill only what the last checkpoint did not hold.
//!
//! Avoids: allocation, panics on any PDU, trusting offsets (every segment is bounds-checked
//! against the announced size), and rewriting flash bytes already recorded as received.

use super::backoff::wait_after;
use super::checksum::FileChecksum;
use super::error::{CfdpError, flash_err};
use super::flash_io::write_unaligned;
use super::journal::{MAX_NAME, Phase, RECORD_MAX, RxRecord};
use super::layout::CfdpLayout;
use super::packet::MAX_PDU;
use super::pdu::{self, Parsed, Pdu};
use super::ranges::RangeSet;
use core::time::Duration;
use hal::flash::{ErasedValue, NorFlash};
use spacepackets::cfdp::pdu::{CommonPduConfig, FileDirectiveType};
use spacepackets::cfdp::{ChecksumType, ConditionCode, LargeFileFlag, TransmissionMode};
use store::RecordStore;

/// Receiver settings.
#[derive(Debug, Clone, Copy)]
pub struct ReceiverConfig {
    /// This entity's CFDP entity ID.
    pub local_id: u64,
    /// How long to wait before repeating a NAK of data still missing (also the period of the
    /// metadata request, and the idle time after which received data is checkpointed).
    pub nak_interval: Duration,
    /// How long to wait for the ACK of a Finished before sending it again the first time.
    pub ack_interval: Duration,
    /// The longest wait between Finished retransmissions, and between requests for the
    /// metadata of a transaction known only by its data or EOF (each unanswered one doubles
    /// the wait, from `ack_interval` or `nak_interval`; see [`super::backoff`]).
    pub ack_interval_max: Duration,
    /// How many times a Finished is sent without an ACK before giving up on the ACK.
    pub ack_limit: u32,
    /// Checkpoint after this many bytes of new data.
    pub checkpoint_bytes: u64,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            local_id: 1,
            nak_interval: Duration::from_millis(500),
            ack_interval: Duration::from_millis(500),
            ack_interval_max: Duration::from_secs(8),
            ack_limit: 20,
            checkpoint_bytes: 64 * 1024,
        }
    }
}

/// Counters for housekeeping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxCounters {
    /// PDUs accepted.
    pub pdus: u64,
    /// PDUs refused (malformed, foreign, unexpected).
    pub bad_pdus: u64,
    /// New file bytes written.
    pub data_bytes: u64,
    /// File bytes received again (already held).
    pub duplicate_bytes: u64,
    /// NAK PDUs sent.
    pub naks: u64,
    /// Journal checkpoints written.
    pub checkpoints: u64,
    /// Transfers resumed from the journal at open.
    pub resumed: u64,
    /// Files completed with a good checksum.
    pub completed: u64,
    /// Files failed (checksum, size, cancel).
    pub failed: u64,
    /// Segments not recorded because the range map was full (they are asked for again).
    pub ranges_full: u64,
    /// Transfers replaced by a new transaction before they completed.
    pub superseded: u64,
}

/// Progress of the current transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxProgress {
    /// Bytes held (written to flash).
    pub received: u64,
    /// Bytes held as of the last checkpoint (survive a reset).
    pub persisted: u64,
    /// Announced size.
    pub size: u64,
    /// Where it stands.
    pub phase: Phase,
}

/// A complete, checksum-verified file on the flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedFile {
    /// Sending entity.
    pub source_id: u64,
    /// Its transaction sequence number.
    pub seq: u64,
    /// Size in bytes.
    pub size: u64,
    name: [u8; MAX_NAME],
    name_len: usize,
}

impl ReceivedFile {
    /// The destination file name the sender gave.
    pub fn name(&self) -> &[u8] {
        self.name.get(..self.name_len).unwrap_or(&[])
    }
}

#[derive(Debug, Default)]
struct Due {
    ack_eof: bool,
    finished: bool,
    /// Gaps found while streaming, NAKed on the next poll.
    gaps: RangeSet<16>,
    /// A transaction whose metadata we lack: its header and how far its data went.
    missing_meta: Option<(CommonPduConfig, u64)>,
    missing_meta_at: Option<Duration>,
    /// A refused transaction to answer with a Finished (condition), once.
    refuse: Option<(CommonPduConfig, ConditionCode)>,
}

/// The node's CFDP receiving entity. One transfer at a time.
pub struct Receiver {
    cfg: ReceiverConfig,
    layout: CfdpLayout,
    journal: RecordStore,
    rx: Option<RxRecord>,
    persisted: u64,
    unpersisted: u64,
    last_data: Duration,
    nak_at: Option<Duration>,
    finished_at: Option<Duration>,
    finished_sent: u32,
    finished_acked: bool,
    /// Periodic NAK before the EOF: next tick, and the highest byte held at the previous one.
    periodic_at: Option<Duration>,
    mark: u64,
    /// Metadata requests sent for the unknown transaction in `due.missing_meta`.
    meta_naks: u32,
    due: Due,
    counters: RxCounters,
}

impl Receiver {
    /// Mount the journal and reload an interrupted or completed transfer, if any.
    pub fn open<F: NorFlash + ErasedValue>(
        flash: &mut F,
        cfg: ReceiverConfig,
        layout: CfdpLayout,
    ) -> Result<Self, CfdpError> {
        layout.validate(flash)?;
        let mut journal = RecordStore::mount(flash, layout.journal)?;
        let mut buf = [0u8; RECORD_MAX];
        let rx = match journal.read(flash, &mut buf)? {
            // A record that does not decode, or that names a file larger than this layout's
            // data area (written under another layout), is no transfer.
            Some(n) => RxRecord::decode(buf.get(..n).unwrap_or(&[]))
                .ok()
                .filter(|t| t.file_size <= u64::from(layout.data_size)),
            None => None,
        };
        let mut r = Receiver {
            cfg,
            layout,
            journal,
            persisted: rx.as_ref().map_or(0, |t| t.ranges.covered()),
            rx,
            unpersisted: 0,
            last_data: Duration::ZERO,
            nak_at: None,
            finished_at: None,
            finished_sent: 0,
            finished_acked: false,
            periodic_at: None,
            mark: 0,
            meta_naks: 0,
            due: Due::default(),
            counters: RxCounters::default(),
        };
        if let Some(t) = &r.rx {
            match t.phase {
                Phase::Receiving => {
                    r.counters.resumed += 1;
                    if t.ranges.is_empty() {
                        // The reset may have cut the erase of the data area: do it again.
                        let (from, to) = layout.data_span::<F>(t.file_size)?;
                        flash.erase(from, to).map_err(flash_err)?;
                    }
                    if t.eof_checksum.is_some() {
                        // EOF was acknowledged before the reset: ask for the rest right away.
                        r.nak_at = Some(Duration::ZERO);
                    }
                }
                // The Finished may not have reached the sender: send it again.
                Phase::Complete | Phase::Failed => r.due.finished = true,
                Phase::Delivered => r.finished_acked = true,
            }
        }
        Ok(r)
    }

    /// Counters for housekeeping.
    pub fn counters(&self) -> RxCounters {
        self.counters
    }

    /// Progress of the current (or last) transfer.
    pub fn progress(&self) -> Option<RxProgress> {
        self.rx.as_ref().map(|t| RxProgress {
            received: t.ranges.covered(),
            persisted: self.persisted,
            size: t.file_size,
            phase: t.phase,
        })
    }

    /// Handle one received CFDP PDU (the user data of a CFDP-APID packet). Errors are counted in
    /// [`RxCounters::bad_pdus`] and leave the entity running.
    pub fn on_pdu<F: NorFlash>(
        &mut self,
        flash: &mut F,
        raw: &[u8],
        now: Duration,
    ) -> Result<(), CfdpError> {
        let r = self.handle(flash, raw, now);
        match r {
            Ok(()) => self.counters.pdus += 1,
            Err(_) => self.counters.bad_pdus += 1,
        }
        r
    }

    fn handle<F: NorFlash>(
        &mut self,
        flash: &mut F,
        raw: &[u8],
        now: Duration,
    ) -> Result<(), CfdpError> {
        let Parsed { conf, pdu } = pdu::parse(raw)?;
        if conf.dest_id().value() != self.cfg.local_id {
            return Err(CfdpError::WrongEntity(conf.dest_id().value()));
        }
        if conf.trans_mode != TransmissionMode::Acknowledged {
            return Err(CfdpError::Unacknowledged);
        }
        let ours = self
            .rx
            .as_ref()
            .is_some_and(|t| pdu::same_transaction(&t.conf, &conf));
        match pdu {
            Pdu::Metadata { params, dest_name } => {
                if ours {
                    return Ok(()); // duplicate
                }
                self.start(
                    flash,
                    conf,
                    params.file_size,
                    params.checksum_type,
                    dest_name,
                )
            }
            Pdu::FileData { offset, data } => {
                if !ours {
                    self.note_missing_metadata(conf, offset.saturating_add(data.len() as u64));
                    return Err(CfdpError::UnknownTransaction);
                }
                self.file_data(flash, offset, data, now)
            }
            Pdu::Eof {
                condition,
                checksum,
                size,
            } => {
                if !ours {
                    self.note_missing_metadata(conf, size);
                    return Err(CfdpError::UnknownTransaction);
                }
                self.eof(flash, condition, checksum, size, now)
            }
            Pdu::Ack { of } => {
                if !ours || of != FileDirectiveType::Finished {
                    return Err(CfdpError::UnknownTransaction);
                }
                self.finished_acked = true;
                self.finished_at = None;
                Ok(())
            }
            Pdu::Other => Ok(()),
            Pdu::Nak(_) | Pdu::Finished { .. } => Err(CfdpError::UnexpectedPdu),
        }
    }

    fn note_missing_metadata(&mut self, conf: CommonPduConfig, end: u64) {
        // Only for a transaction we never finished: a stale PDU of a completed one is dropped.
        let known_done = self
            .due
            .refuse
            .as_ref()
            .is_some_and(|(c, _)| pdu::same_transaction(c, &conf));
        if known_done {
            return;
        }
        let end = match &self.due.missing_meta {
            Some((c, e)) if pdu::same_transaction(c, &conf) => (*e).max(end),
            _ => {
                self.meta_naks = 0;
                end
            }
        };
        self.due.missing_meta = Some((pdu::reply_conf(conf), end));
    }

    fn start<F: NorFlash>(
        &mut self,
        flash: &mut F,
        conf: CommonPduConfig,
        size: u64,
        checksum_type: ChecksumType,
        name: &[u8],
    ) -> Result<(), CfdpError> {
        let refuse = |this: &mut Self, code: ConditionCode, e: CfdpError| {
            this.due.refuse = Some((pdu::reply_conf(conf), code));
            this.due.missing_meta = None;
            Err(e)
        };
        if name.len() > MAX_NAME {
            return refuse(
                self,
                ConditionCode::FilestoreRejection,
                CfdpError::NameTooLong(MAX_NAME),
            );
        }
        if let Err(e) = FileChecksum::new(checksum_type) {
            return refuse(self, ConditionCode::UnsupportedChecksumType, e);
        }
        let (from, to) = match self.layout.data_span::<F>(size) {
            Ok(span) => span,
            Err(e) => return refuse(self, ConditionCode::FileSizeError, e),
        };
        if conf.file_flag == LargeFileFlag::Normal && size > u64::from(u32::MAX) {
            return refuse(self, ConditionCode::FileSizeError, CfdpError::BadRequest);
        }
        if self
            .rx
            .as_ref()
            .is_some_and(|t| t.phase == Phase::Receiving)
        {
            self.counters.superseded += 1;
        }
        let mut stored_name = [0u8; MAX_NAME];
        if let Some(d) = stored_name.get_mut(..name.len()) {
            d.copy_from_slice(name);
        }
        // Journal first (the new transfer, nothing held), then erase: a cut anywhere leaves a
        // record that claims no bytes of the area being erased, and `open` finishes the erase
        // of a transfer that holds nothing yet.
        self.rx = Some(RxRecord {
            conf: pdu::reply_conf(conf),
            file_size: size,
            checksum_type,
            name: stored_name,
            name_len: name.len(),
            eof_checksum: None,
            phase: Phase::Receiving,
            condition: ConditionCode::NoError,
            ranges: RangeSet::new(),
        });
        let erased = self
            .checkpoint(flash)
            .and_then(|()| flash.erase(from, to).map_err(flash_err));
        if let Err(e) = erased {
            self.rx = None;
            return Err(e);
        }
        self.persisted = 0;
        self.unpersisted = 0;
        self.nak_at = None;
        self.finished_at = None;
        self.finished_sent = 0;
        self.finished_acked = false;
        self.periodic_at = None;
        self.mark = 0;
        self.due = Due::default();
        Ok(())
    }

    fn file_data<F: NorFlash>(
        &mut self,
        flash: &mut F,
        offset: u64,
        data: &[u8],
        now: Duration,
    ) -> Result<(), CfdpError> {
        let base = u64::from(self.layout.data_base);
        let Some(t) = self.rx.as_mut() else {
            return Err(CfdpError::UnknownTransaction);
        };
        let len = data.len() as u64;
        let end = offset.checked_add(len).ok_or(CfdpError::BadRequest)?;
        if end > t.file_size {
            return Err(CfdpError::OutOfBounds {
                offset,
                len,
                size: t.file_size,
            });
        }
        if t.phase != Phase::Receiving || t.ranges.contains(offset, end) {
            self.counters.duplicate_bytes += len;
            return Ok(());
        }
        let prev_end = t.ranges.end();
        // Write only the parts not yet held (NOR bits only clear: held bytes stay untouched).
        let mut pieces = [(0u64, 0u64); 8];
        let mut n = 0;
        for (s, e) in t.ranges.gaps(end) {
            let (s, e) = (s.max(offset), e.min(end));
            if s < e
                && let Some(p) = pieces.get_mut(n)
            {
                *p = (s, e);
                n += 1;
            }
        }
        for &(s, e) in pieces.get(..n).unwrap_or(&[]) {
            let bytes = data
                .get((s - offset) as usize..(e - offset) as usize)
                .ok_or(CfdpError::BadRequest)?;
            write_unaligned(flash, base + s, bytes)?;
        }
        // Record what was written (pieces beyond 8 are written on a later retransmission).
        let mut fresh = 0;
        for &(s, e) in pieces.get(..n).unwrap_or(&[]) {
            if t.ranges.insert(s, e) {
                fresh += e - s;
            } else {
                self.counters.ranges_full += 1;
            }
        }
        self.counters.data_bytes += fresh;
        self.counters.duplicate_bytes += len - fresh;
        self.unpersisted += fresh;
        self.last_data = now;
        if offset > prev_end {
            self.due.gaps.insert_coarse(prev_end, offset);
        }
        let complete = t.eof_checksum.is_some() && t.ranges.is_complete(t.file_size);
        if complete {
            self.verify(flash)?;
        } else if self.unpersisted >= self.cfg.checkpoint_bytes {
            self.checkpoint(flash)?;
        }
        Ok(())
    }

    fn eof<F: NorFlash>(
        &mut self,
        flash: &mut F,
        condition: ConditionCode,
        checksum: u32,
        size: u64,
        now: Duration,
    ) -> Result<(), CfdpError> {
        let Some(t) = self.rx.as_mut() else {
            return Err(CfdpError::UnknownTransaction);
        };
        if t.phase != Phase::Receiving {
            // Our ACK or Finished was lost: answer again.
            self.due.ack_eof = true;
            if !self.finished_acked {
                self.due.finished = true;
            }
            return Ok(());
        }
        if condition != ConditionCode::NoError {
            // Cancelled by the sender.
            t.phase = Phase::Failed;
            t.condition = ConditionCode::CancelRequestReceived;
            self.counters.failed += 1;
            self.checkpoint(flash)?;
            self.due.ack_eof = true;
            self.finished_acked = true; // nothing to report after a cancel
            return Ok(());
        }
        if size != t.file_size {
            t.phase = Phase::Failed;
            t.condition = ConditionCode::FileSizeError;
            self.counters.failed += 1;
            self.checkpoint(flash)?;
            self.due.ack_eof = true;
            self.due.finished = true;
            return Ok(());
        }
        if t.eof_checksum.is_none() {
            t.eof_checksum = Some(checksum);
            // Persist the EOF before acknowledging it: after a reset the sender will not send it
            // again, and the journal must know the transfer's end.
            self.checkpoint(flash)?;
        }
        self.due.ack_eof = true;
        let complete = self
            .rx
            .as_ref()
            .is_some_and(|t| t.ranges.is_complete(t.file_size));
        if complete {
            self.verify(flash)?;
        } else if self.nak_at.is_none() {
            self.nak_at = Some(now);
        }
        Ok(())
    }

    /// Every byte is held: compute the checksum from flash and end the transfer.
    fn verify<F: NorFlash>(&mut self, flash: &mut F) -> Result<(), CfdpError> {
        let base = self.layout.data_base;
        let Some(t) = self.rx.as_mut() else {
            return Ok(());
        };
        let mut sum = FileChecksum::new(t.checksum_type)?;
        let mut buf = [0u8; 256];
        let mut off = 0u64;
        while off < t.file_size {
            let n = (t.file_size - off).min(buf.len() as u64) as usize;
            let chunk = buf.get_mut(..n).ok_or(CfdpError::BadRequest)?;
            let addr = u32::try_from(u64::from(base) + off).map_err(|_| CfdpError::BadLayout)?;
            flash.read(addr, chunk).map_err(flash_err)?;
            sum.update(chunk);
            off += n as u64;
        }
        let ok = t.eof_checksum == Some(sum.finish());
        if ok {
            t.phase = Phase::Complete;
            t.condition = ConditionCode::NoError;
            self.counters.completed += 1;
        } else {
            t.phase = Phase::Failed;
            t.condition = ConditionCode::FileChecksumFailure;
            self.counters.failed += 1;
        }
        self.nak_at = None;
        self.due.gaps.clear();
        self.due.finished = true;
        self.finished_sent = 0;
        self.checkpoint(flash)
    }

    /// Rewrite the journal with the current state.
    fn checkpoint<F: NorFlash>(&mut self, flash: &mut F) -> Result<(), CfdpError> {
        let Some(t) = self.rx.as_ref() else {
            return Ok(());
        };
        let mut buf = [0u8; RECORD_MAX];
        let n = t.encode(&mut buf);
        self.journal
            .write(flash, buf.get(..n).ok_or(CfdpError::Journal)?)?;
        self.persisted = t.ranges.covered();
        self.unpersisted = 0;
        self.counters.checkpoints += 1;
        Ok(())
    }

    /// Run timers and emit due PDUs through `emit` (each call gets one whole PDU).
    pub fn poll<F: NorFlash>(
        &mut self,
        flash: &mut F,
        now: Duration,
        mut emit: impl FnMut(&[u8]),
    ) -> Result<(), CfdpError> {
        let mut buf = [0u8; MAX_PDU];
        if let Some((conf, code)) = self.due.refuse.take() {
            let n = pdu::finished(conf, code, false, &mut buf)?;
            emit(buf.get(..n).unwrap_or(&[]));
        }
        if let Some((conf, end)) = self.due.missing_meta {
            // Each request makes the sender send the metadata and the whole file again: on a
            // slow link an answer still on its way must not be asked for again and again.
            let wait = wait_after(
                self.cfg.nak_interval,
                self.cfg.ack_interval_max,
                self.meta_naks,
            );
            let due = self.due.missing_meta_at.is_none_or(|t| now >= t + wait);
            if due && self.meta_naks >= self.cfg.ack_limit {
                // The sender is gone or cannot hear us: stop asking.
                self.due.missing_meta = None;
            } else if due {
                self.meta_naks += 1;
                let reqs = [(0, 0), (0, end)];
                let reqs = if end == 0 { &reqs[..1] } else { &reqs[..] };
                let n = pdu::nak(conf, 0, end, reqs, &mut buf)?;
                emit(buf.get(..n).unwrap_or(&[]));
                self.counters.naks += 1;
                self.due.missing_meta_at = Some(now);
            }
        }
        let Some(t) = self.rx.as_ref() else {
            return Ok(());
        };
        let conf = t.conf;
        if self.due.ack_eof {
            self.due.ack_eof = false;
            let code = if t.condition == ConditionCode::CancelRequestReceived {
                ConditionCode::CancelRequestReceived
            } else {
                ConditionCode::NoError
            };
            let n = pdu::ack(conf, FileDirectiveType::Eof, code, &mut buf)?;
            emit(buf.get(..n).unwrap_or(&[]));
        }
        if t.phase == Phase::Receiving {
            // Gaps seen while streaming: NAK each once, if still missing.
            while let Some((s, e)) = self.due.gaps.pop_front(u64::MAX) {
                let mut reqs = [(0u64, 0u64); pdu::MAX_NAK_REQS];
                let mut k = 0;
                for g in t.ranges.gaps(e).filter(|g| g.1 > s) {
                    if let Some(slot) = reqs.get_mut(k) {
                        *slot = (g.0.max(s), g.1);
                        k += 1;
                    }
                }
                if k > 0 {
                    let n = pdu::nak(conf, s, e, reqs.get(..k).unwrap_or(&[]), &mut buf)?;
                    emit(buf.get(..n).unwrap_or(&[]));
                    self.counters.naks += 1;
                }
            }
            let size = t.file_size;
            if self.nak_at.is_some_and(|at| now >= at) {
                // After the EOF: everything still missing.
                self.nak_upto(size, &mut buf, &mut emit)?;
                self.nak_at = Some(now + self.cfg.nak_interval);
            } else if self.nak_at.is_none() {
                // Before the EOF, every NAK interval: the gaps below the mark taken one interval
                // ago. Those were NAKed when they appeared (or at the last tick), so what is still
                // missing there was lost again; newer gaps are left to their immediate NAK.
                let end = t.ranges.end();
                match self.periodic_at {
                    Some(at) if now >= at => {
                        if self.mark > 0 {
                            self.nak_upto(self.mark, &mut buf, &mut emit)?;
                        }
                        self.mark = end;
                        self.periodic_at = Some(now + self.cfg.nak_interval);
                    }
                    Some(_) => {}
                    None => {
                        self.mark = end;
                        self.periodic_at = Some(now + self.cfg.nak_interval);
                    }
                }
            }
            if self.unpersisted > 0 && now >= self.last_data + self.cfg.nak_interval {
                self.checkpoint(flash)?;
            }
        } else if !self.finished_acked {
            let due = self.due.finished || self.finished_at.is_some_and(|at| now >= at);
            if due && self.finished_sent < self.cfg.ack_limit {
                self.due.finished = false;
                let complete = t.phase == Phase::Complete || t.phase == Phase::Delivered;
                let n = pdu::finished(conf, t.condition, complete, &mut buf)?;
                emit(buf.get(..n).unwrap_or(&[]));
                self.finished_sent += 1;
                let wait = wait_after(
                    self.cfg.ack_interval,
                    self.cfg.ack_interval_max,
                    self.finished_sent,
                );
                self.finished_at = Some(now + wait);
            }
        }
        Ok(())
    }

    /// NAK every gap of `[0, end)`, in PDUs of at most [`pdu::MAX_NAK_REQS`] requests. With no
    /// gap, one NAK without requests: it tells the sender everything below `end` is held (its
    /// progress bar moves).
    fn nak_upto(
        &mut self,
        end: u64,
        buf: &mut [u8],
        emit: &mut impl FnMut(&[u8]),
    ) -> Result<(), CfdpError> {
        let Some(t) = self.rx.as_ref() else {
            return Ok(());
        };
        let mut reqs = [(0u64, 0u64); pdu::MAX_NAK_REQS];
        let mut k = 0;
        let mut scope_start = 0;
        let mut sent = 0;
        let mut gaps = t.ranges.gaps(end).peekable();
        while let Some(g) = gaps.next() {
            if let Some(slot) = reqs.get_mut(k) {
                *slot = g;
                k += 1;
            }
            if k == reqs.len() || gaps.peek().is_none() {
                let scope_end = if gaps.peek().is_none() { end } else { g.1 };
                let n = pdu::nak(
                    t.conf,
                    scope_start,
                    scope_end,
                    reqs.get(..k).unwrap_or(&[]),
                    buf,
                )?;
                emit(buf.get(..n).unwrap_or(&[]));
                sent += 1;
                scope_start = scope_end;
                k = 0;
            }
        }
        if sent == 0 {
            let n = pdu::nak(t.conf, 0, end, &[], buf)?;
            emit(buf.get(..n).unwrap_or(&[]));
            sent += 1;
        }
        self.counters.naks += sent;
        Ok(())
    }

    /// The complete, verified file waiting to be taken, if any.
    pub fn received(&self) -> Option<ReceivedFile> {
        let t = self.rx.as_ref()?;
        (t.phase == Phase::Complete).then(|| ReceivedFile {
            source_id: t.conf.source_id().value(),
            seq: t.conf.transaction_seq_num.value(),
            size: t.file_size,
            name: t.name,
            name_len: t.name_len,
        })
    }

    /// Take the complete file: it is marked delivered (persistently), so a reset does not hand it
    /// out twice. Its bytes stay readable with [`Receiver::read_received`] until the next
    /// transfer starts.
    pub fn take_received<F: NorFlash>(
        &mut self,
        flash: &mut F,
    ) -> Result<Option<ReceivedFile>, CfdpError> {
        let Some(file) = self.received() else {
            return Ok(None);
        };
        if let Some(t) = self.rx.as_mut() {
            t.phase = Phase::Delivered;
        }
        self.checkpoint(flash)?;
        Ok(Some(file))
    }

    /// Read bytes of the last complete file (delivered or not) at `offset`.
    pub fn read_received<F: NorFlash>(
        &self,
        flash: &mut F,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), CfdpError> {
        let t = self.rx.as_ref().ok_or(CfdpError::UnknownTransaction)?;
        if !matches!(t.phase, Phase::Complete | Phase::Delivered) {
            return Err(CfdpError::UnknownTransaction);
        }
        let end = offset
            .checked_add(buf.len() as u64)
            .ok_or(CfdpError::BadRequest)?;
        if end > t.file_size {
            return Err(CfdpError::BadRequest);
        }
        let addr = u32::try_from(u64::from(self.layout.data_base) + offset)
            .map_err(|_| CfdpError::BadLayout)?;
        flash.read(addr, buf).map_err(flash_err)
    }
}
