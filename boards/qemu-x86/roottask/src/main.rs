//! The spacenode root task on seL4 5.0 (x86_64, QEMU pc99): the monitor.
//!
//! What it does today: logs the boot in the sim board's format (saying that seL4 5.0 has no
//! MCS), retypes its objects from untyped memory ([`alloc`]), builds every component of the
//! system description (`system` crate) as a CSpace of exactly its grants and a VSpace with its
//! channels' rings ([`partitions`]), starts the signer ([`start`]), runs the isolation probe
//! ([`probe`]): a component loaded from its own ELF into its own VSpace ([`vspace`]) and CSpace
//! holding only its grants, whose violations each reach the monitor's fault endpoint, are
//! reported, and lead to a restart. Then it starts comms (its standby line on COM2,
//! [`uart`]; its link keys from the host, [`link_keys`]), the watchdog and upgrade (asked to
//! fault at its first start), its timer ([`timer`]), and runs its event loop ([`events`]):
//! answering the watchdog's pings, reporting faults to it and executing its restart requests,
//! with a verdict after 3 s, then serving on. When the run ends it stops QEMU through
//! `isa-debug-exit` with its verdict. What it does not do yet is in boards/qemu-x86/README.md.
//!
//! Freestanding: no libc, no heap, no unwinding; `_start` sets up the stack and calls `main`.
#![no_std]
#![no_main]
// The seL4 names (`seL4_Fault_VMFault`, ...) are kept as the kernel spells them.
#![allow(non_upper_case_globals)]

mod alloc;
mod bootinfo;
mod events;
mod fw_cfg;
mod link_keys;
mod partitions;
mod probe;
mod seed;
mod start;
mod timer;
mod uart;
mod vspace;

use alloc::Alloc;
use bootinfo::BootInfo;
use core::panic::PanicInfo;
use sel4::*;

const STACK_SIZE: usize = 64 * 1024;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

#[unsafe(no_mangle)]
static mut MONITOR_STACK: Stack = Stack([0; STACK_SIZE]);

core::arch::global_asm!(
    ".section .text._start",
    ".global _start",
    "_start:",
    "lea rsp, [rip + MONITOR_STACK + {size}]",
    "xor rbp, rbp",
    "call {main}",
    "ud2",
    size = const STACK_SIZE,
    main = sym main,
);

/// QEMU's `isa-debug-exit` device (iobase 0xf4): writing v ends QEMU with status (v << 1) | 1.
const DEBUG_EXIT_PORT: Word = 0xf4;
/// The value the monitor writes when every check passed (QEMU exits with 33).
const EXIT_PASS: Word = 0x10;
/// The value written when a step failed (QEMU exits with 35).
const EXIT_FAIL: Word = 0x11;

extern "C" fn main(bootinfo: *const u8) -> ! {
    // SAFETY: the kernel passes the bootinfo frame's address in rdi to the initial thread.
    let bi = unsafe { BootInfo::new(bootinfo) };
    // SAFETY: the IPC buffer the kernel mapped for this (the only monitor) thread.
    let mut ipc = unsafe { IpcBuffer::new(bi.ipc_buffer()) };
    log!(
        "monitor",
        "seL4 5.0.0 booted (x86_64, pc99, QEMU); root task = monitor"
    );
    log!(
        "monitor",
        "seL4 5.0 has no MCS: priorities apply, CPU budgets/periods are NOT enforced"
    );
    let code = match setup(&bi)
        .and_then(|mut alloc| build_and_probe(&mut alloc, &mut ipc, bi.tsc_mhz()))
    {
        Ok(()) => {
            log!("monitor", "the run ends: every check passed");
            EXIT_PASS
        }
        Err(e) => {
            log!("monitor", "FAILED: {e}");
            EXIT_FAIL
        }
    };
    let _ = ipc.invoke(seL4_CapIOPort, X86IOPortOut8, &[DEBUG_EXIT_PORT, code], &[]);
    log!("monitor", "no isa-debug-exit device: halting");
    loop {
        seL4_Wait(seL4_CapNull);
    }
}

/// Builds every component of the description, runs the isolation probe, starts the components
/// and runs the event loop.
fn build_and_probe(alloc: &mut Alloc, ipc: &mut IpcBuffer, tsc_mhz: Word) -> Result<(), Failed> {
    let mut scratch = vspace::Scratch::new();
    let what = "retype components' fault endpoint";
    let fault_ep = alloc.object(ipc, seL4_EndpointObject, 0, what)?;
    let built = partitions::build(alloc, ipc, &mut scratch, fault_ep)?;
    let mut fw = fw_cfg::FwCfg {
        ipc: &mut *ipc,
        port: seL4_CapIOPort,
    };
    let mut seeds = seed::Seeds::read(&mut fw).map_err(Failed::Seed)?;
    log!(
        "monitor",
        "seed pool: {} bytes read from QEMU's fw_cfg (opt/spacenode/seed)",
        seed::POOL
    );
    let mut keys = link_keys::LinkKeys::read(&mut fw).map_err(Failed::LinkKeys)?;
    let serve = events::Serve::read(&mut fw);
    let env = start::Env {
        built: &built,
        tsc_mhz,
    };
    let seeds = &mut seeds;
    let plain = || start::Extras {
        inject_fault: false,
        link_keys: None,
    };
    let signer = start_named(alloc, ipc, &mut scratch, seeds, &env, "signer", plain())?;
    probe::run(alloc, ipc, &mut scratch).map_err(Failed::Probe)?;
    log!(
        "monitor",
        "the probe's faults handled; starting comms, the watchdog, then upgrade; comms and upgrade are asked to fault at once"
    );
    // Comms and upgrade are each asked to fault at their first start: the board's check of the
    // fault path (the watchdog has them restarted).
    let with_keys = start::Extras {
        inject_fault: true,
        link_keys: Some(&mut keys),
    };
    let comms = start_named(alloc, ipc, &mut scratch, seeds, &env, "comms", with_keys)?;
    let watchdog = start_named(alloc, ipc, &mut scratch, seeds, &env, "watchdog", plain())?;
    let faulty = start::Extras {
        inject_fault: true,
        link_keys: None,
    };
    let upgrade = start_named(alloc, ipc, &mut scratch, seeds, &env, "upgrade", faulty)?;
    let plan = events::Plan {
        asked_of: (1 << comms.index) | (1 << upgrade.index),
        in_service: Some(comms.index),
        serve,
    };
    let mut started = [signer, comms, watchdog, upgrade];
    events::run(alloc, ipc, &env, seeds, fault_ep, &mut started, plan).map_err(Failed::Loop)
}

fn start_named(
    alloc: &mut Alloc,
    ipc: &mut IpcBuffer,
    scratch: &mut vspace::Scratch,
    seeds: &mut seed::Seeds,
    env: &start::Env,
    name: &'static str,
    extras: start::Extras,
) -> Result<start::Started, Failed> {
    let index = system::COMPONENTS
        .iter()
        .position(|c| c.name == name)
        .ok_or(Failed::NotDescribed(name))?;
    start::start(alloc, ipc, scratch, seeds, env, index, extras).map_err(|e| Failed::Start(name, e))
}

/// Which part of the monitor's work failed.
enum Failed {
    Step(alloc::StepError),
    NoUntyped,
    NotDescribed(&'static str),
    Start(&'static str, start::StartError),
    Loop(events::LoopError),
    Seed(seed::SeedError),
    LinkKeys(link_keys::LinkKeysError),
    Probe(probe::ProbeError),
}

impl From<alloc::StepError> for Failed {
    fn from(e: alloc::StepError) -> Self {
        Self::Step(e)
    }
}

impl core::fmt::Display for Failed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Step(e) => write!(f, "{e}"),
            Self::NoUntyped => write!(f, "the bootinfo lists no untyped memory"),
            Self::NotDescribed(name) => write!(f, "component {name} is not in the description"),
            Self::Start(name, e) => write!(f, "starting {name}: {e}"),
            Self::Loop(e) => write!(f, "with the watchdog running: {e}"),
            Self::Seed(e) => write!(f, "no seeds: {e}"),
            Self::LinkKeys(e) => write!(f, "{e}"),
            Self::Probe(e) => write!(f, "isolation probe: {e}"),
        }
    }
}

/// Picks the largest non-device untyped region for the monitor's objects.
fn setup(bi: &BootInfo) -> Result<Alloc, Failed> {
    let (first, end) = bi.untyped_range();
    let untyped = (0..(end - first) as usize)
        .map(|i| bi.untyped(i))
        .filter(|u| !u.is_device)
        .max_by_key(|u| u.size_bits)
        .ok_or(Failed::NoUntyped)?;
    log!(
        "monitor",
        "{} untyped caps; using {:#x} (2^{} bytes at {:#x}); root CNode 2^{} slots",
        end - first,
        untyped.cap,
        untyped.size_bits,
        untyped.paddr,
        bi.cnode_size_bits()
    );
    Ok(Alloc::new(untyped.cap, bi.empty()))
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    log!("monitor", "panic: {}", info.message());
    loop {
        core::hint::spin_loop();
    }
}
