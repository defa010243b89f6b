//! The isolation probe: a thread the monitor starts with its own CSpace holding exactly two
//! granted capabilities, and which then breaks the rules on purpose. Each fault must arrive at
//! the monitor's fault endpoint, be reported, and the probe be restarted; the monitor then
//! checks the heartbeat of the restarted probe. It shares the monitor's VSpace (not yet its
//! own): see boards/qemu-x86/README.md.

use crate::bootinfo::BootInfo;
use crate::log;
use crate::sel4::*;
use core::fmt;

/// Slot numbers inside the probe's own CNode: these are its grants, nothing else.
const PROBE_CNODE_BITS: Word = 4;
const PROBE_SLOT_HEARTBEAT: CPtr = 1;
const PROBE_SLOT_FAULT_EP: CPtr = 2;
/// A slot the probe was not granted (empty in its CNode).
const PROBE_SLOT_NOT_GRANTED: CPtr = 5;
/// The badge on the probe's fault endpoint capability: identifies the probe's faults.
const PROBE_FAULT_BADGE: Word = 0x50;
const PROBE_PRIORITY: Word = 100;
/// An address the probe was not granted (nothing is mapped there).
const NOT_GRANTED_ADDR: Word = 0x10;
const PROBE_STACK: usize = 16 * 1024;
const RESTARTS: Word = 2;

#[repr(C, align(16))]
struct Stack([u8; PROBE_STACK]);
static mut PROBE_STACK_MEM: Stack = Stack([0; PROBE_STACK]);

/// What went wrong while setting up or checking the probe.
pub enum ProbeError {
    NoUntyped,
    Invocation(&'static str, Error),
    UnexpectedFault { label: Word, badge: Word },
    NoHeartbeat(Word),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoUntyped => write!(f, "no untyped memory of at least 64 KiB in the bootinfo"),
            Self::Invocation(what, e) => write!(f, "{what} failed: {}", e.name()),
            Self::UnexpectedFault { label, badge } => {
                write!(
                    f,
                    "unexpected message label {label} with badge {badge:#x} on the fault endpoint"
                )
            }
            Self::NoHeartbeat(bits) => {
                write!(f, "heartbeat notification carried badge {bits:#x}, not 1")
            }
        }
    }
}

/// The probe's code: heartbeat, then the violation chosen by its start generation (rdi).
extern "C" fn probe_entry(generation: Word) -> ! {
    seL4_Signal(PROBE_SLOT_HEARTBEAT);
    if generation.is_multiple_of(2) {
        // A capability it was not granted: receiving on an empty slot is a capability fault.
        seL4_Wait(PROBE_SLOT_NOT_GRANTED);
    } else {
        // Memory it was not granted: the kernel raises a VM fault.
        // SAFETY: deliberately invalid; the kernel stops this thread before anything happens.
        unsafe { (NOT_GRANTED_ADDR as *mut Word).write_volatile(generation) };
    }
    // Not reached when the kernel enforces the grants; if it is, the monitor waits in vain for
    // a fault and the test's timeout fails the run.
    loop {
        core::hint::spin_loop();
    }
}

fn step(what: &'static str, r: Result<(), Error>) -> Result<(), ProbeError> {
    r.map_err(|e| ProbeError::Invocation(what, e))
}

/// Sets up the probe, lets it fault `RESTARTS + 1` times, restarting it after each.
pub fn run(bi: &BootInfo, ipc: &mut IpcBuffer) -> Result<(), ProbeError> {
    let (first, end) = bi.untyped_range();
    let untyped = (0..(end - first) as usize)
        .map(|i| bi.untyped(i))
        .filter(|u| !u.is_device && u.size_bits >= 16)
        .max_by_key(|u| u.size_bits)
        .ok_or(ProbeError::NoUntyped)?;
    log!(
        "monitor",
        "{} untyped caps; using {:#x} (2^{} bytes at {:#x}); root CNode 2^{} slots",
        end - first,
        untyped.cap,
        untyped.size_bits,
        untyped.paddr,
        bi.cnode_size_bits()
    );
    let mut next = bi.empty().0;
    let mut alloc = |ty: Word, bits: Word, what: &'static str| -> Result<CPtr, ProbeError> {
        let slot = next;
        next += 1;
        step(what, ipc.untyped_retype(untyped.cap, ty, bits, slot))?;
        Ok(slot)
    };
    let fault_ep = alloc(seL4_EndpointObject, 0, "retype fault endpoint")?;
    let heartbeat = alloc(seL4_NotificationObject, 0, "retype notification")?;
    let cnode = alloc(seL4_CapTableObject, PROBE_CNODE_BITS, "retype probe CNode")?;
    let tcb = alloc(seL4_TCBObject, 0, "retype probe TCB")?;

    let write = cap_rights(false, false, true);
    step(
        "mint heartbeat cap",
        ipc.cnode_mint(
            cnode,
            PROBE_SLOT_HEARTBEAT,
            PROBE_CNODE_BITS,
            heartbeat,
            write,
            1,
        ),
    )?;
    step(
        "mint fault endpoint cap",
        ipc.cnode_mint(
            cnode,
            PROBE_SLOT_FAULT_EP,
            PROBE_CNODE_BITS,
            fault_ep,
            cap_rights(true, false, true),
            PROBE_FAULT_BADGE,
        ),
    )?;
    log!(
        "monitor",
        "probe cspace: slot {PROBE_SLOT_HEARTBEAT} = notification heartbeat (write, badge 1), slot {PROBE_SLOT_FAULT_EP} = endpoint fault (write+grant, badge {PROBE_FAULT_BADGE:#x}); {} other slots empty",
        (1 << PROBE_CNODE_BITS) - 2
    );
    step(
        "configure probe TCB",
        ipc.tcb_configure(
            tcb,
            PROBE_SLOT_FAULT_EP,
            PROBE_PRIORITY,
            cnode,
            guard_data(seL4_WordBits - PROBE_CNODE_BITS),
            seL4_CapInitThreadVSpace,
        ),
    )?;
    let stack_top = (&raw mut PROBE_STACK_MEM) as Word + PROBE_STACK as Word - 8;
    for generation in 0..=RESTARTS {
        step(
            "start probe",
            ipc.tcb_start(
                tcb,
                (probe_entry as extern "C" fn(Word) -> !) as usize as Word,
                stack_top,
                generation,
            ),
        )?;
        let bits = seL4_Wait(heartbeat);
        if bits != 1 {
            return Err(ProbeError::NoHeartbeat(bits));
        }
        log!(
            "monitor",
            "probe heartbeat received (start {})",
            generation + 1
        );
        let mut mrs = [0; 4];
        let (badge, info) = seL4_Recv(fault_ep, &mut mrs);
        report_fault(badge, info, &mrs, generation)?;
        step("suspend probe", ipc.tcb_suspend(tcb))?;
        if generation < RESTARTS {
            log!(
                "monitor",
                "restarting probe ({} of {RESTARTS})",
                generation + 1
            );
        }
    }
    Ok(())
}

/// Reports the probe's fault and checks it is the violation start `generation` committed.
fn report_fault(badge: Word, info: Word, mrs: &RegMrs, generation: Word) -> Result<(), ProbeError> {
    let label = msg_label(info);
    let (want_label, want_addr) = if generation.is_multiple_of(2) {
        (seL4_Fault_CapFault, PROBE_SLOT_NOT_GRANTED)
    } else {
        (seL4_Fault_VMFault, NOT_GRANTED_ADDR)
    };
    let addr_mr = if label == seL4_Fault_CapFault {
        seL4_CapFault_Addr
    } else {
        seL4_VMFault_Addr
    };
    if badge != PROBE_FAULT_BADGE || label != want_label || mrs[addr_mr as usize] != want_addr {
        return Err(ProbeError::UnexpectedFault { label, badge });
    }
    match label {
        seL4_Fault_CapFault => log!(
            "monitor",
            "fault: probe capability fault at ip {:#x} (cptr {:#x} not in its cspace)",
            mrs[seL4_CapFault_IP as usize],
            mrs[seL4_CapFault_Addr as usize]
        ),
        seL4_Fault_VMFault => log!(
            "monitor",
            "fault: probe VM fault at ip {:#x} touching {:#x} (not mapped for it)",
            mrs[seL4_VMFault_IP as usize],
            mrs[seL4_VMFault_Addr as usize]
        ),
        _ => return Err(ProbeError::UnexpectedFault { label, badge }),
    }
    Ok(())
}
