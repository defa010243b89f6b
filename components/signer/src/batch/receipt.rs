//! The batch receipt: the node's signed statement of what it did with one batch request.
//!
//! # Byte format (version 1, integers big-endian, [`RECEIPT_LEN`] = 163 bytes)
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `SNRC` |
//! | 4 | 1 | version `1` |
//! | 5 | 8 | node id: first 8 bytes of SHA3-256 of the identity public key |
//! | 13 | 4 | server id from the certificate (0 if the certificate did not parse) |
//! | 17 | 8 | sequence from the certificate (0 if it did not parse) |
//! | 25 | 32 | certificate digest: SHA3-256 of the certificate's signed part (zeros if it did not parse) |
//! | 57 | 2 | PSBT count as certified (0 if the certificate did not parse) |
//! | 59 | 1 | status: 0 signed, 1 rejected |
//! | 60 | 1 | error class: 0 none, 1 certificate, 2 batch framing, 3 PSBT parse, 4 wallet refusal, 5 policy, 6 internal (flash), 7 PSBT too large for the output buffer |
//! | 61 | 1 | error code: certificate [`crate::cert::CertError::code`], wallet [`crate::signer::Refusal::code`], policy [`crate::policy::Decision::code`], otherwise 1 |
//! | 62 | 2 | index of the PSBT that failed (`0xFFFF`: none) |
//! | 64 | 1 | deciding policy rule (`0xFF`: none) |
//! | 65 | 32 | results digest: SHA3-256 of the concatenated per-PSBT result entries of a signed batch (SHA3-256 of nothing for a rejection) |
//! | 97 | 2 | detail ([`Detail`]): what a refusal is about, zero for nothing (and in a signed receipt) |
//! | 99 | 64 | identity signature `r ‖ s`: P-256 ECDSA over SHA3-256 of bytes `0 .. 99` |
//!
//! Result entry (one per PSBT, in batch order, 36 bytes): PSBT index (2), signatures added (2),
//! SHA3-256 of the signed PSBT as returned (32). The ground recomputes the digest from the
//! PSBTs it received.
//!
//! The detail bytes: for a wallet refusal or a policy miss on a destination, the input or
//! output, as a big-endian `u16`: `1 + i` for input `i`, `0x8000 | (1 + i)` for output `i`; for
//! a policy refusal by a `deny` rule (code 1), byte 97 is `1 +` the nearest `allow` rule above
//! it and byte 98 that rule's failed condition ([`crate::policy::Miss::code`]). Zero (as in a
//! receipt of a node built before this field) means no detail.
//!
//! A signed batch's receipt is identical on every resubmission (deterministic signatures, and
//! nothing in it depends on when it was produced), so a resubmission's answer is byte for byte
//! the first one.

use crate::admin::node_id;
use crate::keys::IdentityKey;
use crate::signer::Subject;

/// Receipt length.
pub const RECEIPT_LEN: usize = 163;
const SIGNED_LEN: usize = 99;
/// Result entry length.
pub const ENTRY_LEN: usize = 36;

/// Error classes (offset 60).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ErrorClass {
    /// Signed.
    None = 0,
    /// The certificate was refused.
    Certificate = 1,
    /// The batch bytes are not certificate plus length-prefixed PSBTs.
    Framing = 2,
    /// A PSBT does not parse.
    Psbt = 3,
    /// The wallet signer refused a PSBT.
    Wallet = 4,
    /// The policy refused a PSBT.
    Policy = 5,
    /// Flash failure while committing; the batch may be resubmitted.
    Internal = 6,
    /// A signed PSBT does not fit the caller's output buffer.
    OutputTooSmall = 7,
}

/// What a refusal is about (receipt offset 97; see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Nothing more.
    None,
    /// An input or an output of the failing PSBT.
    At(Subject),
    /// A `deny` rule decided: the nearest `allow` rule above it and its failed condition.
    ClosestAllow {
        /// That rule's index.
        rule: u8,
        /// Its failed condition ([`crate::policy::Miss::code`]).
        miss: u8,
    },
}

const OUTPUT_BIT: u16 = 0x8000;

impl Detail {
    /// The two receipt bytes.
    pub fn encode(self) -> [u8; 2] {
        let one_based = |i: u16| i.saturating_add(1).min(OUTPUT_BIT - 1);
        match self {
            Detail::None => [0, 0],
            Detail::At(Subject::Input(i)) => one_based(i).to_be_bytes(),
            Detail::At(Subject::Output(i)) => (OUTPUT_BIT | one_based(i)).to_be_bytes(),
            Detail::ClosestAllow { rule, miss } => [rule.saturating_add(1), miss],
        }
    }

    /// Reads the two bytes of a receipt of error `class` and `code` (policy code 1 is a `deny`
    /// rule's refusal).
    pub fn decode(class: u8, code: u8, b: [u8; 2]) -> Self {
        if class == ErrorClass::Policy as u8 && code == 1 {
            return match b {
                [0, _] => Detail::None,
                [r, miss] => Detail::ClosestAllow { rule: r - 1, miss },
            };
        }
        let v = u16::from_be_bytes(b);
        let i = (v & !OUTPUT_BIT).wrapping_sub(1);
        match v {
            0 | OUTPUT_BIT => Detail::None,
            v if v & OUTPUT_BIT != 0 => Detail::At(Subject::Output(i)),
            _ => Detail::At(Subject::Input(i)),
        }
    }
}

/// What the receipt says, before signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Server id.
    pub server_id: u32,
    /// Sequence.
    pub sequence: u64,
    /// Certificate digest.
    pub cert_digest: [u8; 32],
    /// Certified PSBT count.
    pub count: u16,
    /// Error class.
    pub class: ErrorClass,
    /// Error code.
    pub code: u8,
    /// Failing PSBT.
    pub psbt: Option<u16>,
    /// Deciding rule.
    pub rule: Option<u8>,
    /// What the refusal is about.
    pub detail: Detail,
    /// Results digest.
    pub results: [u8; 32],
}

/// A signed receipt.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Receipt([u8; RECEIPT_LEN]);

impl core::fmt::Debug for Receipt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Receipt")
            .field("signed", &self.is_signed())
            .field("class", &self.0[60])
            .field("code", &self.0[61])
            .finish()
    }
}

impl Receipt {
    /// Builds and signs.
    pub fn sign(o: &Outcome, identity: &IdentityKey) -> Self {
        let mut r = [0u8; RECEIPT_LEN];
        r[..4].copy_from_slice(b"SNRC");
        r[4] = 1;
        r[5..13].copy_from_slice(&node_id(&identity.public_key()));
        r[13..17].copy_from_slice(&o.server_id.to_be_bytes());
        r[17..25].copy_from_slice(&o.sequence.to_be_bytes());
        r[25..57].copy_from_slice(&o.cert_digest);
        r[57..59].copy_from_slice(&o.count.to_be_bytes());
        r[59] = u8::from(o.class != ErrorClass::None);
        r[60] = o.class as u8;
        r[61] = o.code;
        r[62..64].copy_from_slice(&o.psbt.unwrap_or(0xFFFF).to_be_bytes());
        r[64] = o.rule.unwrap_or(0xFF);
        r[65..97].copy_from_slice(&o.results);
        r[97..99].copy_from_slice(&o.detail.encode());
        // An identity signature cannot fail for a valid key and a 32-byte digest; if the curve
        // library ever did fail, the receipt carries a zero signature, which never verifies.
        let sig = identity.sign(&r[..SIGNED_LEN]).unwrap_or([0u8; 64]);
        r[SIGNED_LEN..].copy_from_slice(&sig);
        Self(r)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; RECEIPT_LEN] {
        &self.0
    }

    /// True for a signed batch.
    pub fn is_signed(&self) -> bool {
        self.0[59] == 0
    }

    /// The error class byte.
    pub fn class(&self) -> u8 {
        self.0[60]
    }

    /// The error code byte.
    pub fn code(&self) -> u8 {
        self.0[61]
    }

    /// The failing PSBT index.
    pub fn failed_psbt(&self) -> Option<u16> {
        let i = u16::from_be_bytes([self.0[62], self.0[63]]);
        (i != 0xFFFF).then_some(i)
    }

    /// The deciding rule.
    pub fn rule(&self) -> Option<u8> {
        (self.0[64] != 0xFF).then_some(self.0[64])
    }

    /// What the refusal is about.
    pub fn detail(&self) -> Detail {
        Detail::decode(self.0[60], self.0[61], [self.0[97], self.0[98]])
    }

    /// The results digest.
    pub fn results_digest(&self) -> [u8; 32] {
        let mut d = [0u8; 32];
        d.copy_from_slice(&self.0[65..97]);
        d
    }

    /// Verifies the identity signature with the node's identity public key.
    pub fn verify(&self, identity_public: &[u8; 33]) -> bool {
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&self.0[SIGNED_LEN..]);
        crate::p256sig::verify(
            identity_public,
            &self.0[..SIGNED_LEN],
            &sig,
            crate::p256sig::Digest::Sha3_256,
        )
        .is_ok()
    }
}

/// One result entry.
pub fn entry(index: u16, sigs: u16, signed_psbt: &[u8]) -> [u8; ENTRY_LEN] {
    let mut e = [0u8; ENTRY_LEN];
    e[..2].copy_from_slice(&index.to_be_bytes());
    e[2..4].copy_from_slice(&sigs.to_be_bytes());
    e[4..].copy_from_slice(&crate::hash::sha3_256(signed_psbt));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_round_trip_and_zero_is_none() {
        let wallet = ErrorClass::Wallet as u8;
        for d in [
            Detail::At(Subject::Input(0)),
            Detail::At(Subject::Input(0x7FFD)),
            Detail::At(Subject::Output(0)),
            Detail::At(Subject::Output(41)),
            Detail::None,
        ] {
            assert_eq!(Detail::decode(wallet, 12, d.encode()), d);
        }
        let deny = Detail::ClosestAllow { rule: 0, miss: 4 };
        assert_eq!(
            Detail::decode(ErrorClass::Policy as u8, 1, deny.encode()),
            deny
        );
        assert_eq!(
            Detail::decode(ErrorClass::Policy as u8, 1, [0, 0]),
            Detail::None
        );
        assert_eq!(Detail::decode(wallet, 12, [0, 0]), Detail::None);
    }
}
