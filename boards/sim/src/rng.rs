//! The sim board's random number generator: the host kernel's CSPRNG through `getrandom`.
//!
//! Implements `rand_core` 0.10's `TryRng` + `TryCryptoRng` (what `hal::rng` asks of boards), so
//! it can be handed to `p256`/`k256` 0.14 directly. It keeps no state and no buffer: every call
//! is one `getrandom(2)` system call (a component's seccomp filter must allow it). A failure is
//! returned as an error, never replaced by weaker bytes.

use hal::rng::{TryCryptoRng, TryRng};

/// The host kernel's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRng;

impl TryRng for OsRng {
    type Error = getrandom::Error;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        getrandom::u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        getrandom::u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        getrandom::fill(dst)
    }
}

impl TryCryptoRng for OsRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_filled_and_differ() {
        let mut rng = OsRng;
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];
        rng.try_fill_bytes(&mut a).expect("fill");
        rng.try_fill_bytes(&mut b).expect("fill");
        assert_ne!(a, b, "two 512-bit draws collide with probability 2^-512");
        assert_ne!(a, [0u8; 64]);
        let x: Vec<u64> = (0..8).map(|_| rng.try_next_u64().expect("u64")).collect();
        assert!(x.windows(2).any(|w| w[0] != w[1]));
    }
}
