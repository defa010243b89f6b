//! `spacenode verify`: one command, one report, for security reviewers.
//!
//! It reads the requirements ([`requirements`], `verification/requirements.toml`), runs what
//! establishes them ([`suites`]: the workspace's tests, the fuzz targets, the spin checks, the
//! campaign and interop scripts, the description's analysis on every board), judges every check
//! ([`judge`]) and writes the report ([`report`]) with the capability graph. `--quick` uses CI's
//! bounds; `--full` longer ones for a review. Exit 0 only when every requirement is met.
//!
//! It runs in a checkout of the repository (the evidence is the repository's own tests and
//! scripts), which the scripts it runs install their tools into, as in CI.
//!
//! Avoids: deciding anything the suites did not print (see [`judge`]).

mod judge;
mod report;
pub mod requirements;
mod suites;

use crate::failure::Failure;
use clap::Args;
use requirements::{Check, Requirement};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[derive(Args)]
pub struct VerifyArgs {
    /// CI's bounds, a few minutes beyond the test suite: 20 s per fuzz target (FUZZ_SECONDS
    /// overrides), every 2nd power-cut index of the agent sweep [the default]
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// Review bounds: 300 s per fuzz target and every power-cut index
    #[arg(long)]
    full: bool,
    /// Where to write report.html, report.json and the logs [default: REPO/target/verify]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The spacenode checkout to verify [default: the current directory]
    #[arg(long, value_name = "DIR")]
    repo: Option<PathBuf>,
    /// Leave out a suite (repeatable); its checks are reported as not run, so the exit is 1
    #[arg(long, value_enum, value_name = "SUITE")]
    skip: Vec<Suite>,
}

impl Suite {
    /// The check kind whose evidence this suite gives.
    fn kind(self) -> &'static str {
        match self {
            Suite::Tests => "test",
            Suite::Fuzz => "fuzz",
            Suite::Models => "model",
            Suite::Scripts => "script",
        }
    }
}

/// The suites `--skip` can leave out.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Suite {
    /// `cargo test --workspace`
    Tests,
    /// `scripts/fuzz`
    Fuzz,
    /// `scripts/model-check`
    Models,
    /// The campaign and interop scripts
    Scripts,
}

/// The checkout: `--repo`, else the current directory; it must hold the requirements file.
fn repo_root(args: &VerifyArgs) -> Result<PathBuf, Failure> {
    let root = match &args.repo {
        Some(r) => r.clone(),
        None => std::env::current_dir()
            .map_err(|e| Failure::Usage(format!("current directory: {e}")))?,
    };
    let root = root
        .canonicalize()
        .map_err(|e| Failure::Usage(format!("{}: {e}", root.display())))?;
    if root.join(requirements::FILE).is_file() {
        Ok(root)
    } else {
        Err(Failure::Usage(format!(
            "{} is not a spacenode checkout (no {}): run `spacenode verify` at the top of the repository, or pass --repo DIR",
            root.display(),
            requirements::FILE
        )))
    }
}

pub fn run(args: VerifyArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let started_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let root = repo_root(&args)?;
    let full = args.full;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/verify"));
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs)
        .map_err(|e| Failure::Usage(format!("{}: {e}", logs.display())))?;
    let reqs = requirements::load(&root).map_err(|e| Failure::Rejected(format!("{e}\n")))?;
    eprintln!(
        "verify: {} requirements, {} checks",
        reqs.len(),
        reqs.iter().map(|r| r.checks.len()).sum::<usize>()
    );

    let mut ev = suites::Evidence {
        description: suites::check_description(&root),
        ..Default::default()
    };
    let svg = match capability_svg(&root) {
        Ok(svg) => Some(svg),
        Err(why) => {
            ev.not_run.push(("capability graph".into(), why));
            None
        }
    };
    let skip = |s: Suite, name: &str, ev: &mut suites::Evidence| {
        let skipped = args.skip.contains(&s);
        if skipped {
            ev.not_run
                .push((name.into(), "left out with --skip".into()));
            ev.skipped.push(s.kind());
        }
        !skipped
    };
    if skip(Suite::Tests, "tests", &mut ev) {
        suites::run_tests(&root, &logs, &mut ev).map_err(io("cargo test"))?;
    }
    let seconds = match (
        full,
        std::env::var("FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok()),
    ) {
        (_, Some(s)) => s,
        (true, None) => 300,
        (false, None) => 20,
    };
    if skip(Suite::Fuzz, "fuzz", &mut ev) {
        suites::run_fuzz(&root, &logs, seconds, &mut ev).map_err(io("scripts/fuzz"))?;
    }
    let models = named(&reqs, |c| match c {
        Check::Model(n) => Some(n.clone()),
        _ => None,
    });
    if skip(Suite::Models, "models", &mut ev) {
        suites::run_models(&root, &logs, &models, &mut ev).map_err(io("scripts/model-check"))?;
    }
    let scripts = named(&reqs, |c| match c {
        Check::Script(p) => Some(p.clone()),
        _ => None,
    });
    let scripts = if skip(Suite::Scripts, "scripts", &mut ev) {
        scripts
    } else {
        Vec::new()
    };
    for path in scripts {
        let args: &[&str] = match (path.as_str(), full) {
            ("scripts/agent-power-sweep", false) => &["2"],
            ("scripts/agent-power-sweep", true) => &["1"],
            _ => &[],
        };
        suites::run_script(&root, &logs, &path, args, &mut ev).map_err(io(&path))?;
    }

    let verdicts = judge::judge(&root, &reqs, &ev);
    let info = run_info(&root, &logs, &ev, full, started_at, started);
    write(&out.join("report.json"), &report::json(&verdicts, &info))?;
    write(
        &out.join("report.html"),
        &report::html(&verdicts, &info, &root, svg.as_deref()),
    )?;
    print!("{}", report::text(&verdicts, &info, &out));
    let (_, failed, not_run) = report::counts(&verdicts);
    // Every test of the README's test command must pass, whether a requirement names it or not.
    let failed_tests: Vec<String> = ev
        .tests
        .iter()
        .filter(|t| t.passed == Some(false))
        .map(|t| format!("{} ({})", t.name, t.binary.as_deref().unwrap_or("?")))
        .collect();
    if failed + not_run == 0 && failed_tests.is_empty() {
        Ok(())
    } else {
        Err(Failure::Rejected(format!(
            "verify: {failed} requirement(s) not met, {not_run} not fully run, {} test(s) failed{}: see {}\n",
            failed_tests.len(),
            if failed_tests.is_empty() {
                String::new()
            } else {
                format!(" ({})", failed_tests.join(", "))
            },
            out.join("report.html").display()
        )))
    }
}

/// Every distinct value `pick` finds among the checks, in first-seen order.
fn named(reqs: &[Requirement], pick: impl Fn(&Check) -> Option<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in reqs.iter().flat_map(|r| &r.checks) {
        if let Some(v) = Check::parse(c).ok().as_ref().and_then(&pick)
            && !out.contains(&v)
        {
            out.push(v);
        }
    }
    out
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |e| Failure::Usage(format!("{what}: {e}"))
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))
}

fn run_info(
    root: &Path,
    logs: &Path,
    ev: &suites::Evidence,
    full: bool,
    started: String,
    t0: Instant,
) -> report::RunInfo {
    let count = |p: Option<bool>| ev.tests.iter().filter(|t| t.passed == p).count();
    let mut log_names: Vec<String> = std::fs::read_dir(logs)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| format!("logs/{}", e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    log_names.sort();
    report::RunInfo {
        mode: if full { "--full" } else { "--quick" },
        commit: commit(root),
        started,
        seconds: t0.elapsed().as_secs_f64(),
        tools: tools(),
        not_run: ev.not_run.clone(),
        tests: report::TestTotals {
            binaries: ev.test_binaries,
            passed: count(Some(true)),
            failed: count(Some(false)),
            ignored: count(None),
            seconds: ev.test_seconds,
        },
        description: match &ev.description {
            Ok(lines) => lines.clone(),
            Err(e) => vec![format!("FAILED: {e}")],
        },
        logs: log_names,
    }
}

/// The first line a command prints, or why there is none.
fn first_line(cmd: &str, args: &[&str]) -> String {
    match Command::new(cmd).args(args).output() {
        Ok(o) => {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        }
        Err(e) => format!("not installed ({e})"),
    }
}

fn tools() -> Vec<(String, String)> {
    [
        ("rustc", "rustc", &["--version"][..]),
        ("cargo", "cargo", &["--version"]),
        ("cargo-fuzz", "cargo", &["fuzz", "--version"]),
        ("spin", "spin", &["-V"]),
        ("python3", "python3", &["--version"]),
        ("qemu", "qemu-system-x86_64", &["--version"]),
        ("graphviz", "dot", &["-V"]),
    ]
    .iter()
    .map(|(name, cmd, args)| (name.to_string(), first_line(cmd, args)))
    .collect()
}

fn commit(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) if git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty()) => {
            format!("{c}+dirty")
        }
        Some(c) => c,
        None => "unknown (not a git checkout)".into(),
    }
}

/// The shipped description's capability graph on the sim board, as SVG by Graphviz `dot`
/// (installed from Debian's packages when missing, as the scripts install their tools).
fn capability_svg(root: &Path) -> Result<String, String> {
    let description = kernel_config::Source::read(&root.join(requirements::DESCRIPTION))?;
    let board = kernel_config::Source::read(&root.join("kernel-config/boards/sim.toml"))?;
    let system = kernel_config::load(&description, &board).map_err(|d| d.to_string())?;
    if Command::new("dot").arg("-V").output().is_err() {
        install_graphviz()?;
    }
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("Graphviz dot: {e}"))?;
    let dot = kernel_config::graph::dot(&system);
    std::io::Write::write_all(&mut child.stdin.take().expect("piped"), dot.as_bytes())
        .map_err(|e| format!("Graphviz dot: {e}"))?;
    let o = child
        .wait_with_output()
        .map_err(|e| format!("Graphviz dot: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "Graphviz dot failed: {}",
            String::from_utf8_lossy(&o.stdout)
        ));
    }
    let svg = String::from_utf8_lossy(&o.stdout);
    // Inline in the page: from the <svg> element on (no XML prolog or DOCTYPE).
    Ok(svg[svg.find("<svg").unwrap_or(0)..].to_string())
}

fn install_graphviz() -> Result<(), String> {
    eprintln!("verify: installing graphviz (Debian) for the capability graph");
    let root = rustix::process::geteuid().is_root();
    let apt = |args: &[&str]| {
        let mut c = if root {
            Command::new("apt-get")
        } else {
            Command::new("sudo")
        };
        if !root {
            c.args(["-n", "apt-get"]);
        }
        c.args(["-o", "DPkg::Lock::Timeout=600"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(std::process::Stdio::null())
            .status()
            .map_err(|e| e.to_string())
            .and_then(|s| {
                if s.success() {
                    Ok(())
                } else {
                    Err(format!("apt-get {} failed", args.join(" ")))
                }
            })
    };
    apt(&["update", "-qq"])
        .and_then(|()| apt(&["install", "-y", "-qq", "--no-install-recommends", "graphviz"]))
        .map_err(|e| format!("Graphviz dot is not installed and could not be installed ({e}): apt-get install graphviz"))
}
