//! The deterministic world both processes (the test and the test comms) rebuild: the node's keys
//! come from a fixed test RNG, so the node's account xpub, the ground's wallet, the provisioning
//! file and the batches are the same wherever they are computed.

use crate::support::*;
use signer::descriptor::ScriptType;
use signer::keys::SealKey;
use signer::node::Signer;
use signer::wallet::Network;

pub const RNG_SEED: u64 = 0x5eed_0f5a_7e11_1e00;
pub const SERVER: u32 = 7;
pub const RULES: &str = "rule allow max-amount=5000000 max-fee=50000";
/// Certificates that never expire (the fixture's registry allows it): these tests are about
/// the partition's channels; mission time is tested in `signer/tests/mission_time.rs` and, in
/// the real partitions, in the root package's `ground_sign` test.
pub const EXPIRY: u64 = signer::cert::NO_EXPIRY;

pub struct World {
    pub ground: Ground,
    pub identity: [u8; 33],
    pub provisioning: String,
    /// (batch id, bytes, psbt count)
    pub batches: Vec<(u64, Vec<u8>, usize)>,
}

pub fn sim_seal() -> SealKey {
    SealKey::new(board_sim::drivers::SIM_SEAL_SECRET)
}

/// Builds the world from a signer booted (first boot) with the test RNG.
pub fn build(s: &Signer<Flash>) -> World {
    let g = Ground::new(s, SERVER, Network::Regtest, ScriptType::Wsh, 3, 11);
    let provisioning = provisioning(&[], 0, &[(&g, RULES)]);
    let mut psbts = vec![
        psbt(&g, &Spend::simple(1_000_000, 600_000, 1_000, 1)),
        psbt(
            &g,
            &Spend {
                inputs: vec![(3, 500_000), (4, 700_000), (5, 800_000)],
                pays: vec![(pay_spk(2), 900_000), (pay_spk(3), 100_000)],
                change: Some((2, 998_000)),
                salt: 2,
            },
        ),
        psbt(&g, &Spend::simple(2_000_000, 1_500_000, 2_000, 3)),
    ];
    // Enough PSBTs that the batch and its answer span several chunks.
    for salt in 10..15 {
        psbts.push(psbt(&g, &Spend::simple(1_000_000, 400_000, 1_000, salt)));
    }
    let first = batch(&g.cert_key, SERVER, 1, EXPIRY, &psbts);
    // Same sequence, other contents: a replay the signer must refuse (certificate code 6).
    let replay = batch(&g.cert_key, SERVER, 1, EXPIRY, &psbts[..1]);
    World {
        identity: s.identity_public_key(),
        ground: g,
        provisioning,
        batches: vec![(101, first, 8), (102, replay, 1)],
    }
}

/// Boots a signer on `flash` with the test RNG (the same keys every time on a blank flash).
pub fn boot_on(flash: Flash) -> Signer<Flash> {
    Signer::boot(
        flash,
        signer::persist::SignerLayout::contiguous(0),
        &sim_seal(),
        &mut TestRng(RNG_SEED),
    )
    .expect("boot")
    .0
}
