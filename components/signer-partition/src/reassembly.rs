//! Reassembling a batch from `sign-request` chunks into the bounded batch buffer.
//!
//! Rules (a chunk position is just numbers the sender chose, so all are checked):
//!
//! - chunks arrive in order: chunk `i` has `index == i` and `offset` = bytes received so far;
//! - `count` and `total_len` are those of chunk 0 in every later chunk, `1 <= total_len <=`
//!   [`crate::MAX_BATCH`], `count >= 1`;
//! - every chunk carries at least one byte and none goes past `total_len`;
//! - the last chunk (`index == count - 1`) ends exactly at `total_len`.
//!
//! A chunk of another batch while one is being received is [`ChunkError::Busy`] and leaves
//! the one in progress alone; any other violation abandons the batch ([`ChunkError::BadChunking`]).
//!
//! Avoids: trusting any position field, and any copy beyond the one into the buffer.

use crate::MAX_BATCH;

/// The batch being received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assembly {
    /// Batch id.
    pub batch_id: u64,
    /// Routing token of its requests.
    pub request_id: u32,
    /// Chunks announced.
    pub count: u32,
    /// Bytes announced.
    pub total_len: u32,
    /// Chunks stored.
    pub next_index: u32,
    /// Bytes stored.
    pub received: u32,
}

/// One chunk as received (fields copied out of the archived message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Batch id.
    pub batch_id: u64,
    /// Routing token.
    pub request_id: u32,
    /// Index.
    pub index: u32,
    /// Chunks in the batch.
    pub count: u32,
    /// Offset of `data`.
    pub offset: u32,
    /// Bytes in the batch.
    pub total_len: u32,
    /// Payload.
    pub data: &'a [u8],
}

/// Why a chunk was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// Another batch is being received.
    Busy,
    /// The chunk breaks the rules of the module docs.
    BadChunking,
}

/// What storing a chunk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// More chunks are expected.
    More,
    /// The batch is complete: its length.
    Complete(usize),
}

/// Stores `chunk` into `buf`, starting a new assembly in `state` if none is in progress.
/// On [`ChunkError::BadChunking`] the assembly is dropped (`state` becomes `None`); on
/// [`ChunkError::Busy`] it is left alone.
pub fn store(
    state: &mut Option<Assembly>,
    buf: &mut [u8; MAX_BATCH],
    chunk: &Chunk<'_>,
) -> Result<Stored, ChunkError> {
    let mut a = match *state {
        Some(a) if a.batch_id != chunk.batch_id || a.request_id != chunk.request_id => {
            return Err(ChunkError::Busy);
        }
        Some(a) => a,
        None => {
            if chunk.index != 0
                || chunk.count == 0
                || chunk.total_len == 0
                || chunk.total_len as usize > MAX_BATCH
            {
                return Err(ChunkError::BadChunking);
            }
            Assembly {
                batch_id: chunk.batch_id,
                request_id: chunk.request_id,
                count: chunk.count,
                total_len: chunk.total_len,
                next_index: 0,
                received: 0,
            }
        }
    };
    let end = chunk.offset.checked_add(chunk.data.len() as u32);
    let ok = chunk.index == a.next_index
        && chunk.count == a.count
        && chunk.total_len == a.total_len
        && chunk.offset == a.received
        && !chunk.data.is_empty()
        && end.is_some_and(|e| e <= a.total_len)
        && (chunk.index + 1 < a.count) == end.is_some_and(|e| e < a.total_len);
    let dst = buf.get_mut(chunk.offset as usize..end.unwrap_or(0) as usize);
    match (ok, dst) {
        (true, Some(dst)) => dst.copy_from_slice(chunk.data),
        _ => {
            *state = None;
            return Err(ChunkError::BadChunking);
        }
    }
    a.next_index += 1;
    a.received += chunk.data.len() as u32;
    if a.received == a.total_len {
        *state = None;
        Ok(Stored::Complete(a.total_len as usize))
    } else {
        *state = Some(a);
        Ok(Stored::More)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::boxed::Box;
    use std::vec::Vec;

    fn chunk(index: u32, count: u32, offset: u32, total: u32, data: &[u8]) -> Chunk<'_> {
        Chunk {
            batch_id: 7,
            request_id: 1,
            index,
            count,
            offset,
            total_len: total,
            data,
        }
    }

    fn buf() -> Box<[u8; MAX_BATCH]> {
        vec_box()
    }

    fn vec_box() -> Box<[u8; MAX_BATCH]> {
        let v: Vec<u8> = std::vec![0u8; MAX_BATCH];
        v.into_boxed_slice().try_into().expect("size")
    }

    #[test]
    fn in_order_chunks_reassemble() {
        let (mut st, mut b) = (None, buf());
        assert_eq!(
            store(&mut st, &mut b, &chunk(0, 3, 0, 7, b"abc")),
            Ok(Stored::More)
        );
        assert_eq!(
            store(&mut st, &mut b, &chunk(1, 3, 3, 7, b"de")),
            Ok(Stored::More)
        );
        assert_eq!(
            store(&mut st, &mut b, &chunk(2, 3, 5, 7, b"fg")),
            Ok(Stored::Complete(7))
        );
        assert_eq!(&b[..7], b"abcdefg");
        assert_eq!(st, None);
    }

    #[test]
    fn every_inconsistency_is_refused() {
        let bad: [(Chunk<'_>, Option<Chunk<'_>>); 9] = [
            (chunk(1, 2, 0, 4, b"ab"), None), // does not start at 0
            (chunk(0, 0, 0, 4, b"ab"), None), // zero count
            (chunk(0, 1, 0, 0, b""), None),   // empty batch
            (chunk(0, 1, 0, MAX_BATCH as u32 + 1, b"a"), None), // too large
            (chunk(0, 1, 0, 4, b"ab"), None), // last chunk ends early
            (chunk(0, 2, 0, 4, b"ab"), Some(chunk(0, 2, 2, 4, b"cd"))), // repeated index
            (chunk(0, 2, 0, 4, b"ab"), Some(chunk(1, 2, 1, 4, b"cd"))), // overlap
            (chunk(0, 2, 0, 4, b"ab"), Some(chunk(1, 3, 2, 4, b"cd"))), // count changed
            (chunk(0, 2, 0, 4, b"ab"), Some(chunk(1, 2, 2, 4, b"cde"))), // past the end
        ];
        for (first, second) in bad {
            let (mut st, mut b) = (None, buf());
            match second {
                None => assert_eq!(store(&mut st, &mut b, &first), Err(ChunkError::BadChunking)),
                Some(s) => {
                    assert_eq!(store(&mut st, &mut b, &first), Ok(Stored::More));
                    assert_eq!(store(&mut st, &mut b, &s), Err(ChunkError::BadChunking));
                }
            }
            assert_eq!(st, None, "a refused batch is abandoned");
        }
    }

    #[test]
    fn another_batch_is_busy_and_leaves_the_first_alone() {
        let (mut st, mut b) = (None, buf());
        assert_eq!(
            store(&mut st, &mut b, &chunk(0, 2, 0, 4, b"ab")),
            Ok(Stored::More)
        );
        let other = Chunk {
            batch_id: 8,
            ..chunk(0, 1, 0, 2, b"zz")
        };
        assert_eq!(store(&mut st, &mut b, &other), Err(ChunkError::Busy));
        assert_eq!(
            store(&mut st, &mut b, &chunk(1, 2, 2, 4, b"cd")),
            Ok(Stored::Complete(4))
        );
        assert_eq!(&b[..4], b"abcd");
    }
}
