//! The receive window: image messages that arrive ahead of the first byte the agent needs are
//! kept (in the static chunk buffer), so the ground can keep many messages in flight and resend
//! only the ones lost.
//!
//! **Where the bytes go.** The chunk buffer holds `K = buffer / chunk size` chunks (16 chunks of
//! the default 64 KiB in the partition's 1 MiB buffer); image chunk `c` lives in buffer slot
//! `c % K`. The window is the chunks `[c0, c0 + K)`, `c0` being the first chunk not in place
//! (`Mode::Receiving { chunk: c0 }`). A message is kept only if all of its image bytes fall
//! before the window's end; its bytes that belong to chunks already in place are skipped.
//!
//! The same bit ring keeps the messages of the bundle header while it is collected (their bytes
//! go to their place in the header buffer, see [`crate::intake`]); it is emptied when the header
//! is complete.
//!
//! **What was kept.** One bit per message, in a ring of [`WINDOW_BITS`] bits indexed by message
//! index modulo the ring: only messages in `[base, base + WINDOW_BITS)` are kept (`base` the
//! message holding chunk `c0`'s first byte), and the bits of messages that fall behind `base`
//! are cleared as `c0` advances, so a bit never stands for two messages. With small messages
//! the ring, not the buffer, bounds the window.
//!
//! **When a chunk is whole** (every message that overlaps it kept), it is checked against its
//! manifest hash in the buffer, written, and recorded in the progress record before the next
//! message is taken: out of order, a chunk is as crash-safe as in order. A chunk that does not
//! verify has the bits of all its messages cleared (which one was damaged is unknown) and is
//! refused as `BadHash`; the ground sends those messages again.
//!
//! **What the ground is told** ([`Agent::window_report`]): `next_chunk` is the first message it
//! must still send, `held_ahead` the following 64 messages it need not send (kept, or wholly in
//! chunks already in place, such as the ones the adaptive transfer copied on board).
//!
//! After a reset the window is empty again: only chunks written and recorded survive, and the
//! status asks for the rest.
//!
//! Avoids: the heap, and taking any byte of a message whose geometry was not checked first
//! ([`crate::intake`] does it).

use crate::agent::{Agent, Mode, Piece, manifest_of};
use crate::refusal;
use hal::boot::BootControl;
use hal::flash::{ErasedValue, NorFlash};
use protocol::Refusal;

/// Messages the window can track (the bit ring's length).
pub const WINDOW_BITS: u64 = 4096;
/// Words of the bit ring.
pub(crate) const WINDOW_WORDS: usize = (WINDOW_BITS / 64) as usize;

/// The geometry of the transfer once its manifest is known.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    /// Bundle header length (the image starts there).
    header: u64,
    /// Bundle length.
    total: u64,
    /// Message length.
    piece: u64,
    /// log2 of the chunk size.
    log2: u8,
    /// Image chunks.
    chunks: u32,
    /// Chunks the buffer holds.
    slots: u32,
}

impl Geometry {
    fn chunk_start(&self, c: u32) -> u64 {
        self.header + (u64::from(c) << self.log2)
    }

    fn chunk_end(&self, c: u32) -> u64 {
        (self.chunk_start(c) + (1 << self.log2)).min(self.total)
    }

    /// The message holding bundle byte `at`.
    fn piece_of(&self, at: u64) -> u64 {
        at / self.piece
    }

    /// Bundle byte range of message `p`.
    fn piece_range(&self, p: u64) -> (u64, u64) {
        let s = p * self.piece;
        (s, (s + self.piece).min(self.total))
    }

    /// The image chunks message bytes `[s, e)` overlap (empty if it holds header bytes only).
    fn chunks_of(&self, s: u64, e: u64) -> core::ops::Range<u32> {
        let s = s.max(self.header);
        if e <= s {
            return 0..0;
        }
        let first = ((s - self.header) >> self.log2) as u32;
        let last = ((e - 1 - self.header) >> self.log2) as u32;
        first..(last + 1).min(self.chunks)
    }
}

impl<F: NorFlash + ErasedValue, B: BootControl> Agent<F, B> {
    fn geometry(&self) -> Option<Geometry> {
        let m = manifest_of(&self.bufs.incoming[..self.incoming_fill])?;
        let total = u64::from(self.total_len);
        let piece = match self.p.piece_len {
            0 => total.max(1),
            p => u64::from(p),
        };
        let slots = (self.bufs.chunk.len() >> m.chunk_log2).max(1) as u32;
        Some(Geometry {
            header: u64::from(self.p.header_len),
            total,
            piece,
            log2: m.chunk_log2,
            chunks: m.chunk_count(),
            slots,
        })
    }

    pub(crate) fn held(&self, p: u64) -> bool {
        let b = p % WINDOW_BITS;
        self.held[(b / 64) as usize] & (1 << (b % 64)) != 0
    }

    pub(crate) fn set_held(&mut self, p: u64, on: bool) {
        let b = p % WINDOW_BITS;
        let w = &mut self.held[(b / 64) as usize];
        if on {
            *w |= 1 << (b % 64);
        } else {
            *w &= !(1 << (b % 64));
        }
    }

    /// Empties the window (a new receive phase, or after a reset).
    pub(crate) fn clear_window(&mut self) {
        self.held = [0; WINDOW_WORDS];
    }

    /// The first message of the window (the one holding chunk `c0`'s first byte).
    fn window_base(g: &Geometry, c0: u32) -> u64 {
        g.piece_of(g.chunk_start(c0))
    }

    /// Whether message `p` need not be sent: kept in the window, or with every image byte in a
    /// chunk already in place.
    fn not_needed(&self, g: &Geometry, c0: u32, p: u64) -> bool {
        let base = Self::window_base(g, c0);
        if p >= base && p < base + WINDOW_BITS && self.held(p) {
            return true;
        }
        let (s, e) = g.piece_range(p);
        self.chunks_of_done(g, s, e)
    }

    fn chunks_of_done(&self, g: &Geometry, s: u64, e: u64) -> bool {
        let r = g.chunks_of(s, e);
        if s.max(g.header) >= e {
            return true;
        }
        r.clone().all(|c| self.p.is_done(c))
    }

    /// `next_chunk` and `held_ahead` of the status while receiving (module docs).
    pub(crate) fn window_report(&self, c0: u32) -> Option<(u32, u64)> {
        let g = self.geometry()?;
        let count = g.total.div_ceil(g.piece);
        let mut next = Self::window_base(&g, c0);
        while next < count && self.not_needed(&g, c0, next) {
            next += 1;
        }
        let mut ahead = 0u64;
        for k in 0..64u64 {
            let p = next + 1 + k;
            if p < count && self.not_needed(&g, c0, p) {
                ahead |= 1 << k;
            }
        }
        Some((u32::try_from(next).unwrap_or(u32::MAX), ahead))
    }

    /// `next_chunk` and `held_ahead` of the status while the header is collected.
    pub(crate) fn header_report(&self) -> (u32, u64) {
        let step = match self.p.piece_len {
            0 => u64::from(self.total_len).max(1),
            n => u64::from(n),
        };
        let next = self.incoming_fill as u64 / step;
        let mut ahead = 0u64;
        for k in 0..64u64 {
            let p = next + 1 + k;
            if p < WINDOW_BITS && self.held(p) {
                ahead |= 1 << k;
            }
        }
        (u32::try_from(next).unwrap_or(u32::MAX), ahead)
    }

    /// Takes an image message while receiving (its geometry already checked): keeps its bytes
    /// if it falls in the window, writes every chunk it completes. Returns the bytes kept.
    pub(crate) fn take_windowed(&mut self, piece: &Piece<'_>) -> Result<u64, Refusal> {
        let Mode::Receiving { chunk: c0 } = self.mode else {
            return Ok(0);
        };
        let Some(g) = self.geometry() else {
            return Ok(0);
        };
        let p = u64::from(piece.index);
        let base = Self::window_base(&g, c0);
        let (s, e) = g.piece_range(p);
        let window_end = g.chunk_end((c0 + g.slots - 1).min(g.chunks.saturating_sub(1)));
        if p < base || p >= base + WINDOW_BITS || e > window_end || self.held(p) {
            // Behind the window (a duplicate), ahead of it (sent again later), or kept already.
            return Ok(0);
        }
        let chunks = g.chunks_of(s, e);
        let mut kept = 0u64;
        for c in chunks.clone() {
            if self.p.is_done(c) {
                continue;
            }
            let (cs, ce) = (g.chunk_start(c).max(s), g.chunk_end(c).min(e));
            let slot = (u64::from(c % g.slots) << g.log2) as usize;
            let at = slot + (cs - g.chunk_start(c)) as usize;
            let n = (ce - cs) as usize;
            let from = (cs - s) as usize;
            self.bufs.chunk[at..at + n].copy_from_slice(&piece.data[from..from + n]);
            kept += n as u64;
        }
        self.set_held(p, true);
        for c in chunks {
            if !self.p.is_done(c) && self.chunk_whole(&g, c) {
                self.finish_chunk(&g, c)?;
            }
        }
        Ok(kept)
    }

    fn chunk_whole(&self, g: &Geometry, c: u32) -> bool {
        let first = g.piece_of(g.chunk_start(c));
        let last = g.piece_of(g.chunk_end(c) - 1);
        (first..=last).all(|p| self.held(p))
    }

    /// Chunk `c` is whole in its buffer slot: verify, write, record, move the window on.
    fn finish_chunk(&mut self, g: &Geometry, c: u32) -> Result<(), Refusal> {
        let slot = (u64::from(c % g.slots) << g.log2) as usize;
        let clen = (g.chunk_end(c) - g.chunk_start(c)) as usize;
        let verdict = manifest_of(&self.bufs.incoming[..self.incoming_fill])
            .map(|m| m.verify_chunk(c, &self.bufs.chunk[slot..slot + clen]));
        if let Some(Err(e)) = verdict {
            log::warn!("bundle {:#x}: chunk {c} dropped: {e}", self.p.bundle_id);
            let first = g.piece_of(g.chunk_start(c));
            let last = g.piece_of(g.chunk_end(c) - 1);
            for p in first..=last {
                self.set_held(p, false);
            }
            return Err(refusal::of_chunk(&e, c));
        }
        self.put_chunk(c, g.log2, slot, clen)?;
        let Mode::Receiving { chunk: c0 } = self.mode else {
            return Ok(());
        };
        let old_base = Self::window_base(g, c0);
        self.after_chunk(c);
        let new_base = match self.mode {
            Mode::Receiving { chunk } => Self::window_base(g, chunk),
            _ => return Ok(()),
        };
        // Messages now behind the window: their bits must not stand for later messages.
        if new_base - old_base >= WINDOW_BITS {
            self.clear_window();
        } else {
            for p in old_base..new_base {
                self.set_held(p, false);
            }
        }
        Ok(())
    }
}
