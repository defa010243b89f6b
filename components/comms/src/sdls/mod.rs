//! Space Data Link Security (CCSDS 355.0-B-2) for the node's ground links: authentication and
//! anti-replay on every uplink and downlink unit, per-association keys, reboot-safe sequence
//! state.
//!
//! | module | what |
//! | --- | --- |
//! | [`engine`] | the unit format, ApplySecurity / ProcessSecurity, counters, key rotation |
//! | [`window`] | the anti-replay window check (next, gap, replay, outside window) |
//! | [`mac`] | HMAC-SHA3-256 truncated to 128 bits, SP 800-108 session key derivation |
//! | [`state`] | what is persisted, when, in which record format |
//! | [`key_state`] | a master key's state (pre-activation, active, deactivated) |
//! | [`otar`] | over-the-air rekeying: the key-encryption key and TC 130,6's wrapped keys |
//! | [`provision`] | the provisioning file format (associations and master keys) |
//! | [`sealed`] | the keys at rest: the provisioning file sealed under the board's secret |
//! | [`permissions`] | what each association may command |
//! | [`sim_default`] | the sim board's public default provisioning (never for flight) |
//!
//! Units are authenticated only; on the CCSDS radio each association's frames are secured by
//! `spacelink` under the association's own suite from the provisioning (AES-256-GCM, which
//! encrypts, or HMAC-SHA-256), with keys and windows this module lends (`engine::frames`).
//!
//! Avoids: heap, and any answer to a refused unit
//! (the node's one exception, an authenticated unit refused for its sequence number, is
//! [`crate::node`]'s rate-limited event 0x0007).

pub mod engine;
pub mod key_recovery;
pub mod key_state;
pub mod mac;
pub mod otar;
pub mod permissions;
pub mod provision;
pub mod sealed;
pub mod sim_default;
pub mod state;
pub mod window;

pub use engine::{
    DEFAULT_RESERVE_BLOCK, MAX_DATA_LEN, MAX_UNIT_LEN, ManageError, MemoryPersist, OVERHEAD,
    ProtectError, Role, SaStatus, SecurityCounters, SecurityEngine, UplinkReject, Verified,
};
pub use key_state::KeyState;
pub use mac::{Direction, Key};
pub use otar::{Kek, OtarError, OtarKey};
pub use permissions::Permissions;
pub use provision::{ProvisionError, ProvisionedSa, Provisioning, Suite};
pub use state::{FlashPersist, KeySaveError, LoadError, Loaded, SaState, StatePersist};
pub use window::{ReplayWindow, SeqVerdict};
