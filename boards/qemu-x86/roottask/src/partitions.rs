//! Builds every component of the system description as an seL4 protection domain: its own
//! CSpace holding exactly the capabilities its grants name, and its own VSpace in which each of
//! its channels' rings is mapped from frames shared by exactly the two ends of that channel.
//! Where each grant lives is decided by the `system` crate, which the partitions read too.
//!
//! Capabilities per component: its own notification, receive only (every channel it receives
//! wakes it with the channel's badge bit); the fault endpoint to the monitor, badged with its
//! index; then, for each channel it sends, the receiver's notification, signal only, badged
//! with the channel's bit. A component's serial ports (`uart` devices) add two capabilities
//! each when it starts ([`crate::uart`]).
//!
//! Rings: the monitor initialises each ring's header (`ipc::Region::init`) through a mapping of
//! its own, which it removes again unless it is an end of the channel. The sender maps all pages
//! read-write; the receiver maps the header page read-write (it writes its consumer index there)
//! and the slot pages read-only.
//!
//! Each line it logs is printed after the kernel accepted the corresponding mint or map.
//!
//! Avoids: any capability not named by a grant; any ring frame left mapped in a third VSpace.

use crate::alloc::{Alloc, StepError, step};
use crate::vspace::{RO, RW, Scratch, VSpace};
use sel4::*;
use system::*;

const N: usize = COMPONENTS.len();

/// What the monitor keeps of the components it built.
pub struct Built {
    pub notification: [CPtr; N],
    pub cnode: [CPtr; N],
    pub vspace: [Option<VSpace>; N],
    /// The monitor's own mapping of each ring it is an end of (null elsewhere).
    pub ring: [*mut u8; CHANNELS.len()],
}

/// Builds all components' CSpaces and VSpaces; `fault_ep` is the monitor's fault endpoint.
pub fn build(
    alloc: &mut Alloc,
    ipc: &mut IpcBuffer,
    scratch: &mut Scratch,
    fault_ep: CPtr,
) -> Result<Built, StepError> {
    let mut built = Built {
        notification: [0; N],
        cnode: [0; N],
        vspace: [const { None }; N],
        ring: [core::ptr::null_mut(); CHANNELS.len()],
    };
    for n in built.notification.iter_mut() {
        *n = alloc.object(
            ipc,
            seL4_NotificationObject,
            0,
            "retype component notification",
        )?;
    }
    for (i, c) in COMPONENTS.iter().enumerate().filter(|(_, c)| !c.root) {
        let cnode = alloc.object(
            ipc,
            seL4_CapTableObject,
            CNODE_BITS,
            "retype component CNode",
        )?;
        built.cnode[i] = cnode;
        let read = cap_rights(false, true, false);
        let own = built.notification[i];
        step(
            "mint own notification",
            ipc.cnode_mint(cnode, SLOT_OWN_NOTIFICATION, CNODE_BITS, own, read, 0),
        )?;
        log!(
            "monitor",
            "cspace {}: slot {SLOT_OWN_NOTIFICATION} = notification {} (wait)",
            c.name,
            c.name
        );
        let badge = fault_badge(i);
        let fault = cap_rights(true, false, true);
        step(
            "mint fault endpoint",
            ipc.cnode_mint(cnode, SLOT_FAULT_EP, CNODE_BITS, fault_ep, fault, badge),
        )?;
        log!(
            "monitor",
            "cspace {}: slot {SLOT_FAULT_EP} = endpoint fault (badge {badge:#x})",
            c.name
        );
        built.vspace[i] = Some(VSpace::new(alloc, ipc)?);
    }
    for ch in 0..CHANNELS.len() {
        grant_channel(alloc, ipc, scratch, &mut built, ch)?;
    }
    Ok(built)
}

fn grant_channel(
    alloc: &mut Alloc,
    ipc: &mut IpcBuffer,
    scratch: &mut Scratch,
    built: &mut Built,
    ch: usize,
) -> Result<(), StepError> {
    let desc = &CHANNELS[ch];
    let (s, r) = (desc.sender, desc.receiver);
    if !COMPONENTS[s].root {
        let slot = send_slot(ch);
        if slot >= 1 << CNODE_BITS {
            return Err(StepError {
                what: "fit the grants in the CNode",
                error: Error(seL4_RangeError),
            });
        }
        let write = cap_rights(false, false, true);
        let bit = 1 << source_index(ch);
        let target = built.notification[r];
        step(
            "mint send notification",
            ipc.cnode_mint(built.cnode[s], slot, CNODE_BITS, target, write, bit),
        )?;
        log!(
            "monitor",
            "cspace {}: slot {slot} = notification {} (signal, badge {bit:#x}, channel {})",
            COMPONENTS[s].name,
            COMPONENTS[r].name,
            desc.name
        );
    }
    let pages = ring_pages(ch);
    let monitor_is_end = COMPONENTS[s].root || COMPONENTS[r].root;
    let mut mine = [0 as CPtr; 64];
    let mut base = core::ptr::null_mut();
    for p in 0..pages {
        let frame = alloc.object(ipc, seL4_X86_4K, 0, "retype ring frame")?;
        let (copy, ptr) = scratch.map(alloc, ipc, frame)?;
        if p == 0 {
            base = ptr;
        }
        *mine.get_mut(p as usize).ok_or(StepError {
            what: "map a ring of at most 64 pages",
            error: Error(seL4_RangeError),
        })? = copy;
        for (end, rights) in [(s, RW), (r, if p == 0 { RW } else { RO })] {
            if let Some(vs) = &built.vspace[end] {
                vs.share_page(alloc, ipc, frame, ring_vaddr(end, ch) + p * PAGE, rights)?;
            }
        }
    }
    let len = (pages * PAGE) as usize;
    // SAFETY: base..base+len is the monitor's fresh, contiguous, read-write mapping of the ring;
    // no component runs yet, so no endpoint exists; only the two ends map it besides this one.
    if let Err(e) = unsafe { ipc::Region::init(base, len, desc.spec) } {
        log!(
            "monitor",
            "ring {}: ipc refused the region: {e:?}",
            desc.name
        );
        return Err(StepError {
            what: "initialise a ring header",
            error: Error(seL4_InvalidArgument),
        });
    }
    if monitor_is_end {
        built.ring[ch] = base;
    } else {
        for copy in &mine[..pages as usize] {
            step("unmap the monitor's ring mapping", ipc.unmap_page(*copy))?;
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
            desc.name,
            ring_vaddr(end, ch)
        );
    }
    Ok(())
}
