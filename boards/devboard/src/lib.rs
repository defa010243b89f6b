//! The dev board's (Raspberry Pi 4 Model B, BCM2711) drivers behind the `hal` traits, each
//! through [`regs::Regs`] so it runs on the hardware and on its register model
//! (`board-models`), where the shared conformance suite (`board-conformance`) tests it.
//!
//! Done: the PL011 UART ([`pl011`]), the mini UART ([`mini_uart`]), the PM watchdog ([`pm_wdt`]), the system timer as the
//! monotonic clock ([`system_timer`]), the RNG200 ([`rng200`]), and SPI0 ([`bcm2835_spi`]) under
//! the shared SPI-NOR driver (`board-spi-nor`) for the key flash, and BSC1 ([`bsc_i2c`]) under the
//! shared FRAM driver (`board-i2c-fram`) for the health flash, and the two SD hosts, EMMC2
//! ([`emmc2`], the slot store) and SDHOST ([`sdhost`], comms' store and batches), under the
//! shared SD card driver (`board-sd-card`).
//!
//! `no_std`, no heap; no interrupts.

#![no_std]
#![warn(missing_docs)]

/// Register access, shared with the flight board's drivers.
pub use board_mmio as regs;

pub mod bcm2835_spi;
pub mod bsc_i2c;
pub mod emmc2;
pub mod mini_uart;
pub mod pl011;
pub mod pm_wdt;
pub mod rng200;
pub mod sdhost;
pub mod slots;
pub mod system_timer;
