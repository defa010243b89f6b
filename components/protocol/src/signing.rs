//! Co-signing: comms hands the signer a batch of PSBTs in chunks; the signer answers with the
//! signed batch in chunks, or a rejection.
//!
//! The batch bytes (batch certificate from a ground server followed by the PSBTs) are opaque here;
//! the signer parses and checks them. One message carries one chunk (see [`crate::chunk`]).
//!
//! Avoids: key material of any kind; nothing in these messages is secret.

use rkyv::{Archive, Deserialize, Serialize};

use crate::bounded::BoundedBytes;
use crate::chunk::{CHUNK_MAX, ChunkPosition};

/// `sign-request`: comms → signer. One chunk of a batch to co-sign.
///
/// Maximum serialised size: 4096 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct SignRequest {
    /// Batch identifier chosen by the ground server (unique per server).
    pub batch_id: u64,
    /// Opaque routing token chosen by comms, echoed in every [`SignResponse`] of the batch.
    pub request_id: u32,
    /// Where this chunk sits in the batch.
    pub position: ChunkPosition,
    /// Up to [`CHUNK_MAX`] bytes of the batch.
    pub data: BoundedBytes<CHUNK_MAX>,
}

/// Why the signer refused a batch.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum SignRejection {
    /// The batch certificate does not verify against a known ground server key.
    BadCertificate,
    /// The batch was already signed (anti-replay counter).
    Replay,
    /// A transaction violates the signing policy (amount, destination, rate).
    PolicyViolation,
    /// The batch bytes do not parse as certificate plus PSBTs.
    Malformed,
    /// Chunks are inconsistent (overlap, gap, total changed, beyond the batch size limit).
    BadChunking,
    /// The signer is busy with another batch.
    Busy,
    /// An internal error (flash, RNG); the batch may be retried.
    Internal,
    /// Comms refused it: the signer cannot sign at once (the node is in safe mode, or the
    /// watchdog reports the signer stopped, degraded, failed or restarting). Nothing was signed.
    SignerDown,
    /// Comms refused it: the batch was received before a reset and not answered; it is not
    /// taken up again on the node's own initiative (the ground sends it again if it still wants
    /// it: an identical batch is answered as a resubmission).
    Abandoned,
}

/// State of the batch as reported in one response.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub enum SignStatus {
    /// The request chunk was stored; more are expected. `data` is empty.
    #[default]
    Accepted,
    /// The batch is signed; `data` is one chunk of the signed batch.
    Signed,
    /// The batch is refused as a whole. `data` is empty for `Busy` and `BadChunking`; for a
    /// batch the signer examined it is the signer's signed 163-byte receipt, whose bytes 60
    /// and 61 are the exact error class and code (`signer::batch::receipt`).
    Rejected {
        /// Why.
        reason: SignRejection,
    },
}

/// `sign-response`: signer → comms. Progress, one chunk of the signed batch, or a rejection.
///
/// Maximum serialised size: 4096 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct SignResponse {
    /// The batch concerned.
    pub batch_id: u64,
    /// The `request_id` of the batch's requests.
    pub request_id: u32,
    /// For `Signed`: position in the signed output (`u32 BE length ‖ signed PSBT` per PSBT,
    /// then the receipt); its length is known only at the end, so `count` and `total_len` are
    /// 0 on every chunk but the last. Otherwise the request chunk acknowledged.
    pub position: ChunkPosition,
    /// What this response says.
    pub status: SignStatus,
    /// Up to [`CHUNK_MAX`] bytes of the signed batch (`Signed` only).
    pub data: BoundedBytes<CHUNK_MAX>,
}
