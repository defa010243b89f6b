//! Hardware traits the spacenode components are written against.
//!
//! Every component is a `no_std` library that talks to hardware only through the traits in this
//! crate, so the same code runs on the sim board (Linux processes, emulated devices), the dev
//! board and the flight computer. Where the embedded Rust ecosystem already has a well-kept trait
//! it is re-exported rather than re-invented:
//!
//! | device | trait | from |
//! | --- | --- | --- |
//! | NOR flash | [`flash::NorFlash`], [`flash::ReadNorFlash`] | `embedded-storage` |
//! | serial line | [`serial::Serial`] (= `embedded_io::Read + Write + ReadReady`) | `embedded-io` |
//! | random numbers | [`rng::TryCryptoRng`] | `rand_core` 0.10 (the version `p256`/`k256` 0.14 use) |
//! | hardware watchdog timer | [`watchdog::WatchdogTimer`] | this crate |
//! | monotonic clock, mission time | [`time::MonotonicClock`], [`time::MissionClock`] | this crate |
//! | boot control (A/B slots, trial boot) | [`boot::BootControl`] | this crate |
//! | where the A/B images live on the slot flash | [`slots::SlotLayout`] | this crate |
//! | datagram radio | [`radio::Radio`] | this crate |
//!
//! This crate holds traits and small value types only: no drivers, no allocation, no OS calls.
//! Implementations live in the boards (`board-sim`, ...) and, for boot control, in the `store`
//! crate, which implements [`boot::BootControl`] on any NOR flash.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod boot;
pub mod flash;
pub mod radio;
pub mod rng;
pub mod serial;
pub mod slots;
pub mod time;
pub mod watchdog;
