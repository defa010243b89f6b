//! Comms' SDLS link keys on this board: the host makes a provisioning file
//! (`spacenode provision-link --generate`, which `spacenode run --board qemu-x86` runs for each
//! boot) and hands it to the guest through QEMU's `fw_cfg` (`opt/spacenode/link-keys`), and
//! the monitor writes it into the provisioning inbox of comms' flash before comms' first start
//! (`comms_partition::keys::write_inbox`, the same writer `spacenode provision-link` uses on
//! the sim board's flash file). Comms seals it at its start and erases the inbox, as on every
//! board.
//!
//! **The keys pass through the host**: the file is on the host's disk (the ground needs the
//! same file) and in QEMU's memory, so the host knows them; the boot log says so. comms-flash
//! is RAM, so the sealed keys are lost at every boot, and each boot takes the file it is given.
//!
//! Avoids: keeping the file (the buffer is wiped once written); writing anywhere on comms'
//! flash but its inbox; starting comms without keys (the monitor refuses to boot instead).

use crate::alloc::{Alloc, StepError, step};
use crate::fw_cfg::{FwCfg, FwCfgError};
use crate::vspace::Scratch;
use comms::sdls::sealed::MAX_FILE_LEN;
use comms_partition::flash_map::SDLS_REGION;
use ram_flash::RamFlash;
use sel4::*;
use system::PAGE;

/// Pages of comms-flash's SDLS region, where its inbox lies (the monitor maps only these).
pub const SDLS_PAGES: usize = (SDLS_REGION as u64 / PAGE) as usize;

/// The fw_cfg file holding the provisioning file.
pub const FILE: &str = "opt/spacenode/link-keys";

/// What the boot log says about the keys.
pub const ORIGIN: &str = "made on the host (spacenode provision-link --generate) and passed through QEMU's fw_cfg: the host knows them, as the ground must; on this board they pass through the host";

/// The provisioning file, read once.
pub struct LinkKeys {
    file: [u8; MAX_FILE_LEN],
    len: usize,
}

/// Why the keys could not be put into comms' inbox.
pub enum LinkKeysError {
    FwCfg(FwCfgError),
    Step(StepError),
    /// The component given the keys owns no `comms-flash`.
    NoInbox,
    /// The inbox writer refused the file or the flash (its words).
    Inbox(comms_partition::keys::KeysError<ram_flash::RamFlashError>),
}

impl core::fmt::Display for LinkKeysError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::FwCfg(e) => write!(
                f,
                "no link keys for comms: {e}; boot through `spacenode run --board qemu-x86`, which makes them and passes them"
            ),
            Self::Step(e) => write!(f, "{e}"),
            Self::NoInbox => write!(f, "link keys given to a component without comms-flash"),
            Self::Inbox(e) => write!(f, "link keys from {FILE}: {e}"),
        }
    }
}

impl From<StepError> for LinkKeysError {
    fn from(e: StepError) -> Self {
        Self::Step(e)
    }
}

impl LinkKeys {
    /// Reads the provisioning file from fw_cfg.
    pub fn read(fw: &mut FwCfg) -> Result<Self, LinkKeysError> {
        let mut file = [0u8; MAX_FILE_LEN];
        let len = fw
            .read_file(FILE, &mut file)
            .map_err(LinkKeysError::FwCfg)?;
        Ok(Self { file, len })
    }

    /// Writes the file into the inbox of comms' flash, whose first frames are `frames` (the
    /// monitor maps the SDLS region for the write and unmaps it again), then wipes it.
    pub fn write_inbox(
        &mut self,
        alloc: &mut Alloc,
        ipc: &mut IpcBuffer,
        scratch: &mut Scratch,
        frames: &[CPtr],
    ) -> Result<usize, LinkKeysError> {
        let frames = frames.get(..SDLS_PAGES).ok_or(StepError {
            what: "find the SDLS region of comms-flash",
            error: Error(seL4_RangeError),
        })?;
        let mut copies = [0 as CPtr; SDLS_PAGES];
        let mut base = core::ptr::null_mut();
        for (i, frame) in frames.iter().enumerate() {
            let (copy, ptr) = scratch.map(alloc, ipc, *frame)?;
            if i == 0 {
                base = ptr;
            }
            copies[i] = copy;
        }
        // SAFETY: the scratch window maps consecutive pages at consecutive addresses, so
        // base..base + SDLS_REGION is the monitor's fresh read-write mapping of comms-flash's
        // first frames; comms has not started, so nothing else uses them.
        let mut flash = unsafe { RamFlash::new(base as u64, SDLS_REGION as usize) };
        let written = comms_partition::keys::write_inbox(&mut flash, &self.file[..self.len])
            .map_err(LinkKeysError::Inbox);
        self.file.fill(0);
        for copy in copies {
            step(
                "unmap the monitor's comms-flash mapping",
                ipc.unmap_page(copy),
            )?;
        }
        written.map(|()| self.len)
    }
}
