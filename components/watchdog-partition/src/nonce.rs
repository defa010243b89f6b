//! Ping nonces: a ChaCha20 DRBG (RustCrypto's `chacha20` `ChaCha20Rng`) seeded with the fresh
//! 32-byte seed the board hands this start of the partition (`runtime::CapSet::take_seed`).
//!
//! The watchdog does not own the board RNG (the description's policy gives it to the signer
//! alone). It does not need to: a nonce only has to be unpredictable to the component being
//! pinged, so that a component cannot answer pings it never received (a frozen handler that
//! left a pre-computed answer behind, or a compromised partition vouching for a dead one). A
//! DRBG seeded from 256 bits the monitor drew from the kernel at this start gives that; a
//! restart of the watchdog gets a new seed, so nonces never repeat across starts.
//!
//! Avoids: any fallback when there is no seed (the partition refuses to start), and keeping a
//! copy of the seed.

use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;

/// The nonce generator: infallible, implements `hal::rng::TryRng` for the watchdog core.
pub type NonceRng = ChaCha20Rng;

/// The generator for this start, from the board's seed (consumed).
pub fn from_seed(seed: [u8; 32]) -> NonceRng {
    ChaCha20Rng::from_seed(seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hal::rng::TryRng;
    use std::vec::Vec;

    fn first(seed: [u8; 32], n: usize) -> Vec<u64> {
        let mut r = from_seed(seed);
        (0..n)
            .map(|_| r.try_next_u64().expect("infallible"))
            .collect()
    }

    #[test]
    fn different_seeds_give_unrelated_nonces_and_none_repeat() {
        let a = first([1; 32], 64);
        let b = first([2; 32], 64);
        assert!(a.iter().all(|x| !b.contains(x)));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), a.len());
        // Deterministic for a given seed: the seed, not the clock, is the only entropy.
        assert_eq!(first([1; 32], 64), a);
    }
}
