//! Turns raw TOML into a validated `System`, checking every rule of the description format and
//! reporting all problems at once, each with file:line:col and a fix. Policy rules are checked by
//! `policy` once the structure is sound. One file per concept: [`parse`] (TOML to raw shapes,
//! bounded input), [`checker`] (the diagnostic collector and its shared checks), [`board`],
//! [`limits`] (the counts the code that consumes a description can hold), [`link`] (what the
//! radio speaks), [`component`], [`channel`], [`standby`] (the standby link's PPP settings) and
//! [`system`] (the whole-description rules). This module does no I/O, and every
//! check is linear in the size of the description.

mod board;
mod channel;
pub(crate) mod checker;
mod component;
pub mod limits;
mod link;
mod parse;
mod standby;
mod system;

pub use board::load_board;
pub(crate) use checker::Checker;
pub(crate) use parse::parse;
pub use system::load_system;

/// Largest priority seL4 (and Microkit) accept.
pub const MAX_PRIORITY: i64 = 254;
/// Microkit's stack size bounds.
pub const MIN_STACK: i64 = 0x1000;
pub const MAX_STACK: i64 = 16 * 1024 * 1024;
/// Ring geometry bounds.
pub const MAX_SLOTS: i64 = 4096;
pub const SLOT_ALIGN: i64 = 64;
pub const MAX_SLOT_SIZE: i64 = 1024 * 1024;
/// Largest interrupt ID of a GICv2/GICv3 shared peripheral interrupt.
pub const MAX_IRQ: i64 = 1019;
/// Minimum run time before a restart counts as a fresh start, when the description gives none.
pub const DEFAULT_MIN_RUN_MS: u64 = 1000;
/// Board resets before safe mode, when the description gives none.
pub const DEFAULT_MAX_RESETS: u64 = 3;
/// Longest name: names become Microkit names and C symbols.
pub const MAX_NAME: usize = 32;
