//! Factory provisioning of a fresh sim board: the first image goes into slot A and the root of
//! trust into OTP, once, before the first power-on.
//!
//! Two ways, chosen by `spacenode run`:
//!
//! - **`--factory-bundle FILE`**: an operator's bundle (made with `spacenode bundle create`). Its
//!   header must verify against its own root version 1 (threshold signatures, board `sim`,
//!   hardware `sim-1`, image hash); that root's hash is burnt into OTP, so from then on the node
//!   boots only images released under the operator's root (and its sequential rotations).
//! - **Default**: the running `spacenode` executable, signed at provisioning time as version
//!   [`CARGO_PKG_VERSION`](env!) with the sim board's **public** factory keys
//!   ([`super::sim_release`]). Anyone can sign images for such a
//!   node: it exists so that `spacenode run` works on a fresh machine, and the boot log says so.
//!
//! Avoids: writing anything when OTP is already burnt (the caller checks), and keeping any key:
//! the sim keys are derived from public constants each time.

use super::otp;
use board_sim::flash::SimFlash;
use hal::boot::Slot;
use hal::flash::NorFlash;
use hal::slots::SlotLayout;
use hex_conservative::DisplayHex;
use sha2::{Digest, Sha256};
use std::path::Path;
use upgrade::Version;

pub use super::sim_release::sim_release;

/// Where the first image comes from.
#[derive(Debug)]
pub enum Source<'a> {
    /// The running executable, signed with the sim board's public factory keys.
    SimKeys(&'a Path),
    /// An operator's bundle file's bytes.
    Bundle(&'a Path, Vec<u8>),
}

/// Why provisioning failed.
#[derive(Debug, thiserror::Error)]
pub enum FactoryError {
    /// The operator's bundle does not verify.
    #[error("{0}: not a bundle this board can boot: {1}")]
    Bundle(String, String),
    /// Reading the executable or writing flash/OTP failed.
    #[error("{0}")]
    Io(String),
}

/// Writes the first image into slot A and burns OTP. Returns a line for the boot log.
pub fn provision(
    state: &Path,
    flash: &mut SimFlash,
    layout: &SlotLayout,
    source: Source<'_>,
) -> Result<String, FactoryError> {
    let (bundle, what) = match source {
        Source::SimKeys(exe) => {
            let image = std::fs::read(exe)
                .map_err(|e| FactoryError::Io(format!("{}: {e}", exe.display())))?;
            (
                sim_bundle(&image).map_err(|e| FactoryError::Io(e.to_string()))?,
                format!(
                    "the running executable ({}), signed with the sim board's PUBLIC factory keys: anyone can sign images this node boots; give --factory-bundle on a fresh state directory for a root of trust of your own",
                    exe.display()
                ),
            )
        }
        Source::Bundle(path, bytes) => {
            let shown = path.display().to_string();
            (bytes, format!("{shown} (your root of trust)"))
        }
    };
    let anchor =
        check(&bundle, layout).map_err(|e| FactoryError::Bundle(what.clone(), e.to_string()))?;
    let header_len = upgrade::header_len(&bundle).map_err(|e| FactoryError::Io(e.to_string()))?;
    write_slot(
        flash,
        layout,
        Slot::A,
        &bundle[..header_len],
        &bundle[header_len..],
    )?;
    otp::burn(state, &anchor).map_err(|e| FactoryError::Io(e.to_string()))?;
    Ok(format!(
        "factory provisioning: slot A <- {what}; OTP <- root of trust {}...",
        anchor[..8].as_hex()
    ))
}

/// A bundle of `image` as version `CARGO_PKG_VERSION`, security counter 0, signed by the sim
/// board's public factory keys.
pub fn sim_bundle(image: &[u8]) -> Result<Vec<u8>, upgrade::builder::BuildError> {
    let version = Version::parse(env!("CARGO_PKG_VERSION")).unwrap_or_default();
    sim_release(image, version, 0)
}

/// Verifies a factory bundle against its own first root; returns that root's hash.
fn check(bundle: &[u8], layout: &SlotLayout) -> Result<[u8; 32], Box<dyn std::error::Error>> {
    let header = upgrade::Header::parse(bundle)?;
    let anchor: [u8; 32] = Sha256::digest(header.roots()[0].body).into();
    let policy = super::slot::boot_policy(&anchor, 0, layout);
    let verified = upgrade::verify(bundle, &policy)?;
    let image = &bundle[verified.header_len..];
    let mut v = verified.manifest.image_verifier();
    v.update(image)?;
    v.finish()?;
    if image.len() as u64 != verified.manifest.image_len {
        return Err("bytes follow the image".into());
    }
    Ok(anchor)
}

/// Erases what `slot` needs and writes `header` into its header area and `image` after it.
pub fn write_slot(
    flash: &mut SimFlash,
    layout: &SlotLayout,
    slot: Slot,
    header: &[u8],
    image: &[u8],
) -> Result<(), FactoryError> {
    let io = |e: board_sim::flash::SimFlashError| FactoryError::Io(format!("slot flash: {e}"));
    let sector = <SimFlash as NorFlash>::ERASE_SIZE as u32;
    let start = layout.slot_offset(slot);
    let used = (u64::from(layout.header_area) + image.len() as u64).div_ceil(u64::from(sector))
        * u64::from(sector);
    flash.erase(start, start + used as u32).map_err(io)?;
    for (at, bytes) in [(start, header), (layout.image_offset(slot), image)] {
        let mut off = 0usize;
        while off < bytes.len() {
            let n = (1usize << 20).min(bytes.len() - off);
            let mut piece = bytes[off..off + n].to_vec();
            piece.resize(n.next_multiple_of(<SimFlash as NorFlash>::WRITE_SIZE), 0xFF);
            flash.write(at + off as u32, &piece).map_err(io)?;
            off += n;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::sim_release::SIM_CHUNK_LOG2;

    #[test]
    fn an_image_as_large_as_a_slot_is_released_and_verifies_as_the_boot_stage_does() {
        let slot = board_sim::boot::SIM_SLOT_LAYOUT.slot_size;
        assert!((upgrade::MAX_CHUNKS as u64) << SIM_CHUNK_LOG2 >= slot as u64);
        // A debug executable grown past 64 MiB (it was 68,336,592 bytes in a fresh clone).
        let image = vec![0x5a; (64 << 20) + 4096];
        let bundle = sim_bundle(&image).expect("released");
        check(&bundle, &board_sim::boot::SIM_SLOT_LAYOUT).expect("the boot stage's checks pass");
    }
}
