//! The report: `report.json` (top-level `requirements`, each with `id`, `statement`, `checks`,
//! `status`), a self-contained `report.html` (the same, the capability graph inline, source
//! locations as links into the checkout), and a one-screen summary for stdout.
//!
//! Avoids: any script or external resource in the HTML (it must open anywhere, offline); every
//! text from a requirement, a log or a file name is escaped by `maud`.

use super::judge::{Status, Verdict};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Serialize;
use std::path::Path;

/// Everything about the run besides the verdicts.
#[derive(Debug, Serialize)]
pub struct RunInfo {
    /// `--quick` or `--full`.
    pub mode: &'static str,
    /// `git describe`-like: the commit, `+dirty` when the tree has changes.
    pub commit: String,
    /// UTC, RFC 3339.
    pub started: String,
    pub seconds: f64,
    /// Tool name -> version line (or why it is missing).
    pub tools: Vec<(String, String)>,
    /// Suite -> why it did not run or stopped early.
    pub not_run: Vec<(String, String)>,
    /// Totals of the test suite.
    pub tests: TestTotals,
    /// The description's load on every board (one summary line each), or why it failed.
    pub description: Vec<String>,
    /// The logs of this run, relative to the report directory.
    pub logs: Vec<String>,
}

/// Totals of `cargo test --workspace`.
#[derive(Debug, Default, Serialize)]
pub struct TestTotals {
    pub binaries: usize,
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
    pub seconds: f64,
}

#[derive(Serialize)]
struct Json<'a> {
    requirements: &'a [Verdict],
    run: &'a RunInfo,
}

/// `report.json`.
pub fn json(verdicts: &[Verdict], run: &RunInfo) -> String {
    serde_json::to_string_pretty(&Json {
        requirements: verdicts,
        run,
    })
    .expect("plain data serialises")
}

/// How many requirements are met, not met, not fully run.
pub fn counts(verdicts: &[Verdict]) -> (usize, usize, usize) {
    let n = |s| verdicts.iter().filter(|v| v.status == s).count();
    (n(Status::Pass), n(Status::Fail), n(Status::NotRun))
}

/// The one-screen summary.
pub fn text(verdicts: &[Verdict], run: &RunInfo, dir: &Path) -> String {
    let (met, failed, not_run) = counts(verdicts);
    let mut out = format!(
        "verify {}: {} requirements: {met} met, {failed} not met, {not_run} not fully run (commit {}, {:.0} s)\n",
        run.mode,
        verdicts.len(),
        run.commit,
        run.seconds
    );
    for v in verdicts {
        let passed = v.checks.iter().filter(|c| c.status == Status::Pass).count();
        let word = match v.status {
            Status::Pass => "met    ",
            Status::Fail => "NOT MET",
            Status::NotRun => "NOT RUN",
        };
        let mut statement: String = v.statement.chars().take(60).collect();
        if v.statement.chars().count() > 60 {
            statement.push('…');
        }
        out += &format!(
            "  {word} {:<10} {passed:>2}/{:<2} {statement}\n",
            v.id,
            v.checks.len()
        );
        for c in v.checks.iter().filter(|c| c.status != Status::Pass) {
            out += &format!(
                "          {}: {} ({})\n",
                c.status.word(),
                c.check,
                c.detail
            );
        }
    }
    for (suite, why) in &run.not_run {
        out += &format!("  not run: {suite}: {why}\n");
    }
    out += &format!(
        "report: {} and {}\n",
        dir.join("report.html").display(),
        dir.join("report.json").display()
    );
    out
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;color:#111;padding:0 1em}\
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;width:100%;margin:.5em 0;table-layout:fixed}\
td,th{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}\
th{background:#f3f3f3}.pass{color:#0a6b2b;font-weight:600}.fail{color:#b00020;font-weight:700}\
.notrun{color:#8a5a00;font-weight:700}.st{white-space:nowrap}code{font-size:.9em}\
col.id{width:7em}col.status{width:5.5em}col.n{width:5em}col.check{width:38%}col.src{width:22%}\
.graph svg{max-width:100%;height:auto}.small{color:#555;font-size:.9em}";

fn class(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::NotRun => "notrun",
    }
}

/// `report.html`: `root` makes source locations links; `svg` is the capability graph.
pub fn html(verdicts: &[Verdict], run: &RunInfo, root: &Path, svg: Option<&str>) -> String {
    let (met, failed, not_run) = counts(verdicts);
    let page: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "spacenode verification report" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "spacenode verification report" }
                p {
                    b { (verdicts.len()) " requirements: " }
                    span class="pass" { (met) " met" } ", "
                    span class="fail" { (failed) " not met" } ", "
                    span class="notrun" { (not_run) " not fully run" }
                    "."
                }
                p class="small" {
                    "Mode " code { (run.mode) } ", commit " code { (run.commit) } ", started "
                    (run.started) ", " (format!("{:.0}", run.seconds)) " s. Tests: "
                    (run.tests.passed) " passed, " (run.tests.failed) " failed, "
                    (run.tests.ignored) " ignored in " (run.tests.binaries) " binaries."
                }
                (summary_table(verdicts))
                @for v in verdicts { (requirement(v, root)) }
                h2 { "Capability graph (the shipped description on the sim board)" }
                @match svg {
                    Some(svg) => div class="graph" { (PreEscaped(svg)) },
                    None => p class="notrun" { "Not rendered: see “Not run” below." },
                }
                h2 { "Description analysis" }
                ul { @for d in &run.description { li { code { (d) } } } }
                h2 { "Not run" }
                @if run.not_run.is_empty() { p { "Everything ran." } }
                ul { @for (s, why) in &run.not_run { li { b { (s) } ": " (why) } } }
                h2 { "Tools" }
                table { @for (t, v) in &run.tools { tr { th { (t) } td { code { (v) } } } } }
                h2 { "Logs" }
                ul { @for l in &run.logs { li { a href=(l) { (l) } } } }
            }
        }
    };
    page.into_string()
}

fn summary_table(verdicts: &[Verdict]) -> Markup {
    html! {
        table {
            colgroup { col class="id"; col class="status"; col class="n"; col; }
            tr { th { "id" } th { "status" } th { "checks" } th { "requirement" } }
            @for v in verdicts {
                tr {
                    td { a href=(format!("#{}", v.id)) { (v.id) } }
                    td class={ "st " (class(v.status)) } { (v.status.word()) }
                    td { (v.checks.iter().filter(|c| c.status == Status::Pass).count()) "/" (v.checks.len()) }
                    td { (v.statement) }
                }
            }
        }
    }
}

fn requirement(v: &Verdict, root: &Path) -> Markup {
    html! {
        h2 id=(v.id) { (v.id) " " span class=(class(v.status)) { "(" (v.status.word()) ")" } }
        p { (v.statement) }
        table {
            colgroup { col class="check"; col class="status"; col class="src"; col; }
            tr { th { "check" } th { "status" } th { "source" } th { "evidence" } }
            @for c in &v.checks {
                tr {
                    td { code { (c.check) } }
                    td class={ "st " (class(c.status)) } { (c.status.word()) }
                    td {
                        @if let Some(l) = &c.location {
                            a href=(format!("file://{}", root.join(&l.file).display())) {
                                code { (l.file) ":" (l.line) }
                            }
                        }
                    }
                    td { (c.detail) }
                }
            }
        }
    }
}
