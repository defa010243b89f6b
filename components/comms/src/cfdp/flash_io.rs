//! Byte-addressed writes on a NOR flash with a larger write granularity.
//!
//! CFDP segments start and end at any byte; NOR flash writes whole `WRITE_SIZE` words and can
//! only clear bits. [`write_unaligned`] writes the whole words of a range straight from the
//! caller's bytes and read-merge-writes the edge words, keeping the other bytes of an edge word
//! as they are on the device (so it never asks to set a bit that is already 0 elsewhere in the
//! word). Rewriting the same bytes is allowed (it clears nothing new), which is what makes a
//! retransmitted segment safe to write over a torn earlier write of the same data. Avoids:
//! buffers beyond one 16-byte word, and any write outside the range.

use super::error::{CfdpError, flash_err};
use hal::flash::NorFlash;

/// Write `bytes` at any byte address: whole words in one write, the edge words read, merged and
/// written (the other bytes of an edge word keep their current contents, so nothing is set 0->1).
pub(crate) fn write_unaligned<F: NorFlash>(
    flash: &mut F,
    addr: u64,
    bytes: &[u8],
) -> Result<(), CfdpError> {
    let w = (F::WRITE_SIZE as u64).max(1);
    if w > 16 {
        return Err(CfdpError::BadLayout);
    }
    let end = addr + bytes.len() as u64;
    let a0 = addr / w * w;
    let a1 = end.div_ceil(w) * w;
    let mut pos = a0;
    let mut word = [0u8; 16];
    while pos < a1 {
        let whole_start = pos >= addr && pos + w <= end;
        if whole_start {
            // Longest run of whole words from here, written straight from `bytes`.
            let run_end = end / w * w;
            let src = bytes
                .get((pos - addr) as usize..(run_end - addr) as usize)
                .ok_or(CfdpError::BadRequest)?;
            let at = u32::try_from(pos).map_err(|_| CfdpError::BadLayout)?;
            flash.write(at, src).map_err(flash_err)?;
            pos = run_end;
            continue;
        }
        let wbuf = word.get_mut(..w as usize).ok_or(CfdpError::BadLayout)?;
        let at = u32::try_from(pos).map_err(|_| CfdpError::BadLayout)?;
        flash.read(at, wbuf).map_err(flash_err)?;
        for (i, b) in wbuf.iter_mut().enumerate() {
            let p = pos + i as u64;
            if p >= addr && p < end {
                *b = *bytes
                    .get((p - addr) as usize)
                    .ok_or(CfdpError::BadRequest)?;
            }
        }
        flash.write(at, wbuf).map_err(flash_err)?;
        pos += w;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use board_sim::flash::SimFlash;
    use hal::flash::ReadNorFlash;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any split of a buffer into byte ranges, written in any order (some twice), leaves
        /// exactly the buffer on the flash and nothing outside it.
        #[test]
        fn pieces_in_any_order_land_exactly(
            cuts in proptest::collection::vec(0usize..200, 0..12),
            order in proptest::collection::vec(any::<u16>(), 12),
            base in 0u64..9,
        ) {
            let data: Vec<u8> = (0..200u32).map(|i| (i * 31 + 7) as u8).collect();
            let mut points = cuts.clone();
            points.extend([0, 200]);
            points.sort_unstable();
            points.dedup();
            let mut pieces: Vec<(usize, usize)> = points.windows(2).map(|w| (w[0], w[1])).collect();
            pieces.sort_by_key(|p| order.get(p.0 % 12).copied().unwrap_or(0));
            if let Some(&first) = pieces.first() {
                pieces.push(first); // a retransmission of the same bytes
            }
            let mut flash: SimFlash = SimFlash::anonymous(4096).unwrap();
            let addr = 100 + base;
            for (s, e) in pieces {
                write_unaligned(&mut flash, addr + s as u64, &data[s..e]).unwrap();
            }
            let mut all = vec![0u8; 4096];
            flash.read(0, &mut all).unwrap();
            let a = addr as usize;
            prop_assert_eq!(&all[a..a + 200], &data[..]);
            prop_assert!(all[..a].iter().all(|b| *b == 0xFF));
            prop_assert!(all[a + 200..].iter().all(|b| *b == 0xFF));
        }
    }
}
