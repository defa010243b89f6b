//! The limits of the code that consumes a description, checked when it is loaded so that a
//! description the node cannot run is refused at once, with a position and what to do, instead of
//! failing later (at SDF export, at boot, in the watchdog) or taking time and memory in proportion
//! to a hostile input:
//!
//! - file size: [`MAX_FILE_BYTES`] (parsing is linear, but a 36 MB file took 11 s and 936 MB);
//! - components: [`MAX_COMPONENTS`], the watchdog's table and health report
//!   (`protocol::MAX_COMPONENTS`); component ids are a `u8` and Microkit takes 63 PDs, both larger;
//! - capabilities per component: [`MAX_CAPS`] channel ends and devices (`runtime::MAX_CAPS`, the
//!   fixed capability table of a partition); the sim board's wake-up sources (63) and Microkit's
//!   per-PD channel and IRQ ids (62) are both larger;
//! - channels: [`MAX_CHANNELS`], what the components can hold between them;
//! - SDF address windows: each component's rings (plus a guard page each) must fit the window
//!   between the export's ring and device base addresses, and its devices must fit below its
//!   stack;
//! - names: the export renames a component `monitor` (Microkit's reserved name) to
//!   `node-monitor`, so both names cannot be used together.
//!
//! Avoids: checking anything twice that `component`, `channel` or `system` already check.

use super::checker::Checker;
use crate::model::*;
use crate::raw::*;
use crate::sdf;
use crate::sdf_rules;
use std::collections::HashMap;

/// Largest description or board file. The shipped description is about 10 KB, and one with the
/// most components and channels the node can hold is far below this.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Most components: the watchdog tracks and reports at most this many.
pub const MAX_COMPONENTS: usize = protocol::MAX_COMPONENTS;
/// Most channel ends plus devices one component can hold.
pub const MAX_CAPS: usize = runtime::MAX_CAPS;
/// Most channels: every channel takes a capability at each of its two ends.
pub const MAX_CHANNELS: usize = MAX_COMPONENTS * MAX_CAPS / 2;

// The limits checked here are the strictest ones; these are the others they imply.
const _: () = assert!(MAX_COMPONENTS <= sdf_rules::MAX_PDS);
const _: () = assert!(MAX_COMPONENTS <= u8::MAX as usize + 1);
const _: () = assert!(MAX_CAPS <= sdf_rules::PD_MAX_ID as usize + 1);
const _: () = assert!(MAX_CAPS <= runtime::Source::MAX_INDEX as usize + 1);

/// Checks the counts, before anything else: `false` (with diagnostics) when a count is past its
/// limit, and the caller should stop, since every other message would be about a description
/// that cannot run. `index` maps each component name to its position.
pub(super) fn counts(c: &mut Checker, raw: &RawSystem, index: &HashMap<&str, usize>) -> bool {
    let before = c.diags.len();
    if let Some(x) = raw.component.get(MAX_COMPONENTS) {
        c.err(
            x.name.span(),
            format!(
                "component `{}` is component {} of {}; the node runs at most {MAX_COMPONENTS}",
                x.name.get_ref(),
                MAX_COMPONENTS + 1,
                raw.component.len()
            ),
            format!(
                "remove components or merge their work: the watchdog tracks and reports at most {MAX_COMPONENTS}"
            ),
        );
    }
    if let Some(x) = raw.channel.get(MAX_CHANNELS) {
        c.err(
            x.name.span(),
            format!(
                "channel `{}` is channel {} of {}; the node holds at most {MAX_CHANNELS}",
                x.name.get_ref(),
                MAX_CHANNELS + 1,
                raw.channel.len()
            ),
            format!(
                "remove channels: {MAX_COMPONENTS} components of at most {MAX_CAPS} capabilities each hold {MAX_CHANNELS} channels"
            ),
        );
    }
    if c.diags.len() > before {
        return false;
    }
    // Capabilities: devices first (they come with the component), then each channel end in file
    // order; the first end past the limit is reported, once per component.
    let mut held: Vec<usize> = raw.component.iter().map(|x| x.devices.len()).collect();
    for (x, &n) in raw.component.iter().zip(&held) {
        if n > MAX_CAPS {
            c.err(
                x.devices[MAX_CAPS].span(),
                format!(
                    "component `{}` owns {n} devices; a component holds at most {MAX_CAPS} capabilities",
                    x.name.get_ref()
                ),
                "give some of the devices to another component",
            );
        }
    }
    for ch in &raw.channel {
        for end in [&ch.from, &ch.to] {
            let Some(&k) = index.get(end.get_ref().as_str()) else {
                continue; // reported as an unknown component later
            };
            held[k] += 1;
            if held[k] == MAX_CAPS + 1 {
                c.err(
                    end.span(),
                    format!(
                        "channel `{}` gives component `{}` its capability {}; a component holds at most {MAX_CAPS} (channel ends and devices)",
                        ch.name.get_ref(),
                        end.get_ref(),
                        MAX_CAPS + 1
                    ),
                    "connect fewer channels to this component, or merge channels that carry the same message type",
                );
            }
        }
    }
    c.diags.len() == before
}

/// The export names a component `monitor` `node-monitor`, so a description may not use both.
pub(super) fn names(c: &mut Checker, raw: &RawSystem, index: &HashMap<&str, usize>) {
    if !index.contains_key(sdf_rules::RESERVED_PD_NAME) {
        return;
    }
    if let Some(&k) = index.get(sdf::RESERVED_PD_RENAME) {
        let x = &raw.component[k].name;
        c.err(
            x.span(),
            format!(
                "component `{}` has the name the Microkit export gives component `{}`",
                x.get_ref(),
                sdf_rules::RESERVED_PD_NAME
            ),
            format!(
                "rename one of the two: Microkit reserves `{}`, so the export calls that component `{}`",
                sdf_rules::RESERVED_PD_NAME,
                sdf::RESERVED_PD_RENAME
            ),
        );
    }
}

/// The address windows of the SDF export: each component's rings between the ring and device
/// bases, its devices between the device base and its stack. One pass over the channels.
pub(super) fn windows(
    c: &mut Checker,
    raw: &RawSystem,
    board: &Board,
    components: &[Component],
    channels: &[Channel],
) {
    let page = board.page_size;
    let mut rings = vec![0u64; components.len()];
    let mut first_past: Vec<Option<usize>> = vec![None; components.len()];
    let ring_window = sdf::DEVICE_VADDR - sdf::RING_VADDR;
    for (i, ch) in channels.iter().enumerate() {
        let size = ch.ring_bytes().div_ceil(page) * page + page;
        for k in [ch.sender, ch.receiver] {
            rings[k] = rings[k].saturating_add(size);
            if rings[k] > ring_window && first_past[k].is_none() {
                first_past[k] = Some(i);
            }
        }
    }
    for (k, past) in first_past.iter().enumerate() {
        if let Some(i) = past {
            let ch = &channels[*i];
            c.err(
                raw.channel[ch.id].name.span(),
                format!(
                    "channel `{}` takes the rings of component `{}` to {:#x} bytes (a guard page each); its ring window is {ring_window:#x} bytes",
                    ch.name, components[k].name, rings[k]
                ),
                "use fewer slots or smaller slots on this component's channels",
            );
        }
    }
    for (k, x) in components.iter().zip(&raw.component) {
        let top = sdf_rules::pd_map_max_vaddr(k.stack_size);
        let end = k.devices.iter().fold(sdf::DEVICE_VADDR, |at, &d| {
            at.saturating_add(board.devices[d].size + page)
        });
        if end > top {
            c.err(
                x.devices.first().map_or(x.name.span(), |d| d.span()),
                format!(
                    "the devices of component `{}` need mappings up to {end:#x}, above its highest mapping address {top:#x}",
                    k.name
                ),
                "give some of the devices to another component, or use a smaller stack",
            );
        }
    }
}
