//! The challenge a comms link recovery answers (`protocol::link_recovery`): fresh at every
//! signer boot and after every recovery the signer verified, so a captured `recover-link`
//! never applies twice.
//!
//! Comms has no random source; the signer has one. At boot the signer draws a 32-byte seed
//! from its RNG; the challenge is the first 16 bytes of SHA-256(`spacenode link-recovery` ‖
//! seed ‖ uses), where `uses` counts the recoveries verified this boot. A new boot draws a new
//! seed (so no challenge repeats across boots, except with probability 2^-128), and within a
//! boot every verified recovery moves to the next one. The seed never leaves the signer, so the
//! next challenge cannot be predicted from the current one.
//!
//! Avoids: flash (nothing to persist: a new boot is a new seed), and any use of the seed beyond
//! this hash.

use sha2::{Digest, Sha256};
use zeroize::Zeroize;

/// Length of the challenge (`protocol::link_recovery::LINK_CHALLENGE_LEN`).
pub const LINK_CHALLENGE_LEN: usize = 16;

const DOMAIN: &[u8] = b"spacenode link-recovery";

/// This boot's link-recovery challenge.
pub struct LinkChallenge {
    seed: [u8; 32],
    uses: u64,
}

impl LinkChallenge {
    /// From a seed the caller drew from the RNG at boot.
    pub fn new(seed: [u8; 32]) -> Self {
        LinkChallenge { seed, uses: 0 }
    }

    /// The challenge a `recover-link` must carry now.
    pub fn current(&self) -> [u8; LINK_CHALLENGE_LEN] {
        let d = Sha256::new()
            .chain_update(DOMAIN)
            .chain_update(self.seed)
            .chain_update(self.uses.to_be_bytes())
            .finalize();
        let mut c = [0u8; LINK_CHALLENGE_LEN];
        c.copy_from_slice(&d[..LINK_CHALLENGE_LEN]);
        c
    }

    /// A recovery answered the current challenge: move to the next one.
    pub fn used(&mut self) {
        self.uses = self.uses.wrapping_add(1);
    }
}

impl Drop for LinkChallenge {
    fn drop(&mut self) {
        self.seed.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_changes_after_each_use_and_with_the_seed() {
        let mut a = LinkChallenge::new([7; 32]);
        let first = a.current();
        assert_eq!(a.current(), first, "stable until used");
        a.used();
        assert_ne!(a.current(), first);
        assert_ne!(LinkChallenge::new([8; 32]).current(), first);
    }
}
