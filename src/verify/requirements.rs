//! `verification/requirements.toml`: the node's requirements with stable ids, the checks that
//! establish each one, and where each check lives in the repository (so a reviewer goes from a
//! requirement to the source of its evidence).
//!
//! [`load`] refuses a file with a duplicate or malformed id, a requirement without a check, or a
//! check that names nothing that exists ([`locate`]). It runs nothing: [`super::suites`] does.
//!
//! Avoids: guessing. A check names a file and a function, a fuzz target, a model-check name, a
//! policy entry or a script, and must be found exactly where it says.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The requirements file, relative to the repository root.
pub const FILE: &str = "verification/requirements.toml";
/// The shipped system description, whose `[policy]` entries are checks.
pub const DESCRIPTION: &str = "kernel-config/spacenode.toml";
/// The model-check script, whose `check "NAME"` lines are checks.
pub const MODEL_CHECK: &str = "scripts/model-check";

/// One requirement as written in the file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// Stable id, `AREA-NNN`.
    pub id: String,
    /// One line: what must hold.
    pub statement: String,
    /// The checks that establish it, as written (`KIND:WHAT`).
    pub checks: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequirementsFile {
    requirement: Vec<Requirement>,
}

/// What a check names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Check {
    /// A test function in a source file, run by `cargo test`.
    Test {
        /// Repository-relative source file.
        file: String,
        /// The function's name.
        func: String,
    },
    /// A cargo-fuzz target.
    Fuzz {
        /// The fuzz crate's directory.
        dir: String,
        /// The target's name.
        target: String,
    },
    /// A spin check of `scripts/model-check`.
    Model(String),
    /// A `[policy]` entry of the shipped description.
    Policy {
        /// `device-owner`, `only-sender`, `no-path` or `integrity`.
        kind: String,
        /// The device, message or `FROM->TO` (empty for `integrity`).
        subject: String,
    },
    /// A script that passes when it exits 0.
    Script(String),
}

/// Where a check can be read: a repository-relative file and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Repository-relative path.
    pub file: String,
    /// 1-based line.
    pub line: usize,
}

/// Why the requirements file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    /// It could not be read.
    #[error("cannot read {path}: {err}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        err: std::io::Error,
    },
    /// It is not the expected TOML.
    #[error("{FILE}: {0}")]
    Syntax(String),
    /// A requirement or a check is wrong; every problem is listed.
    #[error("{FILE}: {} problem(s):\n{}", .0.len(), .0.join("\n"))]
    Invalid(Vec<String>),
}

impl Check {
    /// Parses `KIND:WHAT` as documented at the top of the requirements file.
    pub fn parse(text: &str) -> Result<Check, String> {
        let (kind, what) = text
            .split_once(':')
            .ok_or_else(|| format!("`{text}` has no `KIND:` prefix"))?;
        let two = |sep: &str| {
            what.split_once(sep)
                .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| format!("`{text}`: write {kind}:A{sep}B"))
        };
        match kind {
            "test" => two("::").map(|(file, func)| Check::Test { file, func }),
            "fuzz" => two("::").map(|(dir, target)| Check::Fuzz { dir, target }),
            "model" if !what.is_empty() => Ok(Check::Model(what.to_string())),
            "script" if !what.is_empty() => Ok(Check::Script(what.to_string())),
            "policy" => {
                let (kind, subject) = what.split_once(':').unwrap_or((what, ""));
                Ok(Check::Policy {
                    kind: kind.to_string(),
                    subject: subject.to_string(),
                })
            }
            _ => Err(format!(
                "`{text}`: the kind must be test, fuzz, model, policy or script"
            )),
        }
    }

    /// The kind's name, as written.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Test { .. } => "test",
            Check::Fuzz { .. } => "fuzz",
            Check::Model(_) => "model",
            Check::Policy { .. } => "policy",
            Check::Script(_) => "script",
        }
    }
}

/// Reads and checks the requirements file of the repository at `root`.
pub fn load(root: &Path) -> Result<Vec<Requirement>, RequirementsError> {
    let path = root.join(FILE);
    let text = std::fs::read_to_string(&path).map_err(|err| RequirementsError::Read {
        path: path.clone(),
        err,
    })?;
    let file: RequirementsFile =
        toml::from_str(&text).map_err(|e| RequirementsError::Syntax(e.to_string()))?;
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in &file.requirement {
        if !valid_id(&r.id) {
            problems.push(format!(
                "`{}`: an id is AREA-NNN (capitals, a dash, three digits)",
                r.id
            ));
        }
        if !seen.insert(r.id.as_str()) {
            problems.push(format!("{}: the id is used twice", r.id));
        }
        if r.statement.trim().is_empty() {
            problems.push(format!("{}: the statement is empty", r.id));
        }
        if r.checks.is_empty() {
            problems.push(format!(
                "{}: no check establishes it; name at least one",
                r.id
            ));
        }
        for c in &r.checks {
            if let Err(why) = Check::parse(c).and_then(|check| locate(root, &check)) {
                problems.push(format!("{}: {why}", r.id));
            }
        }
    }
    if problems.is_empty() {
        Ok(file.requirement)
    } else {
        Err(RequirementsError::Invalid(problems))
    }
}

fn valid_id(id: &str) -> bool {
    let Some((area, num)) = id.split_once('-') else {
        return false;
    };
    !area.is_empty()
        && area
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && num.len() == 3
        && num.bytes().all(|b| b.is_ascii_digit())
}

/// Where `check` lives, or why it names nothing that exists.
pub fn locate(root: &Path, check: &Check) -> Result<Location, String> {
    match check {
        Check::Test { file, func } => {
            line_of(root, file, |l| declares_fn(l, func)).map_err(|e| format!("test {func}: {e}"))
        }
        Check::Fuzz { dir, target } => {
            let file = format!("{dir}/fuzz_targets/{target}.rs");
            line_of(root, &file, |_| true).map_err(|e| format!("fuzz target {target}: {e}"))
        }
        Check::Model(name) => line_of(root, MODEL_CHECK, |l| {
            l.trim_start().starts_with(&format!("check \"{name}\""))
        })
        .map_err(|e| format!("model check `{name}`: {e}")),
        Check::Policy { kind, subject } => locate_policy(root, kind, subject),
        Check::Script(path) => {
            let meta =
                std::fs::metadata(root.join(path)).map_err(|e| format!("script {path}: {e}"))?;
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o111 == 0 {
                return Err(format!("script {path} is not executable"));
            }
            Ok(Location {
                file: path.clone(),
                line: 1,
            })
        }
    }
}

fn declares_fn(line: &str, func: &str) -> bool {
    let l = line.trim_start();
    let l = l.strip_prefix("pub ").unwrap_or(l);
    l.strip_prefix("fn ")
        .and_then(|rest| rest.strip_prefix(func))
        .is_some_and(|rest| rest.starts_with('(') || rest.starts_with('<'))
}

/// The 1-based line of `file` (repository-relative) where `hit` first holds.
fn line_of(root: &Path, file: &str, hit: impl Fn(&str) -> bool) -> Result<Location, String> {
    let text = std::fs::read_to_string(root.join(file)).map_err(|e| format!("{file}: {e}"))?;
    text.lines()
        .position(hit)
        .map(|i| Location {
            file: file.to_string(),
            line: i + 1,
        })
        .ok_or_else(|| format!("not found in {file}"))
}

/// A `[policy]` entry of the shipped description: the line that names its subject inside an
/// entry of that kind.
fn locate_policy(root: &Path, kind: &str, subject: &str) -> Result<Location, String> {
    let text = std::fs::read_to_string(root.join(DESCRIPTION))
        .map_err(|e| format!("{DESCRIPTION}: {e}"))?;
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let quoted = |key: &str, v: &str| format!("{key} = \"{v}\"");
    let wanted: Vec<String> = match kind {
        "integrity" if subject.is_empty() => vec!["integrity = true".into()],
        "device-owner" => vec![quoted("device", subject)],
        "only-sender" => vec![quoted("message", subject)],
        "no-path" => match subject.split_once("->") {
            Some((from, to)) => vec![quoted("from", from), quoted("to", to)],
            None => return Err(format!("policy no-path:{subject}: write no-path:FROM->TO")),
        },
        _ => {
            return Err(format!(
                "policy {kind}:{subject}: the kind is device-owner, only-sender, no-path or integrity"
            ));
        }
    };
    let header = match kind {
        "integrity" => "[policy]".to_string(),
        k => format!("[[policy.{k}]]"),
    };
    let mut in_entry = false;
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with('[') {
            in_entry = *l == header;
            continue;
        }
        if in_entry
            && *l == wanted[0]
            && wanted[1..]
                .iter()
                .enumerate()
                .all(|(k, w)| lines.get(i + 1 + k) == Some(&w.as_str()))
        {
            return Ok(Location {
                file: DESCRIPTION.into(),
                line: i + 1,
            });
        }
    }
    Err(format!(
        "policy {kind}:{subject}: no such entry in {DESCRIPTION}'s [policy]"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn every_requirement_has_a_check_and_every_check_exists() {
        let reqs = load(&root()).unwrap_or_else(|e| panic!("{e}"));
        assert!(reqs.len() >= 15, "{} requirements", reqs.len());
    }

    #[test]
    fn a_check_naming_something_missing_is_refused_with_its_reason() {
        let r = root();
        let missing = [
            ("test:tests/ground_upgrade.rs::no_such_test", "not found in"),
            ("test:tests/no_such_file.rs::x", "No such file"),
            ("fuzz:components/comms/fuzz::no_such_target", "No such file"),
            ("model:no such model", "not found in scripts/model-check"),
            ("policy:device-owner:no-such-device", "no such entry"),
            ("policy:no-path:radio->monitor", "no such entry"),
            ("policy:colour:red", "the kind is"),
            ("script:scripts/no-such-script", "No such file"),
            ("script:verification/requirements.toml", "not executable"),
        ];
        for (text, why) in missing {
            let err = Check::parse(text)
                .and_then(|c| locate(&r, &c))
                .expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        }
        for bad in ["tests/x.rs::f", "test:tests/x.rs", "test:::f", "colour:red"] {
            assert!(Check::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn checks_are_found_at_their_line() {
        let r = root();
        let at = |t: &str| locate(&r, &Check::parse(t).unwrap()).unwrap();
        let l = at("policy:no-path:radio->key-flash");
        let text = std::fs::read_to_string(r.join(DESCRIPTION)).unwrap();
        assert_eq!(
            text.lines().nth(l.line - 1).unwrap().trim(),
            "from = \"radio\""
        );
        let l = at("test:components/signer/tests/policy.rs::velocity");
        let text = std::fs::read_to_string(r.join(&l.file)).unwrap();
        assert!(
            text.lines()
                .nth(l.line - 1)
                .unwrap()
                .contains("fn velocity()")
        );
        assert!(!declares_fn("fn velocity_window() {", "velocity"));
    }

    #[test]
    fn ids_are_area_dash_three_digits() {
        for ok in ["KEY-001", "SEL4-001"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["key-001", "KEY-1", "KEY001", "-001", "KEY-0001"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
