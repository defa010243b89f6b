//! The monitor's side of the isolation probe: builds the probe's CSpace (exactly its two grants)
//! and VSpace (its own ELF, its stack, the ring shared read-only), starts it, and handles what it
//! does: its heartbeat must arrive, and each violation (`sel4::probe_abi::Violation`) must reach
//! the monitor's fault endpoint as the expected fault, be reported, and the probe be restarted.
//!
//! The probe's restarts are decided by the monitor itself: the probe is not a component of the
//! system description, so the watchdog does not know it (faults of the description's
//! components go to the watchdog, which requests their restarts: `events`).

use crate::alloc::{Alloc, StepError, step};
use crate::vspace::{self, LoadError, RO, RW, Scratch, VSpace};
use sel4::probe_abi::*;
use sel4::*;

/// The probe's own ELF, built before the root task by build-roottask.
static PROBE_ELF: &[u8] = include_bytes!(env!("SPACENODE_PROBE_ELF"));

/// The badge on the probe's fault endpoint capability: identifies the probe's faults.
const FAULT_BADGE: Word = 0x50;
const PRIORITY: Word = 100;
/// Starts after the first: one of each violation, then the first again.
const RESTARTS: Word = 3;

/// An address of the monitor's own (its stack), which the probe is told to write to.
fn monitor_addr() -> Word {
    let local = 0u64;
    (&raw const local) as Word & !0xfff
}

/// What went wrong while setting up or checking the probe.
pub enum ProbeError {
    Step(StepError),
    Load(LoadError),
    NoHeartbeat(Word),
    UnexpectedFault {
        label: Word,
        badge: Word,
        addr: Word,
    },
}

impl From<StepError> for ProbeError {
    fn from(e: StepError) -> Self {
        Self::Step(e)
    }
}

impl core::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Step(e) => write!(f, "{e}"),
            Self::Load(e) => write!(f, "loading the probe: {e}"),
            Self::NoHeartbeat(bits) => {
                write!(f, "heartbeat notification carried badge {bits:#x}, not 1")
            }
            Self::UnexpectedFault { label, badge, addr } => write!(
                f,
                "unexpected fault label {label} (badge {badge:#x}, address {addr:#x}) on the fault endpoint"
            ),
        }
    }
}

/// Sets up the probe and lets it fault `RESTARTS + 1` times, restarting it after each.
pub fn run(
    alloc: &mut Alloc,
    ipc: &mut IpcBuffer,
    scratch: &mut Scratch,
) -> Result<(), ProbeError> {
    let fault_ep = alloc.object(ipc, seL4_EndpointObject, 0, "retype fault endpoint")?;
    let heartbeat = alloc.object(ipc, seL4_NotificationObject, 0, "retype notification")?;
    let cnode = alloc.object(ipc, seL4_CapTableObject, CNODE_BITS, "retype probe CNode")?;
    let tcb = alloc.object(ipc, seL4_TCBObject, 0, "retype probe TCB")?;
    let write = cap_rights(false, false, true);
    step(
        "mint heartbeat cap",
        ipc.cnode_mint(cnode, SLOT_HEARTBEAT, CNODE_BITS, heartbeat, write, 1),
    )?;
    let fault_rights = cap_rights(true, false, true);
    step(
        "mint fault endpoint cap",
        ipc.cnode_mint(
            cnode,
            SLOT_FAULT_EP,
            CNODE_BITS,
            fault_ep,
            fault_rights,
            FAULT_BADGE,
        ),
    )?;
    log!(
        "monitor",
        "probe cspace: slot {SLOT_HEARTBEAT} = notification heartbeat (write, badge 1), slot {SLOT_FAULT_EP} = endpoint fault (write+grant, badge {FAULT_BADGE:#x}); {} other slots empty",
        (1 << CNODE_BITS) - 2
    );

    let vs = VSpace::new(alloc, ipc)?;
    let vspace::Loaded { entry, pages, .. } =
        vspace::load_elf(&vs, alloc, ipc, scratch, PROBE_ELF).map_err(ProbeError::Load)?;
    for i in 0..STACK_PAGES {
        vs.new_page(
            alloc,
            ipc,
            None,
            STACK_TOP - (i + 1) * (1 << seL4_PageBits),
            RW,
        )?;
    }
    // The ring: a frame of the monitor's, shared read-only with the probe.
    let ring = alloc.object(ipc, seL4_X86_4K, 0, "retype ring frame")?;
    let (_, ring_mem) = scratch.map(alloc, ipc, ring)?;
    vs.share_page(alloc, ipc, ring, RING_ADDR, RO)?;
    // SAFETY: the ring frame is mapped read-write for the monitor at ring_mem.
    unsafe { (ring_mem as *mut Word).write_volatile(RING_MAGIC) };
    log!(
        "monitor",
        "probe vspace: own PML4; its ELF ({pages} pages at {VSPACE_BASE:#x}, entry {entry:#x}), {STACK_PAGES} stack pages, ring at {RING_ADDR:#x} read-only; nothing of the monitor mapped"
    );

    step(
        "configure probe TCB",
        ipc.tcb_configure(
            tcb,
            SLOT_FAULT_EP,
            PRIORITY,
            cnode,
            guard_data(seL4_WordBits - CNODE_BITS),
            vs.pml4,
        ),
    )?;
    let target = monitor_addr();
    for generation in 0..=RESTARTS {
        step(
            "start probe",
            ipc.tcb_start(tcb, entry, STACK_TOP - 8, [generation, target]),
        )?;
        let bits = seL4_Wait(heartbeat);
        if bits != 1 {
            return Err(ProbeError::NoHeartbeat(bits));
        }
        log!(
            "monitor",
            "probe heartbeat received, ring read (start {})",
            generation + 1
        );
        let mut mrs = [0; 4];
        let (badge, info) = seL4_Recv(fault_ep, &mut mrs);
        report_fault(badge, info, &mrs, Violation::of(generation), target)?;
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

/// Reports the probe's fault and checks it is the one `want` must cause.
fn report_fault(
    badge: Word,
    info: Word,
    mrs: &RegMrs,
    want: Violation,
    monitor: Word,
) -> Result<(), ProbeError> {
    let label = msg_label(info);
    let addr_mr = if label == seL4_Fault_CapFault {
        seL4_CapFault_Addr
    } else {
        seL4_VMFault_Addr
    };
    let addr = mrs[addr_mr as usize];
    let (want_label, want_addr) = match want {
        Violation::UngrantedCap => (seL4_Fault_CapFault, SLOT_NOT_GRANTED),
        Violation::MonitorMemory => (seL4_Fault_VMFault, monitor),
        Violation::ReadOnlyRing => (seL4_Fault_VMFault, RING_ADDR),
    };
    if badge != FAULT_BADGE || label != want_label || addr != want_addr {
        return Err(ProbeError::UnexpectedFault { label, badge, addr });
    }
    match want {
        Violation::UngrantedCap => log!(
            "monitor",
            "fault: probe capability fault at ip {:#x} (cptr {addr:#x} not in its cspace)",
            mrs[seL4_CapFault_IP as usize]
        ),
        Violation::MonitorMemory => log!(
            "monitor",
            "fault: probe VM fault at ip {:#x} writing {addr:#x} (the monitor's memory, not mapped for it)",
            mrs[seL4_VMFault_IP as usize]
        ),
        Violation::ReadOnlyRing => log!(
            "monitor",
            "fault: probe VM fault at ip {:#x} writing {addr:#x} (its ring, mapped read-only)",
            mrs[seL4_VMFault_IP as usize]
        ),
    }
    Ok(())
}
