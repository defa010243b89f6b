//! The sim board's driver glue ([`runtime::Drivers`]): the drivers a component makes from the
//! device capabilities it took, inside its sandbox.
//!
//! | device kind | driver | made from |
//! | --- | --- | --- |
//! | `flash` | [`SimFlash`] | the image descriptor in `DeviceCap::handles[0]` (the monitor's `STATE/NAME.flash`); seccomp allows `pread64`/`pwrite64`/`fsync`/`fstat` on it and nothing else |
//! | `rng` | [`OsRng`] | nothing: `getrandom(2)`, which seccomp allows only to the rng's owner |
//! | `watchdog` | [`SimWatchdog`] | the component end of the timer's socket pair (`crate::watchdog`) |
//! | `radio` | [`UdpRadio`] with MTU [`RADIO_MTU`] | the UDP socket the monitor bound and connected to the ground |
//! | `uart` | [`PtySerial`] | the pty master (the monitor keeps the slave for ground tools) |
//! | boot control | [`SimBootControl`] | the boot record image in `DeviceCap::handles[1]` of the slot flash (`crate::boot::open_from_file`) |
//!
//! **Sealing secret.** The sim board has no OTP or eFuse: [`SimDrivers::seal_secret`] returns
//! the public constant [`SIM_SEAL_SECRET`]. A record sealed with it detects every corruption
//! (power cut, bit flip, stray write) but nothing about it is secret from anyone who can read the
//! host's files. Flight boards must return a secret only the flash's owner can read.
//!
//! **Link recovery key.** [`SimDrivers::link_recovery_key`] reads the write-once stand-in
//! granted with `comms-flash` ([`crate::link_otp`]): as public as the sealing secret.
//!
//! Avoids: opening anything by name (the sandbox forbids it anyway) and a second owner of a
//! descriptor: the capability set hands each device out once, so the driver owns it.

use crate::boot::SimBootControl;
use crate::flash::SimFlash;
use crate::partition::device_fd;
use crate::radio::{RADIO_MTU, UdpRadio};
use crate::rng::OsRng;
use crate::serial::PtySerial;
use crate::watchdog::SimWatchdog;
use runtime::DeviceCap;
use runtime::drivers::{
    BootDrivers, DriverError, Drivers, LinkDrivers, WatchdogDrivers, expect_kind,
};
use std::fs::File;
use std::net::UdpSocket;
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
        let file = File::from(take_fd(&device, "flash")?);
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

    fn link_recovery_key(device: &DeviceCap) -> Result<Option<[u8; 32]>, DriverError> {
        expect_kind(device, "flash")?;
        if device.name != crate::link_otp::LINK_RECOVERY_DEVICE {
            return Ok(None);
        }
        let fd = device_fd(device.handles[1]).ok_or(DriverError::Unavailable(device.name))?;
        // SAFETY: the partition granted this descriptor as the link recovery key of exactly
        // this device; it is only borrowed here (read with pread, never closed: the sandbox
        // forbids `close`), and the capability keeps it open for the process's life.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let mut buf = [0u8; crate::link_otp::LINK_OTP_LEN + 1];
        let n = rustix::io::pread(fd, &mut buf, 0).map_err(|e| unavailable(device, e))?;
        let key = crate::link_otp::parse(buf.get(..n).unwrap_or(&[]));
        zeroize::Zeroize::zeroize(&mut buf);
        key.map_err(|e| unavailable(device, e))
    }
}

/// The descriptor granted to `device`, checked to be of kind `kind`, owned from here on.
fn take_fd(device: &DeviceCap, kind: &str) -> Result<OwnedFd, DriverError> {
    expect_kind(device, kind)?;
    let fd = device_fd(device.handles[0]).ok_or(DriverError::Unavailable(device.name))?;
    // SAFETY: the partition granted this descriptor to exactly this device capability, and the
    // capability set hands a device out once (by value), so nothing else owns `fd`.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn unavailable(device: &DeviceCap, e: impl std::fmt::Display) -> DriverError {
    log::error!("device `{}`: {e}", device.name);
    DriverError::Unavailable(device.name)
}

impl WatchdogDrivers for SimDrivers {
    type Watchdog = SimWatchdog;

    fn watchdog(device: DeviceCap) -> Result<SimWatchdog, DriverError> {
        let fd = take_fd(&device, "watchdog")?;
        SimWatchdog::from_fd(fd).map_err(|e| unavailable(&device, e))
    }
}

impl LinkDrivers for SimDrivers {
    type Radio = UdpRadio;
    type Serial = PtySerial;

    fn radio(device: DeviceCap) -> Result<UdpRadio, DriverError> {
        let sock = UdpSocket::from(take_fd(&device, "radio")?);
        UdpRadio::from_socket(sock, RADIO_MTU).map_err(|e| unavailable(&device, e))
    }

    fn serial(device: DeviceCap) -> Result<PtySerial, DriverError> {
        Ok(PtySerial::from_fd(take_fd(&device, "uart")?))
    }
}

impl BootDrivers for SimDrivers {
    type Boot = SimBootControl;
    const SLOT_LAYOUT: hal::slots::SlotLayout = crate::boot::SIM_SLOT_LAYOUT;

    fn boot_control(device: &DeviceCap) -> Result<SimBootControl, DriverError> {
        expect_kind(device, "flash")?;
        let fd = device_fd(device.handles[1]).ok_or(DriverError::Unavailable(device.name))?;
        // SAFETY: the partition granted this descriptor as the boot record of exactly this
        // device, and only this call turns `handles[1]` into an owner; the capability was taken
        // once from the set, so no second owner of it exists.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        crate::boot::open_from_file(file).map_err(|e| unavailable(device, e))
    }
}
