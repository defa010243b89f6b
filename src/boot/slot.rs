//! Reading one slot of the sim board's slot flash and verifying it, the way a boot ROM does:
//! the header against the root of trust in OTP, then the image's bytes — **after** they were
//! copied into the sealed memory they will run from, so what was verified is exactly what runs.
//!
//! The image is copied from flash into a `memfd` (`spacenode-slot-A`), sealed against any write,
//! shrink or grow (`F_SEAL_*`), and only then hashed chunk by chunk against the signed manifest.
//! The boot stage `fexecve`s that memfd. The slot flash's layout is [`hal::slots::SlotLayout`].
//!
//! Avoids: trusting anything in the slot before its signature verified, and any write to flash.

use board_sim::flash::SimFlash;
use hal::boot::Slot;
use hal::flash::ReadNorFlash;
use hal::slots::SlotLayout;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use upgrade::{Floor, Policy, Rule, Trust, Version};

pub use super::sim_release::{SIM_BOARD, SIM_HARDWARE};

/// A verified image, sealed in memory, ready to run.
#[derive(Debug)]
pub struct LoadedImage {
    /// The sealed memfd holding exactly the verified image.
    pub memfd: OwnedFd,
    /// The manifest's version.
    pub version: Version,
    /// The manifest's security counter.
    pub security_counter: u32,
    /// Image length in bytes.
    pub len: u64,
    /// The root version the manifest was verified under.
    pub root_version: u32,
}

/// Why a slot was not run.
#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    /// The slot's header area holds no bundle header (erased or torn).
    #[error("holds no image (its header area is erased or unreadable: {0})")]
    Empty(upgrade::FormatError),
    /// The header did not verify.
    #[error("{0}")]
    Refused(#[from] upgrade::VerifyError),
    /// The header is larger than the slot's header area.
    #[error("its header claims {len} bytes, more than the {area}-byte header area")]
    HeaderTooLarge {
        /// Claimed length.
        len: usize,
        /// The area.
        area: u32,
    },
    /// The image's bytes do not match the signed manifest.
    #[error("its image does not match the signed manifest: {0}")]
    Image(upgrade::ImageError),
    /// Flash or memory failed.
    #[error("{0}")]
    Io(String),
}

/// Reads `slot` from `flash`, verifies its header against `anchor` (the OTP root hash) with a
/// security counter at least `counter_floor`, copies the image into a sealed memfd and verifies
/// it there.
pub fn load(
    flash: &mut SimFlash,
    layout: &SlotLayout,
    slot: Slot,
    anchor: &[u8; 32],
    counter_floor: u64,
) -> Result<LoadedImage, SlotError> {
    let base = layout.slot_offset(slot);
    let mut prefix = [0u8; upgrade::PREFIX_LEN];
    read(flash, base, &mut prefix)?;
    let header_len = upgrade::header_len(&prefix).map_err(SlotError::Empty)?;
    if header_len > layout.header_area as usize {
        return Err(SlotError::HeaderTooLarge {
            len: header_len,
            area: layout.header_area,
        });
    }
    let mut header = vec![0u8; header_len];
    read(flash, base, &mut header)?;
    let policy = boot_policy(anchor, counter_floor, layout);
    let verified = upgrade::verify(&header, &policy)?;
    let m = verified.manifest;
    let memfd = copy_to_sealed_memfd(flash, layout.image_offset(slot), m.image_len, slot)?;
    let file = File::from(memfd);
    let mut check = m.image_verifier();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < m.image_len {
        let n = buf.len().min((m.image_len - at) as usize);
        file.read_exact_at(&mut buf[..n], at)
            .map_err(|e| SlotError::Io(format!("reading the sealed image back: {e}")))?;
        check.update(&buf[..n]).map_err(SlotError::Image)?;
        at += n as u64;
    }
    check.finish().map_err(SlotError::Image)?;
    Ok(LoadedImage {
        memfd: file.into(),
        version: m.version,
        security_counter: m.security_counter,
        len: m.image_len,
        root_version: verified.root.version,
    })
}

/// What the boot stage checks a slot's header against: the OTP anchor, this board and hardware,
/// a security counter at least `counter_floor`, an image that fits the slot. No version floor and
/// no expiry: an installed image keeps booting (the agent checked both when it installed it).
pub fn boot_policy<'a>(
    anchor: &'a [u8; 32],
    counter_floor: u64,
    layout: &SlotLayout,
) -> Policy<'a> {
    Policy {
        trust: Trust::Anchor(anchor),
        board: SIM_BOARD,
        hardware: SIM_HARDWARE,
        version: Floor {
            current: Version::new(0, 0, 0),
            rule: Rule::AtLeast,
        },
        security_counter: Floor {
            current: u32::try_from(counter_floor).unwrap_or(u32::MAX),
            rule: Rule::AtLeast,
        },
        max_image_len: u64::from(layout.max_image_len()),
        now: None,
    }
}

fn read(flash: &mut SimFlash, offset: u32, buf: &mut [u8]) -> Result<(), SlotError> {
    flash
        .read(offset, buf)
        .map_err(|e| SlotError::Io(format!("slot flash read at {offset:#x}: {e}")))
}

fn copy_to_sealed_memfd(
    flash: &mut SimFlash,
    offset: u32,
    len: u64,
    slot: Slot,
) -> Result<OwnedFd, SlotError> {
    use rustix::fs::{MemfdFlags, SealFlags};
    let io = |what: &str, e: rustix::io::Errno| SlotError::Io(format!("{what}: {e}"));
    let fd = rustix::fs::memfd_create(
        format!("spacenode-slot-{slot:?}"),
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .map_err(|e| io("memfd_create", e))?;
    let file = File::from(fd);
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < len {
        let n = buf.len().min((len - at) as usize);
        read(flash, offset + at as u32, &mut buf[..n])?;
        file.write_all_at(&buf[..n], at)
            .map_err(|e| SlotError::Io(format!("copying the image into memory: {e}")))?;
        at += n as u64;
    }
    let fd = OwnedFd::from(file);
    let seals = SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL;
    // F_SEAL_WRITE fails with EBUSY while a page of the file still holds a reference beyond
    // the page cache's; the kernel waits briefly for such references, then gives up. Seen
    // once in CI under load, just after the copy above: a trial boot then fell back to the
    // old slot for nothing. Transient, so it is tried again, for up to about a second.
    let mut busy = 0;
    loop {
        match rustix::fs::fcntl_add_seals(&fd, seals) {
            Ok(()) => return Ok(fd),
            Err(rustix::io::Errno::BUSY) if busy < SEAL_BUSY_TRIES => {
                busy += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(io("sealing the image", e)),
        }
    }
}

/// How often sealing an image that the kernel finds busy is tried again, 50 ms apart.
const SEAL_BUSY_TRIES: u32 = 20;
