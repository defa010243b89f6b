//! One crash-safe record in two copies: mount, read the newest valid copy, update the other.
//!
//! ## The update, step by step, and what a power cut at each step leaves
//!
//! Let the newest valid copy hold sequence `s` (the *old* record) and call the other copy the
//! *target*. [`RecordStore::write`] does:
//!
//! | step | flash operations | a power cut during or right after this step leaves |
//! | --- | --- | --- |
//! | 1. choose target | none | old record (nothing changed) |
//! | 2. erase the target's sectors | one `erase` of `copy_size` bytes | old record: the target is partly erased (undefined), the newest copy untouched |
//! | 3. write header, payload, CRC in address order | `ceil((24 + n) / 256)` writes of at most 256 bytes | old record until every byte of the target holds its new value: normally when the last write has landed in full; earlier only if the bytes still to come already read as erased (`0xFF` on NOR: padding, or CRC bytes that happen to be erased), and then the target *is* the complete new record |
//! | 4. read back and verify the target | reads only | **new** record (sequence `s + 1`, higher than the old one) |
//!
//! The newest valid copy is never erased or written by an update, so the old record stays
//! readable until the new one is complete; a read can therefore only ever return the old or the
//! new record, and never anything older than the old one, whatever the cut. The target of an
//! update is always the copy that is not the newest valid one, including after a failed or cut
//! update (the half-written copy is simply written again).
//!
//! ## What does *not* survive
//!
//! - A **bit flip in the newest copy** makes its CRC fail; reads fall back to the other copy,
//!   which holds the record *before* the last update. So radiation can roll a record back by one
//!   update. Users for whom that matters (anti-replay counters) should write each update twice
//!   ([`RecordStore::write_mirrored`]): both copies then hold the newest record and a flip in either
//!   costs nothing.
//! - Flips in both copies lose the record: [`RecordStore::read`] returns `Ok(None)` and
//!   [`RecordStore::copy_states`] shows `Corrupt` (not `Blank`), so a caller can tell "never
//!   written" from "lost".
//!
//! This module avoids any allocation and any assumption about the flash beyond the `NorFlash`
//! contract; all I/O goes through one 256-byte stack buffer.

use crate::error::StoreError;
use crate::format::{
    CRC32C, HEADER_LEN, Header, HeaderCheck, IO_CHUNK, TRAILER_LEN, check_header, encode_header,
    record_crc, record_len,
};
use crate::layout::StoreLayout;
use hal::flash::{ErasedValue, NorFlash};

/// One of the two copies of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CopyId {
    /// The copy at the layout's base.
    A,
    /// The copy at `base + copy_size`.
    B,
}

impl CopyId {
    /// The other copy.
    pub const fn other(self) -> CopyId {
        match self {
            CopyId::A => CopyId::B,
            CopyId::B => CopyId::A,
        }
    }

    const fn index(self) -> usize {
        match self {
            CopyId::A => 0,
            CopyId::B => 1,
        }
    }
}

/// What one copy holds, as last seen by this store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CopyState {
    /// Header all erased (`0xFF` on NOR): never written (or erased, or an erase was cut just
    /// after it began).
    Blank,
    /// A record that verified.
    Valid {
        /// Its sequence number.
        seq: u64,
        /// Its payload length.
        len: u32,
    },
    /// Written but does not verify (torn write or erase, bit flip, failed update).
    Corrupt,
    /// A record that verifies but carries another layout's tag.
    Foreign,
}

/// What a store holds, in one word (see [`RecordStore::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordStatus {
    /// Both copies blank: no record was ever written.
    Blank,
    /// A valid record (the newest one).
    Present {
        /// Its sequence number.
        seq: u64,
        /// Its payload length.
        len: u32,
    },
    /// No valid copy, one copy blank and the other corrupt: the very first write was cut (or,
    /// for a store whose first record was written with [`RecordStore::write`] only, that single
    /// copy was damaged before a second update; [`RecordStore::write_mirrored`] avoids this
    /// ambiguity by giving the first record two copies).
    Interrupted,
    /// No valid copy and no blank copy: a record existed and is lost (or both copies belong to
    /// another layout).
    Lost,
}

impl core::fmt::Display for RecordStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RecordStatus::Blank => f.write_str("both copies blank"),
            RecordStatus::Present { seq, len } => write!(f, "record {seq} of {len} bytes"),
            RecordStatus::Interrupted => f.write_str("its first write was cut"),
            RecordStatus::Lost => f.write_str("no valid copy: the record is lost"),
        }
    }
}

/// One crash-safe record. Holds no flash: every operation takes the flash as an argument, so
/// several stores can share one device. Always pass the device the store was mounted on.
#[derive(Debug, Clone)]
pub struct RecordStore {
    layout: StoreLayout,
    copies: [CopyState; 2],
    /// The flash's erased value ([`ErasedValue::ERASED`]), learnt at mount.
    erased: u8,
}

impl RecordStore {
    /// Validate `layout` against `flash` and classify both copies (reads only, writes nothing).
    /// Blank detection and padding use the flash's erased value.
    pub fn mount<F: NorFlash + ErasedValue>(
        flash: &mut F,
        layout: StoreLayout,
    ) -> Result<Self, StoreError<F::Error>> {
        layout.validate(flash)?;
        let mut store = RecordStore {
            layout,
            copies: [CopyState::Blank; 2],
            erased: F::ERASED,
        };
        for id in [CopyId::A, CopyId::B] {
            let state = store.scan(flash, id, None)?;
            store.copies[id.index()] = state;
        }
        Ok(store)
    }

    /// The layout this store was mounted with.
    pub fn layout(&self) -> StoreLayout {
        self.layout
    }

    /// The state of copy A and copy B as last seen.
    pub fn copy_states(&self) -> [CopyState; 2] {
        self.copies
    }

    /// The copy holding the newest valid record and its state, if any copy is valid.
    /// On equal sequence numbers (after [`RecordStore::write_mirrored`]) copy A is preferred.
    pub fn newest(&self) -> Option<(CopyId, u64, u32)> {
        let [a, b] = self.copies;
        match (a, b) {
            (CopyState::Valid { seq: sa, len: la }, CopyState::Valid { seq: sb, len: lb }) => {
                if sb > sa {
                    Some((CopyId::B, sb, lb))
                } else {
                    Some((CopyId::A, sa, la))
                }
            }
            (CopyState::Valid { seq, len }, _) => Some((CopyId::A, seq, len)),
            (_, CopyState::Valid { seq, len }) => Some((CopyId::B, seq, len)),
            _ => None,
        }
    }

    /// Sequence number of the newest valid record.
    pub fn seq(&self) -> Option<u64> {
        self.newest().map(|(_, s, _)| s)
    }

    /// True when neither copy has ever been written (both blank). False when a record exists
    /// *or was lost*: check [`RecordStore::copy_states`] to tell those apart.
    pub fn is_blank(&self) -> bool {
        self.copies == [CopyState::Blank; 2]
    }

    /// Classify the store: blank, a record present, a cut first write, or a lost record.
    pub fn status(&self) -> RecordStatus {
        if let Some((_, seq, len)) = self.newest() {
            return RecordStatus::Present { seq, len };
        }
        match self.copies {
            [CopyState::Blank, CopyState::Blank] => RecordStatus::Blank,
            [CopyState::Blank, CopyState::Corrupt] | [CopyState::Corrupt, CopyState::Blank] => {
                RecordStatus::Interrupted
            }
            _ => RecordStatus::Lost,
        }
    }

    /// Largest payload this store holds.
    pub fn max_payload(&self) -> usize {
        self.layout.max_payload()
    }

    /// Read the newest valid record into `buf`, returning its length, or `Ok(None)` if no copy
    /// verifies. Each call re-verifies the CRC of what it returns: a copy that went bad since
    /// mount is marked corrupt and the other copy is tried. On any error or `None`, the contents
    /// of `buf` are unspecified.
    pub fn read<F: NorFlash>(
        &mut self,
        flash: &mut F,
        buf: &mut [u8],
    ) -> Result<Option<usize>, StoreError<F::Error>> {
        // At most two attempts: the newest copy, then (if it no longer verifies) the other.
        for _ in 0..2 {
            let Some((id, seq, len)) = self.newest() else {
                return Ok(None);
            };
            if buf.len() < len as usize {
                return Err(StoreError::BufferTooSmall {
                    len: buf.len(),
                    needed: len as usize,
                });
            }
            let state = self.scan(flash, id, Some(buf))?;
            self.copies[id.index()] = state;
            if state == (CopyState::Valid { seq, len }) {
                return Ok(Some(len as usize));
            }
        }
        Ok(None)
    }

    /// Replace the record with `payload`: erase and write the copy that does not hold the newest
    /// valid record, then verify it. Returns the new sequence number. See the module docs for
    /// what a power cut at each step leaves.
    pub fn write<F: NorFlash>(
        &mut self,
        flash: &mut F,
        payload: &[u8],
    ) -> Result<u64, StoreError<F::Error>> {
        let max = self.max_payload();
        if payload.len() > max {
            return Err(StoreError::PayloadTooLarge {
                len: payload.len(),
                max,
            });
        }
        let (target, seq) = match self.newest() {
            Some((id, s, _)) => (
                id.other(),
                s.checked_add(1).ok_or(StoreError::SequenceExhausted)?,
            ),
            None => (CopyId::A, 1),
        };
        self.write_copy(flash, target, seq, payload)?;
        Ok(seq)
    }

    /// Like [`RecordStore::write`], then write the same record (same sequence number) into the
    /// other copy as well, so that both copies hold the newest record and a bit flip in either
    /// one loses nothing. Costs two erases per update.
    ///
    /// A power cut during the first copy leaves the old record; from the moment the first copy
    /// is complete, the new one (whatever happens to the second copy). If the second copy fails
    /// to write, the error is returned but the new record is committed (its sequence number is
    /// in [`RecordStore::seq`]).
    pub fn write_mirrored<F: NorFlash>(
        &mut self,
        flash: &mut F,
        payload: &[u8],
    ) -> Result<u64, StoreError<F::Error>> {
        let seq = self.write(flash, payload)?;
        let written = self.newest().map_or(CopyId::A, |(id, _, _)| id);
        self.write_copy(flash, written.other(), seq, payload)?;
        Ok(seq)
    }

    fn copy_base(&self, id: CopyId) -> u32 {
        match id {
            // Cannot overflow: `validate` checked base + 2 * copy_size <= 2^32.
            CopyId::A => self.layout.base(),
            CopyId::B => self.layout.base().wrapping_add(self.layout.copy_size()),
        }
    }

    /// Erase `id`, write the record, verify. The state of `id` is `Corrupt` unless all succeed.
    fn write_copy<F: NorFlash>(
        &mut self,
        flash: &mut F,
        id: CopyId,
        seq: u64,
        payload: &[u8],
    ) -> Result<(), StoreError<F::Error>> {
        let len = payload.len() as u32; // checked against max_payload (< copy_size: u32)
        self.copies[id.index()] = CopyState::Corrupt;
        let base = self.copy_base(id);
        let end = base.wrapping_add(self.layout.copy_size());
        flash.erase(base, end).map_err(StoreError::Flash)?;

        let header = encode_header(&Header {
            tag: self.layout.tag(),
            seq,
            len,
        });
        let crc = record_crc(&header, payload).to_le_bytes();
        let mut w = ChunkWriter::<F> {
            buf: [self.erased; IO_CHUNK],
            erased: self.erased,
            fill: 0,
            addr: base,
            flash,
        };
        w.push(&header)?;
        w.push(payload)?;
        w.push(&crc)?;
        w.finish()?;

        let state = self.scan(flash, id, None)?;
        if state != (CopyState::Valid { seq, len }) {
            return Err(StoreError::VerifyFailed);
        }
        self.copies[id.index()] = state;
        Ok(())
    }

    /// Read and verify copy `id`, copying its payload into `sink` when given (`sink` must be at
    /// least `max_payload` long or at least the record's length; a shorter one makes the copy
    /// count as unreadable for this call, which `read` prevents by checking first).
    fn scan<F: NorFlash>(
        &self,
        flash: &mut F,
        id: CopyId,
        mut sink: Option<&mut [u8]>,
    ) -> Result<CopyState, StoreError<F::Error>> {
        let base = self.copy_base(id);
        let copy_size = self.layout.copy_size() as usize;
        let mut buf = [0u8; IO_CHUNK];

        let first = chunk_len::<F>(copy_size, 0, record_len(0));
        read_at(flash, base, 0, &mut buf[..first])?;
        let mut head = [0u8; HEADER_LEN];
        head.copy_from_slice(&buf[..HEADER_LEN]);
        let header = match check_header(&head, self.max_payload(), self.erased) {
            HeaderCheck::Blank => return Ok(CopyState::Blank),
            HeaderCheck::Corrupt => return Ok(CopyState::Corrupt),
            HeaderCheck::Plausible(h) => h,
        };
        let n = header.len as usize;
        if let Some(s) = sink.as_deref()
            && s.len() < n
        {
            return Ok(CopyState::Corrupt);
        }
        let total = record_len(n);
        let body_end = HEADER_LEN + n; // CRC covers 0..body_end
        let mut digest = CRC32C.digest();
        let mut stored = [0u8; TRAILER_LEN];
        let mut pos = 0usize;
        let mut have = first;
        loop {
            let chunk = buf.get(..have).unwrap_or(&[]);
            let chunk_end = pos + chunk.len();
            // The part of this chunk inside the CRC-covered body.
            let body = chunk
                .get(..body_end.saturating_sub(pos).min(chunk.len()))
                .unwrap_or(&[]);
            digest.update(body);
            if let Some(s) = sink.as_deref_mut() {
                // Payload bytes in this chunk: logical range HEADER_LEN..body_end.
                let from = HEADER_LEN.max(pos);
                let to = body_end.min(chunk_end);
                if from < to {
                    let src = chunk.get(from - pos..to - pos).unwrap_or(&[]);
                    if let Some(dst) = s.get_mut(from - HEADER_LEN..to - HEADER_LEN) {
                        dst.copy_from_slice(src);
                    }
                }
            }
            // Trailer bytes in this chunk: logical range body_end..total.
            for (i, slot) in stored.iter_mut().enumerate() {
                let at = body_end + i;
                if at >= pos && at < chunk_end {
                    *slot = chunk.get(at - pos).copied().unwrap_or(0);
                }
            }
            pos = chunk_end;
            if pos >= total {
                break;
            }
            have = chunk_len::<F>(copy_size, pos, total);
            read_at(flash, base, pos, &mut buf[..have])?;
        }
        if digest.finalize() != u32::from_le_bytes(stored) {
            Ok(CopyState::Corrupt)
        } else if header.tag != self.layout.tag() {
            Ok(CopyState::Foreign)
        } else {
            Ok(CopyState::Valid {
                seq: header.seq,
                len: header.len,
            })
        }
    }
}

/// Length of the next read at logical offset `pos` when `total` bytes are wanted: up to one
/// chunk, rounded up to the read size, never past the copy's end.
fn chunk_len<F: NorFlash>(copy_size: usize, pos: usize, total: usize) -> usize {
    let want = total.saturating_sub(pos).min(IO_CHUNK);
    let rounded = want.div_ceil(F::READ_SIZE) * F::READ_SIZE;
    rounded.min(copy_size.saturating_sub(pos)).min(IO_CHUNK)
}

fn read_at<F: NorFlash>(
    flash: &mut F,
    base: u32,
    pos: usize,
    buf: &mut [u8],
) -> Result<(), StoreError<F::Error>> {
    // pos < copy_size <= u32::MAX and base + copy_size was validated.
    let addr = base.wrapping_add(pos as u32);
    flash.read(addr, buf).map_err(StoreError::Flash)
}

/// Streams bytes to flash in address order through one chunk buffer, padding the last write
/// with the erased value up to the write size.
struct ChunkWriter<'a, F> {
    buf: [u8; IO_CHUNK],
    erased: u8,
    fill: usize,
    addr: u32,
    flash: &'a mut F,
}

impl<F: NorFlash> ChunkWriter<'_, F> {
    fn push(&mut self, mut bytes: &[u8]) -> Result<(), StoreError<F::Error>> {
        while !bytes.is_empty() {
            let room = IO_CHUNK - self.fill;
            let take = room.min(bytes.len());
            let (now, rest) = bytes.split_at(take);
            if let Some(dst) = self.buf.get_mut(self.fill..self.fill + take) {
                dst.copy_from_slice(now);
            }
            self.fill += take;
            bytes = rest;
            if self.fill == IO_CHUNK {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError<F::Error>> {
        if self.fill == 0 {
            return Ok(());
        }
        let n = self.fill.div_ceil(F::WRITE_SIZE) * F::WRITE_SIZE;
        if let Some(pad) = self.buf.get_mut(self.fill..n) {
            pad.fill(self.erased);
        }
        let chunk = self.buf.get(..n).unwrap_or(&[]);
        self.flash
            .write(self.addr, chunk)
            .map_err(StoreError::Flash)?;
        self.addr = self.addr.wrapping_add(n as u32);
        self.fill = 0;
        self.buf.fill(self.erased);
        Ok(())
    }

    fn finish(mut self) -> Result<(), StoreError<F::Error>> {
        self.flush()
    }
}
