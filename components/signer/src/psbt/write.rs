//! Re-serialisation: every original pair copied unchanged and in order, plus new partial
//! signatures inserted into their input maps (before the first pair whose key sorts after theirs,
//! which reproduces BIP-174's Signer vectors byte for byte).

use super::{MAGIC, Map, Psbt, input};
use crate::encode::{Sink, WriteError, Writer};

/// Longest partial-signature value: a 72-byte DER signature plus the sighash byte.
pub const MAX_SIG_LEN: usize = 73;

/// A partial signature to add to input `input`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSig {
    /// Index of the input.
    pub input: usize,
    /// Compressed public key the signature is for.
    pub pubkey: [u8; 33],
    /// DER signature followed by the sighash byte.
    pub sig: heapless::Vec<u8, MAX_SIG_LEN>,
}

impl NewSig {
    fn key(&self) -> [u8; 34] {
        let mut k = [0u8; 34];
        k[0] = input::PARTIAL_SIG as u8;
        k[1..].copy_from_slice(&self.pubkey);
        k
    }

    fn write<S: Sink>(&self, w: &mut S) -> Result<(), WriteError> {
        w.put_var_bytes(&self.key())?;
        w.put_var_bytes(&self.sig)
    }
}

fn write_map<S: Sink>(
    w: &mut S,
    map: Map<'_>,
    added: &[NewSig],
    index: Option<usize>,
) -> Result<(), WriteError> {
    // New signatures for this input, in key order, skipping keys the map already has.
    let mut pending: heapless::Vec<&NewSig, 16> = heapless::Vec::new();
    if let Some(i) = index {
        for s in added.iter().filter(|s| s.input == i) {
            let key = s.key();
            let present =
                map.pairs().any(|p| p.key == key) || pending.iter().any(|q| q.key() == key);
            if !present {
                pending.push(s).map_err(|_| WriteError::BufferTooSmall)?;
            }
        }
        pending.sort_unstable_by_key(|s| s.key());
    }
    let mut next = 0usize;
    for p in map.pairs() {
        while let Some(s) = pending.get(next) {
            if s.key().as_slice() < p.key {
                s.write(w)?;
                next += 1;
            } else {
                break;
            }
        }
        w.put(p.raw)?;
    }
    for s in pending.iter().skip(next) {
        s.write(w)?;
    }
    w.put(&[0x00])
}

impl Psbt<'_> {
    /// Writes this PSBT into `out` with `added` partial signatures inserted, returning the length.
    /// With no additions the output equals the parsed bytes exactly.
    pub fn write(&self, added: &[NewSig], out: &mut [u8]) -> Result<usize, WriteError> {
        let mut w = Writer::new(out);
        w.put(&MAGIC)?;
        write_map(&mut w, self.global(), &[], None)?;
        for (i, inp) in self.inputs().iter().enumerate() {
            write_map(&mut w, inp.map, added, Some(i))?;
        }
        for o in self.outputs() {
            write_map(&mut w, o.map, &[], None)?;
        }
        Ok(w.len())
    }
}
