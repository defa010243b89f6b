//! The qemu-x86 board's driver glue ([`runtime::Drivers`]): the drivers a partition makes from
//! the device capabilities it took. A device capability's `handles[0]` is the device's index in
//! `system::DEVICES`; the monitor mapped that device's RAM at `system::device_vaddr`.
//!
//! | device kind | driver | made from |
//! | --- | --- | --- |
//! | `flash` | [`RamFlash`] (volatile) | the RAM the monitor mapped for it |
//! | `rng` | `chacha20::ChaCha20Rng` | the 32-byte seed on the page the monitor mapped read-only |
//! | `watchdog` | [`MonitorWatchdog`] (emulated by the monitor) | the page the monitor mapped read-write and checks every tick |
//! | `uart` | [`Uart16550`] (QEMU's COM2) | the I/O port and IRQ handler capabilities the monitor granted (`system::uart_slots`) |
//! | `radio` | none: this board has no radio, and [`NoRadio`] has no values | - |
//!
//! **The rng's seed comes from the host**: the monitor takes it from the host's RNG through
//! QEMU's fw_cfg (its `seed.rs`; QEMU's Nehalem has no RDRAND), so whoever can read the host's
//! seed file while QEMU runs knows it. **Sealing secret**: as on the
//! sim board, a public constant ([`QEMU_SEAL_SECRET`]); it detects corruption, protects nothing.
//!
//! Avoids: mapping or naming memory itself; a device is made only from a granted capability.

use crate::uart::{Uart16550, UartError};
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;
use core::time::Duration;
use hal::watchdog::{WatchdogError, WatchdogTimer};
use ram_flash::RamFlash;
use runtime::DeviceCap;
use runtime::drivers::{DriverError, Drivers, LinkDrivers, WatchdogDrivers, expect_kind};
use system::{DEVICES, RNG_SEED_BYTES, UART, device_bytes, device_vaddr, uart_slots};

/// This board's sealing secret (public; see the module docs).
pub const QEMU_SEAL_SECRET: [u8; 32] = *b"spacenode qemu-x86 seal (PUBLIC)";

/// The qemu-x86 board's drivers.
pub struct Sel4Drivers;

/// The index in `system::DEVICES` of a granted device of kind `kind`.
fn device(device: &DeviceCap, kind: &str) -> Result<usize, DriverError> {
    expect_kind(device, kind)?;
    usize::try_from(device.handles[0])
        .ok()
        .filter(|&d| DEVICES.get(d).is_some_and(|x| x.name == device.name))
        .ok_or(DriverError::Unavailable(device.name))
}

impl Drivers for Sel4Drivers {
    type Flash = RamFlash;
    type Rng = ChaCha20Rng;

    fn flash(cap: DeviceCap) -> Result<RamFlash, DriverError> {
        let d = device(&cap, "flash")?;
        // SAFETY: the monitor mapped device_bytes of RAM read-write at device_vaddr into this
        // partition only; the capability set hands the device out once, so this is its owner.
        Ok(unsafe { RamFlash::new(device_vaddr(d), device_bytes(&DEVICES[d]) as usize) })
    }

    fn rng(cap: DeviceCap) -> Result<ChaCha20Rng, DriverError> {
        let d = device(&cap, "rng")?;
        let mut seed = [0u8; RNG_SEED_BYTES];
        // SAFETY: the monitor mapped the seed page read-only at device_vaddr for this partition;
        // it holds RNG_SEED_BYTES bytes.
        seed.copy_from_slice(unsafe {
            core::slice::from_raw_parts(device_vaddr(d) as *const u8, RNG_SEED_BYTES)
        });
        Ok(ChaCha20Rng::from_seed(seed))
    }

    fn seal_secret(cap: &DeviceCap) -> Result<[u8; 32], DriverError> {
        device(cap, "flash")?;
        Ok(QEMU_SEAL_SECRET)
    }
}

/// The hardware watchdog of this board, emulated by the monitor: a page of two words the
/// monitor checks at every timer tick (timeout in µs, 0 until started; kick count). A start
/// or kick bumps the count; if the count stays the same for longer than the timeout, the
/// monitor ends the run as a board reset. QEMU's `ib700` only times out in 2 s steps, which
/// does not fit the watchdog's 1 s.
pub struct MonitorWatchdog {
    page: *mut u64,
    started: bool,
}

/// Timeouts the monitor can check: above its 10 ms tick, at most a minute.
const WATCHDOG_RANGE: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(60));

impl MonitorWatchdog {
    fn bump(&mut self) {
        // SAFETY: the page the monitor mapped read-write for this partition (see `watchdog`);
        // word 1 is the kick count, which only this partition writes.
        unsafe {
            let kicks = self.page.add(1);
            kicks.write_volatile(kicks.read_volatile().wrapping_add(1));
        }
    }
}

impl WatchdogTimer for MonitorWatchdog {
    fn timeout_range(&self) -> (Duration, Duration) {
        WATCHDOG_RANGE
    }

    fn start(&mut self, timeout: Duration) -> Result<(), WatchdogError> {
        let (min, max) = WATCHDOG_RANGE;
        if timeout < min || timeout > max {
            return Err(WatchdogError::TimeoutOutOfRange {
                requested: timeout,
                min,
                max,
            });
        }
        // SAFETY: as in `bump`; word 0 is the timeout, which only this partition writes.
        unsafe { self.page.write_volatile(timeout.as_micros() as u64) };
        self.started = true;
        self.bump();
        Ok(())
    }

    fn kick(&mut self) -> Result<(), WatchdogError> {
        if !self.started {
            return Err(WatchdogError::NotStarted);
        }
        self.bump();
        Ok(())
    }
}

impl WatchdogDrivers for Sel4Drivers {
    type Watchdog = MonitorWatchdog;

    fn watchdog(cap: DeviceCap) -> Result<MonitorWatchdog, DriverError> {
        let d = device(&cap, "watchdog")?;
        Ok(MonitorWatchdog {
            page: device_vaddr(d) as *mut u64,
            started: false,
        })
    }
}

/// The radio type of a board without one: it has no values, so no radio can ever be made or
/// used; comms, granted no `radio` device here, runs on its standby link alone.
pub enum NoRadio {}

impl hal::radio::Radio for NoRadio {
    type Error = core::convert::Infallible;

    fn mtu(&self) -> usize {
        match *self {}
    }

    fn try_send(&mut self, _: &[u8]) -> Result<(), hal::radio::RadioError<Self::Error>> {
        match *self {}
    }

    fn try_recv(
        &mut self,
        _: &mut [u8],
    ) -> Result<Option<usize>, hal::radio::RadioError<Self::Error>> {
        match *self {}
    }
}

impl LinkDrivers for Sel4Drivers {
    type Radio = NoRadio;
    type Serial = Uart16550;

    fn radio(cap: DeviceCap) -> Result<NoRadio, DriverError> {
        log::error!(
            "this board has no radio device ({} was asked for)",
            cap.name
        );
        Err(DriverError::Unavailable(cap.name))
    }

    fn serial(cap: DeviceCap) -> Result<Uart16550, DriverError> {
        let d = device(&cap, "uart")?;
        let (port, irq) = uart_slots(d);
        Uart16550::new(port, irq, UART.first_port).map_err(|e: UartError| {
            log::error!("{}: {e}", cap.name);
            DriverError::Unavailable(cap.name)
        })
    }
}
