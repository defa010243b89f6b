//! Streaming a signed batch back as `sign-response` chunks.
//!
//! The signed stream is `u32 BE length ‖ signed PSBT` for each PSBT in batch order, then the
//! 163-byte receipt. It is cut into `Signed` chunks of [`CHUNK_MAX`] bytes (the last may be
//! shorter). Its total length is known only at the end, so every chunk but the last carries
//! `count = 0` and `total_len = 0`; the last carries the real `count` and `total_len` and is
//! therefore recognisable. `index` and `offset` are exact on every chunk.
//!
//! The outbox never blocks: [`Outbox::flush`] sends what it can and reports [`Flush::Full`]
//! when the ring is full; the caller retries on a later tick. One chunk is buffered, in a
//! buffer the caller lends to every [`Outbox::flush`] of the stream (the partition's is in
//! static memory, [`crate::statics`], so the component on the stack stays small).
//!
//! Avoids: holding more than one chunk and the current signed PSBT.

use protocol::{BoundedBytes, CHUNK_MAX, ChunkPosition, SignResponse, SignStatus};

/// The stream state of one batch.
#[derive(Debug)]
pub struct Outbox {
    batch_id: u64,
    request_id: u32,
    /// Bytes of the lent chunk buffer in use.
    chunk_len: usize,
    index: u32,
    offset: u32,
    /// Bytes of the current source already copied into chunks.
    cursor: usize,
}

/// Result of a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// The source is fully consumed (and, if it was the last, every chunk is sent).
    Drained,
    /// The ring is full: call again later with the same source.
    Full,
}

impl Outbox {
    /// A stream for `batch_id` / `request_id`.
    pub fn new(batch_id: u64, request_id: u32) -> Self {
        Self {
            batch_id,
            request_id,
            chunk_len: 0,
            index: 0,
            offset: 0,
            cursor: 0,
        }
    }

    /// The batch id.
    pub fn batch_id(&self) -> u64 {
        self.batch_id
    }

    /// The routing token.
    pub fn request_id(&self) -> u32 {
        self.request_id
    }

    /// Bytes sent so far.
    pub fn sent(&self) -> u32 {
        self.offset
    }

    fn response(&self, chunk: &[u8; CHUNK_MAX], last: bool) -> SignResponse {
        let len = self.chunk_len as u32;
        SignResponse {
            batch_id: self.batch_id,
            request_id: self.request_id,
            position: ChunkPosition {
                index: self.index,
                count: if last { self.index + 1 } else { 0 },
                offset: self.offset,
                total_len: if last { self.offset + len } else { 0 },
            },
            status: SignStatus::Signed,
            data: BoundedBytes::new(chunk.get(..self.chunk_len).unwrap_or(&[])).unwrap_or_default(),
        }
    }

    /// Copies `source` (the same slice on every retry) into chunks, buffered in `chunk` (the
    /// same buffer for every call of one stream), and sends each full chunk with `send` (which returns false when the ring is full). With `last`, the final partial
    /// chunk is sent too, carrying the totals. Returns [`Flush::Drained`] when the source is
    /// consumed and every chunk due is sent; then the next call starts a new source.
    pub fn flush(
        &mut self,
        chunk: &mut [u8; CHUNK_MAX],
        source: &[u8],
        last: bool,
        mut send: impl FnMut(&SignResponse) -> bool,
    ) -> Flush {
        loop {
            if self.chunk_len == CHUNK_MAX {
                let done = self.cursor >= source.len();
                let is_last = last && done;
                if !send(&self.response(chunk, is_last)) {
                    return Flush::Full;
                }
                self.offset += CHUNK_MAX as u32;
                self.index += 1;
                self.chunk_len = 0;
                if is_last {
                    self.cursor = 0;
                    return Flush::Drained;
                }
            }
            let rest = source.get(self.cursor..).unwrap_or(&[]);
            if rest.is_empty() {
                if last && self.chunk_len > 0 {
                    if !send(&self.response(chunk, true)) {
                        return Flush::Full;
                    }
                    self.offset += self.chunk_len as u32;
                    self.index += 1;
                    self.chunk_len = 0;
                }
                self.cursor = 0;
                return Flush::Drained;
            }
            let room = CHUNK_MAX - self.chunk_len;
            let n = room.min(rest.len());
            if let (Some(dst), Some(src)) = (
                chunk.get_mut(self.chunk_len..self.chunk_len + n),
                rest.get(..n),
            ) {
                dst.copy_from_slice(src);
            }
            self.chunk_len += n;
            self.cursor += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    #[test]
    fn streams_reassemble_with_totals_on_the_last_chunk_and_survive_full_rings() {
        let a: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let b: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
        let r = [9u8; 163];
        let mut ob = Outbox::new(5, 6);
        let mut chunk = [0u8; CHUNK_MAX];
        let mut got: Vec<SignResponse> = Vec::new();
        let mut budget = 0usize; // ring room; refill between calls
        for (src, last) in [(&a[..], false), (&b[..], false), (&r[..], true)] {
            loop {
                budget = 1;
                let f = ob.flush(&mut chunk, src, last, |m| {
                    if budget == 0 {
                        return false;
                    }
                    budget -= 1;
                    got.push(m.clone());
                    true
                });
                if f == Flush::Drained {
                    break;
                }
            }
        }
        let _ = budget;
        let all: Vec<u8> = [&a[..], &b[..], &r[..]].concat();
        let mut joined = Vec::new();
        for (i, m) in got.iter().enumerate() {
            assert_eq!((m.batch_id, m.request_id), (5, 6));
            assert_eq!(m.position.index, i as u32);
            assert_eq!(m.position.offset as usize, joined.len());
            let last = i + 1 == got.len();
            assert_eq!(m.position.count, if last { got.len() as u32 } else { 0 });
            assert_eq!(
                m.position.total_len as usize,
                if last { all.len() } else { 0 }
            );
            joined.extend_from_slice(m.data.as_slice());
        }
        assert_eq!(joined, all);
        assert_eq!(ob.sent() as usize, all.len());
    }
}
