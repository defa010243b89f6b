//! Batch certificates: a ground server's signed statement "these PSBTs, in this order, are mine,
//! with this sequence number, valid until this mission time".
//!
//! # Byte format (version 1)
//!
//! All integers big-endian.
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `SNBC` |
//! | 4 | 1 | version, `1` |
//! | 5 | 4 | server id |
//! | 9 | 8 | key id: first 8 bytes of SHA3-256 of the server's compressed SEC1 P-256 public key |
//! | 17 | 8 | sequence number (strictly increasing per server) |
//! | 25 | 8 | expiry, mission time in milliseconds (the certificate is valid while `now <= expiry`); [`NO_EXPIRY`] (all ones) for none |
//! | 33 | 2 | n, number of PSBTs, `1..=MAX_PSBTS` |
//! | 35 | 32·n | SHA3-256 of each PSBT, in batch order |
//! | 35+32·n | 64 | signature `r ‖ s`: P-256 ECDSA over SHA3-256 of bytes `0 .. 35+32·n` |
//!
//! Total length is exactly `99 + 32·n`; anything else is malformed.
//!
//! # Checks and error codes
//!
//! [`verify`] checks, in this order, each failure with its own [`CertError`] and wire code
//! ([`CertError::code`]): malformed (1), unknown server (2), revoked server (3), key/id mismatch
//! (4), bad signature (5), replayed or old sequence (6), expired (7), count mismatch (8), PSBT
//! hash mismatch (9), sequence more than [`MAX_SEQUENCE_STEP`] above the last accepted one (12,
//! checked right after 6). The signature is checked before anything the sender chose freely
//! (sequence, expiry, batch contents) is trusted.
//!
//! The expiry check (7) is on mission time ([`crate::clock`]) and has two more refusals: a
//! certificate without expiry from a server whose registry entry does not say `no-expiry` (10),
//! and a certificate with an expiry while the node has no mission time yet, never having been
//! correlated by the ground (11).

use crate::hash::sha3_256;
use crate::p256sig::{self, Digest};

/// Magic bytes.
pub const MAGIC: [u8; 4] = *b"SNBC";
/// Format version.
pub const VERSION: u8 = 1;
/// Most PSBTs one certificate may cover (a certificate is then 32,867 bytes). Batches are
/// processed one PSBT per step ([`crate::batch`]), so memory does not grow with this limit.
pub const MAX_PSBTS: usize = 1024;
/// Header length (before the hashes).
pub const HEADER_LEN: usize = 35;
/// Signature length.
pub const SIG_LEN: usize = 64;
/// The expiry field of a certificate that never expires (accepted only from a server whose
/// registry entry allows it).
pub const NO_EXPIRY: u64 = u64::MAX;
/// Largest step a server's certificate sequence may take over its last accepted one (over 0
/// for its first batch). Without a bound one certificate at `u64::MAX` would leave the server
/// no sequence to use ever again (issue 13 finding 5, as for admin counters); grounds skip
/// sequences (a batch that never reached the node), so the next value exactly would be too
/// strict. 2^20 keeps 2^44 batches available whatever the certificates say.
pub const MAX_SEQUENCE_STEP: u64 = 1 << 20;

/// Why a certificate was rejected; each has its own wire code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// Wrong length, magic, version or count field.
    #[error("malformed certificate")]
    Malformed,
    /// No server with this id is registered.
    #[error("unknown server")]
    UnknownServer,
    /// The server was revoked.
    #[error("revoked server")]
    RevokedServer,
    /// The key id does not name the registered key of this server.
    #[error("key id does not match the server's key")]
    KeyIdMismatch,
    /// The signature does not verify under the server's key.
    #[error("bad signature")]
    BadSignature,
    /// The sequence number is not above the last accepted one.
    #[error("replayed or old sequence number")]
    ReplayedSequence,
    /// Past its expiry.
    #[error("certificate expired")]
    Expired,
    /// The batch has a different number of PSBTs.
    #[error("PSBT count mismatch")]
    CountMismatch,
    /// PSBT `index` does not hash to the certified value.
    #[error("PSBT {0} hash mismatch")]
    PsbtHashMismatch(usize),
    /// No expiry, and the server's registry entry does not allow that.
    #[error("certificate without expiry, and the server's registry entry does not allow that")]
    NoExpiryRefused,
    /// An expiry, and the node has no mission time (never correlated by the ground).
    #[error(
        "the node has no mission time yet (no time correlation from the ground), so it cannot check the expiry"
    )]
    NoMissionTime,
    /// The sequence number is more than [`MAX_SEQUENCE_STEP`] above the last accepted one.
    #[error("sequence number jumps more than {MAX_SEQUENCE_STEP} above the last accepted one")]
    SequenceJump,
}

impl CertError {
    /// The code sent back to the ground.
    pub fn code(&self) -> u8 {
        match self {
            CertError::Malformed => 1,
            CertError::UnknownServer => 2,
            CertError::RevokedServer => 3,
            CertError::KeyIdMismatch => 4,
            CertError::BadSignature => 5,
            CertError::ReplayedSequence => 6,
            CertError::Expired => 7,
            CertError::CountMismatch => 8,
            CertError::PsbtHashMismatch(_) => 9,
            CertError::NoExpiryRefused => 10,
            CertError::NoMissionTime => 11,
            CertError::SequenceJump => 12,
        }
    }
}

/// A structurally valid (not yet verified) certificate, borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Certificate<'a> {
    /// Server id.
    pub server_id: u32,
    /// Key id.
    pub key_id: [u8; 8],
    /// Sequence number.
    pub sequence: u64,
    /// Expiry (mission time, ms).
    pub expiry: u64,
    hashes: &'a [u8],
    signed: &'a [u8],
    signature: [u8; 64],
}

fn be<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], CertError> {
    b.get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or(CertError::Malformed)
}

impl<'a> Certificate<'a> {
    /// Parses the byte format; only structure is checked.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, CertError> {
        if bytes.get(..4) != Some(&MAGIC[..]) || bytes.get(4) != Some(&VERSION) {
            return Err(CertError::Malformed);
        }
        let count = usize::from(u16::from_be_bytes(be(bytes, 33)?));
        if count == 0 || count > MAX_PSBTS || bytes.len() != HEADER_LEN + 32 * count + SIG_LEN {
            return Err(CertError::Malformed);
        }
        let signed_len = HEADER_LEN + 32 * count;
        Ok(Self {
            server_id: u32::from_be_bytes(be(bytes, 5)?),
            key_id: be(bytes, 9)?,
            sequence: u64::from_be_bytes(be(bytes, 17)?),
            expiry: u64::from_be_bytes(be(bytes, 25)?),
            hashes: bytes
                .get(HEADER_LEN..signed_len)
                .ok_or(CertError::Malformed)?,
            signed: bytes.get(..signed_len).ok_or(CertError::Malformed)?,
            signature: be(bytes, signed_len)?,
        })
    }

    /// Number of PSBTs certified.
    pub fn count(&self) -> usize {
        self.hashes.len() / 32
    }

    /// The certified SHA3-256 of PSBT `index`.
    pub fn psbt_hash(&self, index: usize) -> Option<&'a [u8]> {
        self.hashes.get(index * 32..index * 32 + 32)
    }

    /// SHA3-256 of the whole signed part (an identifier for receipts and resubmission checks).
    pub fn digest(&self) -> [u8; 32] {
        sha3_256(self.signed)
    }
}

/// What the registry knows about a server, as [`verify`] needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerView {
    /// Compressed SEC1 P-256 public key.
    pub public_key: [u8; 33],
    /// Revoked servers are refused.
    pub revoked: bool,
    /// Last accepted sequence number, if any.
    pub last_sequence: Option<u64>,
    /// The registry allows certificates without expiry ([`NO_EXPIRY`]) from this server.
    pub no_expiry: bool,
}

/// The key id of a compressed P-256 public key.
pub fn key_id(public_key: &[u8; 33]) -> [u8; 8] {
    let h = sha3_256(public_key);
    let mut id = [0u8; 8];
    id.copy_from_slice(&h[..8]);
    id
}

/// Checks 1-7 of [`verify`] (everything but the PSBTs themselves): structure, server, key id,
/// signature, sequence, expiry. The batch state machine checks the count and each PSBT's hash
/// as it walks the batch, one PSBT per step. `now` is mission time in ms, `None` when the node
/// has none ([`crate::clock::MissionClock::mission_ms`]).
pub fn verify_header<'a>(
    bytes: &'a [u8],
    lookup: impl FnOnce(u32) -> Option<ServerView>,
    now: Option<u64>,
) -> Result<Certificate<'a>, CertError> {
    let cert = Certificate::parse(bytes)?;
    let server = lookup(cert.server_id).ok_or(CertError::UnknownServer)?;
    if server.revoked {
        return Err(CertError::RevokedServer);
    }
    if key_id(&server.public_key) != cert.key_id {
        return Err(CertError::KeyIdMismatch);
    }
    p256sig::verify(
        &server.public_key,
        cert.signed,
        &cert.signature,
        Digest::Sha3_256,
    )
    .map_err(|_| CertError::BadSignature)?;
    if server
        .last_sequence
        .is_some_and(|last| cert.sequence <= last)
    {
        return Err(CertError::ReplayedSequence);
    }
    if cert.sequence - server.last_sequence.unwrap_or(0) > MAX_SEQUENCE_STEP {
        return Err(CertError::SequenceJump);
    }
    match (cert.expiry, now) {
        (NO_EXPIRY, _) if !server.no_expiry => Err(CertError::NoExpiryRefused),
        (NO_EXPIRY, _) => Ok(cert),
        (_, None) => Err(CertError::NoMissionTime),
        (expiry, Some(now)) if now > expiry => Err(CertError::Expired),
        _ => Ok(cert),
    }
}

/// Verifies a certificate against the server registry entry, the mission clock and the batch.
///
/// `lookup` maps a server id to its entry. Exact resubmission of an already accepted batch is a
/// batch-layer decision (compare [`Certificate::digest`] with the stored one before calling):
/// here a sequence number not above `last_sequence` is always [`CertError::ReplayedSequence`].
pub fn verify<'a>(
    bytes: &'a [u8],
    lookup: impl FnOnce(u32) -> Option<ServerView>,
    now: Option<u64>,
    psbts: &[&[u8]],
) -> Result<Certificate<'a>, CertError> {
    let cert = verify_header(bytes, lookup, now)?;
    if psbts.len() != cert.count() {
        return Err(CertError::CountMismatch);
    }
    for (i, p) in psbts.iter().enumerate() {
        if cert.psbt_hash(i) != Some(&sha3_256(p)[..]) {
            return Err(CertError::PsbtHashMismatch(i));
        }
    }
    Ok(cert)
}

/// Builds and signs a certificate into `out` (ground-side tooling and tests), returning its length.
pub fn build(
    out: &mut [u8],
    secret: &p256::SecretKey,
    server_id: u32,
    sequence: u64,
    expiry: u64,
    psbts: &[&[u8]],
) -> Result<usize, CertError> {
    let n = psbts.len();
    if n == 0 || n > MAX_PSBTS {
        return Err(CertError::Malformed);
    }
    let signed_len = HEADER_LEN + 32 * n;
    let total = signed_len + SIG_LEN;
    let buf = out.get_mut(..total).ok_or(CertError::Malformed)?;
    buf[..4].copy_from_slice(&MAGIC);
    buf[4] = VERSION;
    buf[5..9].copy_from_slice(&server_id.to_be_bytes());
    buf[9..17].copy_from_slice(&key_id(&p256sig::compress(&secret.public_key())));
    buf[17..25].copy_from_slice(&sequence.to_be_bytes());
    buf[25..33].copy_from_slice(&expiry.to_be_bytes());
    buf[33..35].copy_from_slice(&(n as u16).to_be_bytes());
    for (i, p) in psbts.iter().enumerate() {
        buf[HEADER_LEN + 32 * i..HEADER_LEN + 32 * (i + 1)].copy_from_slice(&sha3_256(p));
    }
    let sig = p256sig::sign(secret, &buf[..signed_len], Digest::Sha3_256)
        .map_err(|_| CertError::Malformed)?;
    buf[signed_len..total].copy_from_slice(&sig);
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> p256::SecretKey {
        p256::SecretKey::from_slice(&[b; 32]).expect("key")
    }

    fn view(k: &p256::SecretKey) -> ServerView {
        ServerView {
            public_key: p256sig::compress(&k.public_key()),
            revoked: false,
            last_sequence: Some(9),
            no_expiry: false,
        }
    }

    #[test]
    fn accepts_a_good_certificate_and_rejects_each_fault_with_its_code() {
        let k = key(7);
        let psbts: [&[u8]; 2] = [b"psbt-one", b"psbt-two"];
        let mut buf = [0u8; 256];
        let n = build(&mut buf, &k, 42, 10, 1_000, &psbts).expect("build");
        let bytes = &buf[..n];
        let ok = verify(
            bytes,
            |id| (id == 42).then(|| view(&k)),
            Some(1_000),
            &psbts,
        )
        .expect("valid");
        assert_eq!((ok.server_id, ok.sequence, ok.count()), (42, 10, 2));

        let check = |bytes: &[u8], v: Option<ServerView>, now: u64, p: &[&[u8]]| {
            verify(bytes, |_| v, Some(now), p).err()
        };
        assert_eq!(
            check(&bytes[..n - 1], Some(view(&k)), 0, &psbts),
            Some(CertError::Malformed)
        );
        assert_eq!(
            check(bytes, None, 0, &psbts),
            Some(CertError::UnknownServer)
        );
        let revoked = ServerView {
            revoked: true,
            ..view(&k)
        };
        assert_eq!(
            check(bytes, Some(revoked), 0, &psbts),
            Some(CertError::RevokedServer)
        );
        assert_eq!(
            check(bytes, Some(view(&key(8))), 0, &psbts),
            Some(CertError::KeyIdMismatch)
        );
        let mut tampered = [0u8; 256];
        tampered[..n].copy_from_slice(bytes);
        tampered[20] ^= 1; // sequence byte
        assert_eq!(
            check(&tampered[..n], Some(view(&k)), 0, &psbts),
            Some(CertError::BadSignature)
        );
        let replay = ServerView {
            last_sequence: Some(10),
            ..view(&k)
        };
        assert_eq!(
            check(bytes, Some(replay), 0, &psbts),
            Some(CertError::ReplayedSequence)
        );
        assert_eq!(
            check(bytes, Some(view(&k)), 1_001, &psbts),
            Some(CertError::Expired)
        );
        assert_eq!(
            verify(bytes, |_| Some(view(&k)), None, &psbts).err(),
            Some(CertError::NoMissionTime)
        );
        let n2 = build(&mut buf, &k, 42, 10, NO_EXPIRY, &psbts).expect("build");
        let forever = &buf[..n2];
        assert_eq!(
            verify(forever, |_| Some(view(&k)), None, &psbts).err(),
            Some(CertError::NoExpiryRefused)
        );
        let allowed = ServerView {
            no_expiry: true,
            ..view(&k)
        };
        assert!(verify(forever, |_| Some(allowed), None, &psbts).is_ok());
        assert!(verify(forever, |_| Some(allowed), Some(u64::MAX - 1), &psbts).is_ok());
        let n = build(&mut buf, &k, 42, 10, 1_000, &psbts).expect("build");
        let bytes = &buf[..n];
        assert_eq!(
            check(bytes, Some(view(&k)), 0, &psbts[..1]),
            Some(CertError::CountMismatch)
        );
        assert_eq!(
            check(bytes, Some(view(&k)), 0, &[b"psbt-one", b"psbt-2wo"]),
            Some(CertError::PsbtHashMismatch(1))
        );
        let codes = [
            CertError::Malformed,
            CertError::UnknownServer,
            CertError::RevokedServer,
            CertError::KeyIdMismatch,
            CertError::BadSignature,
            CertError::ReplayedSequence,
            CertError::Expired,
            CertError::CountMismatch,
            CertError::PsbtHashMismatch(0),
            CertError::NoExpiryRefused,
            CertError::NoMissionTime,
            CertError::SequenceJump,
        ]
        .map(|e| e.code());
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn a_sequence_may_step_at_most_max_sequence_step_above_the_last() {
        let k = key(5);
        let psbts: [&[u8]; 1] = [b"p"];
        let at = |sequence: u64, last: Option<u64>| {
            let mut buf = [0u8; 256];
            let n = build(&mut buf, &k, 42, sequence, 1_000, &psbts).expect("build");
            let v = ServerView {
                last_sequence: last,
                ..view(&k)
            };
            verify(&buf[..n], |_| Some(v), Some(0), &psbts).err()
        };
        // u64::MAX would leave the server no sequence ever again: refused, first batch or not.
        assert_eq!(at(u64::MAX, None), Some(CertError::SequenceJump));
        assert_eq!(at(u64::MAX, Some(7)), Some(CertError::SequenceJump));
        assert_eq!(
            at(7 + MAX_SEQUENCE_STEP + 1, Some(7)),
            Some(CertError::SequenceJump)
        );
        assert_eq!(
            at(MAX_SEQUENCE_STEP + 1, None),
            Some(CertError::SequenceJump)
        );
        assert_eq!(at(7 + MAX_SEQUENCE_STEP, Some(7)), None);
        assert_eq!(at(MAX_SEQUENCE_STEP, None), None);
        assert_eq!(at(7, Some(7)), Some(CertError::ReplayedSequence));
    }

    #[test]
    fn truncations_and_bad_headers_are_malformed() {
        let k = key(3);
        let mut buf = [0u8; 256];
        let n = build(&mut buf, &k, 1, 1, 1, &[b"x"]).expect("build");
        for cut in 0..n {
            assert_eq!(
                Certificate::parse(&buf[..cut]).err(),
                Some(CertError::Malformed)
            );
        }
        let mut bad = buf;
        bad[4] = 2;
        assert_eq!(
            Certificate::parse(&bad[..n]).err(),
            Some(CertError::Malformed)
        );
        let mut zero = buf;
        zero[33..35].copy_from_slice(&[0, 0]);
        assert_eq!(
            Certificate::parse(&zero[..n]).err(),
            Some(CertError::Malformed)
        );
    }
}
