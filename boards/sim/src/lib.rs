//! The sim board: spacenode's host board, running on Linux.
//!
//! This crate holds the board's emulated devices, each behind a `hal` trait, each in its own
//! module. (The monitor that starts components as processes is added beside them.)

pub mod boot;
pub mod clock;
pub mod drivers;
pub mod flash;
pub mod grants;
pub mod link;
pub mod link_otp;
pub mod monitor;
pub mod partition;
pub mod radio;
pub mod region;
pub mod rng;
pub mod serial;
pub mod serial_line;
pub mod testing;
pub mod watchdog;
