//! The flight computer's (Xilinx Zynq UltraScale+ MPSoC) drivers behind the `hal` traits.
//!
//! Each driver talks to its peripheral only through [`regs::Regs`], so the same code runs on the
//! hardware ([`regs::Mmio`], the device's mapped register page) and on the host against a register
//! model of the peripheral (`board-models`), where the shared `hal` conformance suite
//! (`board-conformance`) tests it. Register offsets and bits carry their source beside them.
//!
//! Done: Cadence UART ([`cadence_uart`]), Cadence system watchdog ([`cadence_wdt`]), triple-timer
//! counter as the monotonic clock ([`ttc`]), and the Cadence SPI controller ([`cadence_spi`])
//! under the shared SPI-NOR driver (`board-spi-nor`) for the key and comms flash, and the Cadence
//! I2C controller ([`cadence_i2c`]) under the shared FRAM driver (`board-i2c-fram`) for the health
//! flash, and the generic quad-SPI controller ([`gqspi`]) under the same SPI-NOR driver for the
//! 64 MiB slot flash, and the entropy source, a TPM 2.0 on I2C0 ([`tpm_rng`], TPM2_GetRandom
//! through the Cadence I2C driver: the ZynqMP has no TRNG of its own).
//!
//! `no_std`, no heap; no interrupts (every driver polls its status register).

#![no_std]
#![warn(missing_docs)]

/// Register access, shared with the dev board's drivers.
pub use board_mmio as regs;

pub mod cadence_i2c;
pub mod cadence_spi;
pub mod cadence_uart;
pub mod cadence_wdt;
pub mod gqspi;
pub mod slots;
pub mod tpm_rng;
pub mod ttc;
