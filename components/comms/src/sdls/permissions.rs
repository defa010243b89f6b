//! What an association may command: a bit set checked by the router before anything runs.
//!
//! Each security association (one ground operator role, one key) carries the classes of
//! telecommands it may send. A command authenticated under an association without the class
//! gets a service 1 failure report with `Unauthorised`, and nothing runs.
//!
//! Avoids: per-command lists (the classes are few and fixed; the catalogue maps each command to
//! one class in [`crate::router`]).

/// A set of command classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions(u16);

impl Permissions {
    /// Service 17 connection test.
    pub const TEST: Permissions = Permissions(1 << 0);
    /// Service 3 housekeeping reports on request.
    pub const HOUSEKEEPING: Permissions = Permissions(1 << 1);
    /// Service 8 functions that reach the signer (co-signing).
    pub const SIGN: Permissions = Permissions(1 << 2);
    /// Service 8 functions that reach the upgrade agent.
    pub const UPGRADE: Permissions = Permissions(1 << 3);
    /// The security management service (key rotation, anti-replay floor).
    pub const KEY_MANAGEMENT: Permissions = Permissions(1 << 4);
    /// Service 8 functions that reach the watchdog (leave safe mode, reboot).
    pub const NODE_CONTROL: Permissions = Permissions(1 << 5);
    /// No class.
    pub const NONE: Permissions = Permissions(0);
    /// Every defined class.
    pub const ALL: Permissions = Permissions(0b11_1111);

    /// From the wire bits; undefined bits are dropped.
    pub const fn from_bits(bits: u16) -> Self {
        Permissions(bits & Self::ALL.0)
    }

    /// The wire bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether every class of `other` is in `self`.
    pub const fn contains(self, other: Permissions) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union.
    pub const fn union(self, other: Permissions) -> Permissions {
        Permissions(self.0 | other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_and_union() {
        let p = Permissions::TEST.union(Permissions::HOUSEKEEPING);
        assert!(p.contains(Permissions::TEST));
        assert!(!p.contains(Permissions::SIGN));
        assert!(Permissions::ALL.contains(p));
        assert_eq!(Permissions::from_bits(0xFFFF), Permissions::ALL);
        assert!(p.contains(Permissions::NONE));
    }
}
