//! `spacenode`: the command-line front of the space node. It is thin: every subcommand calls into
//! the workspace crates and turns their typed errors into a message that says what to do.

use clap::Parser;

/// The software of a satellite space node.
#[derive(Parser)]
#[command(name = "spacenode", version, about)]
struct Cli {}

fn main() {
    let _ = Cli::parse();
}
