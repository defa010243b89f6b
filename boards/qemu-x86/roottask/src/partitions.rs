//! Builds every component of the system description as an seL4 protection domain: its own
//! CSpace holding exactly the capabilities its grants name, and its own VSpace in which each of
//! its channels' rings is mapped from frames shared by exactly the two ends of that channel.
//!
//! Capabilities per component (slot: what):
//! 1: its own notification, receive only (every channel it receives wakes it with the channel's
//!    badge bit); 2: the fault endpoint to the monitor, badged with its index; then, for each
//!    channel it sends, the receiver's notification, signal only, badged with the channel's bit.
//!
//! Ring pages: the sender maps all read-write; the receiver maps the first page read-write
//! (the `ipc` header, where it writes its consumer index) and the slot pages read-only.
//!
//! Each line it logs is printed after the kernel accepted the corresponding mint or map.
//! The components' threads are not created: their partition code does not run on seL4 yet.
//!
//! Avoids: any capability not named by a grant; any frame mapped in more than the two ends (the
//! monitor's own ends are mapped in its scratch window).

use crate::alloc::{Alloc, StepError, step};
use crate::system::{CHANNELS, COMPONENTS};
use crate::vspace::{RO, RW, Scratch, VSpace};
use sel4::*;

const CNODE_BITS: Word = 5;
const SLOT_OWN_NOTIFICATION: Word = 1;
const SLOT_FAULT_EP: Word = 2;
/// Where rings start in each component's 2 MiB window (its image would sit below).
const WINDOW_BASE: Word = 0x1000_0000;
const RING_BASE: Word = WINDOW_BASE + 0x10_0000;
const PAGE: Word = 1 << seL4_PageBits;
const N: usize = COMPONENTS.len();

/// The badge bit of `channel` at its receiver: its rank among the receiver's channels.
fn badge_bit(channel: usize) -> Word {
    let receiver = CHANNELS[channel].receiver;
    1 << CHANNELS[..channel]
        .iter()
        .filter(|c| c.receiver == receiver)
        .count()
}

/// Builds all components' CSpaces and VSpaces; `fault_ep` is the monitor's fault endpoint.
pub fn build(
    alloc: &mut Alloc,
    ipc: &mut IpcBuffer,
    scratch: &mut Scratch,
    fault_ep: CPtr,
) -> Result<(), StepError> {
    let mut notification = [0 as CPtr; N];
    for n in notification.iter_mut() {
        *n = alloc.object(
            ipc,
            seL4_NotificationObject,
            0,
            "retype component notification",
        )?;
    }
    let mut cnode = [0 as CPtr; N];
    let mut vspace: [Option<VSpace>; N] = [const { None }; N];
    let mut next_slot = [SLOT_FAULT_EP + 1; N];
    for (i, c) in COMPONENTS.iter().enumerate().filter(|(_, c)| !c.root) {
        cnode[i] = alloc.object(
            ipc,
            seL4_CapTableObject,
            CNODE_BITS,
            "retype component CNode",
        )?;
        let read = cap_rights(false, true, false);
        step(
            "mint own notification",
            ipc.cnode_mint(
                cnode[i],
                SLOT_OWN_NOTIFICATION,
                CNODE_BITS,
                notification[i],
                read,
                0,
            ),
        )?;
        log!(
            "monitor",
            "cspace {}: slot {SLOT_OWN_NOTIFICATION} = notification {} (wait)",
            c.name,
            c.name
        );
        let badge = 0x100 + i as Word;
        step(
            "mint fault endpoint",
            ipc.cnode_mint(
                cnode[i],
                SLOT_FAULT_EP,
                CNODE_BITS,
                fault_ep,
                cap_rights(true, false, true),
                badge,
            ),
        )?;
        log!(
            "monitor",
            "cspace {}: slot {SLOT_FAULT_EP} = endpoint fault (badge {badge:#x})",
            c.name
        );
        vspace[i] = Some(VSpace::new(alloc, ipc, WINDOW_BASE)?);
    }
    let mut ring_at = [RING_BASE; N];
    for (ch_index, ch) in CHANNELS.iter().enumerate() {
        let (s, r) = (ch.sender, ch.receiver);
        if !COMPONENTS[s].root {
            let slot = next_slot[s];
            if slot >= 1 << CNODE_BITS {
                return Err(StepError {
                    what: "fit the grants in the CNode",
                    error: Error(seL4_RangeError),
                });
            }
            let write = cap_rights(false, false, true);
            let bit = badge_bit(ch_index);
            step(
                "mint send notification",
                ipc.cnode_mint(cnode[s], slot, CNODE_BITS, notification[r], write, bit),
            )?;
            next_slot[s] += 1;
            log!(
                "monitor",
                "cspace {}: slot {slot} = notification {} (signal, badge {bit:#x}, channel {})",
                COMPONENTS[s].name,
                COMPONENTS[r].name,
                ch.name
            );
        }
        let pages = (ch.ring_bytes as Word).div_ceil(PAGE);
        for p in 0..pages {
            let frame = alloc.object(ipc, seL4_X86_4K, 0, "retype ring frame")?;
            for (end, rights) in [(s, RW), (r, if p == 0 { RW } else { RO })] {
                match &vspace[end] {
                    Some(vs) => {
                        vs.share_page(alloc, ipc, frame, ring_at[end] + p * PAGE, rights)?
                    }
                    None => {
                        scratch.map(alloc, ipc, frame)?;
                    }
                }
            }
        }
        for (end, role) in [(s, "sends"), (r, "receives")] {
            if COMPONENTS[end].root {
                continue;
            }
            let access = if role == "sends" {
                "rw"
            } else {
                "header rw, slots ro"
            };
            log!(
                "monitor",
                "vspace {}: {role} {} via ring at {:#x} ({pages} pages, {access})",
                COMPONENTS[end].name,
                ch.name,
                ring_at[end]
            );
            ring_at[end] += (pages + 1) * PAGE;
        }
    }
    for (i, c) in COMPONENTS.iter().enumerate().filter(|(_, c)| !c.root) {
        log!(
            "monitor",
            "{}: cspace of {} capabilities, own vspace; priority {} (not started: its partition does not run on seL4 yet)",
            c.name,
            next_slot[i] - 1,
            c.priority
        );
    }
    Ok(())
}
