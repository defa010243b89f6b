//! From evidence to verdicts: each check of each requirement against what the suites printed.
//!
//! A check passes only on a result that says so: a test that printed `ok` in the binary its
//! file belongs to, a fuzz target that finished its time, a spin check that said `ok`, the
//! description loading on every board, a script that exited 0. A check with no result is "not
//! run", and a requirement is met only when every one of its checks passed.
//!
//! Avoids: matching a test by name alone (two packages have tests of the same name).

use super::requirements::{Check, Location, Requirement, locate};
use super::suites::{Evidence, TestResult};
use serde::Serialize;
use std::path::Path;

/// A verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    NotRun,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::NotRun => "not run",
        }
    }
}

/// One check's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct CheckVerdict {
    pub check: String,
    pub kind: &'static str,
    pub location: Option<Location>,
    pub status: Status,
    /// Counts and what was seen.
    pub detail: String,
}

/// One requirement's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub id: String,
    pub statement: String,
    pub status: Status,
    pub checks: Vec<CheckVerdict>,
}

/// Judges every requirement.
pub fn judge(root: &Path, reqs: &[Requirement], ev: &Evidence) -> Vec<Verdict> {
    reqs.iter()
        .map(|r| {
            let checks: Vec<CheckVerdict> =
                r.checks.iter().map(|c| judge_one(root, c, ev)).collect();
            let status = if checks.iter().all(|c| c.status == Status::Pass) {
                Status::Pass
            } else if checks.iter().any(|c| c.status == Status::Fail) {
                Status::Fail
            } else {
                Status::NotRun
            };
            Verdict {
                id: r.id.clone(),
                statement: r.statement.clone(),
                status,
                checks,
            }
        })
        .collect()
}

fn judge_one(root: &Path, text: &str, ev: &Evidence) -> CheckVerdict {
    let verdict = |status, detail: String, location, kind| CheckVerdict {
        check: text.to_string(),
        kind,
        location,
        status,
        detail,
    };
    let check = match Check::parse(text) {
        Ok(c) => c,
        Err(e) => return verdict(Status::Fail, e, None, "invalid"),
    };
    let location = match locate(root, &check) {
        Ok(l) => Some(l),
        Err(e) => return verdict(Status::Fail, e, None, check.kind()),
    };
    if ev.skipped.contains(&check.kind()) {
        return verdict(
            Status::NotRun,
            "left out with --skip".into(),
            location,
            check.kind(),
        );
    }
    let (status, detail) = match &check {
        Check::Test { file, func } => judge_test(root, file, func, ev),
        Check::Fuzz { dir, target } => match ev.fuzz.get(&(dir.clone(), target.clone())) {
            Some(f) if f.clean => (
                Status::Pass,
                format!(
                    "{} executions in {:.0} s without a crash; coverage {} edges, corpus {} inputs",
                    f.runs, f.seconds, f.coverage, f.corpus
                ),
            ),
            Some(_) => (
                Status::Fail,
                "crashed or did not finish: see fuzz.log".into(),
            ),
            None => (
                Status::NotRun,
                "the fuzz suite did not reach this target".into(),
            ),
        },
        Check::Model(name) => match ev.models.get(name) {
            Some((true, states)) => (
                Status::Pass,
                format!("no violation; {states} states stored"),
            ),
            Some((false, _)) => (
                Status::Fail,
                "violation or truncated search: see model-check.log".into(),
            ),
            None => (
                Status::NotRun,
                "scripts/model-check printed no verdict for it".into(),
            ),
        },
        Check::Policy { .. } => match &ev.description {
            Ok(boards) => (
                Status::Pass,
                format!(
                    "enforced by the description's load on {} board(s)",
                    boards.len()
                ),
            ),
            Err(e) => (Status::Fail, e.clone()),
        },
        Check::Script(path) => match ev.scripts.get(path) {
            Some(s) if s.passed => (
                Status::Pass,
                format!("exit 0 in {:.0} s; {} PASS lines", s.seconds, s.pass_lines),
            ),
            Some(s) => (
                Status::Fail,
                format!("exited non-zero: see {}", s.log.display()),
            ),
            None => (Status::NotRun, "not run".into()),
        },
    };
    verdict(status, detail, location, check.kind())
}

fn judge_test(root: &Path, file: &str, func: &str, ev: &Evidence) -> (Status, String) {
    let hits: Vec<&TestResult> = ev
        .tests
        .iter()
        .filter(|t| t.name.rsplit("::").next() == Some(func))
        .filter(|t| t.binary.as_deref().is_some_and(|b| belongs(root, file, b)))
        .collect();
    if hits.is_empty() {
        return (Status::NotRun, "no result for it in its test binary".into());
    }
    if hits.iter().any(|t| t.passed == Some(false)) {
        return (Status::Fail, "FAILED: see tests.log".into());
    }
    if hits.iter().all(|t| t.passed.is_none()) {
        return (Status::NotRun, "ignored".into());
    }
    (Status::Pass, format!("passed ({})", hits[0].name))
}

/// Whether the source `file` is compiled into the test binary whose root is `binary` (both
/// repository-relative): the same package, and the binary's own file or a module beside it.
fn belongs(root: &Path, file: &str, binary: &str) -> bool {
    let (Some(fp), Some(bp)) = (package_of(root, file), package_of(root, binary)) else {
        return false;
    };
    if fp != bp {
        return false;
    }
    let inner = |p: &str| {
        p.strip_prefix(&fp)
            .unwrap_or(p)
            .trim_start_matches('/')
            .to_string()
    };
    let (f, b) = (inner(file), inner(binary));
    match (f.split_once('/'), b.split_once('/')) {
        (Some(("tests", f_rest)), Some(("tests", b_rest))) => {
            // tests/x.rs is its own binary; tests/d/... belongs to tests/d/main.rs.
            match (f_rest.split_once('/'), b_rest.split_once('/')) {
                (None, None) => f_rest == b_rest,
                (Some((fd, _)), Some((bd, _))) => fd == bd,
                _ => false,
            }
        }
        (Some(("src", _)), Some(("src", _))) => true,
        _ => false,
    }
}

/// The repository-relative directory of the package holding `file` (nearest `Cargo.toml`).
fn package_of(root: &Path, file: &str) -> Option<String> {
    let mut dir = Path::new(file).parent();
    while let Some(d) = dir {
        if root.join(d).join("Cargo.toml").is_file() {
            return Some(d.to_string_lossy().into_owned());
        }
        dir = d.parent();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn a_test_belongs_to_its_own_binary_only() {
        let r = root();
        assert!(belongs(&r, "tests/key_states.rs", "tests/key_states.rs"));
        assert!(!belongs(
            &r,
            "components/comms/tests/key_states.rs",
            "tests/key_states.rs"
        ));
        assert!(!belongs(&r, "tests/key_states.rs", "tests/link_keys.rs"));
        assert!(belongs(
            &r,
            "tests/ground_sign/replay.rs",
            "tests/ground_sign/main.rs"
        ));
        assert!(belongs(
            &r,
            "components/comms/src/sdls/window.rs",
            "components/comms/src/lib.rs"
        ));
        assert!(!belongs(
            &r,
            "components/comms/src/sdls/window.rs",
            "components/comms/tests/sdls.rs"
        ));
    }

    #[test]
    fn only_printed_results_pass_and_a_failure_anywhere_fails_the_requirement() {
        let r = root();
        let req = Requirement {
            id: "T-001".into(),
            statement: "x".into(),
            checks: vec![
                "test:components/signer/tests/policy.rs::velocity".into(),
                "policy:integrity".into(),
            ],
        };
        let mut ev = Evidence {
            description: Ok(vec!["sim".into()]),
            ..Evidence::default()
        };
        let one = |ev: &Evidence| judge(&r, std::slice::from_ref(&req), ev).remove(0);
        assert_eq!(
            one(&ev).status,
            Status::NotRun,
            "no test result is not a pass"
        );
        ev.tests.push(TestResult {
            binary: Some("components/signer/tests/batch.rs".into()),
            name: "velocity".into(),
            passed: Some(true),
        });
        assert_eq!(
            one(&ev).status,
            Status::NotRun,
            "another binary's test of that name"
        );
        ev.tests.push(TestResult {
            binary: Some("components/signer/tests/policy.rs".into()),
            name: "velocity".into(),
            passed: Some(true),
        });
        assert_eq!(one(&ev).status, Status::Pass);
        ev.description = Err("broken".into());
        assert_eq!(one(&ev).status, Status::Fail);
    }
}
