//! The isolation probe: a component in its own VSpace and CSpace that breaks its grants on
//! purpose, one rule per start (`sel4::probe_abi::Violation`). It first checks the ring the
//! monitor shares with it (read-only) and sends its heartbeat. Every violation must stop it
//! with a fault delivered to the monitor; if one does not, it spins and the monitor, waiting
//! for the fault, never finishes: the test's timeout fails the run.
//!
//! Freestanding: the monitor sets its stack pointer and passes (generation, monitor address)
//! in rdi and rsi. No heap, no libc.
#![no_std]
#![no_main]

use sel4::probe_abi::*;
use sel4::{Word, seL4_Signal, seL4_Wait};

#[unsafe(no_mangle)]
#[unsafe(link_section = ".text._start")]
extern "C" fn _start(generation: Word, monitor_addr: Word) -> ! {
    // SAFETY: the monitor maps the ring read-only at RING_ADDR before starting the probe.
    let magic = unsafe { (RING_ADDR as *const Word).read_volatile() };
    if magic == RING_MAGIC {
        seL4_Signal(SLOT_HEARTBEAT);
    }
    match Violation::of(generation) {
        Violation::UngrantedCap => {
            seL4_Wait(SLOT_NOT_GRANTED);
        }
        // SAFETY (both): deliberately not permitted; the kernel stops the probe with a fault.
        Violation::MonitorMemory => unsafe {
            (monitor_addr as *mut Word).write_volatile(generation)
        },
        Violation::ReadOnlyRing => unsafe { (RING_ADDR as *mut Word).write_volatile(generation) },
    }
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
