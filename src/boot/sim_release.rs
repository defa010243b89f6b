//! The sim board's public factory keys, and a release of any image signed with them: what
//! factory provisioning signs the running executable with, what the demo's upgrade chapter
//! releases, and what the system tests release. The tests have no library to import it from,
//! so they compile this very file (`#[path]`): it uses only the `upgrade` crate.
//!
//! Avoids: keeping a key (both are derived from public constants each time) and any other
//! board's ids.

use upgrade::builder::{BuildError, ManifestSpec, RootSpec, SecretKey, SignedDoc, assemble};
use upgrade::{Algorithm, Version};

/// Seed of the sim board's public factory root key (Ed25519). PUBLIC: sim board only.
pub const SIM_FACTORY_ROOT_SEED: [u8; 32] = *b"spacenode sim factory root (PUB)";
/// Seed of the sim board's public factory release key (Ed25519). PUBLIC: sim board only.
pub const SIM_FACTORY_RELEASE_SEED: [u8; 32] = *b"spacenode sim factory release(P)";
/// The sim board's id in manifests.
pub const SIM_BOARD: &[u8] = b"sim";
/// The sim board's hardware id in manifests (the board model and revision).
pub const SIM_HARDWARE: &[u8] = b"sim-1";

/// `image` as `version` with security `counter`, for board `sim` / hardware `sim-1`, in
/// [`SIM_CHUNK_LOG2`] chunks, never expiring, under root version 1: both signed by the sim
/// factory keys.
pub fn sim_release(image: &[u8], version: Version, counter: u32) -> Result<Vec<u8>, BuildError> {
    let key = |seed: &[u8; 32]| {
        SecretKey::from_seed(Algorithm::Ed25519, seed).expect("an Ed25519 seed is any 32 bytes")
    };
    let (root_key, release_key) = (key(&SIM_FACTORY_ROOT_SEED), key(&SIM_FACTORY_RELEASE_SEED));
    let root = RootSpec {
        version: 1,
        root_threshold: 1,
        root_keys: vec![root_key.public()],
        release_threshold: 1,
        release_keys: vec![release_key.public()],
    };
    let mut root_doc = SignedDoc::new(root.body()?);
    root_doc.sign(&root_key);
    let spec = ManifestSpec {
        board: SIM_BOARD.to_vec(),
        hardware: SIM_HARDWARE.to_vec(),
        version,
        security_counter: counter,
        expires: u64::MAX,
        chunk_log2: SIM_CHUNK_LOG2,
    };
    let mut manifest = SignedDoc::new(spec.body(image)?);
    manifest.sign(&release_key);
    assemble(&[root_doc], &manifest, image)
}

/// The sim board's chunk size (log2): 128 KiB, so that any image that fits a 128 MiB slot fits
/// the format's [`upgrade::MAX_CHUNKS`] chunks. The sim board's image is the debug `spacenode`
/// executable, whose size moves with its dependencies and with the checkout's path (debug info):
/// the default 64 KiB capped it at 64 MiB, and a fresh clone passed that. One size for every
/// sim release, never chosen per image, so the adaptive transfer always finds the running
/// image's chunks (it matches chunks of the same size). The agent and the boot stage take any
/// chunk size the format allows.
pub const SIM_CHUNK_LOG2: u8 = 17;
const _: () = assert!((upgrade::MAX_CHUNKS as u64) << SIM_CHUNK_LOG2 >= 128 << 20);
