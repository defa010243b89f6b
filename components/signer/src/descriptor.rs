//! Output descriptors for the multisig wallets the node registers: `wsh(sortedmulti(k, ...))` and
//! `sh(wsh(sortedmulti(k, ...)))`, each key written `[fingerprint/origin/path]xpub/<0;1>/*`
//! (BIP-380 key origins, BIP-389 receive/change multipath), with the BIP-380 checksum.
//!
//! The grammar accepted is exactly that and nothing more: a descriptor the node did not expect is
//! an error, never a best guess. Every key must carry its origin (the signer matches PSBT
//! derivations against it). Parsing works on the borrowed text and fixed arrays; no allocation.

use crate::bip32::{self, Bip32Error, DerivationPath, Fingerprint, Xpub};
use crate::script::MAX_MULTISIG_KEYS;

/// Why a descriptor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DescriptorError {
    /// The `#checksum` does not match (or is not 8 characters of the checksum alphabet).
    #[error("descriptor checksum mismatch")]
    BadChecksum,
    /// A character outside the descriptor character set.
    #[error("invalid character in descriptor")]
    InvalidCharacter,
    /// Not `wsh(sortedmulti(...))` or `sh(wsh(sortedmulti(...)))`.
    #[error("unsupported descriptor (expected wsh(sortedmulti(...)) or sh(wsh(sortedmulti(...))))")]
    Unsupported,
    /// The threshold is not a number in 1..=n.
    #[error("invalid multisig threshold")]
    BadThreshold,
    /// More than 15 keys, or fewer than 1.
    #[error("invalid number of keys")]
    BadKeyCount,
    /// A key without `[fingerprint/path]` origin.
    #[error("key without origin")]
    MissingOrigin,
    /// A malformed origin (fingerprint not 8 hex digits, bad path).
    #[error("invalid key origin")]
    BadOrigin,
    /// The key does not end in `/<0;1>/*`.
    #[error("key must end in /<0;1>/*")]
    BadKeySuffix,
    /// The extended key does not decode.
    #[error("extended key: {0}")]
    Key(Bip32Error),
    /// The same xpub appears twice.
    #[error("duplicate key")]
    DuplicateKey,
}

/// `sh(wsh(...))` or `wsh(...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptType {
    /// Native P2WSH.
    Wsh,
    /// P2SH-wrapped P2WSH.
    ShWsh,
}

/// One key of a descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorKey {
    /// Master key fingerprint from the origin.
    pub fingerprint: Fingerprint,
    /// Origin path (master to the xpub).
    pub origin: DerivationPath,
    /// The account-level extended public key.
    pub xpub: Xpub,
}

/// A parsed multisig descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// Native or nested.
    pub script_type: ScriptType,
    /// Signatures required.
    pub threshold: usize,
    /// The keys, in descriptor order.
    pub keys: heapless::Vec<DescriptorKey, MAX_MULTISIG_KEYS>,
}

const INPUT_CHARSET: &[u8] =
    b"0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ";
const CHECKSUM_CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn polymod(c: u64, val: u64) -> u64 {
    let c0 = c >> 35;
    let mut c = ((c & 0x7_ffff_ffff) << 5) ^ val;
    for (bit, k) in [
        0xf5dee51989u64,
        0xa9fdca3312,
        0x1bab10e32d,
        0x3706b1677a,
        0x644d626ffd,
    ]
    .iter()
    .enumerate()
    {
        if c0 & (1 << bit) != 0 {
            c ^= k;
        }
    }
    c
}

/// The BIP-380 checksum of a descriptor body (text without `#...`).
pub fn checksum(body: &str) -> Result<[u8; 8], DescriptorError> {
    let mut c = 1u64;
    let mut cls = 0u64;
    let mut clscount = 0;
    for ch in body.bytes() {
        let pos = INPUT_CHARSET
            .iter()
            .position(|&x| x == ch)
            .ok_or(DescriptorError::InvalidCharacter)? as u64;
        c = polymod(c, pos & 31);
        cls = cls * 3 + (pos >> 5);
        clscount += 1;
        if clscount == 3 {
            c = polymod(c, cls);
            cls = 0;
            clscount = 0;
        }
    }
    if clscount > 0 {
        c = polymod(c, cls);
    }
    for _ in 0..8 {
        c = polymod(c, 0);
    }
    c ^= 1;
    let mut out = [0u8; 8];
    for (j, o) in out.iter_mut().enumerate() {
        *o = CHECKSUM_CHARSET[((c >> (5 * (7 - j))) & 31) as usize];
    }
    Ok(out)
}

fn parse_fingerprint(hex: &str) -> Result<Fingerprint, DescriptorError> {
    crate::hexfmt::decode_array::<4>(hex).ok_or(DescriptorError::BadOrigin)
}

fn parse_key(text: &str) -> Result<DescriptorKey, DescriptorError> {
    let rest = text
        .strip_prefix('[')
        .ok_or(DescriptorError::MissingOrigin)?;
    let (origin, key) = rest.split_once(']').ok_or(DescriptorError::BadOrigin)?;
    let (fp, path) = match origin.split_once('/') {
        Some((fp, path)) => (fp, path),
        None => (origin, ""),
    };
    let fingerprint = parse_fingerprint(fp)?;
    let mut origin = DerivationPath::master();
    if !path.is_empty() {
        for step in path.split('/') {
            origin
                .push(bip32::parse_step(step).map_err(|_| DescriptorError::BadOrigin)?)
                .map_err(|_| DescriptorError::BadOrigin)?;
        }
    }
    let xpub_text = key
        .strip_suffix("/<0;1>/*")
        .ok_or(DescriptorError::BadKeySuffix)?;
    let xpub = Xpub::decode(xpub_text).map_err(DescriptorError::Key)?;
    Ok(DescriptorKey {
        fingerprint,
        origin,
        xpub,
    })
}

impl Descriptor {
    /// Parses descriptor text; a `#checksum` suffix, if present, must be right.
    pub fn parse(text: &str) -> Result<Self, DescriptorError> {
        let body = match text.split_once('#') {
            Some((body, sum)) => {
                if checksum(body)?[..] != *sum.as_bytes() {
                    return Err(DescriptorError::BadChecksum);
                }
                body
            }
            None => {
                checksum(text)?;
                text
            }
        };
        let (script_type, inner) = if let Some(r) = body.strip_prefix("sh(wsh(sortedmulti(") {
            (
                ScriptType::ShWsh,
                r.strip_suffix(")))").ok_or(DescriptorError::Unsupported)?,
            )
        } else if let Some(r) = body.strip_prefix("wsh(sortedmulti(") {
            (
                ScriptType::Wsh,
                r.strip_suffix("))").ok_or(DescriptorError::Unsupported)?,
            )
        } else {
            return Err(DescriptorError::Unsupported);
        };
        if inner.contains('(') || inner.contains(')') {
            return Err(DescriptorError::Unsupported);
        }
        let mut parts = inner.split(',');
        let k = parts.next().ok_or(DescriptorError::BadThreshold)?;
        if k.is_empty() || k.len() > 2 || !k.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DescriptorError::BadThreshold);
        }
        let threshold: usize = k.parse().map_err(|_| DescriptorError::BadThreshold)?;
        let mut keys: heapless::Vec<DescriptorKey, MAX_MULTISIG_KEYS> = heapless::Vec::new();
        for part in parts {
            let key = parse_key(part)?;
            if keys
                .iter()
                .any(|k| k.xpub.public_key == key.xpub.public_key)
            {
                return Err(DescriptorError::DuplicateKey);
            }
            keys.push(key).map_err(|_| DescriptorError::BadKeyCount)?;
        }
        if keys.is_empty() {
            return Err(DescriptorError::BadKeyCount);
        }
        if threshold == 0 || threshold > keys.len() {
            return Err(DescriptorError::BadThreshold);
        }
        Ok(Self {
            script_type,
            threshold,
            keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_origin_fingerprints_are_strict_hex() {
        assert_eq!(parse_fingerprint("d34DB33f"), Ok([0xd3, 0x4d, 0xb3, 0x3f]));
        // "+f" read as 0x0f by `from_str_radix`; odd length; non-hex; whitespace; too short/long.
        for bad in [
            "+fd34db3",
            "d34db3+f",
            "d34db33",
            "d34db33g",
            " d34db33",
            "d34 db33",
            "",
            "d34db33f00",
        ] {
            assert_eq!(
                parse_fingerprint(bad),
                Err(DescriptorError::BadOrigin),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bip380_checksum_examples() {
        // The examples given in BIP-380's text.
        assert_eq!(&checksum("raw(deadbeef)").expect("sum"), b"89f8spxm");
        assert_eq!(
            checksum("raw(deadbeef)\u{e9}").err(),
            Some(DescriptorError::InvalidCharacter)
        );
    }
}
