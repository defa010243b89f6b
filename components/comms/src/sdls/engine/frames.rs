//! The engine's side of SDLS inside CCSDS transfer frames ([`crate::radio_ccsds`]): it lends
//! `spacelink` a security association built from this engine's own state for one frame at a
//! time, and takes back what the frame did to that state.
//!
//! The suite is the association's own ([`super::super::provision`]: each association's
//! suite is in the provisioning file, AES-256-GCM for files of version 1 and 2). The keys are
//! the association's session keys (the same ones the unit format uses, one per
//! direction, [`super::mac::derive_session_key`]). The lent receive window has this engine's
//! floor but no upper bound: `spacelink` authenticates (and decrypts) first and refuses only
//! what is at or below the floor, and the frame's sequence number then goes through the same
//! [`SecurityEngine::accept_seq`] as a unit's ARSN: window check, reservation on flash first,
//! then the window moves. So a frame beyond the window is refused by the engine, after its MAC
//! (one MAC per forged frame, as before), with its plain data in hand: an authenticated
//! set-ARSN beyond the window ([`SecurityEngine::accept_frame_resync`]) can be recognised, as
//! a unit's is, although its data was encrypted. The send counter is the same one [`SecurityEngine::protect`] uses
//! ([`SecurityEngine::take_tx`]). So there is still one window and one counter per
//! association, shared by the radio's frames and the standby link's units.
//!
//! The GCM IV's fixed field is 0: each direction has its own key, and each key has one sender
//! (SP 800-38D §8.2.1: the invocation counter, the ARSN, never repeats under a key).
//!
//! Avoids: a second copy of any window or counter, keeping key bytes beyond one frame (the
//! lent association lives on the caller's stack for one frame).

use spacelink::sdls::{
    DEFAULT_TC_MASK, DEFAULT_TM_MASK, SaConfig, SdlsError, SecurityAssociation, Suite,
};

use super::super::key_state::KeyState;
use super::super::permissions::Permissions;
use super::super::state::StatePersist;
use super::super::window::SeqVerdict;
use super::{Floor, ProtectError, Role, SecurityEngine, UplinkReject};

/// The global virtual channel a lent association is for (its suite is the association's
/// own, from the provisioning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameChannel {
    /// Spacecraft id (10 bits).
    pub scid: u16,
    /// Virtual channel id.
    pub vcid: u8,
}

/// Direction of a lent association, from this engine's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Rx,
    /// Receiving with the floors lost (recovery-only mode): any number from 1 on.
    RxAny,
    Tx,
}

impl SecurityEngine {
    fn lend(
        &self,
        spi: u16,
        ch: FrameChannel,
        way: Way,
    ) -> Option<Result<SecurityAssociation, SdlsError>> {
        let sa = self.find(spi)?;
        let key = match (self.role, way) {
            (Role::Node, Way::Rx | Way::RxAny) | (Role::Ground, Way::Tx) => &sa.up,
            (Role::Node, Way::Tx) | (Role::Ground, Way::Rx | Way::RxAny) => &sa.down,
        };
        let lent = SecurityAssociation::new(SaConfig {
            spi,
            suite: sa.suite,
            key: *key.as_bytes(),
            scid: ch.scid,
            vcid: ch.vcid,
            iv_fixed: [0; 4],
            // No upper bound: the engine judges a received number after authentication
            // (the module documentation); a sending association has no use for a window.
            window: u64::MAX,
            tc_mask: DEFAULT_TC_MASK,
            tm_mask: DEFAULT_TM_MASK,
        });
        Some(lent.map(|mut lent| {
            match way {
                Way::Rx => lent.raise_last_accepted(sa.rx.last()),
                Way::RxAny => {}
                Way::Tx => lent.raise_next_seq(sa.tx_next),
            }
            lent
        }))
    }

    /// An association to ProcessSecurity one received frame under `spi` with: this engine's
    /// receive key and window floor (no upper bound: the engine's own window judges the
    /// number afterwards, [`SecurityEngine::accept_frame`]). `None` for an SPI with no
    /// association.
    pub fn frame_rx_sa(
        &self,
        spi: u16,
        ch: FrameChannel,
    ) -> Option<Result<SecurityAssociation, SdlsError>> {
        self.lend(spi, ch, Way::Rx)
    }

    /// [`SecurityEngine::frame_rx_sa`] for a node whose floors are lost (comms' recovery-only
    /// mode, with [`SecurityEngine::authenticate_frame`]): the receive key, and a window that
    /// takes any sequence number from 1 on, as a unit's `authenticate_only` does.
    pub fn frame_rx_sa_without_floor(
        &self,
        spi: u16,
        ch: FrameChannel,
    ) -> Option<Result<SecurityAssociation, SdlsError>> {
        self.lend(spi, ch, Way::RxAny)
    }

    /// An association to ApplySecurity one frame under `spi` with: this engine's send key, and
    /// its next sequence number taken from the shared counter (reserved on flash first on the
    /// node, as for a unit).
    pub fn frame_tx_sa<P: StatePersist>(
        &mut self,
        spi: u16,
        ch: FrameChannel,
        persist: &mut P,
    ) -> Result<SecurityAssociation, ProtectError> {
        // Lent before the number is taken, so that it sends exactly the number taken.
        let lent = self
            .lend(spi, ch, Way::Tx)
            .ok_or(ProtectError::UnknownSpi(spi))?
            .map_err(ProtectError::Frame)?;
        self.take_tx(spi, persist)?;
        self.counters.sent = self.counters.sent.wrapping_add(1);
        Ok(lent)
    }

    /// A frame `spacelink` authenticated under `spi` with sequence number `seq`: the key must
    /// be active (node), then the shared window check and reservation
    /// (as for a unit's ARSN). Counted as a unit would be.
    pub fn accept_frame<P: StatePersist>(
        &mut self,
        spi: u16,
        seq: u64,
        persist: &mut P,
    ) -> Result<(SeqVerdict, Permissions), UplinkReject> {
        self.accept_frame_with(spi, seq, persist, Floor::Checked)
    }

    /// [`SecurityEngine::accept_frame`] for a frame that carries the node's set-ARSN
    /// telecommand naming this very frame's SPI and sequence number (recognised by the
    /// caller in the authenticated plain data), as [`SecurityEngine::process_resync`] for a
    /// unit: a number beyond the window is accepted too and becomes the last accepted one; a
    /// replayed or old number is still refused.
    pub fn accept_frame_resync<P: StatePersist>(
        &mut self,
        spi: u16,
        seq: u64,
        persist: &mut P,
    ) -> Result<(SeqVerdict, Permissions), UplinkReject> {
        self.accept_frame_with(spi, seq, persist, Floor::Resync)
    }

    fn accept_frame_with<P: StatePersist>(
        &mut self,
        spi: u16,
        seq: u64,
        persist: &mut P,
        floor: Floor,
    ) -> Result<(SeqVerdict, Permissions), UplinkReject> {
        let r = self
            .frame_key(spi)
            .and_then(|_| self.accept_seq(spi, seq, persist, floor));
        self.count(r.as_ref().err());
        r
    }

    /// A frame `spacelink` authenticated under `spi` while the node's floors are lost (comms'
    /// recovery-only mode), as [`SecurityEngine::authenticate_only`] for a unit: the key must
    /// be active, but there is no window check, the window does not move and nothing is
    /// persisted. The caller takes only what is harmless when replayed. Counted as a unit
    /// would be.
    pub fn authenticate_frame(
        &mut self,
        spi: u16,
    ) -> Result<(SeqVerdict, Permissions), UplinkReject> {
        let r = self.frame_key(spi).map(|p| (SeqVerdict::Next, p));
        self.count(r.as_ref().err());
        r
    }

    /// The permissions of `spi`, if it has an association whose key may be used (active, on
    /// the node).
    fn frame_key(&self, spi: u16) -> Result<Permissions, UplinkReject> {
        match self.find(spi) {
            None => Err(UplinkReject::UnknownSpi(spi)),
            Some(sa) if self.role == Role::Node && sa.key_state != KeyState::Active => {
                Err(UplinkReject::KeyNotActive {
                    spi,
                    state: sa.key_state,
                })
            }
            Some(sa) => Ok(sa.permissions),
        }
    }

    /// The SDLS suite of association `spi`'s frames, `None` for an SPI with no association.
    pub fn frame_suite(&self, spi: u16) -> Option<Suite> {
        self.find(spi).map(|sa| sa.suite)
    }

    /// A frame `spacelink` refused: counted under the same counters as a refused unit.
    pub fn refuse_frame(&mut self, e: UplinkReject) {
        self.count(Some(&e));
    }
}

/// What a frame refused by `spacelink`'s ProcessSecurity counts as (`len`: the frame's
/// length, for the malformed case).
pub fn frame_reject(e: &SdlsError, len: usize) -> UplinkReject {
    match *e {
        SdlsError::UnknownSpi(spi) => UplinkReject::UnknownSpi(spi),
        SdlsError::BadMac(spi) => UplinkReject::BadMac { spi },
        SdlsError::Replay { spi, seq, .. } => UplinkReject::Replay { spi, arsn: seq },
        SdlsError::OutsideWindow { spi, seq, .. } => UplinkReject::OutsideWindow { spi, arsn: seq },
        _ => UplinkReject::Malformed { len },
    }
}
