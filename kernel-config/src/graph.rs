//! The capability view of a validated system: which component may send or receive on which
//! channel and which owns which device, as a text matrix for a terminal and as Graphviz DOT.
//! It shows exactly what the monitor will grant; nothing here is inferred from run-time behaviour.

use crate::model::*;
use std::fmt::Write;

/// One cell of the matrix.
fn cell(c: ComponentId, ch: &Channel) -> &'static str {
    if ch.sender == c {
        "S"
    } else if ch.receiver == c {
        if ch.copy_in { "C" } else { "R" }
    } else {
        "."
    }
}

/// The capability matrix: a row per channel and device, a column per component.
pub fn matrix(s: &System) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Capabilities of system `{}` on board `{}` (S send, R receive, C receive with copy-in, O own)",
        s.name, s.board.name
    );
    let label_w = s
        .channels
        .iter()
        .map(|c| c.name.len())
        .chain(s.board.devices.iter().map(|d| d.name.len()))
        .max()
        .unwrap_or(0)
        + 9;
    let widths: Vec<usize> = s.components.iter().map(|c| c.name.len().max(3)).collect();
    let _ = write!(out, "{:label_w$}", "");
    for (c, w) in s.components.iter().zip(&widths) {
        let _ = write!(out, " {:^w$}", c.name);
    }
    let _ = writeln!(out, "  what");
    for ch in &s.channels {
        let _ = write!(out, "{:label_w$}", format!("channel {}", ch.name));
        for (c, w) in s.components.iter().zip(&widths) {
            let _ = write!(out, " {:^w$}", cell(c.id, ch));
        }
        let _ = writeln!(
            out,
            "  {} (up to {} B) x{} slots of {} B",
            ch.message.name, ch.message.max_size, ch.slots, ch.slot_size
        );
    }
    for (di, d) in s.board.devices.iter().enumerate() {
        let _ = write!(out, "{:label_w$}", format!("device  {}", d.name));
        for (c, w) in s.components.iter().zip(&widths) {
            let mark = if c.devices.contains(&di) { "O" } else { "." };
            let _ = write!(out, " {:^w$}", mark);
        }
        let irq = d.irq.map(|i| format!(" irq {i}")).unwrap_or_default();
        let _ = writeln!(out, "  {} @ {:#x}{irq}", d.kind.as_str(), d.base);
    }
    out
}

fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz DOT: components as boxes (filled by integrity), devices as ellipses, a labelled edge
/// per channel (dashed when the receiver copies in), a dotted edge per device ownership.
pub fn dot(s: &System) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot_id(&s.name));
    let _ = writeln!(
        out,
        "  label={};",
        dot_id(&format!("{} on board {}", s.name, s.board.name))
    );
    let _ = writeln!(
        out,
        "  rankdir=LR; node [fontname=\"Helvetica\"]; edge [fontname=\"Helvetica\", fontsize=10];"
    );
    for c in &s.components {
        let fill = match c.integrity {
            Integrity::High => "#cfe8cf",
            Integrity::Low => "#f6d6c8",
        };
        let shape = if c.root { "box3d" } else { "box" };
        let crit = if c.critical { "\\ncritical" } else { "" };
        let integ = match c.integrity {
            Integrity::High => "high",
            Integrity::Low => "low",
        };
        let _ = writeln!(
            out,
            "  {} [shape={shape}, style=filled, fillcolor=\"{fill}\", label=\"{}\\n{integ} integrity, prio {}{crit}\"];",
            dot_id(&c.name),
            c.name,
            c.priority
        );
    }
    for d in &s.board.devices {
        let _ = writeln!(
            out,
            "  {} [shape=ellipse, label=\"{}\\n{} @ {:#x}\"];",
            dot_id(&format!("dev:{}", d.name)),
            d.name,
            d.kind.as_str(),
            d.base
        );
    }
    for ch in &s.channels {
        let style = if ch.copy_in { ", style=dashed" } else { "" };
        let _ = writeln!(
            out,
            "  {} -> {} [label=\"{}\\n{}\"{style}];",
            dot_id(&s.components[ch.sender].name),
            dot_id(&s.components[ch.receiver].name),
            ch.name,
            ch.message.name
        );
    }
    for c in &s.components {
        for &d in &c.devices {
            let _ = writeln!(
                out,
                "  {} -> {} [dir=both, style=dotted, label=\"owns\"];",
                dot_id(&c.name),
                dot_id(&format!("dev:{}", s.board.devices[d].name))
            );
        }
    }
    let _ = writeln!(out, "}}");
    out
}
