//! One `[[channel]]` of a description: its ends, message type and ring geometry.
//! Avoids: rules across channels (those are in `system` and `limits`).

use super::checker::Checker;
use super::component::Lookup;
use super::{MAX_SLOT_SIZE, MAX_SLOTS, SLOT_ALIGN};
use crate::model::*;
use crate::raw::*;
use protocol::catalogue;

/// Checks one channel; `None` when it cannot be built (its problems are reported).
pub(super) fn channel(
    c: &mut Checker,
    lookup: &Lookup,
    id: usize,
    x: &RawChannel,
) -> Option<Channel> {
    let n = c.name(&x.name, "channel");
    let sender = lookup(c, &x.from, &format!("channel `{n}` sender"));
    let receiver = lookup(c, &x.to, &format!("channel `{n}` receiver"));
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
                return None;
            }
        };
        return Some(Channel {
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
    None
}
