//! The state of an association's master key, as CCSDS 355.1-B-1 (SDLS extended procedures,
//! key management) names them: pre-activation, active, deactivated, destroyed. It is kept in the sealed
//! key record ([`super::sealed`], bits 1..=2 of each association's flags byte in the
//! [`super::provision`] format) and changed only by authenticated telecommands (130,7
//! activate, 130,8 deactivate, 130,9 destroy; 130,6 OTAR puts a new key in pre-activation),
//! each rewritten on flash before it takes effect.
//!
//! The transitions are the standard's and only go forward: pre-activation -> active ->
//! deactivated -> destroyed. A deactivated key never becomes active again; destroying it erases
//! its bytes in the resealed record (a destroyed key is all zero on flash and in memory). A new
//! key sent over the air ([`super::otar`]) replaces a deactivated or destroyed one, in
//! pre-activation.
//!
//! 355.1's "corrupted" state is not kept, on purpose: the key record is sealed as a whole
//! (AES-256-GCM-SIV, [`super::sealed`]), so damage to any one key fails the whole record, which
//! comms then treats as lost keys (key recovery, [`super::key_recovery`]); a record that
//! verifies cannot hold one damaged key for a per-key state to mark.
//!
//! Avoids: any state the node cannot act on (only an active key authenticates a unit).

/// A master key's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyState {
    /// Active: units under this association are accepted and sent (code 0, so files written
    /// before key states existed read as active).
    #[default]
    Active,
    /// Pre-activation: provisioned, not yet usable; `activate` makes it active.
    PreActive,
    /// Deactivated: no longer usable, for good.
    Deactivated,
    /// Destroyed: deactivated, and its bytes erased (all zero in the sealed record).
    Destroyed,
}

impl KeyState {
    /// The 2-bit code in the flags byte.
    pub const fn code(self) -> u8 {
        match self {
            KeyState::Active => 0,
            KeyState::PreActive => 1,
            KeyState::Deactivated => 2,
            KeyState::Destroyed => 3,
        }
    }

    /// The state of a 2-bit code (4 and above are undefined).
    pub const fn from_code(code: u8) -> Option<KeyState> {
        match code {
            0 => Some(KeyState::Active),
            1 => Some(KeyState::PreActive),
            2 => Some(KeyState::Deactivated),
            3 => Some(KeyState::Destroyed),
            _ => None,
        }
    }

    /// The standard's name, for logs and the ground.
    pub const fn name(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::PreActive => "pre-activation",
            KeyState::Deactivated => "deactivated",
            KeyState::Destroyed => "destroyed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_4_is_undefined() {
        for s in [
            KeyState::Active,
            KeyState::PreActive,
            KeyState::Deactivated,
            KeyState::Destroyed,
        ] {
            assert_eq!(KeyState::from_code(s.code()), Some(s));
        }
        assert_eq!(KeyState::from_code(4), None);
    }
}
