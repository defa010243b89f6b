//! Script helpers for the multisig wallets the signer co-signs: building and recognising
//! `k-of-n CHECKMULTISIG` scripts (with BIP-67 sorted keys for `sortedmulti`), and the P2WSH,
//! P2SH and P2SH-P2WSH locking scripts that wrap them.
//!
//! Scripts are built into fixed [`ScriptBuf`]s bounded by the 520-byte push limit; only compressed
//! keys are accepted (segwit policy). No interpreter: the signer never executes scripts, it only
//! compares them byte for byte with what the registered wallet derives.

use crate::hash::{hash160, sha256};

/// Maximum script element size (and so the largest witness script we build or accept).
pub const MAX_SCRIPT_ELEMENT: usize = 520;
/// Largest number of keys a CHECKMULTISIG script built here can hold.
pub const MAX_MULTISIG_KEYS: usize = 15;

/// A script in a fixed buffer.
pub type ScriptBuf = heapless::Vec<u8, MAX_SCRIPT_ELEMENT>;

/// A compressed secp256k1 public key in SEC1 form.
pub type CompressedKey = [u8; 33];

/// OP_CHECKMULTISIG.
pub const OP_CHECKMULTISIG: u8 = 0xae;

/// Why a multisig script could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// The threshold is zero or larger than the number of keys, or there are more than 15 keys.
    #[error("invalid multisig threshold or key count")]
    BadThreshold,
}

fn small_int_op(n: usize) -> Option<u8> {
    match n {
        1..=16 => Some(0x50 + n as u8),
        _ => None,
    }
}

/// Builds `OP_k <key>... OP_n OP_CHECKMULTISIG` with the keys in the order given.
pub fn multisig(k: usize, keys: &[CompressedKey]) -> Result<ScriptBuf, ScriptError> {
    if k == 0 || k > keys.len() || keys.len() > MAX_MULTISIG_KEYS {
        return Err(ScriptError::BadThreshold);
    }
    let mut s = ScriptBuf::new();
    let push = |s: &mut ScriptBuf, b: &[u8]| {
        s.extend_from_slice(b)
            .map_err(|_| ScriptError::BadThreshold)
    };
    push(&mut s, &[small_int_op(k).ok_or(ScriptError::BadThreshold)?])?;
    for key in keys {
        push(&mut s, &[33])?;
        push(&mut s, key)?;
    }
    push(
        &mut s,
        &[
            small_int_op(keys.len()).ok_or(ScriptError::BadThreshold)?,
            OP_CHECKMULTISIG,
        ],
    )?;
    Ok(s)
}

/// Builds a `sortedmulti` script: the keys sorted lexicographically (BIP-67) first.
pub fn sorted_multisig(k: usize, keys: &[CompressedKey]) -> Result<ScriptBuf, ScriptError> {
    let mut sorted: heapless::Vec<CompressedKey, MAX_MULTISIG_KEYS> = heapless::Vec::new();
    sorted
        .extend_from_slice(keys)
        .map_err(|_| ScriptError::BadThreshold)?;
    sorted.sort_unstable();
    multisig(k, &sorted)
}

/// A recognised `k-of-n CHECKMULTISIG` script with compressed keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multisig {
    /// Signatures required.
    pub threshold: usize,
    /// Keys in script order.
    pub keys: heapless::Vec<CompressedKey, MAX_MULTISIG_KEYS>,
}

/// Recognises a bare multisig script with compressed keys; anything else gives `None`.
pub fn parse_multisig(script: &[u8]) -> Option<Multisig> {
    let (&first, rest) = script.split_first()?;
    let threshold = usize::from(first.checked_sub(0x50)?);
    let (&last, rest) = rest.split_last()?;
    if last != OP_CHECKMULTISIG {
        return None;
    }
    let (&n_op, mut body) = rest.split_last()?;
    let n = usize::from(n_op.checked_sub(0x50)?);
    if !(1..=MAX_MULTISIG_KEYS).contains(&n) || threshold == 0 || threshold > n {
        return None;
    }
    let mut keys = heapless::Vec::new();
    while let Some((&len, after)) = body.split_first() {
        if len != 33 {
            return None;
        }
        let key: CompressedKey = after.get(..33)?.try_into().ok()?;
        if key[0] != 2 && key[0] != 3 {
            return None;
        }
        keys.push(key).ok()?;
        body = after.get(33..)?;
    }
    (keys.len() == n).then_some(Multisig { threshold, keys })
}

/// `OP_0 <sha256(witness_script)>`: the P2WSH locking script.
pub fn p2wsh(witness_script: &[u8]) -> [u8; 34] {
    let mut out = [0u8; 34];
    out[0] = 0x00;
    out[1] = 0x20;
    out[2..].copy_from_slice(&sha256(witness_script));
    out
}

/// `OP_HASH160 <hash160(redeem_script)> OP_EQUAL`: the P2SH locking script.
pub fn p2sh(redeem_script: &[u8]) -> [u8; 23] {
    let mut out = [0u8; 23];
    out[0] = 0xa9;
    out[1] = 0x14;
    out[2..22].copy_from_slice(&hash160(redeem_script));
    out[22] = 0x87;
    out
}

/// The P2SH-P2WSH locking script of a witness script (`p2sh(p2wsh(ws))`).
pub fn p2sh_p2wsh(witness_script: &[u8]) -> [u8; 23] {
    p2sh(&p2wsh(witness_script))
}

/// The BIP-143 scriptCode of a P2WPKH program: `OP_DUP OP_HASH160 <pkh> OP_EQUALVERIFY OP_CHECKSIG`.
pub fn p2wpkh_script_code(pubkey_hash: &[u8; 20]) -> [u8; 25] {
    let mut out = [0u8; 25];
    out[..3].copy_from_slice(&[0x76, 0xa9, 0x14]);
    out[3..23].copy_from_slice(pubkey_hash);
    out[23..].copy_from_slice(&[0x88, 0xac]);
    out
}

/// True for a P2WSH locking script.
pub fn is_p2wsh(spk: &[u8]) -> bool {
    spk.len() == 34 && spk[0] == 0x00 && spk[1] == 0x20
}

/// True for a P2WPKH locking script.
pub fn is_p2wpkh(spk: &[u8]) -> bool {
    spk.len() == 22 && spk[0] == 0x00 && spk[1] == 0x14
}

/// True for a P2SH locking script.
pub fn is_p2sh(spk: &[u8]) -> bool {
    spk.len() == 23 && spk[0] == 0xa9 && spk[1] == 0x14 && spk[22] == 0x87
}

/// True for a segwit v1 (taproot) locking script.
pub fn is_p2tr(spk: &[u8]) -> bool {
    spk.len() == 34 && spk[0] == 0x51 && spk[1] == 0x20
}

/// True for any witness program (`OP_n <2..40 bytes>`), the test BIP-141 uses.
pub fn is_witness_program(spk: &[u8]) -> bool {
    let Some((&ver, rest)) = spk.split_first() else {
        return false;
    };
    let Some((&len, prog)) = rest.split_first() else {
        return false;
    };
    (ver == 0 || (0x51..=0x60).contains(&ver))
        && (2..=40).contains(&len)
        && prog.len() == usize::from(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> CompressedKey {
        let mut k = [b; 33];
        k[0] = 2 + (b & 1);
        k
    }

    #[test]
    fn sortedmulti_roundtrip() {
        let keys = [key(9), key(4), key(7)];
        let s = sorted_multisig(2, &keys).expect("build");
        let m = parse_multisig(&s).expect("parse");
        assert_eq!(m.threshold, 2);
        assert_eq!(m.keys.as_slice(), &[key(4), key(7), key(9)]);
        assert_eq!(s.len(), 3 + 3 * 34);
    }

    #[test]
    fn bad_multisigs_are_not_recognised() {
        assert_eq!(multisig(0, &[key(1)]), Err(ScriptError::BadThreshold));
        assert_eq!(multisig(2, &[key(1)]), Err(ScriptError::BadThreshold));
        let good = multisig(1, &[key(1), key(2)]).expect("build");
        for cut in 0..good.len() {
            assert!(parse_multisig(&good[..cut]).is_none());
        }
        let mut wrong_n = good.clone();
        let n_pos = wrong_n.len() - 2;
        wrong_n[n_pos] = 0x53;
        assert!(parse_multisig(&wrong_n).is_none());
        let mut uncompressed = good.clone();
        uncompressed[2] = 0x04;
        assert!(parse_multisig(&uncompressed).is_none());
    }

    #[test]
    fn wrappers() {
        let ws = multisig(1, &[key(1)]).expect("build");
        assert!(is_p2wsh(&p2wsh(&ws)));
        assert!(is_p2sh(&p2sh_p2wsh(&ws)));
        assert!(is_witness_program(&p2wsh(&ws)));
        assert!(!is_witness_program(&p2sh(&ws)));
    }
}
