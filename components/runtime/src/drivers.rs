//! Device driver glue: how a component turns the [`DeviceCap`]s it took from its capability set
//! into `hal` drivers without depending on any board.
//!
//! A component that uses devices is generic over a board type implementing [`Drivers`]
//! (`impl<B: Drivers> Component for MyComponent<B>`). The board crate implements the trait
//! (the sim board: `board_sim::drivers::SimDrivers`, a flash image on a granted descriptor and
//! the kernel's `getrandom`), and the binary that links both picks the pair
//! (`partition.run::<MyComponent<SimDrivers>>()`). The component only ever hands the trait a
//! capability it was granted: a driver cannot be made from a name, a number or an address.
//!
//! | device kind | method | driver |
//! | --- | --- | --- |
//! | `flash` | [`Drivers::flash`] | [`hal::flash::NorFlash`] |
//! | `rng` | [`Drivers::rng`] | [`hal::rng::TryCryptoRng`] |
//! | `flash` | [`Drivers::seal_secret`] | the board's 32-byte sealing secret bound to that flash |
//! | `flash` | [`Drivers::link_recovery_key`] | the board's write-once link recovery key handed with that flash, if one was burnt |
//! | `watchdog` | [`WatchdogDrivers::watchdog`] | [`hal::watchdog::WatchdogTimer`] |
//! | `radio` | [`LinkDrivers::radio`] | [`hal::radio::Radio`] |
//! | `uart` | [`LinkDrivers::serial`] | [`hal::serial::Serial`] |
//! | `flash` (the slot flash) | [`BootDrivers::boot_control`] | [`hal::boot::BootControl`], the board's boot record handed with that flash |
//!
//! The device families are separate traits so that a component (and a test's drivers) names
//! only the ones it uses: the watchdog is generic over `B: Drivers + WatchdogDrivers`, the comms
//! manager over `B: Drivers + LinkDrivers`.
//!
//! The sealing secret stands for storage only the owner of a flash can read (OTP, eFuse, a PUF,
//! a secure element on a flight board). Boards say in their docs what theirs really protects.
//!
//! The **link recovery key** is a 32-byte key burnt once, at link provisioning, into write-once
//! memory *apart* from the flash it comes with (an OTP row or eFuse bank on a flight board; on
//! the sim board `STATE/link-recovery.otp`). Comms uses it only while the sealed SDLS keys on
//! its flash are lost, to take fresh keys from the ground (`comms-partition` key recovery): it
//! survives whatever happens to that flash.
//!
//! Avoids: OS handles in the trait (the board interprets [`DeviceCap::handles`]), and any
//! way around the capability set.

use crate::caps::DeviceCap;
use hal::boot::BootControl;
use hal::flash::{ErasedValue, NorFlash};
use hal::radio::Radio;
use hal::rng::TryCryptoRng;
use hal::serial::Serial;
use hal::watchdog::WatchdogTimer;

/// Why a driver could not be made from a device capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverError {
    /// The capability is of another device kind than the driver asked for.
    WrongKind {
        /// The device's name.
        device: &'static str,
        /// Its kind.
        kind: &'static str,
    },
    /// The board could not open the device (the board logs the detail).
    Unavailable(&'static str),
}

impl core::fmt::Display for DriverError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DriverError::WrongKind { device, kind } => {
                write!(f, "device `{device}` is a {kind}, not the kind asked for")
            }
            DriverError::Unavailable(d) => write!(f, "device `{d}` could not be opened"),
        }
    }
}

impl core::error::Error for DriverError {}

/// A board's drivers for the devices a component was granted.
pub trait Drivers {
    /// The board's NOR flash driver (it says its erased value).
    type Flash: NorFlash + ErasedValue;
    /// The board's random number generator.
    type Rng: TryCryptoRng;

    /// The driver for a granted `flash` device.
    fn flash(device: DeviceCap) -> Result<Self::Flash, DriverError>;

    /// The driver for a granted `rng` device.
    fn rng(device: DeviceCap) -> Result<Self::Rng, DriverError>;

    /// The board's sealing secret for a granted `flash` device (see the module docs). The
    /// caller must zeroize it once it has wrapped it.
    fn seal_secret(device: &DeviceCap) -> Result<[u8; 32], DriverError>;

    /// The link recovery key burnt for a granted `flash` device (module docs): `Ok(None)` when
    /// none was burnt, or the board has no write-once memory for one (the default: such a board
    /// cannot recover lost link keys over the link, only by re-provisioning). The caller must
    /// zeroize it after use.
    fn link_recovery_key(device: &DeviceCap) -> Result<Option<[u8; 32]>, DriverError> {
        expect_kind(device, "flash")?;
        Ok(None)
    }
}

/// A board's driver for a granted hardware watchdog timer.
pub trait WatchdogDrivers {
    /// The board's watchdog timer driver.
    type Watchdog: WatchdogTimer;

    /// The driver for a granted `watchdog` device.
    fn watchdog(device: DeviceCap) -> Result<Self::Watchdog, DriverError>;
}

/// A board's drivers for granted ground links.
pub trait LinkDrivers {
    /// The board's datagram radio driver.
    type Radio: Radio;
    /// The board's serial line driver.
    type Serial: Serial;

    /// The driver for a granted `radio` device.
    fn radio(device: DeviceCap) -> Result<Self::Radio, DriverError>;

    /// The driver for a granted `uart` device.
    fn serial(device: DeviceCap) -> Result<Self::Serial, DriverError>;
}

/// A board's boot control, handed to the owner of the slot flash (the upgrade agent) with that
/// flash device. Take it before handing the device to [`Drivers::flash`].
pub trait BootDrivers {
    /// The board's boot control.
    type Boot: BootControl;
    /// Where the slots and the agent's progress region lie on the slot flash.
    const SLOT_LAYOUT: hal::slots::SlotLayout;

    /// The boot control that comes with the granted slot `flash` device.
    fn boot_control(device: &DeviceCap) -> Result<Self::Boot, DriverError>;
}

/// Checks `device` is of kind `kind`.
pub fn expect_kind(device: &DeviceCap, kind: &str) -> Result<(), DriverError> {
    if device.kind == kind {
        Ok(())
    } else {
        Err(DriverError::WrongKind {
            device: device.name,
            kind: device.kind,
        })
    }
}
