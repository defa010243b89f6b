//! The security engine: applies and processes SDLS security on every unit, for both links.
//!
//! # Secured unit (both directions), integers big-endian
//!
//! | offset | size | field | CCSDS 355.0-B-2 |
//! | --- | --- | --- | --- |
//! | 0 | 2 | Security Parameter Index (SPI), `1..=0xFFFE` | security header, SPI (§4.1.1.2) |
//! | 2 | 8 | anti-replay sequence number (ARSN) | security header, Sequence Number (§4.1.1.4; length is a managed parameter, here 8) |
//! | 10 | n | data: one CCSDS space packet (a PUS-C TC up, a PUS-C TM down), `1..=MAX_DATA_LEN` | frame data field |
//! | 10+n | 16 | MAC over bytes `0 .. 10+n` ([`super::mac`]) | security trailer, MAC (§4.1.2) |
//!
//! Authentication-only service (no encryption, no IV, no pad length: the telecommands and
//! telemetry of this node are not confidential; keys travel only wrapped under the
//! key-encryption key, inside a TC 130,6, [`super::otar`]). The unit stands in for the
//! transfer frame's security header + data field + trailer; the datagram radio and the UDP
//! datagram over PPP of the standby link replace the frame's primary header, so no header bits are
//! authenticated beyond the security header (the SDLS authentication mask is empty).
//!
//! # Receiving end (ProcessSecurity, §4.2.3), in this order
//!
//! 1. Structure: shorter than header + 1 byte + MAC, or longer than [`MAX_UNIT_LEN`] →
//!    `Malformed`.
//! 2. SPI lookup, then the MAC is computed **always** (under a fixed dummy key when the SPI is
//!    unknown), so every unit of a given length costs the same single HMAC, whatever it holds.
//!    Unknown SPI → `UnknownSpi`; MAC mismatch → `BadMac`. Nothing else is looked at.
//! 3. Key state (node only, [`super::key_state`]): an authenticated unit under a key that is
//!    not active (pre-activation or deactivated) → `KeyNotActive`; the window does not move.
//!    The node never sends under such a key either ([`ProtectError::KeyNotActive`]).
//! 4. Only an authenticated unit reaches the anti-replay check ([`super::window`]): replay or
//!    outside window → refused; next or gap inside window → accepted. The one exception is
//!    [`SecurityEngine::process_resync`], for the operator's authenticated "set ARSN" command
//!    (SDLS-EP's resynchronisation): an ARSN beyond the window is accepted and moves it.
//! 5. If the ARSN is above the persisted reservation, the new reservation is committed to flash
//!    first ([`super::state`]); if that fails the unit is refused (`PersistFailed`) and the
//!    window does not move.
//!
//! Refused units change nothing but counters: a forged unit with a fresh ARSN cannot move the
//! window, and a flood of them costs one HMAC each. There is one engine per node and both links
//! feed it, so the anti-replay state is shared by the primary and the standby link.
//!
//! Avoids: heap, panics on any input, and any report to the sender of a refused unit.

use super::key_state::KeyState;
use super::mac::{self, Direction, Key, MAC_LEN, MacKeyError};
use super::otar::{Kek, OtarError};
use super::permissions::Permissions;
use super::provision::{MAX_ASSOCIATIONS, Provisioning, Suite};
use super::sealed::MAX_FILE_LEN;
use super::state::{self, KeySaveError, LoadError, Loaded, MAX_STATE_LEN, SaState, StatePersist};
use super::window::{ReplayWindow, SeqVerdict};

mod frames;
mod keyset;

pub use frames::{FrameChannel, frame_reject};

/// Security header length: SPI + ARSN.
pub const HEADER_LEN: usize = 10;
/// Bytes the security layer adds to a packet.
pub const OVERHEAD: usize = HEADER_LEN + MAC_LEN;
/// Largest data field (one space packet) a unit carries.
pub const MAX_DATA_LEN: usize = 4352;
/// Largest unit.
pub const MAX_UNIT_LEN: usize = OVERHEAD + MAX_DATA_LEN;
/// Bytes of a key-verification challenge ([`SecurityEngine::verify_answer`]).
pub const VERIFY_CHALLENGE_LEN: usize = 16;
/// Default reservation block: the state is written once per this many units per direction.
pub const DEFAULT_RESERVE_BLOCK: u64 = 256;

/// A key nobody holds, used to compute (and discard) the MAC of units with an unknown SPI so
/// that they cost the same as any other unit. Not a secret.
static DUMMY_KEY: Key = Key::from_bytes([0xA5; mac::KEY_LEN]);

/// Counters of the security layer, wrapping. Downlinked in housekeeping structure 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SecurityCounters {
    /// Uplink units accepted.
    pub accepted: u32,
    /// Refused: MAC did not verify.
    pub bad_mac: u32,
    /// Refused: replayed or old ARSN (authenticated).
    pub replayed: u32,
    /// Refused: ARSN beyond the window (authenticated).
    pub outside_window: u32,
    /// Refused: no association with this SPI.
    pub unknown_spi: u32,
    /// Refused: too short or too long.
    pub malformed: u32,
    /// Refused or not sent: the reservation could not be persisted.
    pub persist_failures: u32,
    /// Downlink units protected.
    pub sent: u32,
}

impl SecurityCounters {
    /// Bad sequence number refusals (replayed + outside window).
    pub const fn bad_sequence(&self) -> u32 {
        self.replayed.wrapping_add(self.outside_window)
    }
}

/// Why an uplink unit was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UplinkReject {
    /// Too short or too long to be a unit.
    #[error("unit of {len} bytes is malformed")]
    Malformed {
        /// Unit length.
        len: usize,
    },
    /// No association with this SPI.
    #[error("unknown SPI {0:#06x}")]
    UnknownSpi(u16),
    /// The MAC does not verify.
    #[error("bad MAC under SPI {spi:#06x}")]
    BadMac {
        /// The SPI claimed.
        spi: u16,
    },
    /// Authenticated, but the association's key is not active (pre-activation or
    /// deactivated, [`KeyState`]): nothing under it is accepted.
    #[error("SPI {spi:#06x}: its key is {} (only an active key is accepted)", state.name())]
    KeyNotActive {
        /// The SPI.
        spi: u16,
        /// Its key's state.
        state: KeyState,
    },
    /// Authenticated, but the ARSN is not above the last accepted one.
    #[error("replayed ARSN {arsn} under SPI {spi:#06x}")]
    Replay {
        /// SPI.
        spi: u16,
        /// ARSN received.
        arsn: u64,
    },
    /// Authenticated, but the ARSN is beyond the window.
    #[error("ARSN {arsn} outside the window under SPI {spi:#06x}")]
    OutsideWindow {
        /// SPI.
        spi: u16,
        /// ARSN received.
        arsn: u64,
    },
    /// Authenticated and in the window, but the reservation could not be persisted.
    #[error("anti-replay state could not be persisted")]
    PersistFailed {
        /// SPI.
        spi: u16,
    },
    /// The MAC could not be keyed (does not happen with HMAC; typed instead of unwrapped).
    #[error("MAC failure")]
    Mac,
}

/// Why a downlink unit could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtectError {
    /// No association with this SPI.
    #[error("unknown SPI {0:#06x}")]
    UnknownSpi(u16),
    /// Data empty or longer than [`MAX_DATA_LEN`].
    #[error("data of {0} bytes cannot be carried")]
    BadDataLength(usize),
    /// The output buffer is too small.
    #[error("output buffer of {len} bytes, {needed} needed")]
    BufferTooSmall {
        /// Offered.
        len: usize,
        /// Needed.
        needed: usize,
    },
    /// The association's key is not active: the node sends nothing under it.
    #[error("SPI {0:#06x}: its key is not active")]
    KeyNotActive(u16),
    /// The reservation could not be persisted; nothing was sent.
    #[error("anti-replay state could not be persisted")]
    PersistFailed,
    /// The downlink ARSN space of this association is used up.
    #[error("sequence numbers exhausted")]
    Exhausted,
    /// MAC failure.
    #[error("MAC failure")]
    Mac,
    /// The association cannot secure a transfer frame on this channel ([`crate::radio_ccsds`]).
    #[error("{0}")]
    Frame(spacelink::sdls::SdlsError),
}

/// Why a security management command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ManageError {
    /// No association with this SPI.
    #[error("unknown SPI {0:#06x}")]
    UnknownSpi(u16),
    /// The new epoch is not above the current one.
    #[error("key epoch must rise above {current}")]
    EpochNotIncreasing {
        /// Current epoch.
        current: u32,
    },
    /// The new floor is not above the current last accepted ARSN.
    #[error("floor must rise above {current}")]
    FloorNotIncreasing {
        /// Current last accepted ARSN.
        current: u64,
    },
    /// Activate or deactivate from a state the standard does not allow it from (activate:
    /// pre-activation only; deactivate: active only).
    #[error("the key is {} and cannot go to {}", current.name(), wanted.name())]
    KeyState {
        /// The key's state now.
        current: KeyState,
        /// The state asked for.
        wanted: KeyState,
    },
    /// Deactivating the key in use: the one the command came under (the node would answer
    /// it under a key it no longer accepts).
    #[error("SPI {0:#06x}: its key is in use (it carried this command)")]
    KeyInUse(u16),
    /// OTAR into an association whose key is active (deactivate it first, under another key).
    #[error(
        "SPI {0:#06x}: its key is active; only a key in pre-activation or deactivated can be replaced"
    )]
    KeyActive(u16),
    /// The OTAR itself was refused ([`super::otar::unwrap`]).
    #[error("OTAR refused: {0}")]
    Otar(OtarError),
    /// Could not persist; nothing changed.
    #[error("security state could not be persisted")]
    PersistFailed,
    /// MAC failure (key derivation).
    #[error("MAC failure")]
    Mac,
}

/// Why the engine could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BootError<E: core::fmt::Debug> {
    /// The persisted state could not be read; the node fails closed.
    #[error("security state: {0}")]
    Load(LoadError<E>),
    /// Key derivation failed.
    #[error("MAC failure")]
    Mac,
}

impl From<MacKeyError> for UplinkReject {
    fn from(_: MacKeyError) -> Self {
        UplinkReject::Mac
    }
}

/// A unit that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified<'a> {
    /// The association it was authenticated under.
    pub spi: u16,
    /// Its ARSN.
    pub arsn: u64,
    /// Next or gap.
    pub verdict: SeqVerdict,
    /// What the association may command.
    pub permissions: Permissions,
    /// The data field (one space packet).
    pub data: &'a [u8],
}

/// Public view of one association's state (no keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaStatus {
    /// SPI.
    pub spi: u16,
    /// Key epoch.
    pub epoch: u32,
    /// Last accepted uplink ARSN.
    pub rx_last: u64,
    /// Uplink window width.
    pub rx_window: u64,
    /// Persisted uplink reservation R.
    pub rx_reserved: u64,
    /// Next downlink ARSN.
    pub tx_next: u64,
    /// Persisted downlink reservation T.
    pub tx_reserved: u64,
    /// Permissions.
    pub permissions: Permissions,
    /// The master key's state.
    pub key_state: KeyState,
    /// Unsolicited telemetry goes out under this association.
    pub telemetry: bool,
    /// SDLS suite of its frames on the CCSDS radio (from the provisioning).
    pub suite: Suite,
    /// The master key's key id (from the provisioning or the OTAR that installed it; 0 for
    /// none).
    pub key_id: u16,
}

#[derive(Debug, Clone)]
struct Association {
    spi: u16,
    permissions: Permissions,
    telemetry: bool,
    master: Key,
    key_state: KeyState,
    suite: Suite,
    key_id: u16,
    window: u16,
    epoch: u32,
    up: Key,
    down: Key,
    rx: ReplayWindow,
    rx_reserved: u64,
    tx_next: u64,
    tx_reserved: u64,
}

impl Association {
    fn state(&self) -> SaState {
        SaState {
            spi: self.spi,
            epoch: self.epoch,
            rx_reserved: self.rx_reserved,
            tx_reserved: self.tx_reserved,
        }
    }

    fn status(&self) -> SaStatus {
        SaStatus {
            spi: self.spi,
            epoch: self.epoch,
            rx_last: self.rx.last(),
            rx_window: self.rx.width(),
            rx_reserved: self.rx_reserved,
            tx_next: self.tx_next,
            tx_reserved: self.tx_reserved,
            permissions: self.permissions,
            key_state: self.key_state,
            telemetry: self.telemetry,
            suite: self.suite,
            key_id: self.key_id,
        }
    }
}

/// How [`SecurityEngine::process_inner`] treats the anti-replay floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Floor {
    /// Replayed and out-of-window ARSNs are refused.
    Checked,
    /// Replayed ARSNs are refused; one beyond the window is taken (set ARSN).
    Resync,
    /// The floor was lost: no anti-replay check, nothing moves or is persisted.
    Unknown,
}

/// Why [`SecurityEngine::restore`] changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// The new state does not name this provisioned association.
    #[error("the recovery does not name SA {0}")]
    Missing(u16),
    /// Key derivation failed for the new epoch.
    #[error("MAC failure")]
    Mac,
    /// The new record could not be committed; the engine is unchanged.
    #[error("security state could not be persisted")]
    PersistFailed,
}

/// The node's (or the ground's) security associations and counters.
#[derive(Debug, Clone)]
pub struct SecurityEngine {
    sas: [Option<Association>; MAX_ASSOCIATIONS],
    kek: Option<Kek>,
    counters: SecurityCounters,
    block: u64,
    role: Role,
    /// Started by [`SecurityEngine::boot_lost`] and not yet restored: nothing is persisted (a
    /// record written now would carry floors of 0 and pass for the real state at the next
    /// boot).
    lost: bool,
}

/// Which end an engine is: the node receives uplink and sends downlink; the ground the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The space node.
    Node,
    /// A ground station.
    Ground,
}

impl Role {
    const fn rx_dir(self) -> Direction {
        match self {
            Role::Node => Direction::Uplink,
            Role::Ground => Direction::Downlink,
        }
    }
}

impl SecurityEngine {
    /// Start the node's engine: the provisioned associations with the persisted epochs and
    /// reservations. Writes nothing. `block` is the reservation block (at least 1).
    pub fn boot<P: StatePersist>(
        provisioning: &Provisioning,
        persist: &mut P,
        block: u64,
    ) -> Result<Self, BootError<P::Error>> {
        let loaded = persist.load().map_err(BootError::Load)?;
        Self::start(provisioning, loaded, block.max(1), Role::Node, None)
    }

    /// Start the node's engine when its persisted state was lost: every association at epoch 0
    /// with floors at 0, for [`SecurityEngine::authenticate_only`] until
    /// [`SecurityEngine::restore`] sets the state the admins signed. Writes nothing.
    pub fn boot_lost(provisioning: &Provisioning, block: u64) -> Result<Self, MacKeyError> {
        let mut e = Self::start::<core::convert::Infallible>(
            provisioning,
            Loaded::Fresh,
            block.max(1),
            Role::Node,
            None,
        )
        .map_err(|_| MacKeyError)?;
        e.lost = true;
        Ok(e)
    }

    /// Set every association's epoch, uplink floor and downlink reservation from `state`
    /// (`None` for an SPI it does not name refuses the whole change), committing the record
    /// (mirrored, [`super::state`]) **before** anything changes in memory. On success the last
    /// accepted uplink ARSN is the floor, and the next downlink ARSN one above the reservation.
    pub fn restore<P: StatePersist>(
        &mut self,
        state: impl Fn(u16) -> Option<SaState>,
        persist: &mut P,
    ) -> Result<(), RestoreError> {
        let mut states = [SaState::default(); MAX_ASSOCIATIONS];
        let mut n = 0;
        for (slot, sa) in states.iter_mut().zip(self.sas.iter().flatten()) {
            *slot = state(sa.spi).ok_or(RestoreError::Missing(sa.spi))?;
            slot.spi = sa.spi;
            n += 1;
        }
        let mut keys: [Option<(Key, Key)>; MAX_ASSOCIATIONS] = Default::default();
        for ((k, st), sa) in keys.iter_mut().zip(&states).zip(self.sas.iter().flatten()) {
            *k = Some(derive_pair(&sa.master, sa.spi, st.epoch).map_err(|_| RestoreError::Mac)?);
        }
        let mut buf = [0u8; MAX_STATE_LEN];
        let len = state::encode(states.get(..n).unwrap_or(&[]), &mut buf);
        persist
            .save(buf.get(..len).unwrap_or(&[]))
            .map_err(|_| RestoreError::PersistFailed)?;
        for ((sa, st), k) in self.sas.iter_mut().flatten().zip(&states).zip(keys) {
            if let Some((up, down)) = k {
                sa.up = up;
                sa.down = down;
            }
            sa.epoch = st.epoch;
            sa.rx = ReplayWindow::new(st.rx_reserved, sa.rx.width());
            sa.rx_reserved = st.rx_reserved;
            sa.tx_reserved = st.tx_reserved;
            sa.tx_next = st.tx_reserved.saturating_add(1);
        }
        self.lost = false;
        Ok(())
    }

    /// Start a ground-side engine from the same provisioning. The ground receives downlink, so
    /// its receive window is `ground_window` wide (the node may jump a whole reservation block
    /// ahead after a reboot); `states` restores epochs and reservations kept by the ground tool.
    pub fn ground(
        provisioning: &Provisioning,
        states: Option<state::StateEntries>,
        ground_window: u64,
    ) -> Result<Self, MacKeyError> {
        let loaded = match states {
            Some(s) => Loaded::Record(s),
            None => Loaded::Fresh,
        };
        Self::start::<core::convert::Infallible>(
            provisioning,
            loaded,
            1,
            Role::Ground,
            Some(ground_window),
        )
        .map_err(|_| MacKeyError)
    }

    fn start<E: core::fmt::Debug>(
        provisioning: &Provisioning,
        loaded: Loaded,
        block: u64,
        role: Role,
        window_override: Option<u64>,
    ) -> Result<Self, BootError<E>> {
        let mut sas: [Option<Association>; MAX_ASSOCIATIONS] = Default::default();
        for (slot, p) in sas.iter_mut().zip(provisioning.associations()) {
            let st = match &loaded {
                Loaded::Record(entries) => entries.get(p.spi).unwrap_or_default(),
                Loaded::Fresh => SaState::default(),
            };
            let (up, down) = derive_pair(&p.master, p.spi, st.epoch).map_err(|_| BootError::Mac)?;
            let width = window_override.unwrap_or(u64::from(p.window));
            *slot = Some(Association {
                spi: p.spi,
                permissions: p.permissions,
                telemetry: p.telemetry,
                master: p.master.clone(),
                key_state: p.state,
                suite: p.suite,
                key_id: p.key_id,
                window: p.window,
                epoch: st.epoch,
                up,
                down,
                rx: ReplayWindow::new(st.rx_reserved, width),
                rx_reserved: st.rx_reserved,
                tx_next: st.tx_reserved.saturating_add(1),
                tx_reserved: st.tx_reserved,
            });
        }
        Ok(SecurityEngine {
            sas,
            kek: provisioning.kek().cloned(),
            counters: SecurityCounters::default(),
            block,
            role,
            lost: false,
        })
    }

    /// The counters.
    pub fn counters(&self) -> SecurityCounters {
        self.counters
    }

    /// The SPI unsolicited telemetry is sent under.
    pub fn telemetry_spi(&self) -> u16 {
        self.sas
            .iter()
            .flatten()
            .find(|s| s.telemetry)
            .or_else(|| self.sas.iter().flatten().next())
            .map_or(0, |s| s.spi)
    }

    /// State of association `spi`.
    pub fn status(&self, spi: u16) -> Option<SaStatus> {
        self.find(spi).map(Association::status)
    }

    /// State of every association.
    pub fn statuses(&self) -> impl Iterator<Item = SaStatus> + '_ {
        self.sas.iter().flatten().map(Association::status)
    }

    /// The persisted form of every association (for the ground tool, which keeps its own).
    pub fn states(&self) -> impl Iterator<Item = SaState> + '_ {
        self.sas.iter().flatten().map(Association::state)
    }

    fn find(&self, spi: u16) -> Option<&Association> {
        self.sas.iter().flatten().find(|s| s.spi == spi)
    }

    fn find_mut(&mut self, spi: u16) -> Option<&mut Association> {
        self.sas.iter_mut().flatten().find(|s| s.spi == spi)
    }

    /// Commit the state with association `spi` changed by `f`, without touching memory.
    fn save_with<P: StatePersist>(
        &self,
        persist: &mut P,
        spi: u16,
        f: impl Fn(&mut SaState),
    ) -> Result<(), P::Error> {
        let mut states = [SaState::default(); MAX_ASSOCIATIONS];
        let mut n = 0;
        for (slot, sa) in states.iter_mut().zip(self.sas.iter().flatten()) {
            *slot = sa.state();
            if sa.spi == spi {
                f(slot);
            }
            n += 1;
        }
        let mut buf = [0u8; MAX_STATE_LEN];
        let len = state::encode(states.get(..n).unwrap_or(&[]), &mut buf);
        persist.save(buf.get(..len).unwrap_or(&[]))
    }

    /// ProcessSecurity on one received unit (see the module documentation for the order).
    pub fn process<'a, P: StatePersist>(
        &mut self,
        unit: &'a [u8],
        persist: &mut P,
    ) -> Result<Verified<'a>, UplinkReject> {
        self.process_counted(unit, persist, Floor::Checked)
    }

    /// ProcessSecurity of a node whose anti-replay state was lost (comms' recovery-only mode,
    /// `node/recovery.rs`): structure, SPI, MAC and key state are checked as by
    /// [`SecurityEngine::process`], but there is **no** anti-replay check (the floors are
    /// unknown), the window does not move and nothing is persisted. The caller must take only
    /// what is harmless when replayed.
    pub fn authenticate_only<'a, P: StatePersist>(
        &mut self,
        unit: &'a [u8],
        persist: &mut P,
    ) -> Result<Verified<'a>, UplinkReject> {
        self.process_counted(unit, persist, Floor::Unknown)
    }

    /// ProcessSecurity for a resynchronisation unit (the node's "set ARSN" telecommand, which
    /// the caller has recognised in the unit): exactly as [`SecurityEngine::process`], except
    /// that an authenticated ARSN *beyond* the window is accepted too and becomes the last
    /// accepted one. A replayed or old ARSN is still refused, so no unit is ever accepted
    /// twice and the window only moves forward, to a number only a key holder can have sent.
    pub fn process_resync<'a, P: StatePersist>(
        &mut self,
        unit: &'a [u8],
        persist: &mut P,
    ) -> Result<Verified<'a>, UplinkReject> {
        self.process_counted(unit, persist, Floor::Resync)
    }

    fn process_counted<'a, P: StatePersist>(
        &mut self,
        unit: &'a [u8],
        persist: &mut P,
        floor: Floor,
    ) -> Result<Verified<'a>, UplinkReject> {
        let r = self.process_inner(unit, persist, floor);
        self.count(r.as_ref().err());
        r
    }

    /// Counts one received unit or frame: accepted (`None`) or under its refusal.
    fn count(&mut self, refused: Option<&UplinkReject>) {
        let c = &mut self.counters;
        let counter = match refused {
            None => &mut c.accepted,
            Some(UplinkReject::Malformed { .. }) => &mut c.malformed,
            // A key not active is as unusable as no key.
            Some(UplinkReject::UnknownSpi(_)) | Some(UplinkReject::KeyNotActive { .. }) => {
                &mut c.unknown_spi
            }
            Some(UplinkReject::BadMac { .. }) | Some(UplinkReject::Mac) => &mut c.bad_mac,
            Some(UplinkReject::Replay { .. }) => &mut c.replayed,
            Some(UplinkReject::OutsideWindow { .. }) => &mut c.outside_window,
            Some(UplinkReject::PersistFailed { .. }) => &mut c.persist_failures,
        };
        *counter = counter.wrapping_add(1);
    }

    fn process_inner<'a, P: StatePersist>(
        &mut self,
        unit: &'a [u8],
        persist: &mut P,
        floor: Floor,
    ) -> Result<Verified<'a>, UplinkReject> {
        let len = unit.len();
        if !(OVERHEAD + 1..=MAX_UNIT_LEN).contains(&len) {
            return Err(UplinkReject::Malformed { len });
        }
        let (body, tag) = unit.split_at(len - MAC_LEN);
        let (header, data) = body.split_at(HEADER_LEN);
        let spi = u16::from_be_bytes([header[0], header[1]]);
        let mut arsn = [0u8; 8];
        arsn.copy_from_slice(&header[2..HEADER_LEN]);
        let arsn = u64::from_be_bytes(arsn);

        let role = self.role;
        let sa = self.find(spi);
        let key = match (sa, role.rx_dir()) {
            (Some(sa), Direction::Uplink) => &sa.up,
            (Some(sa), Direction::Downlink) => &sa.down,
            (None, _) => &DUMMY_KEY,
        };
        // Always exactly one HMAC over the whole unit, known SPI or not.
        let authentic = mac::verify(key, &[body], tag);
        let Some(sa) = sa else {
            return Err(UplinkReject::UnknownSpi(spi));
        };
        if !authentic {
            return Err(UplinkReject::BadMac { spi });
        }
        if role == Role::Node && sa.key_state != KeyState::Active {
            return Err(UplinkReject::KeyNotActive {
                spi,
                state: sa.key_state,
            });
        }
        if floor == Floor::Unknown {
            return Ok(Verified {
                spi,
                arsn,
                verdict: SeqVerdict::Next,
                permissions: sa.permissions,
                data,
            });
        }
        let (verdict, permissions) = self.accept_seq(spi, arsn, persist, floor)?;
        Ok(Verified {
            spi,
            arsn,
            verdict,
            permissions,
            data,
        })
    }

    /// Steps 4 and 5 of ProcessSecurity for an authenticated ARSN of association `spi`: the
    /// window check, the reservation on flash, and the window moved. Shared by units and by
    /// TC transfer frames ([`crate::radio_ccsds`]), so both links and both formats move one
    /// window per association.
    fn accept_seq<P: StatePersist>(
        &mut self,
        spi: u16,
        arsn: u64,
        persist: &mut P,
        floor: Floor,
    ) -> Result<(SeqVerdict, Permissions), UplinkReject> {
        let role = self.role;
        let sa = self.find(spi).ok_or(UplinkReject::UnknownSpi(spi))?;
        let verdict = sa.rx.check(arsn);
        match verdict {
            SeqVerdict::Replay => return Err(UplinkReject::Replay { spi, arsn }),
            SeqVerdict::OutsideWindow if floor != Floor::Resync => {
                return Err(UplinkReject::OutsideWindow { spi, arsn });
            }
            SeqVerdict::OutsideWindow | SeqVerdict::Next | SeqVerdict::Gap { .. } => {}
        }
        let permissions = sa.permissions;
        if role == Role::Node && arsn > sa.rx_reserved {
            let reserve = arsn.saturating_add(self.block);
            self.save_with(persist, spi, |s| s.rx_reserved = reserve)
                .map_err(|_| UplinkReject::PersistFailed { spi })?;
            if let Some(sa) = self.find_mut(spi) {
                sa.rx_reserved = reserve;
            }
        }
        if let Some(sa) = self.find_mut(spi) {
            // `raise_floor` is `commit` for an accepted number, and also moves the window to an
            // authenticated resynchronisation ARSN beyond it.
            sa.rx.raise_floor(arsn);
            if role == Role::Ground {
                sa.rx_reserved = sa.rx.last();
            }
        }
        Ok((verdict, permissions))
    }

    /// ApplySecurity: wrap `data` (one space packet) for association `spi` into `out`,
    /// returning the unit length. Each call consumes one ARSN.
    pub fn protect<P: StatePersist>(
        &mut self,
        spi: u16,
        data: &[u8],
        out: &mut [u8],
        persist: &mut P,
    ) -> Result<usize, ProtectError> {
        if data.is_empty() || data.len() > MAX_DATA_LEN {
            return Err(ProtectError::BadDataLength(data.len()));
        }
        let needed = OVERHEAD + data.len();
        if out.len() < needed {
            return Err(ProtectError::BufferTooSmall {
                len: out.len(),
                needed,
            });
        }
        let t = self.take_tx(spi, persist)?;
        let role = self.role;
        let sa = self.find_mut(spi).ok_or(ProtectError::UnknownSpi(spi))?;
        let key = match role {
            Role::Node => &sa.down,
            Role::Ground => &sa.up,
        };
        let (head, rest) = out.split_at_mut(HEADER_LEN);
        head[0..2].copy_from_slice(&spi.to_be_bytes());
        head[2..10].copy_from_slice(&t.to_be_bytes());
        let (payload, trailer) = rest.split_at_mut(data.len());
        payload.copy_from_slice(data);
        let tag = mac::mac(key, &[head, payload]).map_err(|_| ProtectError::Mac)?;
        trailer[..MAC_LEN].copy_from_slice(&tag);
        self.counters.sent = self.counters.sent.wrapping_add(1);
        Ok(needed)
    }

    /// Takes the next downlink (node) or uplink (ground) ARSN of association `spi`, after
    /// committing a new reservation to flash when it passes the persisted one (node). Shared
    /// by units and TM/TC transfer frames ([`crate::radio_ccsds`]): one counter per
    /// association, whatever carries it.
    fn take_tx<P: StatePersist>(&mut self, spi: u16, persist: &mut P) -> Result<u64, ProtectError> {
        let role = self.role;
        let block = self.block;
        let sa = self.find(spi).ok_or(ProtectError::UnknownSpi(spi))?;
        if role == Role::Node && sa.key_state != KeyState::Active {
            return Err(ProtectError::KeyNotActive(spi));
        }
        let t = sa.tx_next;
        if t == u64::MAX {
            return Err(ProtectError::Exhausted);
        }
        // While lost, downlink ARSNs are counted in memory only (see `lost`).
        if role == Role::Node && t > sa.tx_reserved && !self.lost {
            let reserve = t.saturating_add(block);
            if self
                .save_with(persist, spi, |s| s.tx_reserved = reserve)
                .is_err()
            {
                self.counters.persist_failures = self.counters.persist_failures.wrapping_add(1);
                return Err(ProtectError::PersistFailed);
            }
            if let Some(sa) = self.find_mut(spi) {
                sa.tx_reserved = reserve;
            }
        }
        let sa = self.find_mut(spi).ok_or(ProtectError::UnknownSpi(spi))?;
        sa.tx_next = t + 1;
        if role == Role::Ground {
            sa.tx_reserved = t;
        }
        Ok(t)
    }

    /// Rotate association `spi` to key epoch `epoch` (must rise). Persisted before it takes
    /// effect; the new session keys are used from the next unit on, in both directions.
    pub fn rotate_key<P: StatePersist>(
        &mut self,
        spi: u16,
        epoch: u32,
        persist: &mut P,
    ) -> Result<(), ManageError> {
        let sa = self.find(spi).ok_or(ManageError::UnknownSpi(spi))?;
        if epoch <= sa.epoch {
            return Err(ManageError::EpochNotIncreasing { current: sa.epoch });
        }
        let (up, down) = derive_pair(&sa.master, spi, epoch).map_err(|_| ManageError::Mac)?;
        if self.role == Role::Node {
            self.save_with(persist, spi, |s| s.epoch = epoch)
                .map_err(|_| ManageError::PersistFailed)?;
        }
        let sa = self.find_mut(spi).ok_or(ManageError::UnknownSpi(spi))?;
        sa.epoch = epoch;
        sa.up = up;
        sa.down = down;
        Ok(())
    }

    /// [`Self::rotate_key`] of the association the command came under: the rotation is
    /// committed and the uplink key moves at once, but the downlink key stays the old epoch's
    /// until [`Self::settle_downlink`], so the command's own reports (its 1,7, the event) go out
    /// under the keys the ground that sent it still holds.
    pub fn rotate_carrier<P: StatePersist>(
        &mut self,
        spi: u16,
        epoch: u32,
        persist: &mut P,
    ) -> Result<(), ManageError> {
        let old_down = self.find(spi).map(|sa| sa.down.clone());
        self.rotate_key(spi, epoch, persist)?;
        if let (Some(sa), Some(old)) = (self.find_mut(spi), old_down) {
            sa.down = old;
        }
        Ok(())
    }

    /// After [`Self::rotate_carrier`]'s reports: the downlink key of `spi` follows its epoch.
    pub fn settle_downlink(&mut self, spi: u16) {
        if let Some(sa) = self.find_mut(spi)
            && let Ok((_, down)) = derive_pair(&sa.master, spi, sa.epoch)
        {
            sa.down = down;
        }
    }

    /// Raise the uplink anti-replay floor of `spi` to `floor`: every ARSN up to it is refused
    /// from now on (recovery after the ground lost its counter, or retiring captured units).
    pub fn raise_floor<P: StatePersist>(
        &mut self,
        spi: u16,
        floor: u64,
        persist: &mut P,
    ) -> Result<(), ManageError> {
        let sa = self.find(spi).ok_or(ManageError::UnknownSpi(spi))?;
        let current = sa.rx.last();
        if floor <= current {
            return Err(ManageError::FloorNotIncreasing { current });
        }
        let reserve = floor.max(sa.rx_reserved);
        if self.role == Role::Node && reserve > sa.rx_reserved {
            self.save_with(persist, spi, |s| s.rx_reserved = reserve)
                .map_err(|_| ManageError::PersistFailed)?;
        }
        let sa = self.find_mut(spi).ok_or(ManageError::UnknownSpi(spi))?;
        sa.rx_reserved = reserve;
        sa.rx.raise_floor(floor);
        Ok(())
    }

    /// Key verification (CCSDS 355.1's challenge/response, here with a MAC instead of an
    /// encrypted challenge: nothing is secret, and a MAC needs no IV, which comms could not
    /// make unique without an RNG): the answer to `challenge` for association `spi` is
    /// `epoch (4, BE) ‖ HMAC-SHA3-256(K_v, "SNKV" ‖ SPI (2) ‖ epoch (4) ‖ challenge)[..16]`,
    /// `K_v` = [`mac::derive_verify_key`] of the association's master key at its epoch. Only a
    /// holder of the same master key at the same epoch computes it; the ground runs this same
    /// function on its engine and compares. A destroyed key is refused (`KeyState`).
    pub fn verify_answer(
        &self,
        spi: u16,
        challenge: &[u8; VERIFY_CHALLENGE_LEN],
    ) -> Result<(u32, [u8; MAC_LEN]), ManageError> {
        let sa = self.find(spi).ok_or(ManageError::UnknownSpi(spi))?;
        // A destroyed key is gone (all zero): nothing to verify.
        if sa.key_state == KeyState::Destroyed {
            return Err(ManageError::KeyState {
                current: KeyState::Destroyed,
                wanted: KeyState::Active,
            });
        }
        let key =
            mac::derive_verify_key(&sa.master, spi, sa.epoch).map_err(|_| ManageError::Mac)?;
        let epoch = sa.epoch.to_be_bytes();
        let tag = mac::mac(&key, &[b"SNKV", &spi.to_be_bytes(), &epoch, challenge])
            .map_err(|_| ManageError::Mac)?;
        Ok((sa.epoch, tag))
    }

    /// The state of association `spi`'s key.
    pub fn key_state(&self, spi: u16) -> Option<KeyState> {
        self.find(spi).map(|s| s.key_state)
    }

    /// Ground side: continue sending above `arsn` on `spi` (after the node reported its floor).
    pub fn skip_tx_to(&mut self, spi: u16, arsn: u64) {
        if let Some(sa) = self.find_mut(spi)
            && arsn >= sa.tx_next
        {
            sa.tx_next = arsn.saturating_add(1);
        }
    }
}

fn derive_pair(master: &Key, spi: u16, epoch: u32) -> Result<(Key, Key), MacKeyError> {
    Ok((
        mac::derive_session_key(master, Direction::Uplink, spi, epoch)?,
        mac::derive_session_key(master, Direction::Downlink, spi, epoch)?,
    ))
}

/// A persistence backend that keeps the record in memory (ground tools, tests). `fail_next`
/// makes the next saves fail, to test the refusal paths.
#[derive(Debug, Clone, Default)]
pub struct MemoryPersist {
    record: Option<([u8; MAX_STATE_LEN], usize)>,
    /// Number of upcoming saves that fail.
    pub fail_next: u32,
    /// Saves committed.
    pub saves: u32,
    keys: Option<([u8; MAX_FILE_LEN], usize)>,
}

impl MemoryPersist {
    /// The key set last committed by [`StatePersist::save_keys`] (a provisioning file).
    pub fn key_record(&self) -> Option<&[u8]> {
        self.keys.as_ref().and_then(|(b, n)| b.get(..*n))
    }
}

/// The in-memory backend was told to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InjectedFailure;

impl StatePersist for MemoryPersist {
    type Error = InjectedFailure;

    fn save(&mut self, payload: &[u8]) -> Result<(), InjectedFailure> {
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return Err(InjectedFailure);
        }
        let mut buf = [0u8; MAX_STATE_LEN];
        let n = payload.len().min(MAX_STATE_LEN);
        buf[..n].copy_from_slice(&payload[..n]);
        self.record = Some((buf, n));
        self.saves += 1;
        Ok(())
    }

    fn save_keys(&mut self, file: &[u8]) -> Result<(), KeySaveError<InjectedFailure>> {
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return Err(KeySaveError::Backend(InjectedFailure));
        }
        let mut buf = [0u8; MAX_FILE_LEN];
        let n = file.len().min(MAX_FILE_LEN);
        buf[..n].copy_from_slice(&file[..n]);
        self.keys = Some((buf, n));
        self.saves += 1;
        Ok(())
    }

    fn load(&mut self) -> Result<Loaded, LoadError<InjectedFailure>> {
        match &self.record {
            None => Ok(Loaded::Fresh),
            Some((buf, n)) => state::decode(buf.get(..*n).unwrap_or(&[]))
                .map(Loaded::Record)
                .map_err(LoadError::Decode),
        }
    }
}
