//! From the `upgrade` crate's verification errors to the code the ground sees
//! ([`protocol::UpgradeError`]). The full text (which key, which version) goes to the log.
//!
//! Avoids: losing a distinction the operator acts on (wrong board, rollback, expiry and an
//! untrusted signature each keep their own code).

use protocol::{Refusal, UpgradeError};
use upgrade::{ImageError, VerifyError};

/// The ground-facing code of a header verification failure.
pub fn of_verify(e: &VerifyError) -> UpgradeError {
    match e {
        VerifyError::Format(_) => UpgradeError::Malformed,
        VerifyError::AnchorMismatch
        | VerifyError::RootVersion { .. }
        | VerifyError::RootConflict { .. }
        | VerifyError::Threshold { .. }
        | VerifyError::AlgorithmMismatch { .. } => UpgradeError::BadSignature,
        VerifyError::Board { .. } | VerifyError::Hardware { .. } => UpgradeError::WrongTarget,
        VerifyError::Version { .. } => UpgradeError::Downgrade,
        VerifyError::Counter { .. } => UpgradeError::CounterRollback,
        VerifyError::VersionJump { .. } | VerifyError::CounterJump { .. } => {
            UpgradeError::StepTooLarge
        }
        VerifyError::ImageTooLarge { .. } => UpgradeError::TooLarge,
        VerifyError::Expired { .. } => UpgradeError::Expired,
    }
}

/// The refusal for a chunk that does not verify (detail: the chunk index).
pub fn of_chunk(e: &ImageError, index: u32) -> Refusal {
    let reason = match e {
        ImageError::ChunkHash { .. } | ImageError::ImageHash => UpgradeError::BadHash,
        _ => UpgradeError::OutOfOrder,
    };
    Refusal {
        reason,
        detail: index,
    }
}

/// A refusal without detail.
pub const fn plain(reason: UpgradeError) -> Refusal {
    Refusal { reason, detail: 0 }
}
