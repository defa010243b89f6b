//! RNG conformance (`hal::rng`): bytes are produced, successive draws differ, and a health-test
//! failure is an error (never weaker bytes) after which the device recovers.

use hal::rng::{TryCryptoRng, TryRng};

/// A random number generator and, where it can be made to, its health test.
pub trait RngRig {
    /// The device under test.
    type Dut: TryCryptoRng;
    /// The device.
    fn dut(&mut self) -> &mut Self::Dut;
    /// Makes the next draw trip the health test; false where that cannot be caused.
    fn fail_health_test(&mut self) -> bool;
}

/// Runs every RNG check.
pub fn run<R: RngRig>(rig: &mut R) {
    let mut a = [0u8; 64];
    let mut b = [0u8; 64];
    rig.dut().try_fill_bytes(&mut a).expect("fill");
    rig.dut().try_fill_bytes(&mut b).expect("fill");
    assert_ne!(a, b, "two draws were equal");
    assert!(a.iter().any(|&x| x != a[0]), "a draw was one repeated byte");
    let mut odd = [0u8; 7];
    rig.dut().try_fill_bytes(&mut odd).expect("an odd length");
    let words: Vec<u32> = (0..16)
        .map(|_| rig.dut().try_next_u32().expect("u32"))
        .collect();
    assert!(words.iter().any(|&w| w != words[0]), "next_u32 repeated");
    if rig.fail_health_test() {
        assert!(
            rig.dut().try_fill_bytes(&mut a).is_err(),
            "a failed health test still produced bytes"
        );
        rig.dut()
            .try_fill_bytes(&mut a)
            .expect("recovered after the failure");
    }
}
