//! One `[[component]]` of a description: scheduling, memory, devices, restart and health.
//! Avoids: rules across components (those are in `system` and `limits`).

use super::checker::Checker;
use super::{DEFAULT_MIN_RUN_MS, MAX_PRIORITY, MAX_STACK, MIN_STACK};
use crate::model::*;
use crate::raw::*;
use std::collections::HashMap;

/// Checks one component and claims its devices on `board`; the result is built either way so
/// that later checks can go on (its problems are reported).
pub(super) fn component(
    c: &mut Checker,
    raw: &RawSystem,
    board: &mut Board,
    device_index: &HashMap<String, usize>,
    lookup: &Lookup,
    id: usize,
    x: &RawComponent,
) -> Component {
    let page = board.page_size;
    let n = c.name(&x.name, "component");
    let root = x.root.as_ref().is_some_and(|r| *r.get_ref());
    let priority = c.within(
        &x.priority,
        &format!("component `{n}` priority"),
        0,
        MAX_PRIORITY,
        "",
    );
    let budget = c.within(
        &x.budget_us,
        &format!("component `{n}` budget"),
        1,
        i64::from(u32::MAX),
        " us",
    );
    let period = c.within(
        &x.period_us,
        &format!("component `{n}` period"),
        1,
        i64::from(u32::MAX),
        " us",
    );
    if let (Some(b), Some(p)) = (budget, period)
        && b > p
    {
        c.err(
            x.budget_us.span(),
            format!("component `{n}` budget {b} us is larger than its period {p} us"),
            "the budget is the CPU time allowed per period: make it at most the period",
        );
    }
    let stack = c
        .within(
            &x.stack_size,
            &format!("component `{n}` stack size"),
            MIN_STACK,
            MAX_STACK,
            " bytes",
        )
        .and_then(|_| c.page_multiple(&x.stack_size, &format!("component `{n}` stack size"), page));
    let memory = c.page_multiple(
        &x.memory_size,
        &format!("component `{n}` memory size"),
        page,
    );

    let mut devices = Vec::new();
    for d in &x.devices {
        match device_index.get(d.get_ref()).copied() {
            None => c.err(
                d.span(),
                format!(
                    "component `{n}` claims device `{}`, which board `{}` does not have",
                    d.get_ref(),
                    board.name
                ),
                format!(
                    "use one of the devices in {}: {}",
                    board.file,
                    board
                        .devices
                        .iter()
                        .map(|bd| bd.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Some(di) => match board.devices[di].owner {
                Some(o) => {
                    let other = &raw.component[o].name;
                    c.err(
                            d.span(),
                            format!("device `{}` is owned by both `{}` and `{n}`", d.get_ref(), other.get_ref()),
                            "a device belongs to one component at most: share what it produces through a channel instead",
                        );
                }
                None => {
                    board.devices[di].owner = Some(id);
                    devices.push(di);
                }
            },
        }
    }

    let restart = match (&x.restart, root) {
        (Some(r), true) => {
            c.err(
                r.span(),
                format!("the root task `{n}` cannot have a restart policy"),
                "remove `restart`: nothing can restart the root task; its failure resets the board",
            );
            None
        }
        (None, true) => None,
        (None, false) => {
            c.err(
                    x.name.span(),
                    format!("component `{n}` has no restart policy"),
                    "add `restart = { policy = \"restart\", max-restarts = 3, window-s = 600, backoff-ms = 100 }` or `restart = { policy = \"hold\" }`",
                );
            None
        }
        (Some(r), false) => restart_policy(c, &n, id, r.get_ref(), lookup),
    };
    let program = match &x.program {
        Some(p) if p.get_ref().trim().is_empty() || p.get_ref().contains(['/', '\\']) => {
            c.err(
                p.span(),
                format!(
                    "component `{n}` program image `{}` is not a plain file name",
                    p.get_ref()
                ),
                "give a file name such as `signer.elf`, without directories",
            );
            String::new()
        }
        Some(p) => p.get_ref().clone(),
        None => format!("{n}.elf"),
    };
    let health = x.health.as_ref().and_then(|h| {
            let h = h.get_ref();
            let period = c.within(&h.ping_period_ms, &format!("component `{n}` ping-period-ms"), 10, 60_000, " ms");
            let warn = c.within(&h.warn_after, &format!("component `{n}` warn-after"), 1, 100, " missed pings");
            let fatal = c.within(&h.fatal_after, &format!("component `{n}` fatal-after"), 1, 100, " missed pings");
            if let (Some(w), Some(f)) = (warn, fatal)
                && w > f
            {
                c.err(
                    h.warn_after.span(),
                    format!("component `{n}` warns after {w} missed pings but fails after {f}"),
                    "a warning must come no later than the failure: make warn-after at most fatal-after",
                );
            }
            Some(Health { ping_period_ms: period? as u32, warn_after: warn? as u32, fatal_after: fatal? as u32 })
        });
    let trial = x.trial.as_ref().and_then(|t| crate::trial::check(c, &n, t));
    if root && !x.safe_mode {
        c.err(
            x.name.span(),
            format!("the root task `{n}` must run in safe mode"),
            "set `safe-mode = true`: in safe mode the root task still starts the others",
        );
    }
    if root && !x.critical {
        c.err(
            x.name.span(),
            format!("the root task `{n}` must be critical"),
            "set `critical = true`: when the root task fails, the board must reset",
        );
    }
    Component {
        id,
        name: n,
        summary: x.summary.clone(),
        root,
        priority: priority.unwrap_or(0) as u8,
        budget_us: budget.unwrap_or(1),
        period_us: period.unwrap_or(1),
        stack_size: stack.unwrap_or(MIN_STACK as u64),
        memory_size: memory.unwrap_or(page),
        integrity: *x.integrity.get_ref(),
        critical: x.critical,
        devices,
        restart,
        health,
        trial,
        safe_mode: x.safe_mode,
        program,
    }
}

/// Resolves a component name in a given role, reporting it when unknown.
pub(super) type Lookup<'a> = dyn Fn(&mut Checker, &S<String>, &str) -> Option<usize> + 'a;

fn restart_policy(
    c: &mut Checker,
    n: &str,
    id: usize,
    r: &RawRestart,
    lookup: &Lookup,
) -> Option<RestartPolicy> {
    let mut with = Vec::new();
    for w in &r.with {
        if let Some(t) = lookup(c, w, &format!("component `{n}` restart target")) {
            if t == id {
                c.err(
                    w.span(),
                    format!("component `{n}` lists itself as a restart target"),
                    "`with` names the other components restarted together with this one; remove it",
                );
            } else {
                with.push(t);
            }
        }
    }
    match r.policy.get_ref() {
        RestartKind::Hold => {
            for (v, key) in [
                (&r.max_restarts, "max-restarts"),
                (&r.window_s, "window-s"),
                (&r.backoff_ms, "backoff-ms"),
                (&r.backoff_max_ms, "backoff-max-ms"),
            ] {
                if let Some(v) = v {
                    c.err(v.span(), format!("component `{n}` has policy `hold` but sets `{key}`"), "a held component is never restarted: remove the key, or use policy `restart`");
                }
            }
            Some(RestartPolicy::Hold)
        }
        RestartKind::Restart => {
            let need =
                |c: &mut Checker, v: &Option<S<i64>>, key: &str, lo: i64, hi: i64, unit: &str| {
                    match v {
                        Some(v) => c.within(v, &format!("component `{n}` {key}"), lo, hi, unit),
                        None => {
                            c.err(
                                r.policy.span(),
                                format!("component `{n}` restart policy lacks `{key}`"),
                                format!("add `{key}` ({lo} to {hi}{unit})"),
                            );
                            None
                        }
                    }
                };
            let max = need(c, &r.max_restarts, "max-restarts", 1, 1000, "");
            let window = need(c, &r.window_s, "window-s", 1, 86_400, " s");
            let backoff = need(c, &r.backoff_ms, "backoff-ms", 0, 3_600_000, " ms");
            let backoff_max = match &r.backoff_max_ms {
                Some(v) => c.within(
                    v,
                    &format!("component `{n}` backoff-max-ms"),
                    0,
                    3_600_000,
                    " ms",
                ),
                None => backoff,
            };
            if let (Some(b), Some(bm), Some(v)) = (backoff, backoff_max, &r.backoff_max_ms)
                && bm < b
            {
                c.err(v.span(), format!("component `{n}` backoff-max-ms {bm} is below backoff-ms {b}"), "the back-off doubles from backoff-ms up to backoff-max-ms: make the maximum at least the start");
            }
            let min_run = match &r.min_run_ms {
                Some(v) => c.within(
                    v,
                    &format!("component `{n}` min-run-ms"),
                    0,
                    3_600_000,
                    " ms",
                ),
                None => Some(DEFAULT_MIN_RUN_MS),
            };
            Some(RestartPolicy::Restart {
                max_restarts: max? as u32,
                window_s: window? as u32,
                backoff_ms: backoff? as u32,
                backoff_max_ms: backoff_max? as u32,
                min_run_ms: min_run? as u32,
                with,
            })
        }
    }
}
