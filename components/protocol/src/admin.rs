//! The signer's registry administration: comms hands the signer an admin command or an export
//! request from the ground; the signer answers with the outcome.
//!
//! The admin command envelope (M-of-N P-256 signatures of the registry's admin keys over a
//! counter and a registry-grammar body) is opaque here: the signer authenticates it
//! (`signer::admin`). An exported xpub is signed by the signer's identity key
//! (`signer::export`), so comms, which relays both, can neither forge nor alter either.
//!
//! Avoids: key material (an xpub is public; its signature is the point).

use rkyv::{Archive, Deserialize, Serialize};

use crate::bounded::BoundedBytes;

/// Largest admin command envelope: 24 bytes of header and count, a 3,456-byte body and 8
/// signatures of 65 bytes (`signer::admin::MAX_ENVELOPE`; the signer partition checks at
/// compile time that the two agree).
pub const ADMIN_COMMAND_MAX: usize = 24 + 3456 + 8 * 65;
/// Length of a signed xpub export (`signer::export::EXPORT_LEN`).
pub const XPUB_EXPORT_LEN: usize = 169;

/// What the ground asks of the signer's registry.
// Messages are fixed-size and inline by design (no heap, see the crate docs): the small variants
// pay for the large one.
#[allow(clippy::large_enum_variant)]
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum AdminOp {
    /// Apply an authenticated admin command (add a server, revoke one, replace its policy).
    Command {
        /// The envelope, as the admins signed it.
        envelope: BoundedBytes<ADMIN_COMMAND_MAX>,
    },
    /// Export a registered server's account xpub, signed by the identity key.
    ExportServer {
        /// The server's id in the registry.
        server_id: u32,
    },
    /// Export an account xpub by BIP-48 path, before its server exists (to build the descriptor).
    ExportAccount {
        /// 0 mainnet, 1 testnet, 2 regtest.
        network: u8,
        /// 0 `wsh`, 1 `sh(wsh)`.
        script_type: u8,
        /// BIP-48 account number.
        account: u32,
    },
    /// Report the signer's mission clock (`signer::clock`).
    Clock,
    /// This boot's ledger-recovery challenge (`signer::recovery`), to sign a `recover-ledger`.
    RecoveryChallenge,
    /// The signer's current link-recovery challenge (`signer::link_recovery`), to sign a
    /// `recover-link` ([`crate::link_recovery`]) for a comms whose SDLS state was lost.
    LinkRecoveryChallenge,
    /// Verify, and change nothing: an admin envelope whose body is a `recover-link`, checked
    /// like every admin command (node, counter, M-of-N signatures) and against the current
    /// link-recovery challenge, which it then uses up. Comms applies the floors on
    /// [`AdminOutcome::LinkRecoveryVerified`] only.
    VerifyLinkRecovery {
        /// The envelope, as the admins signed it.
        envelope: BoundedBytes<ADMIN_COMMAND_MAX>,
    },
}

/// Length of a ledger-recovery challenge (`signer::recovery::CHALLENGE_LEN`).
pub const RECOVERY_CHALLENGE_LEN: usize = 16;

impl Default for AdminOp {
    fn default() -> Self {
        AdminOp::ExportServer { server_id: 0 }
    }
}

/// `admin-request`: comms → signer.
///
/// Maximum serialised size: 4008 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct AdminRequest {
    /// Opaque routing token chosen by comms, echoed in the response.
    pub request_id: u32,
    /// What is asked.
    pub op: AdminOp,
}

/// What the signer did with an [`AdminRequest`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum AdminOutcome {
    /// The command was authenticated, the new registry is on flash and in use.
    Applied {
        /// The registry's admin counter now (the command's counter).
        counter: u64,
    },
    /// The command was refused; `code` is `signer::admin::AdminError::code` (1 to 10).
    Refused {
        /// The signer's refusal code.
        code: u8,
    },
    /// The export asked for; verify its identity signature before use.
    Export {
        /// `signer::export` byte format.
        export: BoundedBytes<XPUB_EXPORT_LEN>,
    },
    /// The export was refused; `code` is `signer::export::ExportError::code`.
    ExportRefused {
        /// The signer's refusal code.
        code: u8,
    },
    /// The signer's mission clock (all ms since 1970-01-01 UTC).
    Clock {
        /// Mission time now; 0 when the ground has never correlated the node.
        mission_ms: u64,
        /// The last accepted time correlation; 0 for none.
        correlated_ms: u64,
        /// The high-water mark on flash (the clock resumes from it after a reset).
        mark_ms: u64,
    },
    /// The ledger is lost; a `recover-ledger` must answer this boot's challenge. Refused (code
    /// 13, `NotRecovering`) instead when the ledger is in order.
    Challenge {
        /// The challenge.
        challenge: [u8; RECOVERY_CHALLENGE_LEN],
    },
    /// The `recover-link` envelope of a [`AdminOp::VerifyLinkRecovery`] is authentic and
    /// answers the current challenge (now used up); nothing changed on the signer.
    LinkRecoveryVerified,
}

impl Default for AdminOutcome {
    fn default() -> Self {
        AdminOutcome::Refused { code: 0 }
    }
}

/// `admin-response`: signer → comms.
///
/// Maximum serialised size: 184 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct AdminResponse {
    /// The `request_id` of the request.
    pub request_id: u32,
    /// What happened.
    pub outcome: AdminOutcome,
}
