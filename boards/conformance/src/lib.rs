//! The hal conformance suite: what every board's devices promise, checked the same way for the
//! sim board's devices (`tests/sim.rs`) and for each driver on its register model
//! (`tests/flight.rs`, `tests/devboard.rs`). A device is handed to a suite through a rig that owns it and its far
//! side (the peer of a serial line, the reset line of a watchdog, the passage of time).
//!
//! Covered: serial ([`serial`]), watchdog ([`watchdog`]), monotonic clock ([`clock`]), NOR flash
//! with power cut and torn write and erase ([`flash`]), RNG ([`rng`]).
//! The suites panic with what broke: they are test code.

pub mod clock;
pub mod flash;
pub mod on_model;
pub mod rng;
pub mod serial;
pub mod watchdog;
