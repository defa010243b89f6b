//! The spacenode heartbeat watchdog's logic: who to ping, what a missed or wrong answer means,
//! when to ask the monitor for a restart, when to give up and hold a component, and when to let
//! the hardware watchdog reset the board.
//!
//! Anchors: F Prime's Health component (a ping with a fresh key per period, warn and fatal
//! thresholds), cFS Health & Safety (an action per application; a capped number of processor
//! resets counted across resets), Hubris's supervisor (restarts with a minimum run time, so a
//! crashing task cannot spin).
//!
//! | module | what |
//! | --- | --- |
//! | [`config`] | per-component health and restart configuration, the reset cap, timing constants |
//! | [`description`] | the configuration from a validated system description (feature `description`) |
//! | [`machine`] | the state machine: [`Watchdog::tick`], [`Watchdog::on_pong`], [`Watchdog::on_fault`], [`Watchdog::on_restart_result`] |
//! | [`action`] | what the wrapper must do ([`Action`]), the kick decision ([`Kick`]), input verdicts and errors |
//! | [`liveness`] | one component's ping bookkeeping: missed, on time, late, wrong nonce |
//! | [`policy`] | back-off with minimum run time, restart budget per sliding window |
//! | [`reset_counter`] | the board reset counter on flash, safe-mode decision at boot, clearing |
//! | [`boot`] | what a boot is: mode, resets, last escalation |
//! | [`status`] | a one-line rendering of a health report for logs and `spacenode run` |
//!
//! The core does no I/O and keeps no clock: every input carries the instant it happened
//! ([`hal::time::Instant`]) and every output is an [`Action`] the component wrapper executes.
//! Nonces come from an injected RNG ([`hal::rng::TryRng`]). The reset counter talks to flash only
//! through the `NorFlash` trait of the flash it is given.
//!
//! Avoids: `std`, allocation, panics on any input, OS calls.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod action;
pub mod boot;
pub mod config;
#[cfg(feature = "description")]
pub mod description;
pub mod liveness;
pub mod machine;
pub mod policy;
pub mod reset_counter;
pub mod status;

pub use action::{
    Action, FaultVerdict, InputError, Kick, LeaveReason, PongVerdict, RestartVerdict, Withhold,
};
pub use boot::BootInfo;
pub use config::{
    ComponentConfig, ComponentSet, Config, ConfigError, HealthConfig, Restart, RestartPolicy,
    Tuning,
};
pub use machine::{ComponentStatus, Counters, Phase, Watchdog};
pub use reset_counter::{Found, ResetCounter, ResetCounterError, ResetRecord};
pub use status::StatusLine;
