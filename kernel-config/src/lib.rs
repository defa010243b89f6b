//! The spacenode system description: one TOML file describing components, channels and policy,
//! plus one board file per board (RAM and devices). This crate parses both with exact positions,
//! validates every rule (reporting all problems at once, each with file:line:col and a fix),
//! checks the information-flow policy, renders the capability view, and exports a seL4 Microkit
//! SDF. It is the single source of truth the sim board boots from and the verifier analyses.
//! It does no I/O beyond what its callers hand it: files come in as [`Source`] values.

pub mod board_limits;
pub mod diag;
pub mod graph;
pub mod model;
pub mod policy;
mod raw;
mod recover;
pub mod sdf;
pub mod sdf_rules;
pub mod shipped;
pub mod source;
mod trial;
mod validate;

pub use diag::{Diagnostic, Diagnostics};
pub use model::System;
pub use source::Source;
pub use validate::{MAX_NAME, limits, load_board};

/// Loads a system description against a board file: both parsed, validated and policy-checked.
pub fn load(description: &Source, board: &Source) -> Result<System, Diagnostics> {
    let board = validate::load_board(board)?;
    validate::load_system(description, board)
}
