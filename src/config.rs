//! `spacenode config`: check the system description against boards, show the capability matrix
//! and graph, and export the seL4 Microkit SDF. The shipped description and boards are built into
//! the binary; a FILE argument or `--board-file` replaces them with files on disk.

use crate::failure::Failure;
use clap::{Args, Subcommand};
use kernel_config::{Diagnostic, Source, System, graph, sdf, shipped};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Validate a system description against one board or every shipped board.
    ///
    /// Prints a one-line summary per board when valid. When not, prints every problem with
    /// file:line:col, the offending text and how to fix it, and exits with status 1.
    Check(Target),
    /// Print the capability matrix and write a Graphviz DOT graph (and SVG when `dot` is installed).
    ///
    /// Rows are channels and devices, columns components: S sends, R receives, C receives with
    /// copy-in, O owns. The DOT file shows the same as a graph.
    Graph {
        #[command(flatten)]
        target: Target,
        /// Where to write the DOT file [default: spacenode-BOARD.dot]
        #[arg(long, value_name = "PATH")]
        dot: Option<PathBuf>,
    },
    /// Export a seL4 Microkit system description file (SDF) for a board.
    ///
    /// One protection domain per component (the monitor is the parent of the others), a memory
    /// region per channel ring mapped into both ends, device regions mapped uncached into their
    /// owner, notifications and IRQs. The Microkit tool's SDF checks (ported; see
    /// kernel-config/README.md) run before anything is written. The program images the file
    /// names are not built yet.
    Sdf {
        #[command(flatten)]
        target: Target,
        /// Where to write the SDF [default: spacenode-BOARD.system]
        #[arg(long, short, value_name = "PATH")]
        out: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct Target {
    /// System description to use [default: the shipped kernel-config/spacenode.toml]
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// Shipped board to use: sim, devboard or flight [check: all of them; others: sim]
    #[arg(long, value_name = "NAME", conflicts_with = "board_file")]
    board: Option<String>,
    /// Board file on disk to use instead of a shipped board
    #[arg(long, value_name = "PATH")]
    board_file: Option<PathBuf>,
}

/// A file that could not be read gets the hint to give the right path; one too large already
/// says what to do.
fn read_hint(e: String, what: &str) -> String {
    if e.starts_with("cannot read") {
        format!("{e}; give the path of {what}")
    } else {
        e
    }
}

impl Target {
    fn description(&self) -> Result<Source, Failure> {
        match &self.file {
            Some(p) => Source::read(p)
                .map_err(|e| Failure::Usage(read_hint(e, "a system description TOML file"))),
            None => Ok(shipped::description()),
        }
    }

    /// The boards to use; `all_by_default` picks every shipped board when none is named.
    fn boards(&self, all_by_default: bool) -> Result<Vec<Source>, Failure> {
        if let Some(p) = &self.board_file {
            return Source::read(p)
                .map(|s| vec![s])
                .map_err(|e| Failure::Usage(read_hint(e, "a board TOML file")));
        }
        match &self.board {
            Some(name) => shipped::board(name)
                .map(|b| vec![b])
                .ok_or_else(|| Failure::Usage(format!("there is no shipped board named `{name}`; use one of: {}, or --board-file PATH", shipped::BOARDS.join(", ")))),
            None if all_by_default => Ok(shipped::BOARDS.iter().filter_map(|b| shipped::board(b)).collect()),
            None => Ok(shipped::board("sim").into_iter().collect()),
        }
    }

    /// Loads the description against the single board this command works on.
    fn load_one(&self) -> Result<System, Failure> {
        let description = self.description()?;
        let board = self.boards(false)?.remove(0);
        kernel_config::load(&description, &board).map_err(|d| Failure::Rejected(d.to_string()))
    }
}

pub fn run(cmd: ConfigCommand) -> Result<(), Failure> {
    match cmd {
        ConfigCommand::Check(target) => check(&target),
        ConfigCommand::Graph { target, dot } => graph_cmd(&target, dot),
        ConfigCommand::Sdf { target, out } => sdf_cmd(&target, out),
    }
}

fn check(target: &Target) -> Result<(), Failure> {
    let description = target.description()?;
    let mut problems: Vec<Diagnostic> = Vec::new();
    for board in target.boards(true)? {
        match kernel_config::load(&description, &board) {
            Ok(s) => println!("ok: {}", summary(&s)),
            Err(d) => {
                // A description error shows up for every board: report each problem once.
                for x in d.0 {
                    if !problems.contains(&x) {
                        problems.push(x);
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Rejected(
            kernel_config::Diagnostics(problems).to_string(),
        ))
    }
}

/// One line: what was checked and how much of it there is.
pub fn summary(s: &System) -> String {
    let owned = s.board.devices.iter().filter(|d| d.owner.is_some()).count();
    let rules = s.policy.device_owner.len()
        + s.policy.no_path.len()
        + s.policy.only_sender.len()
        + usize::from(s.policy.integrity);
    format!(
        "{} on board `{}`: {} components, {} channels, {} of {} devices owned, {} policy rules hold",
        s.description_file,
        s.board.name,
        s.components.len(),
        s.channels.len(),
        owned,
        s.board.devices.len(),
        rules
    )
}

fn write(path: &Path, text: &str, what: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| {
        Failure::Usage(format!(
            "cannot write the {what} to `{}`: {e}; choose a writable path",
            path.display()
        ))
    })
}

fn graph_cmd(target: &Target, dot: Option<PathBuf>) -> Result<(), Failure> {
    let s = target.load_one()?;
    print!("{}", graph::matrix(&s));
    let dot_path = dot.unwrap_or_else(|| PathBuf::from(format!("spacenode-{}.dot", s.board.name)));
    write(&dot_path, &graph::dot(&s), "DOT graph")?;
    println!("wrote {}", dot_path.display());
    let svg = dot_path.with_extension("svg");
    match Command::new("dot")
        .arg("-Tsvg")
        .arg(&dot_path)
        .arg("-o")
        .arg(&svg)
        .output()
    {
        Ok(o) if o.status.success() => {
            println!("wrote {} (rendered by Graphviz dot)", svg.display())
        }
        Ok(o) => eprintln!(
            "warning: Graphviz dot failed to render the SVG: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(_) => println!("(install Graphviz to get an SVG as well: apt-get install graphviz)"),
    }
    Ok(())
}

fn sdf_cmd(target: &Target, out: Option<PathBuf>) -> Result<(), Failure> {
    let s = target.load_one()?;
    let xml = sdf::export(&s).map_err(|e| {
        Failure::Rejected(format!(
            "error: the Microkit tool would refuse the SDF for board `{}`:\n  {e}\nfix the system description so that this holds, then export again\n",
            s.board.name
        ))
    })?;
    let path = out.unwrap_or_else(|| PathBuf::from(format!("spacenode-{}.system", s.board.name)));
    write(&path, &xml, "SDF")?;
    let pds = s.components.len();
    println!(
        "wrote {} for board `{}`: {pds} protection domains, {} channel rings, {} device regions; checked against the Microkit tool's SDF rules (seL4/microkit {}); the program images it names are not built yet",
        path.display(),
        s.board.name,
        s.channels.len(),
        s.board.devices.iter().filter(|d| d.owner.is_some()).count(),
        &kernel_config::sdf_rules::MICROKIT_COMMIT[..12]
    );
    Ok(())
}
