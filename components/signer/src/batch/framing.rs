//! The batch request bytes: the certificate followed by the PSBTs, each length-prefixed.
//!
//! | part | size |
//! | --- | --- |
//! | batch certificate ([`crate::cert`]) | `99 + 32·n`, `n` read from the certificate's offset 33 |
//! | `n` × (PSBT length `L` as u32 big-endian, `1..=MAX_PSBT_LEN`; then `L` bytes of PSBT) | |
//!
//! Nothing may follow the last PSBT. [`split_certificate`] finds the certificate's end without
//! trusting anything else; [`next_psbt`] walks the PSBTs one at a time from an offset, so the
//! state machine never holds an index of the whole batch.

use crate::cert::{HEADER_LEN, SIG_LEN};

/// Largest PSBT in a batch.
pub const MAX_PSBT_LEN: usize = 65_536;

/// The framing is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramingError;

/// Splits the batch into certificate bytes and the rest (PSBT part). `None` if too short to
/// hold the certificate its own count field announces.
pub fn split_certificate(batch: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = usize::from(u16::from_be_bytes(batch.get(33..35)?.try_into().ok()?));
    let len = HEADER_LEN + 32 * n + SIG_LEN;
    batch.split_at_checked(len)
}

/// The PSBT at `offset` of the PSBT part and the offset after it; `Ok(None)` at the exact end.
pub fn next_psbt(part: &[u8], offset: usize) -> Result<Option<(&[u8], usize)>, FramingError> {
    if offset == part.len() {
        return Ok(None);
    }
    let len_bytes: [u8; 4] = part
        .get(offset..offset + 4)
        .and_then(|b| b.try_into().ok())
        .ok_or(FramingError)?;
    let len = u32::from_be_bytes(len_bytes) as usize;
    if len == 0 || len > MAX_PSBT_LEN {
        return Err(FramingError);
    }
    let start = offset + 4;
    let psbt = part.get(start..start + len).ok_or(FramingError)?;
    Ok(Some((psbt, start + len)))
}

/// Counts the PSBTs, checking the framing to the end.
pub fn count(part: &[u8]) -> Result<usize, FramingError> {
    let (mut n, mut off) = (0usize, 0usize);
    while let Some((_, next)) = next_psbt(part, off)? {
        n += 1;
        off = next;
    }
    Ok(n)
}
