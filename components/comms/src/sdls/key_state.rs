//! The state of an association's master key, as CCSDS 355.1-B-1 (SDLS extended procedures,
//! key management) names them: pre-activation, active, deactivated. It is kept in the sealed
//! key record ([`super::sealed`], bits 1..=2 of each association's flags byte in the
//! [`super::provision`] format) and changed only by authenticated telecommands (130,7
//! activate, 130,8 deactivate; 130,6 OTAR puts a new key in pre-activation), each rewritten on
//! flash before it takes effect.
//!
//! The transitions are the standard's and only go forward: pre-activation -> active ->
//! deactivated. A deactivated key never becomes active again; a new key sent over the air
//! ([`super::otar`]) replaces it, in pre-activation. 355.1's "destroyed" and "corrupted" states are not kept: this node has no
//! key destruction command, and a key record that does not verify stops comms as a whole
//! (`comms_partition::keys`), it is never marked and kept.
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
}

impl KeyState {
    /// The 2-bit code in the flags byte.
    pub const fn code(self) -> u8 {
        match self {
            KeyState::Active => 0,
            KeyState::PreActive => 1,
            KeyState::Deactivated => 2,
        }
    }

    /// The state of a 2-bit code (3 is undefined).
    pub const fn from_code(code: u8) -> Option<KeyState> {
        match code {
            0 => Some(KeyState::Active),
            1 => Some(KeyState::PreActive),
            2 => Some(KeyState::Deactivated),
            _ => None,
        }
    }

    /// The standard's name, for logs and the ground.
    pub const fn name(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::PreActive => "pre-activation",
            KeyState::Deactivated => "deactivated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_3_is_undefined() {
        for s in [KeyState::Active, KeyState::PreActive, KeyState::Deactivated] {
            assert_eq!(KeyState::from_code(s.code()), Some(s));
        }
        assert_eq!(KeyState::from_code(3), None);
    }
}
