//! The original (pre-segwit) signature hash, for all sighash types, including the historical
//! `SIGHASH_SINGLE` quirk (an input without a matching output signs the value 1).
//!
//! OP_CODESEPARATORs are removed from the scriptCode as Bitcoin Core's serializer does. The
//! interpreter's FindAndDelete of the signature itself is not applied: it only matters for scripts
//! that contain their own signatures, which no wallet here produces. The signer uses this only to
//! reproduce the BIP-174 vector's P2SH input; registered wallets are segwit.

use super::{
    SIGHASH_ANYONECANPAY, SIGHASH_NONE, SIGHASH_SINGLE, SighashError, TxData, put_outpoint,
    put_txout,
};
use crate::encode::Sink;
use crate::hash::Sha256Sink;

/// Writes `script` without its OP_CODESEPARATOR opcodes (pushes are copied whole).
fn put_script_code(h: &mut Sha256Sink, script: &[u8]) {
    // First pass: length after removal; second: the bytes. Malformed trailing pushes are copied
    // verbatim, as Core does.
    let mut len = 0u64;
    walk(script, |chunk, is_sep| {
        if !is_sep {
            len += chunk.len() as u64;
        }
    });
    let _ = h.put_compact_size(len);
    walk(script, |chunk, is_sep| {
        if !is_sep {
            h.update(chunk);
        }
    });
}

fn walk(script: &[u8], mut f: impl FnMut(&[u8], bool)) {
    let mut i = 0usize;
    while i < script.len() {
        let op = script[i];
        let data_len = match op {
            0x01..=0x4b => Some(usize::from(op)),
            0x4c => script.get(i + 1).map(|&b| 1 + usize::from(b)),
            0x4d => script
                .get(i + 1..i + 3)
                .map(|b| 2 + usize::from(u16::from_le_bytes([b[0], b[1]]))),
            0x4e => script
                .get(i + 1..i + 5)
                .map(|b| 4 + u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize),
            _ => Some(0),
        };
        let end = match data_len {
            Some(n) => i.saturating_add(1).saturating_add(n).min(script.len()),
            None => script.len(),
        };
        f(&script[i..end], op == 0xab);
        i = end;
    }
}

/// The legacy signature hash of input `index` spending an output locked by `script_code`.
pub fn sighash<T: TxData>(
    tx: &T,
    index: usize,
    script_code: &[u8],
    sighash_type: u32,
) -> Result<[u8; 32], SighashError> {
    let n_in = tx.input_count();
    if index >= n_in {
        return Err(SighashError::InputIndexOutOfRange);
    }
    let base = sighash_type & 0x1f;
    let anyone_can_pay = sighash_type & SIGHASH_ANYONECANPAY != 0;
    if base == SIGHASH_SINGLE && index >= tx.output_count() {
        let mut one = [0u8; 32];
        one[0] = 1;
        return Ok(one);
    }
    let mut h = Sha256Sink::new();
    h.update(&tx.version().to_le_bytes());
    let _ = h.put_compact_size(if anyone_can_pay { 1 } else { n_in as u64 });
    for (i, (outpoint, sequence)) in tx.inputs().enumerate() {
        if anyone_can_pay && i != index {
            continue;
        }
        put_outpoint(&mut h, &outpoint);
        if i == index {
            put_script_code(&mut h, script_code);
        } else {
            h.update(&[0]);
        }
        let seq = if i != index && (base == SIGHASH_SINGLE || base == SIGHASH_NONE) {
            0
        } else {
            sequence
        };
        h.update(&seq.to_le_bytes());
    }
    match base {
        SIGHASH_NONE => h.update(&[0]),
        SIGHASH_SINGLE => {
            let _ = h.put_compact_size(index as u64 + 1);
            for (i, out) in tx.outputs().enumerate().take(index + 1) {
                if i == index {
                    put_txout(&mut h, &out);
                } else {
                    // Outputs before the signed one are blanked: value -1, empty script.
                    h.update(&u64::MAX.to_le_bytes());
                    h.update(&[0]);
                }
            }
        }
        _ => {
            let _ = h.put_compact_size(tx.output_count() as u64);
            for out in tx.outputs() {
                put_txout(&mut h, &out);
            }
        }
    }
    h.update(&tx.lock_time().to_le_bytes());
    h.update(&sighash_type.to_le_bytes());
    Ok(h.finish_double())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codeseparators_are_removed_but_pushed_0xab_bytes_stay() {
        let script = [0xab, 0x02, 0xab, 0xab, 0x51, 0xab, 0x4c];
        let mut kept = [0u8; 8];
        let mut n = 0;
        walk(&script, |c, sep| {
            if !sep {
                kept[n..n + c.len()].copy_from_slice(c);
                n += c.len();
            }
        });
        assert_eq!(&kept[..n], &[0x02, 0xab, 0xab, 0x51, 0x4c]);
    }
}
