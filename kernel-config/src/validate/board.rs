//! A board file: its RAM ranges, devices and storage parts, each checked and cross-checked.
//! Avoids: anything about the system description.

use super::checker::{Checker, duplicates, overlaps};
use super::{MAX_IRQ, parse};
use crate::board_limits;
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::*;
use crate::raw::*;
use crate::source::Source;

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
        return Err(c.into_diagnostics());
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
