//! The sim board's driver glue ([`runtime::Drivers`]): the drivers a component makes from the
//! device capabilities it took, inside its sandbox.
//!
//! | device kind | driver | made from |
//! | --- | --- | --- |
//! | `flash` | [`SimFlash`] | the image descriptor in `DeviceCap::handles[0]` (the monitor's `STATE/NAME.flash`); seccomp allows `pread64`/`pwrite64`/`fsync`/`fstat` on it and nothing else |
//! | `rng` | [`OsRng`] | nothing: `getrandom(2)`, which seccomp allows only to the rng's owner |
//!
//! **Sealing secret.** The sim board has no OTP or eFuse: [`SimDrivers::seal_secret`] returns
//! the public constant [`SIM_SEAL_SECRET`]. A record sealed with it detects every corruption
//! (power cut, bit flip, stray write) but nothing about it is secret from anyone who can read the
//! host's files. Flight boards must return a secret only the flash's owner can read.
//!
//! Avoids: opening anything by name (the sandbox forbids it anyway) and a second owner of a
//! descriptor: the capability set hands each device out once, so the driver owns it.

use crate::flash::SimFlash;
use crate::partition::device_fd;
use crate::rng::OsRng;
use runtime::DeviceCap;
use runtime::drivers::{DriverError, Drivers, expect_kind};
use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd};

/// The sim board's sealing secret (public; see the module docs).
pub const SIM_SEAL_SECRET: [u8; 32] = *b"spacenode sim board seal (PUBLIC";

/// The sim board's drivers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimDrivers;

impl Drivers for SimDrivers {
    type Flash = SimFlash;
    type Rng = OsRng;

    fn flash(device: DeviceCap) -> Result<SimFlash, DriverError> {
        expect_kind(&device, "flash")?;
        let fd = device_fd(device.handles[0]).ok_or(DriverError::Unavailable(device.name))?;
        // SAFETY: the partition granted this descriptor to exactly this device capability, and
        // the capability set hands a device out once, so nothing else owns `fd`.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        SimFlash::from_file(file).map_err(|e| {
            log::error!("device `{}`: {e}", device.name);
            DriverError::Unavailable(device.name)
        })
    }

    fn rng(device: DeviceCap) -> Result<OsRng, DriverError> {
        expect_kind(&device, "rng")?;
        Ok(OsRng)
    }

    fn seal_secret(device: &DeviceCap) -> Result<[u8; 32], DriverError> {
        expect_kind(device, "flash")?;
        Ok(SIM_SEAL_SECRET)
    }
}
