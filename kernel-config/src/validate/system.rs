//! A system description against a validated board: the count limits first, then each component
//! and channel, then the rules across them (shared interrupts, health channels, RAM) and policy.
//! Avoids: rules of one component or channel alone (see `component`, `channel`).

use super::channel::channel;
use super::checker::{Checker, duplicates};
use super::component::component;
use super::{DEFAULT_MAX_RESETS, limits, parse};
use crate::diag::Diagnostics;
use crate::model::*;
use crate::raw::*;
use crate::source::Source;
use std::collections::HashMap;

/// Loads and validates a system description against a validated board, then checks its policy.
pub fn load_system(src: &Source, board: Board) -> Result<System, Diagnostics> {
    let raw: RawSystem = parse(src, "system description")?;
    let mut c = Checker::new(src);
    let index: HashMap<&str, usize> = raw
        .component
        .iter()
        .enumerate()
        .rev()
        .map(|(i, x)| (x.name.get_ref().as_str(), i))
        .collect();
    // First, and alone: a description past a count limit cannot run, whatever else is wrong.
    if !limits::counts(&mut c, &raw, &index) {
        return Err(c.into_diagnostics());
    }
    let name = c.name(&raw.system.name, "system");
    let page = board.page_size;

    duplicates(&mut c, raw.component.iter().map(|x| &x.name), "component");
    duplicates(&mut c, raw.channel.iter().map(|x| &x.name), "channel");
    limits::names(&mut c, &raw, &index);
    // Owned names: `component` claims devices on the board while looking them up.
    let device_index: HashMap<String, usize> = board
        .devices
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.clone(), i))
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
        let k = component(&mut c, &raw, &mut board, &device_index, &lookup, id, x);
        components.push(k);
    }

    // Two devices that different components (or one) own may not share an interrupt line: seL4
    // delivers an IRQ to exactly one handler.
    let mut irqs: HashMap<u32, usize> = HashMap::new();
    for x in &raw.component {
        for d in &x.devices {
            let Some(&di) = device_index.get(d.get_ref()) else {
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

    let channels: Vec<Channel> = raw
        .channel
        .iter()
        .enumerate()
        .filter_map(|(id, x)| channel(&mut c, &lookup, id, x))
        .collect();
    limits::windows(&mut c, &raw, &board, &components, &channels);

    // Health: a component is pinged exactly when it has thresholds, on one ping and one pong channel.
    if c.diags.is_empty() {
        // Counted in one pass over the channels: (pings received, pongs sent) per component.
        let mut health = vec![(0usize, 0usize); components.len()];
        for ch in &channels {
            match ch.message.name {
                "ping" => health[ch.receiver].0 += 1,
                "pong" => health[ch.sender].1 += 1,
                _ => {}
            }
        }
        for ((k, x), &(pings, pongs)) in components.iter().zip(&raw.component).zip(&health) {
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
    let standby = super::standby::standby(&mut c, raw.standby_link.as_ref());
    let policy = crate::policy::resolve(&mut c, &raw.policy, &components, &board);
    let radio_link = super::link::link(&mut c, raw.link.as_ref());
    let system = System {
        name,
        summary: raw.system.summary.clone(),
        max_resets,
        description_file: src.name.clone(),
        board,
        components,
        channels,
        policy,
        standby,
        radio_link,
    };
    if c.diags.is_empty() {
        crate::policy::check(&mut c, &raw, &system);
    }
    c.finish(system)
}
