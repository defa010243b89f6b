//! Admin commands: the only way to change the registry after provisioning. A command is a text
//! body in the registry grammar ([`crate::provision`]: `server ...` with its rules to add a
//! server, `revoke id=N`, or `policy id=N` with the new rules), wrapped in an envelope carrying a
//! replay counter and M-of-N P-256 signatures of the registry's admin keys.
//!
//! # Envelope byte format (version 1, integers big-endian)
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `SNAD` |
//! | 4 | 1 | version `1` |
//! | 5 | 8 | node id: first 8 bytes of SHA3-256 of the node's identity public key (a command for one satellite is refused by every other) |
//! | 13 | 8 | counter: above the registry's admin counter (stored with the registry), by at most [`MAX_COUNTER_STEP`] |
//! | 21 | 2 | body length `L`, `1..=MAX_BODY` |
//! | 23 | L | body, UTF-8 |
//! | 23+L | 1 | `k`, number of signatures, `1..=MAX_ADMINS` |
//! | 24+L | 65·k | each: admin index (position of the key in the registry, 1 byte), `r ‖ s` (64) |
//!
//! Each signature is P-256 ECDSA over SHA3-256 of bytes `0 .. 23+L`. Total length is exactly
//! `24 + L + 65·k`.
//!
//! # Rotating the admin set (as TUF rotates its root)
//!
//! A body of an `admin-threshold M` line followed by `admin KEY` lines replaces the admin set and
//! its threshold whole. It needs the current threshold of signatures by the **current** set
//! (indices `0..N`) **and** `M` signatures by the **new** set (index [`NEW_SET`]` + j` for the
//! new set's key `j`), so a set can never be replaced by keys that cannot sign, nor by fewer of
//! the current admins than any other command needs. The envelope counter orders rotations like
//! every command (a replayed or older rotation is refused), and after a rotation only the new
//! set signs. Old and new signatures share the envelope's [`MAX_ADMINS`] signature entries.
//!
//! # Time correlation
//!
//! A body of exactly one line `time MS` (mission time in milliseconds since the Unix epoch, the
//! ground's clock when it built the command) is a ground time correlation for the mission clock
//! ([`crate::clock`]), applied by [`crate::node::Signer::admin_at`]: the same envelope and the same
//! checks 1-7 (so a forged correlation cannot stop the clock or run it ahead), then the clock's
//! own: a value not above the last correlation is a replay (13), one below the node's current
//! mission time would run the clock backwards (14). It changes no registry and does not advance
//! the admin counter (the clock itself orders correlations); the new clock record is on flash
//! before it is used.
//!
//! Why an admin command and not PUS service 9 in comms: the clock only moves forward, so one
//! forged correlation far in the future would expire every certificate for good. It must be
//! checked by the signer's own root of trust (the admin keys), not only by the link's SDLS keys,
//! which comms holds; it still travels as an SDLS-authenticated, anti-replayed TC like every
//! admin command.
//!
//! # Checks, in order, each with its own [`AdminError`] and code
//!
//! malformed (1), wrong node (2), replayed counter (3), counter jump above [`MAX_COUNTER_STEP`]
//! (12), admin index out of range (4; a new-set index on anything but a valid rotation too), same
//! admin twice (5), a signature that does not verify (6; one bad signature refuses the command
//! even if enough others verify), fewer than the threshold (7), then the body against the
//! registry (8, with the [`crate::registry::RegistryErrorKind`]; 18 for a wallet added to a full
//! wallet table, 19 for a wallet on an account another wallet uses), too large (9), flash failure
//! (10), a rotation with fewer new-set signatures than its new threshold (11). Only when all pass
//! is the new registry written (mirrored)
//! and adopted, with its counter, so a replayed or reordered command is refused after any reboot.

use crate::cert::key_id;
use crate::clock::CorrelationError;
use crate::keys::NodeKeys;
use crate::p256sig::{self, Digest};
use crate::registry::{Command, MAX_ADMINS, Registry, RegistryError, RegistryErrorKind};

/// Signature index of the new admin set's key 0 in a rotation (key `j` is `NEW_SET + j`).
pub const NEW_SET: u8 = 0x80;
/// Magic bytes.
pub const MAGIC: [u8; 4] = *b"SNAD";
/// Version.
pub const VERSION: u8 = 1;
/// Longest body: sized so the longest envelope ([`MAX_ENVELOPE`]) fits one 4 KiB channel
/// message with room to spare (a registry entry with its rules is well under 1 KiB).
pub const MAX_BODY: usize = 3456;
const HEAD: usize = 23;
const SIG_ENTRY: usize = 65;
/// Longest envelope: header, body, signature count and [`MAX_ADMINS`] signatures (4,000 bytes).
pub const MAX_ENVELOPE: usize = HEAD + MAX_BODY + 1 + SIG_ENTRY * MAX_ADMINS;

/// Why an admin command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// Bad length, magic, version, body length, signature count, or a body that is not UTF-8.
    #[error("malformed admin command")]
    Malformed,
    /// The command names another node.
    #[error("admin command for another node")]
    WrongNode,
    /// The counter is not above the last accepted one.
    #[error("replayed or old admin counter")]
    Replayed,
    /// The counter is more than [`MAX_COUNTER_STEP`] above the last accepted one: applying it
    /// would let one command use up the counter space (at `u64::MAX` no command could ever
    /// follow, issue 13 finding 5).
    #[error("admin counter jumps more than {MAX_COUNTER_STEP} above the last accepted one")]
    CounterJump,
    /// An admin index beyond the registry's admin list.
    #[error("unknown admin index {0}")]
    UnknownAdmin(u8),
    /// The same admin signed twice.
    #[error("admin {0} signed twice")]
    DuplicateSigner(u8),
    /// A signature does not verify.
    #[error("bad signature from admin {0}")]
    BadSignature(u8),
    /// Fewer valid signatures than the threshold (or the registry has no admins).
    #[error("{got} signatures, {needed} needed")]
    NotEnoughSignatures {
        /// Signatures given.
        got: u8,
        /// Threshold.
        needed: u8,
    },
    /// The body was refused by the registry.
    #[error("command refused: {0}")]
    Refused(RegistryError),
    /// The new registry does not fit its record.
    #[error("registry would not fit its record")]
    TooLarge,
    /// The new registry could not be written; the old one stays in force.
    #[error("flash failure while storing the registry (or the clock of a time correlation)")]
    Storage,
    /// A time correlation refused by the mission clock (replayed, or backwards).
    #[error("{0}")]
    Time(#[from] CorrelationError),
    /// A ledger recovery ([`crate::recovery`]) for a signer whose ledger is not lost.
    #[error("recover-ledger refused: this signer's ledger is not lost")]
    NotRecovering,
    /// The ledger is lost: only `recover-ledger` is accepted until it is recovered.
    #[error("the ledger is lost: only recover-ledger is accepted")]
    LedgerLost,
    /// A ledger recovery that answers another boot's challenge (a replay, or a stale one).
    #[error("recover-ledger answers another boot's challenge (read the current one)")]
    WrongChallenge,
    /// A rotation without its new threshold of signatures by the new admin set.
    #[error("{got} signatures by the new admin set, {needed} needed")]
    NotEnoughNewSignatures {
        /// New-set signatures given.
        got: u8,
        /// The new threshold.
        needed: u8,
    },
}

impl AdminError {
    /// The code sent back to the ground.
    pub fn code(&self) -> u8 {
        match self {
            AdminError::Malformed => 1,
            AdminError::WrongNode => 2,
            AdminError::Replayed => 3,
            AdminError::UnknownAdmin(_) => 4,
            AdminError::DuplicateSigner(_) => 5,
            AdminError::BadSignature(_) => 6,
            AdminError::NotEnoughSignatures { .. } => 7,
            AdminError::Refused(e) => match e.kind {
                RegistryErrorKind::TooManyWallets => 18,
                RegistryErrorKind::WalletAccountInUse { .. } => 19,
                _ => 8,
            },
            AdminError::TooLarge => 9,
            AdminError::Storage => 10,
            AdminError::NotEnoughNewSignatures { .. } => 11,
            AdminError::CounterJump => 12,
            AdminError::Time(CorrelationError::Replayed { .. }) => 13,
            AdminError::Time(CorrelationError::Backwards { .. }) => 14,
            AdminError::NotRecovering => 15,
            AdminError::LedgerLost => 16,
            AdminError::WrongChallenge => 17,
        }
    }
}

/// Largest step an admin counter may take over the last accepted one. Grounds skip counters
/// (a counter is spent before the command is sent, and commands get lost), so the next value
/// exactly would be too strict; a bounded step keeps 2^64 / 2^20 = 2^44 commands available
/// whatever the commands say.
pub const MAX_COUNTER_STEP: u64 = 1 << 20;

/// The mission time (ms) of a time-correlation body (`time MS`, one line), or `None` for any
/// other body (which then goes to the registry, and a malformed `time` line is refused there).
pub fn time_body(body: &str) -> Option<u64> {
    let mut lines = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let mut words = lines.next()?.split_ascii_whitespace();
    let ms = match (words.next(), words.next(), words.next()) {
        (Some("time"), Some(ms), None) if ms.bytes().all(|b| b.is_ascii_digit()) => {
            ms.parse::<u64>().ok()?
        }
        _ => return None,
    };
    (lines.next().is_none() && ms != 0).then_some(ms)
}

/// The node id of an identity public key.
pub fn node_id(identity: &[u8; 33]) -> [u8; 8] {
    key_id(identity)
}

/// A parsed envelope.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// Node id.
    pub node: [u8; 8],
    /// Counter.
    pub counter: u64,
    /// Body text.
    pub body: &'a str,
    signed: &'a [u8],
    sigs: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Parses the byte format (structure only).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, AdminError> {
        let m = AdminError::Malformed;
        if bytes.get(..4) != Some(&MAGIC[..]) || bytes.get(4) != Some(&VERSION) {
            return Err(m);
        }
        let node: [u8; 8] = bytes.get(5..13).and_then(|b| b.try_into().ok()).ok_or(m)?;
        let counter =
            u64::from_be_bytes(bytes.get(13..21).and_then(|b| b.try_into().ok()).ok_or(m)?);
        let len = usize::from(u16::from_be_bytes(
            bytes.get(21..23).and_then(|b| b.try_into().ok()).ok_or(m)?,
        ));
        if len == 0 || len > MAX_BODY {
            return Err(m);
        }
        let body = core::str::from_utf8(bytes.get(HEAD..HEAD + len).ok_or(m)?).map_err(|_| m)?;
        let k = usize::from(*bytes.get(HEAD + len).ok_or(m)?);
        if k == 0 || k > MAX_ADMINS || bytes.len() != HEAD + len + 1 + SIG_ENTRY * k {
            return Err(m);
        }
        Ok(Self {
            node,
            counter,
            body,
            signed: bytes.get(..HEAD + len).ok_or(m)?,
            sigs: bytes.get(HEAD + len + 1..).ok_or(m)?,
        })
    }
}

/// The new admin set of a rotation, for [`authenticate`]: the registry the body makes (whose
/// admins the new-set indices name) and, when the rotation is valid, the new threshold it must
/// reach (an invalid one is refused for its body after the signatures, as any command is).
#[derive(Clone, Copy)]
pub struct NewSet<'r> {
    /// The registry with the new admins.
    pub registry: &'r Registry,
    /// Its threshold, when the rotation is valid.
    pub needed: Option<u8>,
}

/// Checks an envelope's signatures against the current admin set, and, for a rotation, against
/// the new set too (steps 1-7 and 11 of the module docs).
pub fn authenticate<'a>(
    bytes: &'a [u8],
    registry: &Registry,
    rotated: Option<NewSet<'_>>,
    identity: &[u8; 33],
) -> Result<Envelope<'a>, AdminError> {
    let env = Envelope::parse(bytes)?;
    if env.node != node_id(identity) {
        return Err(AdminError::WrongNode);
    }
    if env.counter <= registry.admin_counter() {
        return Err(AdminError::Replayed);
    }
    if env.counter - registry.admin_counter() > MAX_COUNTER_STEP {
        return Err(AdminError::CounterJump);
    }
    let mut seen = [[false; MAX_ADMINS]; 2];
    let mut got = [0u8; 2];
    for entry in env.sigs.chunks_exact(SIG_ENTRY) {
        let idx = entry[0];
        let (set, admins, at) = match (idx >= NEW_SET, rotated) {
            (false, _) => (0, registry.admins(), idx),
            (true, Some(next)) => (1, next.registry.admins(), idx - NEW_SET),
            (true, None) => return Err(AdminError::UnknownAdmin(idx)),
        };
        let key = admins
            .get(usize::from(at))
            .ok_or(AdminError::UnknownAdmin(idx))?;
        let slot = seen[set]
            .get_mut(usize::from(at))
            .ok_or(AdminError::UnknownAdmin(idx))?;
        if *slot {
            return Err(AdminError::DuplicateSigner(idx));
        }
        *slot = true;
        let sig: &[u8; 64] = entry[1..].try_into().map_err(|_| AdminError::Malformed)?;
        p256sig::verify(key, env.signed, sig, Digest::Sha3_256)
            .map_err(|_| AdminError::BadSignature(idx))?;
        got[set] += 1;
    }
    let needed = registry.threshold();
    if needed == 0 || got[0] < needed {
        return Err(AdminError::NotEnoughSignatures {
            got: got[0],
            needed,
        });
    }
    if let Some(needed) = rotated.and_then(|n| n.needed)
        && got[1] < needed
    {
        return Err(AdminError::NotEnoughNewSignatures {
            got: got[1],
            needed,
        });
    }
    Ok(env)
}

/// Authenticates `bytes` and applies its body to a copy of `registry` made in `next` (nothing
/// is persisted here: the caller writes `next` before adopting it). On an error `next` must
/// not be used. The body is applied (to the copy) before the signatures are checked, because a
/// rotation's new-set signatures are checked against the set it makes; a body the registry
/// refuses is reported only after the signatures passed, as for every other command.
pub fn process(
    bytes: &[u8],
    registry: &Registry,
    next: &mut Registry,
    keys: &NodeKeys,
) -> Result<Command, AdminError> {
    let identity = keys.identity().public_key();
    let env = Envelope::parse(bytes)?;
    let applied = registry.apply_into(next, env.body, env.counter, keys);
    let is_rotation = env
        .body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with("admin-threshold"));
    let rotated = is_rotation.then_some(NewSet {
        registry: next,
        needed: match applied {
            Ok(Command::RotateAdmins { threshold, .. }) => Some(threshold),
            _ => None,
        },
    });
    authenticate(bytes, registry, rotated, &identity)?;
    applied.map_err(AdminError::Refused)
}

/// Builds a signed envelope into `out` (ground tooling and tests), returning its length.
/// `signers` are `(admin index, key)` pairs.
pub fn build(
    out: &mut [u8],
    node_identity: &[u8; 33],
    counter: u64,
    body: &str,
    signers: &[(u8, &p256::SecretKey)],
) -> Result<usize, AdminError> {
    let len = body.len();
    if len == 0 || len > MAX_BODY || signers.is_empty() || signers.len() > MAX_ADMINS {
        return Err(AdminError::Malformed);
    }
    let total = HEAD + len + 1 + SIG_ENTRY * signers.len();
    let buf = out.get_mut(..total).ok_or(AdminError::Malformed)?;
    buf[..4].copy_from_slice(&MAGIC);
    buf[4] = VERSION;
    buf[5..13].copy_from_slice(&node_id(node_identity));
    buf[13..21].copy_from_slice(&counter.to_be_bytes());
    buf[21..23].copy_from_slice(&(len as u16).to_be_bytes());
    buf[HEAD..HEAD + len].copy_from_slice(body.as_bytes());
    buf[HEAD + len] = signers.len() as u8;
    let digest_input_len = HEAD + len;
    for (i, (idx, key)) in signers.iter().enumerate() {
        let sig = p256sig::sign(key, &buf[..digest_input_len], Digest::Sha3_256)
            .map_err(|_| AdminError::Malformed)?;
        let at = HEAD + len + 1 + SIG_ENTRY * i;
        buf[at] = *idx;
        buf[at + 1..at + SIG_ENTRY].copy_from_slice(&sig);
    }
    Ok(total)
}
