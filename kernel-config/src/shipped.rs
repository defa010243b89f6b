//! The descriptions shipped with the project, compiled into the binary so that `spacenode` works
//! from any directory. Their names are their paths in the repository, as diagnostics show them.

use crate::source::Source;

/// The node's system description.
pub fn description() -> Source {
    Source::new(
        "kernel-config/spacenode.toml",
        include_str!("../spacenode.toml"),
    )
}

/// Names of the shipped boards.
pub const BOARDS: [&str; 3] = ["sim", "devboard", "flight"];

/// A shipped board file by name.
pub fn board(name: &str) -> Option<Source> {
    let text = match name {
        "sim" => include_str!("../boards/sim.toml"),
        "devboard" => include_str!("../boards/devboard.toml"),
        "flight" => include_str!("../boards/flight.toml"),
        _ => return None,
    };
    Some(Source::new(
        format!("kernel-config/boards/{name}.toml"),
        text,
    ))
}
