//! A security association (CCSDS 355.0 §3.4): the managed parameters one end holds for one SPI
//! on one global virtual channel (spacecraft id + virtual channel id), and its state: the next
//! sequence number to send and the anti-replay window of received numbers.
//!
//! The sequence number doubles, for [`Suite::Aes256Gcm`], as the invocation counter of the GCM
//! IV (NIST SP 800-38D §8.2.1, deterministic construction): IV = the association's 4-byte
//! fixed field followed by the 8-byte counter. Under one key the IV therefore never repeats
//! as long as the counter only rises and no two senders share a fixed field; the counter is
//! refused past `u64::MAX` rather than wrapping. Persisting the counter across a reboot
//! (reserving ahead on flash, as comms' engine does) is the caller's job:
//! [`SecurityAssociation::next_seq`] and [`SecurityAssociation::raise_next_seq`] are its hooks.
//!
//! Avoids: printing keys (its `Debug` shows no key bytes), keeping them (an [`SaConfig`]'s key
//! is zeroized when it is dropped, and with it every association's; a move may still leave a
//! copy the compiler did not overwrite, as the `zeroize` crate says of every moved value), a
//! counter that wraps or goes back.

use super::SdlsError;
use super::suite::{KEY_LEN, Suite};
use super::window::Window;

/// The default authentication mask of a TC frame's 5-byte primary header: every field,
/// including the frame sequence number N(S). A mask leaving N(S) out would let FOP-1 number a
/// frame secured once; but a frame retransmitted with its old sequence number is refused as a
/// replay whenever a later frame was accepted in the meantime (a lost frame followed by one
/// that arrived), so a COP-1 link must secure every (re)transmission afresh, after N(S) is
/// known ([`crate::fop`] hands out data, not secured frames, for that reason), and then nothing
/// speaks for leaving N(S) unauthenticated.
pub const DEFAULT_TC_MASK: [u8; 5] = [0xFF; 5];
/// The default authentication mask of a TM frame's 6-byte primary header: every field but the
/// master channel frame count, which the master channel multiplexing sets after the virtual
/// channel has applied security.
pub const DEFAULT_TM_MASK: [u8; 6] = [0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0xFF];

/// The managed parameters of one association (both ends configure the same). Not `Copy`: its
/// key is wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SaConfig {
    /// Security parameter index, `1..=0xFFFE` (0 and 0xFFFF are reserved).
    pub spi: u16,
    /// Cryptographic suite.
    pub suite: Suite,
    /// The key (AES-256 or HMAC key).
    pub key: [u8; KEY_LEN],
    /// Spacecraft id of the global virtual channel the association is for (10 bits).
    pub scid: u16,
    /// Virtual channel id (6 bits for TC, 3 bits for TM).
    pub vcid: u8,
    /// GCM only: the fixed field, the first 4 bytes of every IV this association sends.
    pub iv_fixed: [u8; 4],
    /// Anti-replay window width W (numbers `last+1 ..= last+W` are accepted).
    pub window: u64,
    /// Authentication mask of the TC primary header (used on TC frames).
    pub tc_mask: [u8; 5],
    /// Authentication mask of the TM primary header (used on TM frames).
    pub tm_mask: [u8; 6],
}

impl Drop for SaConfig {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.key.zeroize();
    }
}

impl core::fmt::Debug for SaConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SaConfig")
            .field("spi", &self.spi)
            .field("suite", &self.suite)
            .field("key", &"(not shown)")
            .field("scid", &self.scid)
            .field("vcid", &self.vcid)
            .field("iv_fixed", &self.iv_fixed)
            .field("window", &self.window)
            .field("tc_mask", &self.tc_mask)
            .field("tm_mask", &self.tm_mask)
            .finish()
    }
}

/// One association with its send counter and receive window.
#[derive(Clone, Debug)]
pub struct SecurityAssociation {
    config: SaConfig,
    next: Option<u64>,
    window: Window,
}

impl SecurityAssociation {
    /// A fresh association: sends from sequence number 1, accepts from 1.
    pub fn new(config: SaConfig) -> Result<Self, SdlsError> {
        if config.spi == 0 || config.spi == 0xFFFF {
            return Err(SdlsError::Config("SPI 0 and 0xFFFF are reserved"));
        }
        if config.scid > 0x3FF {
            return Err(SdlsError::Config("spacecraft id exceeds 10 bits"));
        }
        if config.vcid > 0x3F {
            return Err(SdlsError::Config("virtual channel id exceeds 6 bits"));
        }
        let window = Window::new(0, config.window);
        Ok(Self {
            config,
            next: Some(1),
            window,
        })
    }

    /// The managed parameters.
    pub fn config(&self) -> &SaConfig {
        &self.config
    }

    /// The next sequence number to send, `None` once `u64::MAX` has been sent.
    pub fn next_seq(&self) -> Option<u64> {
        self.next
    }

    /// Moves the send counter up to `seq` (after a reboot, from the reservation on flash);
    /// never down.
    pub fn raise_next_seq(&mut self, seq: u64) {
        if let Some(next) = self.next {
            self.next = Some(next.max(seq));
        }
    }

    /// The receive window.
    pub fn window(&self) -> &Window {
        &self.window
    }

    /// Restores the last accepted number (after a reboot, from flash); never lowers it.
    pub fn raise_last_accepted(&mut self, last: u64) {
        self.window.accept_floor(last);
    }

    pub(crate) fn window_mut(&mut self) -> &mut Window {
        &mut self.window
    }

    /// Takes the next sequence number to send.
    pub(crate) fn take_seq(&mut self) -> Result<u64, SdlsError> {
        let seq = self
            .next
            .ok_or(SdlsError::SequenceExhausted(self.config.spi))?;
        self.next = seq.checked_add(1);
        Ok(seq)
    }

    /// The GCM IV for sequence number `seq`.
    pub(crate) fn iv(&self, seq: u64) -> [u8; 12] {
        let mut iv = [0u8; 12];
        iv[..4].copy_from_slice(&self.config.iv_fixed);
        iv[4..].copy_from_slice(&seq.to_be_bytes());
        iv
    }
}
