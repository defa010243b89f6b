//! Transfer messages into the agent: the bundle's header first, collected in RAM and verified
//! before any image byte is taken; then image chunks, each checked against its manifest hash in
//! RAM before it is written to the inactive slot.
//!
//! The ground sends the bundle as messages of one fixed length (the first message sets it; the
//! last may be shorter) at `offset = index * length`. Messages are kept in any order: header
//! messages at their place in the header buffer until every one up to the header's end is in,
//! image messages in the receive window ([`crate::window`]); duplicates are ignored. A message
//! whose geometry does not fit the transfer is refused as out of order. A bundle id
//! other than the current one starts a new transfer, and must start at offset 0. A late message
//! of a bundle whose transfer is over (staged, confirmed or rolled back) is ignored, its first
//! message too: a bundle that was rolled back is not installed again (a new attempt is a new
//! bundle).
//!
//! Avoids: writing unverified bytes, and trusting any number in a message (offsets, lengths and
//! totals are checked against the transfer and, once known, the manifest).

use crate::agent::{Agent, Mode, Piece};
use crate::record::Phase;
use crate::refusal::{self, plain};
use crate::slot_io;
use hal::boot::BootControl;
use hal::flash::{ErasedValue, NorFlash};
use protocol::{Refusal, UpgradeError, UpgradeState, UpgradeStatus};
use sha2::{Digest, Sha256};
use upgrade::{MAX_HEADER_LEN, PREFIX_LEN};

impl<F: NorFlash + ErasedValue, B: BootControl> Agent<F, B> {
    /// Takes one transfer message; returns the status to send back, which answers it (state
    /// `Failed` with the reason if the message or its bundle was refused).
    pub fn on_piece(&mut self, piece: &Piece<'_>) -> UpgradeStatus {
        let mut s = self.answer(piece);
        s.answers = piece.index;
        s
    }

    fn answer(&mut self, piece: &Piece<'_>) -> UpgradeStatus {
        match self.take_piece(piece) {
            Ok(()) => self.status(),
            Err(r) => {
                // Refusals of one message (busy, out of order) do not replace the last refusal
                // of a bundle or a trial, which the operator needs to see.
                if !matches!(r.reason, UpgradeError::Busy | UpgradeError::OutOfOrder) {
                    self.p.refusal = Some(r);
                }
                let mut s = self.status();
                s.state = UpgradeState::Failed { reason: r.reason };
                s
            }
        }
    }

    fn transferring(&self) -> bool {
        matches!(
            self.mode,
            Mode::Header | Mode::Preparing { .. } | Mode::Receiving { .. } | Mode::Verifying { .. }
        )
    }

    fn take_piece(&mut self, piece: &Piece<'_>) -> Result<(), Refusal> {
        let out_of_order = Refusal {
            reason: UpgradeError::OutOfOrder,
            detail: piece.index,
        };
        let over = matches!(
            self.p.phase,
            Phase::Staged | Phase::Confirmed | Phase::RolledBack
        );
        if !self.transferring() && over && piece.bundle_id == self.p.bundle_id {
            // A late copy of a message of a transfer that is over (a retry that crossed the
            // reboot), its first message included: nothing to do, the status says where the
            // bundle is. A bundle that was rolled back is not installed again from a late
            // message 0 (the windowed ground has several in flight): a new attempt is a new
            // bundle.
            return Ok(());
        }
        let bs = self.boot.state();
        if bs.trial.is_some() || matches!(self.mode, Mode::Trial | Mode::Rebooting) {
            return Err(plain(UpgradeError::Busy));
        }
        if !self.transferring() || piece.bundle_id != self.p.bundle_id {
            if piece.offset != 0 {
                return Err(out_of_order);
            }
            self.begin(piece);
        }
        let len = piece.data.len() as u64;
        let (off, total) = (u64::from(piece.offset), u64::from(piece.total_len));
        let p = u64::from(self.p.piece_len);
        let fits = len > 0
            && piece.total_len == self.total_len
            && off + len <= total
            && if p == 0 {
                off == 0 && len == total
            } else {
                off == u64::from(piece.index) * p && (len == p || off + len == total)
            };
        if !fits {
            return Err(out_of_order);
        }
        if let Mode::Receiving { .. } = self.mode {
            let kept = self.take_windowed(piece)?;
            self.p.bytes_received = self
                .p
                .bytes_received
                .saturating_add(u32::try_from(kept).unwrap_or(u32::MAX));
            return Ok(());
        }
        if let Mode::Header = self.mode {
            return self.take_header(piece);
        }
        Ok(())
    }

    /// A new transfer (in RAM only until its header is accepted).
    fn begin(&mut self, piece: &Piece<'_>) {
        self.mode = Mode::Header;
        self.incoming_fill = 0;
        self.total_len = piece.total_len;
        self.p.bundle_id = piece.bundle_id;
        self.p.piece_len = if piece.count > 1 {
            piece.data.len() as u32
        } else {
            0
        };
        self.p.bytes_received = 0;
        self.p.bytes_copied = 0;
        self.p.header_len = 0;
        self.clear_window();
    }

    /// Takes a message while the header is collected: its bytes go to their place in the
    /// header buffer, in any order (bits of the receive window's ring, [`crate::window`]); once
    /// every message up to the header's end is in, the header is checked.
    fn take_header(&mut self, piece: &Piece<'_>) -> Result<(), Refusal> {
        let cap = self.bufs.incoming.len();
        let off = piece.offset as usize;
        let p = u64::from(piece.index);
        if off >= cap || p >= crate::window::WINDOW_BITS || self.held(p) {
            // Past any header, too far ahead, or kept already.
            return Ok(());
        }
        let end = (off + piece.data.len()).min(cap);
        self.bufs.incoming[off..end].copy_from_slice(&piece.data[..end - off]);
        self.set_held(p, true);
        let step = match self.p.piece_len {
            0 => self.total_len as usize,
            n => n as usize,
        };
        // The header is in up to the first message not kept.
        loop {
            let q = self.incoming_fill / step.max(1);
            if q as u64 >= crate::window::WINDOW_BITS || !self.held(q as u64) {
                break;
            }
            let to = ((q + 1) * step).min(self.total_len as usize).min(cap);
            if to <= self.incoming_fill {
                break;
            }
            self.incoming_fill = to;
        }
        if self.incoming_fill < PREFIX_LEN {
            return Ok(());
        }
        let len = upgrade::header_len(&self.bufs.incoming[..PREFIX_LEN]).map_err(|e| {
            log::warn!("bundle {:#x} refused: {e}", self.p.bundle_id);
            self.mode = Mode::Idle;
            plain(UpgradeError::Malformed)
        })?;
        if len > (self.layout.header_area as usize).min(MAX_HEADER_LEN) {
            self.mode = Mode::Idle;
            return Err(plain(UpgradeError::TooLarge));
        }
        if self.incoming_fill >= len {
            self.incoming_fill = len;
            self.clear_window();
            self.p.bytes_received = self.p.bytes_received.saturating_add(len as u32);
            self.accept_header()?;
        }
        Ok(())
    }

    /// The whole header is in RAM: verify it, write it to the target's header area, record
    /// the transfer, start the on-board copy pass.
    fn accept_header(&mut self) -> Result<(), Refusal> {
        let len = self.incoming_fill;
        let id = self.p.bundle_id;
        let checked = match self.policy() {
            None => Err(plain(UpgradeError::SlotDamaged)),
            Some(policy) => match upgrade::verify(&self.bufs.incoming[..len], &policy) {
                Err(e) => {
                    log::warn!("bundle {id:#x} refused: {e}");
                    Err(plain(refusal::of_verify(&e)))
                }
                Ok(v) => {
                    let m = v.manifest;
                    if u64::from(self.total_len) != len as u64 + m.image_len {
                        log::warn!(
                            "bundle {id:#x} refused: the transfer is {} bytes, the bundle {}",
                            self.total_len,
                            len as u64 + m.image_len
                        );
                        Err(plain(UpgradeError::Malformed))
                    } else if m.chunk_size() < F::ERASE_SIZE
                        || m.chunk_size() > self.bufs.chunk.len()
                    {
                        log::warn!(
                            "bundle {id:#x} refused: chunks of {} bytes, the slot flash erases {} bytes at once",
                            m.chunk_size(),
                            F::ERASE_SIZE
                        );
                        Err(plain(UpgradeError::Unsupported))
                    } else {
                        log::info!(
                            "bundle {id:#x} accepted: version {}, security counter {}, {} chunks of {} bytes",
                            m.version,
                            m.security_counter,
                            m.chunk_count(),
                            m.chunk_size()
                        );
                        let mut root = [0u8; crate::record::MAX_ROOT];
                        let n = v.root.body.len().min(root.len());
                        root[..n].copy_from_slice(&v.root.body[..n]);
                        Ok(root.get(..v.root.body.len()).map(|r| (r.len(), root)))
                    }
                }
            },
        };
        let root = match checked {
            Ok(r) => r,
            Err(r) => {
                self.abandon(r);
                return Err(r);
            }
        };
        let target = self.boot.state().booted.other();
        let addr = self.layout.slot_offset(target);
        if let Err(e) = slot_io::replace(&mut self.flash, addr, &self.bufs.incoming[..len]) {
            log::error!("writing slot {target}'s header failed: {e}");
            self.flash_errors += 1;
            let r = plain(UpgradeError::Flash);
            self.abandon(r);
            return Err(r);
        }
        self.p.phase = Phase::Receiving;
        self.p.target_b = target == hal::boot::Slot::B;
        self.p.header_len = len as u32;
        self.p.header_hash = Sha256::digest(&self.bufs.incoming[..len]).into();
        self.p.done = [0; crate::record::BITMAP_LEN];
        self.p.refusal = None;
        if let Some((n, body)) = root {
            self.p.set_root(&body[..n]);
        }
        if !self.persist() {
            let r = plain(UpgradeError::Flash);
            self.abandon(r);
            return Err(r);
        }
        self.mode = Mode::Preparing { cursor: 0 };
        Ok(())
    }

    /// Writes the verified chunk at `at` in the chunk buffer to the target (chunks of
    /// `2^log2` bytes) and records it.
    pub(crate) fn put_chunk(
        &mut self,
        chunk: u32,
        log2: u8,
        at: usize,
        clen: usize,
    ) -> Result<(), Refusal> {
        let addr = self.layout.image_offset(self.target()) + (chunk << log2);
        if let Err(e) = slot_io::replace(&mut self.flash, addr, &self.bufs.chunk[at..at + clen]) {
            log::error!("writing chunk {chunk} failed: {e}");
            self.flash_errors += 1;
            return Err(Refusal {
                reason: UpgradeError::Flash,
                detail: chunk,
            });
        }
        self.p.set_done(chunk, true);
        Ok(())
    }
}
