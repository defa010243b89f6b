//! SDLS (CCSDS 355.0 Space Data Link Security) inside TC and TM transfer frames: the security
//! header (SPI, then the GCM IV or the anti-replay sequence number) after the primary header
//! (and a TC frame's segment header), the security trailer (the MAC) after the data field and
//! before the OCF and FECF, the primary header covered through the association's
//! authentication mask, and the two baseline suites of [`suite`].
//!
//! - [`sa`]: security associations (managed parameters, send counter, receive window);
//! - [`window`]: the anti-replay window;
//! - [`suite`]: AES-256-GCM and HMAC-SHA-256;
//! - [`frame`]: ApplySecurity and ProcessSecurity on TC and TM frames.
//!
//! The field-by-field layout of a secured frame is in the crate README.
//!
//! Avoids: heap, panics on received bytes, moving any state for a frame that is not accepted,
//! and the pad length field (neither suite pads: GCM is a counter mode, HMAC does not encrypt,
//! so 355.0's pad length is managed to 0 bytes).

pub mod frame;
pub mod sa;
pub mod suite;
pub mod window;

pub use frame::{Secured, apply_tc, apply_tm, process_tc, process_tm};
pub use sa::{DEFAULT_TC_MASK, DEFAULT_TM_MASK, SaConfig, SecurityAssociation};
pub use suite::{MAC_LEN, Suite};

use crate::tc::TcError;
use crate::tm::TmError;

/// Bytes of the security parameter index.
pub const SPI_LEN: usize = 2;
/// Bytes of the anti-replay sequence number field of an HMAC-SHA-256 association.
pub const ARSN_LEN: usize = 8;

/// Bytes of the security header of `suite`.
pub const fn header_len(suite: Suite) -> usize {
    SPI_LEN
        + match suite {
            Suite::Aes256Gcm => suite::IV_LEN,
            Suite::HmacSha256 => ARSN_LEN,
        }
}

/// Bytes SDLS adds to a frame of `suite` (security header and trailer).
pub const fn overhead(suite: Suite) -> usize {
    header_len(suite) + MAC_LEN
}

/// Why a frame could not be secured, or why a received secured frame is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SdlsError {
    /// The association's parameters are invalid.
    #[error("security association invalid: {0}")]
    Config(&'static str),
    /// The TC frame itself is wrong (see the inner error).
    #[error("{0}")]
    Tc(TcError),
    /// The TM frame itself is wrong (see the inner error).
    #[error("{0}")]
    Tm(TmError),
    /// A frame to secure does not fit, or belongs to another channel than the association.
    #[error("cannot secure the frame: {0}")]
    Build(&'static str),
    /// The data field is too short to hold a security header and trailer.
    #[error(
        "secured frame data field is {have} bytes, at least {need} needed for the security header and MAC: not a secured frame, discarded"
    )]
    TooShort {
        /// Bytes in the data field.
        have: usize,
        /// Bytes needed.
        need: usize,
    },
    /// No association has this SPI.
    #[error(
        "no security association has SPI {0}: discarded; provision the association or check the sender's SPI"
    )]
    UnknownSpi(u16),
    /// The association is for another spacecraft or virtual channel than the frame's.
    #[error(
        "SPI {spi} is not for spacecraft {scid} virtual channel {vcid}: discarded (a frame moved to another channel, or the sender's association table is wrong)"
    )]
    WrongChannel {
        /// The SPI.
        spi: u16,
        /// The frame's spacecraft id.
        scid: u16,
        /// The frame's virtual channel.
        vcid: u8,
    },
    /// The IV's fixed field is not the association's.
    #[error("SPI {0}: the IV's fixed field is not this association's: discarded")]
    IvField(u16),
    /// The MAC did not verify.
    #[error(
        "SPI {0}: MAC does not verify (wrong key, or the frame was damaged or forged): discarded, nothing changed"
    )]
    BadMac(u16),
    /// The sequence number was accepted before (or a higher one was).
    #[error(
        "SPI {spi}: sequence number {seq} is not above the last accepted {last} (replayed or overtaken): discarded"
    )]
    Replay {
        /// The SPI.
        spi: u16,
        /// The received number.
        seq: u64,
        /// The last accepted number.
        last: u64,
    },
    /// The sequence number is too far ahead.
    #[error(
        "SPI {spi}: sequence number {seq} is beyond the window ({last} + {width}): discarded; resynchronise the sequence numbers"
    )]
    OutsideWindow {
        /// The SPI.
        spi: u16,
        /// The received number.
        seq: u64,
        /// The last accepted number.
        last: u64,
        /// The window width.
        width: u64,
    },
    /// The send counter has reached its end: the association needs a new key.
    #[error("SPI {0}: sequence numbers exhausted; rekey the association")]
    SequenceExhausted(u16),
}
