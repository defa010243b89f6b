//! The seeds of this board (the signer's rng, every start's `runtime` seed). QEMU's emulated Nehalem (TCG) has no RDRAND and the
//! board has no entropy device, so the seed is drawn from the time stamp counter at boot,
//! spread over 32 bytes with splitmix64. It differs from boot to boot but is **not secret**
//! (anyone who knows roughly when the node booted can guess it) and this is **not a real
//! RNG**: keys or nonces made from it protect nothing. The monitor says so on the boot log,
//! every boot. It fills the signer's rng seed and every start's seed (`runtime` seed).
//!
//! Avoids: presenting this as entropy anywhere (the log line is [`WARNING`]).

use core::arch::x86_64::_rdtsc;

/// What the boot log says about the seed.
pub const WARNING: &str = "its seed is drawn from the TSC: NOT SECRET and NOT A REAL RNG (QEMU TCG has no RDRAND); nothing made from it (keys, nonces) is secret";

/// Fills `out` from the TSC (see the module docs).
pub fn draw(out: &mut [u8]) {
    // SAFETY: rdtsc has no preconditions.
    let mut state = unsafe { _rdtsc() };
    for chunk in out.chunks_mut(8) {
        // splitmix64, re-reading the TSC each step.
        // SAFETY: as above.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15 ^ unsafe { _rdtsc() });
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
    }
}
