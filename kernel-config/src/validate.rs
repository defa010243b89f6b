//! Turns raw TOML into a validated `System`, checking every rule of the description format and
//! reporting all problems at once, each with file:line:col and a fix. Policy rules are checked by
//! `policy` once the structure is sound. This module does no I/O.

use crate::board_limits;
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::*;
use crate::raw::*;
use crate::source::Source;
use protocol::catalogue;
use std::collections::HashMap;
use std::ops::Range;

/// Largest priority seL4 (and Microkit) accept.
pub const MAX_PRIORITY: i64 = 254;
/// Microkit's stack size bounds.
pub const MIN_STACK: i64 = 0x1000;
pub const MAX_STACK: i64 = 16 * 1024 * 1024;
/// Ring geometry bounds.
pub const MAX_SLOTS: i64 = 4096;
pub const SLOT_ALIGN: i64 = 64;
pub const MAX_SLOT_SIZE: i64 = 1024 * 1024;
/// Largest interrupt ID of a GICv2/GICv3 shared peripheral interrupt.
pub const MAX_IRQ: i64 = 1019;
/// Minimum run time before a restart counts as a fresh start, when the description gives none.
pub const DEFAULT_MIN_RUN_MS: u64 = 1000;
/// Board resets before safe mode, when the description gives none.
pub const DEFAULT_MAX_RESETS: u64 = 3;
/// Longest name: names become Microkit names and C symbols.
pub const MAX_NAME: usize = 32;

/// Parses TOML into a raw shape, turning serde's errors into diagnostics with positions: every
/// unknown key and every value of the wrong type, not only the first ([`crate::recover`]).
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    src: &Source,
    what: &str,
) -> Result<T, Diagnostics> {
    let mut text = src.text.clone();
    let mut diags = Vec::new();
    while diags.len() < crate::recover::MAX_ERRORS {
        let e = match toml::from_str::<T>(&text) {
            Ok(v) if diags.is_empty() => return Ok(v),
            Ok(_) => break,
            Err(e) => e,
        };
        let span = e.span().unwrap_or(0..0);
        diags.push((span.start, parse_diagnostic(src, what, &e)));
        if !crate::recover::step_past(&mut text, &span, e.message().trim()) {
            break;
        }
    }
    // In file order (serde finds them table by table).
    diags.sort_by_key(|(at, _)| *at);
    Err(Diagnostics(diags.into_iter().map(|(_, d)| d).collect()))
}

/// One serde error as a diagnostic on the original text.
fn parse_diagnostic(src: &Source, what: &str, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    let msg = e
        .message()
        .trim()
        .replace("expected i64", "expected an integer")
        .replace("expected a boolean", "expected true or false");
    let help = if msg.starts_with("unknown field") {
        format!(
            "remove the key or fix its spelling; the {what} format is described in kernel-config/README.md"
        )
    } else if msg.starts_with("missing field") {
        "add the missing key to this table".to_string()
    } else if msg.starts_with("unknown variant") {
        "use one of the values listed".to_string()
    } else if msg.starts_with("invalid type") {
        "give the value the type the format expects (numbers unquoted, names quoted)".to_string()
    } else {
        "fix the TOML syntax at this position".to_string()
    };
    Diagnostic::at(src, span, format!("{what}: {msg}")).help(help)
}

/// Validation state shared by the board and system passes.
pub(crate) struct Checker<'a> {
    pub src: &'a Source,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub fn new(src: &'a Source) -> Self {
        Self {
            src,
            diags: Vec::new(),
        }
    }

    pub fn err(&mut self, span: Range<usize>, msg: impl Into<String>, help: impl Into<String>) {
        self.diags
            .push(Diagnostic::at(self.src, span, msg).help(help));
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Checks a name's spelling; returns it either way so later checks can go on.
    fn name(&mut self, n: &S<String>, what: &str) -> String {
        let s = n.get_ref();
        let ok = !s.is_empty()
            && s.len() <= MAX_NAME
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.ends_with('-');
        if !ok {
            self.err(
                n.span(),
                format!("{what} name `{s}` is not a valid name"),
                format!(
                    "use 1 to {MAX_NAME} lowercase letters, digits and '-', starting with a letter and not ending with '-' (names become Microkit names and C symbols)"
                ),
            );
        }
        s.clone()
    }

    /// A number within `lo..=hi`; `None` (with a diagnostic) when outside.
    pub(crate) fn within(
        &mut self,
        v: &S<i64>,
        what: &str,
        lo: i64,
        hi: i64,
        unit: &str,
    ) -> Option<u64> {
        let x = *v.get_ref();
        if x < lo || x > hi {
            // Sizes read best in hex, as they are written in the description.
            let show = |n: i64| {
                if unit == " bytes" {
                    show_hex(n)
                } else {
                    n.to_string()
                }
            };
            self.err(
                v.span(),
                format!("{what} {}{unit} is out of range", show(x)),
                format!("use a value from {} to {}{unit}", show(lo), show(hi)),
            );
            None
        } else {
            Some(x as u64)
        }
    }

    /// A size that is a positive multiple of `page`.
    fn page_multiple(&mut self, v: &S<i64>, what: &str, page: u64) -> Option<u64> {
        let x = *v.get_ref();
        if x <= 0 || !(x as u64).is_multiple_of(page) {
            let up = if x <= 0 {
                page
            } else {
                (x as u64).div_ceil(page) * page
            };
            self.err(
                v.span(),
                format!(
                    "{what} {} is not a positive multiple of the page size ({page:#x})",
                    show_hex(x)
                ),
                format!("round it up to {up:#x}"),
            );
            None
        } else {
            Some(x as u64)
        }
    }

    fn page_aligned_address(&mut self, v: &S<i64>, what: &str, page: u64) -> Option<u64> {
        let x = *v.get_ref();
        if x < 0 || !(x as u64).is_multiple_of(page) {
            self.err(
                v.span(),
                format!("{what} {} is not aligned to the page size ({page:#x})", show_hex(x)),
                "device registers and RAM are mapped in whole pages: give the page-aligned base from the reference manual",
            );
            None
        } else {
            Some(x as u64)
        }
    }

    fn finish<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.diags.is_empty() {
            Ok(value)
        } else {
            Err(Diagnostics(self.diags))
        }
    }
}

fn show_hex(x: i64) -> String {
    if x < 0 {
        x.to_string()
    } else {
        format!("{x:#x}")
    }
}

/// Reports the second and later uses of each name.
fn duplicates<'n>(c: &mut Checker, names: impl Iterator<Item = &'n S<String>>, what: &str) {
    let mut seen: HashMap<&str, Range<usize>> = HashMap::new();
    for n in names {
        if let Some(first) = seen.get(n.get_ref().as_str()) {
            let (l, col) = c.src.line_col(first.start);
            let d = Diagnostic::at(
                c.src,
                n.span(),
                format!("{what} `{}` is declared twice", n.get_ref()),
            )
            .note(format!("first declared at {}:{l}:{col}", c.src.name))
            .help(format!("give each {what} a unique name"));
            c.push(d);
        } else {
            seen.insert(n.get_ref(), n.span());
        }
    }
}

/// Reports overlaps among `[base, base+size)` ranges; `ranges` holds (label, base, size, span).
fn overlaps(c: &mut Checker, ranges: &[(String, u64, u64, Range<usize>)]) {
    for (i, (a, ab, asz, _)) in ranges.iter().enumerate() {
        for (b, bb, bsz, bspan) in &ranges[i + 1..] {
            let (ae, be) = (ab.saturating_add(*asz), bb.saturating_add(*bsz));
            if ab < &be && bb < &ae {
                c.err(
                    bspan.clone(),
                    format!("{b} [{bb:#x}..{be:#x}) overlaps {a} [{ab:#x}..{ae:#x})"),
                    "physical ranges must be disjoint: check the base and size against the reference manual",
                );
            }
        }
    }
}

/// Loads and validates a board file.
pub fn load_board(src: &Source) -> Result<Board, Diagnostics> {
    let raw: RawBoard = parse(src, "board file")?;
    let mut c = Checker::new(src);
    let name = c.name(&raw.board.name, "board");
    let page = *raw.board.page_size.get_ref();
    let page_size = if (4096..=65536).contains(&page) && (page as u64).is_power_of_two() {
        page as u64
    } else {
        c.err(
            raw.board.page_size.span(),
            format!("page size {page} is not supported"),
            "use 4096 (all supported boards use 4 KiB pages)",
        );
        4096
    };

    duplicates(&mut c, raw.memory.iter().map(|m| &m.name), "memory range");
    duplicates(&mut c, raw.device.iter().map(|d| &d.name), "device");

    let mut ranges = Vec::new();
    let mut memory = Vec::new();
    for m in &raw.memory {
        let n = c.name(&m.name, "memory range");
        let base = c.page_aligned_address(&m.base, &format!("memory range `{n}` base"), page_size);
        let size = c.page_multiple(&m.size, &format!("memory range `{n}` size"), page_size);
        if let (Some(base), Some(size)) = (base, size) {
            ranges.push((format!("memory range `{n}`"), base, size, m.base.span()));
            memory.push(MemoryRange {
                name: n,
                base,
                size,
            });
        }
    }
    if raw.memory.is_empty() {
        c.push(
            Diagnostic::at(
                src,
                raw.board.name.span(),
                format!("board `{name}` declares no RAM"),
            )
            .help("add at least one [[memory]] range (name, base, size)"),
        );
    }

    let mut devices = Vec::new();
    for d in &raw.device {
        let n = c.name(&d.name, "device");
        let base = c.page_aligned_address(&d.base, &format!("device `{n}` base"), page_size);
        let size = c.page_multiple(&d.size, &format!("device `{n}` size"), page_size);
        let irq = d
            .irq
            .as_ref()
            .and_then(|i| c.within(i, &format!("device `{n}` IRQ"), 0, MAX_IRQ, ""));
        if d.source.trim().is_empty() {
            c.err(d.name.span(), format!("device `{n}` does not say where its address comes from"), "set `source` to the reference manual section or device tree node it was taken from");
        }
        if let (Some(base), Some(size)) = (base, size) {
            ranges.push((format!("device `{n}`"), base, size, d.base.span()));
            devices.push(Device {
                name: n,
                kind: *d.kind.get_ref(),
                base,
                size,
                irq: irq.map(|i| i as u32),
                trigger: d.trigger.unwrap_or(Trigger::Level),
                source: d.source.clone(),
                summary: d.summary.clone(),
                owner: None,
            });
        }
    }
    overlaps(&mut c, &ranges);
    let names: Vec<&str> = raw
        .device
        .iter()
        .map(|d| d.name.get_ref().as_str())
        .collect();
    let Some(storage) = board_limits::check(&mut c, &raw.storage, &names) else {
        return Err(Diagnostics(c.diags));
    };
    c.finish(Board {
        name,
        summary: raw.board.summary,
        file: src.name.clone(),
        page_size,
        memory,
        devices,
        storage,
    })
}

/// Loads and validates a system description against a validated board, then checks its policy.
pub fn load_system(src: &Source, board: Board) -> Result<System, Diagnostics> {
    let raw: RawSystem = parse(src, "system description")?;
    let mut c = Checker::new(src);
    let name = c.name(&raw.system.name, "system");
    let page = board.page_size;

    duplicates(&mut c, raw.component.iter().map(|x| &x.name), "component");
    duplicates(&mut c, raw.channel.iter().map(|x| &x.name), "channel");
    let index: HashMap<&str, usize> = raw
        .component
        .iter()
        .enumerate()
        .rev()
        .map(|(i, x)| (x.name.get_ref().as_str(), i))
        .collect();
    let known = || {
        raw.component
            .iter()
            .map(|x| x.name.get_ref().as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let lookup = |c: &mut Checker, n: &S<String>, role: &str| -> Option<usize> {
        let i = index.get(n.get_ref().as_str()).copied();
        if i.is_none() {
            c.err(
                n.span(),
                format!("{role} `{}` is not a declared component", n.get_ref()),
                format!("declare it under [[component]] or use one of: {}", known()),
            );
        }
        i
    };

    let mut board = board;
    let mut components = Vec::new();
    let roots: Vec<&RawComponent> = raw
        .component
        .iter()
        .filter(|x| x.root.as_ref().is_some_and(|r| *r.get_ref()))
        .collect();
    match roots.len() {
        1 => {}
        0 => c.err(raw.system.name.span(), format!("system `{name}` has no root task"), "mark the monitor component with `root = true`: it alone may start and restart components"),
        _ => {
            for r in &roots[1..] {
                c.err(
                    r.root.as_ref().map_or(r.name.span(), |x| x.span()),
                    format!("component `{}` is a second root task", r.name.get_ref()),
                    "exactly one component (the monitor) may have `root = true`",
                );
            }
        }
    }

    for (id, x) in raw.component.iter().enumerate() {
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
            .and_then(|_| {
                c.page_multiple(&x.stack_size, &format!("component `{n}` stack size"), page)
            });
        let memory = c.page_multiple(
            &x.memory_size,
            &format!("component `{n}` memory size"),
            page,
        );

        let mut devices = Vec::new();
        for d in &x.devices {
            match board.devices.iter().position(|bd| bd.name == *d.get_ref()) {
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
                c.err(r.span(), format!("the root task `{n}` cannot have a restart policy"), "remove `restart`: nothing can restart the root task; its failure resets the board");
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
            (Some(r), false) => restart_policy(&mut c, &n, id, r.get_ref(), &lookup),
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
        let trial = x
            .trial
            .as_ref()
            .and_then(|t| crate::trial::check(&mut c, &n, t));
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
        components.push(Component {
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
        });
    }

    // Two devices that different components (or one) own may not share an interrupt line: seL4
    // delivers an IRQ to exactly one handler.
    let mut irqs: HashMap<u32, usize> = HashMap::new();
    for x in &raw.component {
        for d in &x.devices {
            let Some(di) = board.devices.iter().position(|bd| bd.name == *d.get_ref()) else {
                continue;
            };
            let Some(irq) = board.devices[di].irq else {
                continue;
            };
            if let Some(&other) = irqs.get(&irq) {
                if other != di {
                    c.err(
                        d.span(),
                        format!("device `{}` shares IRQ {irq} with device `{}`, and both are owned", d.get_ref(), board.devices[other].name),
                        "an interrupt is delivered to one protection domain: own only one of the devices on a shared line",
                    );
                }
            } else {
                irqs.insert(irq, di);
            }
        }
    }

    let mut channels = Vec::new();
    for (id, x) in raw.channel.iter().enumerate() {
        let n = c.name(&x.name, "channel");
        let sender = lookup(&mut c, &x.from, &format!("channel `{n}` sender"));
        let receiver = lookup(&mut c, &x.to, &format!("channel `{n}` receiver"));
        if let (Some(s), Some(r)) = (sender, receiver)
            && s == r
        {
            c.err(x.to.span(), format!("channel `{n}` goes from `{}` to itself", x.from.get_ref()), "a channel connects two different components; keep component-internal queues inside the component");
        }
        let message = catalogue::lookup(x.message.get_ref());
        if message.is_none() {
            c.err(
                x.message.span(),
                format!(
                    "channel `{n}` carries unknown message type `{}`",
                    x.message.get_ref()
                ),
                format!(
                    "use a message type from the protocol crate: {}",
                    catalogue::all()
                        .iter()
                        .map(|m| m.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        let slots = c.within(
            &x.slots,
            &format!("channel `{n}` slot count"),
            1,
            MAX_SLOTS,
            "",
        );
        if let Some(s) = slots
            && !s.is_power_of_two()
        {
            c.err(
                x.slots.span(),
                format!("channel `{n}` slot count {s} is not a power of two"),
                format!(
                    "use {} or {}",
                    s.next_power_of_two() / 2,
                    s.next_power_of_two()
                ),
            );
        }
        let slot_size = c.within(
            &x.slot_size,
            &format!("channel `{n}` slot size"),
            SLOT_ALIGN,
            MAX_SLOT_SIZE,
            " bytes",
        );
        if let Some(sz) = slot_size {
            if sz % SLOT_ALIGN as u64 != 0 {
                c.err(
                    x.slot_size.span(),
                    format!("channel `{n}` slot size {sz} is not a multiple of {SLOT_ALIGN}"),
                    format!(
                        "use {} (slots are cache-line aligned)",
                        sz.div_ceil(64) * 64
                    ),
                );
            } else if let Some(m) = message {
                // Stricter than "holds the fixed part": a slot must hold the largest message of its
                // type, so a valid message can never be refused as too large at run time.
                if (sz as usize) < m.max_size {
                    c.err(
                        x.slot_size.span(),
                        format!("channel `{n}` slot size {sz} is smaller than the largest `{}` message ({} bytes)", m.name, m.max_size),
                        format!("use at least {}", (m.max_size as u64).div_ceil(64) * 64),
                    );
                }
            }
        }
        if let (Some(s), Some(r), Some(m), Some(slots), Some(sz)) =
            (sender, receiver, message, slots, slot_size)
        {
            // The limits above are inside ipc's; this only fails if the two ever drift apart.
            let spec = match ipc::ChannelSpec::new(m.name, slots as u32, sz as u32) {
                Ok(spec) => spec,
                Err(e) => {
                    c.err(
                        x.name.span(),
                        format!("channel `{n}` has a geometry the ipc layer refuses: {e:?}"),
                        "reduce the slot count or slot size",
                    );
                    continue;
                }
            };
            channels.push(Channel {
                spec,
                id,
                name: n,
                summary: x.summary.clone(),
                sender: s,
                receiver: r,
                message: m,
                slots: slots as u32,
                slot_size: sz as u32,
                copy_in: x.copy_in,
                keep_on_restart: x.keep_on_restart,
            });
        }
    }

    // Health: a component is pinged exactly when it has thresholds, on one ping and one pong channel.
    if c.diags.is_empty() {
        for (k, x) in components.iter().zip(&raw.component) {
            let pings = channels
                .iter()
                .filter(|ch| ch.receiver == k.id && ch.message.name == "ping")
                .count();
            let pongs = channels
                .iter()
                .filter(|ch| ch.sender == k.id && ch.message.name == "pong")
                .count();
            match (&x.health, pings, pongs) {
                (Some(_), 1, 1) | (None, 0, 0) => {}
                (Some(h), _, _) => c.err(
                    h.span(),
                    format!("component `{}` has health thresholds but receives {pings} ping and sends {pongs} pong channels", k.name),
                    "give it exactly one channel carrying `ping` to it and one carrying `pong` from it, or remove `health`",
                ),
                (None, _, _) => c.err(
                    x.name.span(),
                    format!("component `{}` is pinged but has no health thresholds", k.name),
                    "add `health = { ping-period-ms = 100, warn-after = 2, fatal-after = 5 }`",
                ),
            }
        }
    }

    // Memory: every component's stack, memory and the rings it maps must fit the board's RAM.
    let need: u64 = components
        .iter()
        .map(|k| k.stack_size + k.memory_size)
        .sum::<u64>()
        + channels
            .iter()
            .map(|ch| ch.ring_bytes().div_ceil(page) * page)
            .sum::<u64>();
    let have: u64 = board.memory.iter().map(|m| m.size).sum();
    if c.diags.is_empty() && need > have {
        c.err(
            raw.system.name.span(),
            format!(
                "the components need {need:#x} bytes of RAM but board `{}` has {have:#x}",
                board.name
            ),
            "shrink stack or memory sizes, or ring geometry",
        );
    }

    let max_resets = match &raw.system.max_resets {
        Some(v) => c
            .within(v, "system max-resets", 1, 100, "")
            .unwrap_or(DEFAULT_MAX_RESETS),
        None => DEFAULT_MAX_RESETS,
    } as u32;
    let policy = crate::policy::resolve(&mut c, &raw.policy, &components, &board);
    let system = System {
        name,
        summary: raw.system.summary.clone(),
        max_resets,
        description_file: src.name.clone(),
        board,
        components,
        channels,
        policy,
    };
    if c.diags.is_empty() {
        crate::policy::check(&mut c, &raw, &system);
    }
    c.finish(system)
}

/// Resolves a component name in a given role, reporting it when unknown.
type Lookup<'a> = dyn Fn(&mut Checker, &S<String>, &str) -> Option<usize> + 'a;

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
