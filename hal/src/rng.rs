//! Random numbers: the `rand_core` 0.10 traits, re-exported.
//!
//! Components that need secrets (the signer's seed, ping nonces) take a board RNG as
//! `R: TryCryptoRng`: a fallible, cryptographically secure generator. Fallible because a
//! hardware entropy source can fail its health test; a component must treat an `Err` as "no
//! randomness available now" and refuse the operation, never substitute weaker bytes.
//!
//! `rand_core` 0.10 is the version `p256`/`k256` 0.14 accept, so the same RNG value can be
//! passed straight to their key generation. `rand_core` itself is re-exported for its helpers
//! (`UnwrapErr` to adapt a fallible RNG where an infallible one is required).

pub use rand_core::{self, CryptoRng, Rng, TryCryptoRng, TryRng};
