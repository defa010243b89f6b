//! Running what establishes the requirements, and reading its results: the workspace's tests
//! (`cargo test --workspace`, the README's test command), the fuzz targets (`scripts/fuzz`), the
//! spin checks (`scripts/model-check`), campaign and interop scripts, and the description's
//! capability and information-flow analysis (every shipped board).
//!
//! Each suite's whole output is kept in a log file of the report directory; the lines the
//! report needs are parsed as they stream by, and a progress line is printed per step.
//!
//! Avoids: re-implementing what the scripts do (it runs them exactly as CI did), and reading a
//! result that was not printed: a check with no result is "not run", never a pass.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One test's result: the source root of its binary (repository-relative; `None` for doc
/// tests), its libtest name, and whether it passed (`None`: ignored).
#[derive(Debug, Clone)]
pub struct TestResult {
    pub binary: Option<String>,
    pub name: String,
    pub passed: Option<bool>,
}

/// A fuzz target's run.
#[derive(Debug, Clone, Default)]
pub struct FuzzResult {
    pub runs: u64,
    pub coverage: u64,
    pub corpus: u64,
    pub seconds: f64,
    /// Finished its time without a crash.
    pub clean: bool,
}

/// A script's run.
#[derive(Debug, Clone)]
pub struct ScriptResult {
    pub passed: bool,
    /// Lines starting with `PASS` (the interop peers' checks).
    pub pass_lines: usize,
    pub seconds: f64,
    pub log: PathBuf,
}

/// Everything the suites produced.
#[derive(Debug)]
pub struct Evidence {
    pub tests: Vec<TestResult>,
    pub test_binaries: usize,
    pub test_seconds: f64,
    pub fuzz: BTreeMap<(String, String), FuzzResult>,
    /// Spin check name -> (passed, states stored).
    pub models: BTreeMap<String, (bool, String)>,
    pub scripts: BTreeMap<String, ScriptResult>,
    /// The description loaded on every shipped board (every policy entry checked), or why not.
    pub description: Result<Vec<String>, String>,
    /// Suites that did not run, and why.
    pub not_run: Vec<(String, String)>,
    /// The check kinds (`test`, `fuzz`, `model`, `script`) whose suite `--skip` left out.
    pub skipped: Vec<&'static str>,
}

impl Default for Evidence {
    fn default() -> Self {
        Evidence {
            tests: Vec::new(),
            test_binaries: 0,
            test_seconds: 0.0,
            fuzz: BTreeMap::new(),
            models: BTreeMap::new(),
            scripts: BTreeMap::new(),
            description: Err("not checked".into()),
            not_run: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

/// Runs `cmd` with stdout and stderr merged in order, copying every line to `log` and handing
/// it to `line`. Returns whether it exited 0. A process the command left behind holding the
/// output open does not hold this up: once the command has exited, reading stops after
/// [`DRAIN`] of silence.
pub fn run_logged(
    mut cmd: Command,
    log: &Path,
    mut line: impl FnMut(&str),
) -> std::io::Result<bool> {
    let (reader, writer) = std::io::pipe()?;
    cmd.stdout(writer.try_clone()?)
        .stderr(writer)
        .stdin(std::process::Stdio::null());
    let mut child = cmd.spawn()?;
    drop(cmd); // closes the parent's copies of the pipe's write end
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in BufReader::new(reader).lines() {
            if tx.send(l.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let mut out = std::fs::File::create(log)?;
    let mut exited = None;
    loop {
        let wait = if exited.is_some() { DRAIN } else { POLL };
        match rx.recv_timeout(wait) {
            Ok(l) => {
                writeln!(out, "{l}")?;
                line(&l);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if exited.is_some() => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        if exited.is_none() {
            exited = child.try_wait()?;
        }
    }
    let status = match exited {
        Some(s) => s,
        None => child.wait()?,
    };
    Ok(status.success())
}

/// How often a silent command is checked for having exited.
const POLL: std::time::Duration = std::time::Duration::from_millis(200);
/// Silence after the command exited at which its output counts as complete.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Test executables of the workspace, by file name, with their source root (repository-relative).
fn test_binaries(root: &Path, log: &Path) -> std::io::Result<BTreeMap<String, String>> {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root).args([
        "test",
        "--workspace",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ]);
    let mut map = BTreeMap::new();
    run_logged(cmd, log, |l| {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
            return;
        };
        let (Some(exe), Some(src)) = (v["executable"].as_str(), v["target"]["src_path"].as_str())
        else {
            return;
        };
        if v["profile"]["test"].as_bool() == Some(true)
            || v["target"]["test"].as_bool() == Some(true)
        {
            let name = Path::new(exe)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            let rel = Path::new(src).strip_prefix(root).unwrap_or(Path::new(src));
            if let Some(name) = name {
                map.insert(name, rel.to_string_lossy().into_owned());
            }
        }
    })?;
    Ok(map)
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// `cargo test --workspace --no-fail-fast`, every test's result attributed to its binary.
pub fn run_tests(root: &Path, logs: &Path, ev: &mut Evidence) -> std::io::Result<()> {
    let started = Instant::now();
    eprintln!("verify: building the workspace's tests (cargo test --workspace --no-run)");
    let binaries = test_binaries(root, &logs.join("tests-build.log"))?;
    let total = binaries.len();
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root)
        .args(["test", "--workspace", "--no-fail-fast"]);
    let mut current: Option<String> = None;
    let mut pending: Option<String> = None;
    let mut seen = 0usize;
    let tests = &mut ev.tests;
    run_logged(cmd, &logs.join("tests.log"), |l| {
        let t = l.trim();
        if let Some(rest) = t.strip_prefix("Running ") {
            let exe = rest.rsplit_once('(').map(|(_, e)| e.trim_end_matches(')'));
            let name = exe
                .and_then(|e| Path::new(e).file_name())
                .map(|n| n.to_string_lossy().into_owned());
            current = name.and_then(|n| binaries.get(&n).cloned());
            seen += 1;
            eprintln!(
                "verify: tests: binary {seen} of {total}: {}",
                current.as_deref().unwrap_or(rest)
            );
        } else if t.starts_with("Doc-tests ") {
            current = None;
            eprintln!("verify: tests: {t}");
        } else if let Some((name, verdict)) = test_line(t) {
            match verdict {
                Some(v) => tests.push(TestResult {
                    binary: current.clone(),
                    name,
                    passed: v,
                }),
                None => pending = Some(name),
            }
        } else if let Some(name) = pending.take() {
            match t {
                "ok" => tests.push(TestResult {
                    binary: current.clone(),
                    name,
                    passed: Some(true),
                }),
                "FAILED" => tests.push(TestResult {
                    binary: current.clone(),
                    name,
                    passed: Some(false),
                }),
                _ if t.ends_with(" ok") || t.ends_with(" FAILED") => tests.push(TestResult {
                    binary: current.clone(),
                    name,
                    passed: Some(t.ends_with(" ok")),
                }),
                _ => pending = Some(name),
            }
        }
    })?;
    ev.test_binaries = seen;
    ev.test_seconds = started.elapsed().as_secs_f64();
    Ok(())
}

/// `test NAME ... VERDICT`: the name, and `Some(passed)` (`Some(None)` when ignored) when the
/// verdict is on the line; `None` when it comes later (the test printed in between).
fn test_line(t: &str) -> Option<(String, Option<Option<bool>>)> {
    let rest = t.strip_prefix("test ")?;
    let (name, verdict) = rest.split_once(" ... ")?;
    if name.contains(' ') {
        return None;
    }
    let v = match verdict.trim() {
        "ok" => Some(Some(true)),
        "FAILED" => Some(Some(false)),
        v if v.starts_with("ignored") => Some(None),
        _ => None,
    };
    Some((name.to_string(), v))
}

/// `scripts/fuzz SECONDS`: every target's executions, coverage and corpus.
pub fn run_fuzz(root: &Path, logs: &Path, seconds: u64, ev: &mut Evidence) -> std::io::Result<()> {
    let mut cmd = Command::new(root.join("scripts/fuzz"));
    cmd.current_dir(root).arg(seconds.to_string());
    // scripts/fuzz prints each target's output as one block that starts with its
    // "fuzz: DIR TARGET for Ns" line; targets run side by side, so the time is libFuzzer's own
    // ("Done N runs in T second(s)"), not the time between lines.
    let mut current: Option<(String, String)> = None;
    let fuzz = &mut ev.fuzz;
    let ok = run_logged(cmd, &logs.join("fuzz.log"), |l| {
        if let Some(rest) = l.strip_prefix("fuzz: ") {
            let mut w = rest.split_whitespace();
            if let (Some(dir), Some(target), Some("for")) = (w.next(), w.next(), w.next()) {
                let key = (dir.trim_start_matches("./").to_string(), target.to_string());
                eprintln!("verify: fuzz: {} {} for {seconds} s", key.0, key.1);
                fuzz.insert(key.clone(), FuzzResult::default());
                current = Some(key);
            }
            return;
        }
        let Some(key) = &current else { return };
        let r = fuzz.get_mut(key).expect("inserted above");
        if let Some(n) = number_after(l, "cov: ") {
            r.coverage = n;
        }
        if let Some(n) = number_after(l, "corp: ") {
            r.corpus = n;
        }
        if let Some(done) = l.strip_prefix("Done ")
            && let Some(n) = done.split(' ').next().and_then(|n| n.parse().ok())
        {
            r.runs = n;
            r.clean = true;
            r.seconds = number_after(done, " in ").unwrap_or(0) as f64;
        }
    })?;
    if !ok {
        ev.not_run.push(("fuzz".into(), "scripts/fuzz stopped with an error (a crash or a build failure: see fuzz.log); targets after it did not run".into()));
    }
    Ok(())
}

fn number_after(l: &str, key: &str) -> Option<u64> {
    let rest = &l[l.find(key)? + key.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// `scripts/model-check`: each named check's verdict and states stored.
pub fn run_models(
    root: &Path,
    logs: &Path,
    names: &[String],
    ev: &mut Evidence,
) -> std::io::Result<()> {
    eprintln!("verify: model checking (spin)");
    let mut cmd = Command::new(root.join("scripts/model-check"));
    cmd.current_dir(root);
    let models = &mut ev.models;
    run_logged(cmd, &logs.join("model-check.log"), |l| {
        let Some(rest) = l.strip_prefix("model-check: ") else {
            return;
        };
        for n in names {
            if let Some(verdict) = rest.strip_prefix(n.as_str()).map(str::trim_start) {
                let states = verdict
                    .rsplit_once('(')
                    .map(|(_, s)| s.trim_end_matches(" states)").to_string())
                    .unwrap_or_default();
                eprintln!("verify: model: {n}: {verdict}");
                models.insert(n.clone(), (verdict.starts_with("ok"), states));
            }
        }
    })?;
    Ok(())
}

/// One script, passing when it exits 0.
pub fn run_script(
    root: &Path,
    logs: &Path,
    path: &str,
    args: &[&str],
    ev: &mut Evidence,
) -> std::io::Result<()> {
    eprintln!("verify: running {path} {}", args.join(" "));
    let started = Instant::now();
    let log = logs.join(format!("{}.log", path.replace('/', "_")));
    let mut cmd = Command::new(root.join(path));
    cmd.current_dir(root).args(args);
    let mut pass_lines = 0;
    let passed = run_logged(cmd, &log, |l| {
        if l.starts_with("PASS") {
            pass_lines += 1;
        }
    })?;
    eprintln!(
        "verify: {path}: {}",
        if passed { "passed" } else { "FAILED" }
    );
    ev.scripts.insert(
        path.to_string(),
        ScriptResult {
            passed,
            pass_lines,
            seconds: started.elapsed().as_secs_f64(),
            log,
        },
    );
    Ok(())
}

/// Loads the repository's description on every board file under `kernel-config/boards`: each
/// load checks the whole `[policy]` (capabilities and information flow).
pub fn check_description(root: &Path) -> Result<Vec<String>, String> {
    let description = kernel_config::Source::read(&root.join(super::requirements::DESCRIPTION))?;
    let mut boards: Vec<PathBuf> = std::fs::read_dir(root.join("kernel-config/boards"))
        .map_err(|e| format!("kernel-config/boards: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    boards.sort();
    let mut ok = Vec::new();
    for b in boards {
        let board = kernel_config::Source::read(&b)?;
        let s = kernel_config::load(&description, &board).map_err(|d| d.to_string())?;
        ok.push(crate::config::summary(&s));
    }
    if ok.is_empty() {
        return Err("no board files in kernel-config/boards".into());
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_lines_are_read_with_their_verdicts() {
        assert_eq!(
            test_line("test a::b ... ok"),
            Some(("a::b".into(), Some(Some(true))))
        );
        assert_eq!(
            test_line("test a ... FAILED"),
            Some(("a".into(), Some(Some(false))))
        );
        assert_eq!(
            test_line("test a ... ignored, slow"),
            Some(("a".into(), Some(None)))
        );
        assert_eq!(test_line("test a ... "), Some(("a".into(), None)));
        assert_eq!(test_line("test result: ok. 3 passed"), None);
    }

    #[test]
    fn libfuzzer_numbers_are_read() {
        let l = "#4096\tDONE   cov: 345 ft: 678 corp: 90/1234b lim: 4096 exec/s: 12";
        assert_eq!(number_after(l, "cov: "), Some(345));
        assert_eq!(number_after(l, "corp: "), Some(90));
        assert_eq!(number_after(l, "nope: "), None);
    }

    #[test]
    fn a_logged_command_keeps_its_lines_in_order_and_its_status() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo one; echo two >&2; echo three; exit 3"]);
        let mut seen = Vec::new();
        let ok = run_logged(cmd, &log, |l| seen.push(l.to_string())).unwrap();
        assert!(!ok);
        assert_eq!(seen, ["one", "two", "three"]);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\ntwo\nthree\n");
    }
}
