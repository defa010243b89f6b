//! The spacenode root task on seL4 5.0 (x86_64, QEMU pc99): the monitor.
//!
//! What it does today: logs the boot in the sim board's format, finds its untyped memory,
//! creates a fault endpoint and a notification, and starts an isolation probe thread with its
//! own CSpace holding only the two capabilities it is granted (its heartbeat notification and
//! its fault endpoint). The probe signals its heartbeat, then uses a capability it was not
//! granted (a capability fault) and on its next start touches memory it was not granted (a
//! VM fault). Each fault reaches the monitor through the fault endpoint, is reported, and the
//! monitor restarts the probe. What it does not do yet is in boards/qemu-x86/README.md.
//!
//! Freestanding: no libc, no heap, no unwinding; `_start` sets up the stack and calls `main`.
#![no_std]
#![no_main]
// The seL4 names (`seL4_Fault_VMFault`, ...) are kept as the kernel spells them.
#![allow(non_upper_case_globals)]

mod bootinfo;
mod console;
mod mem;
mod probe;
mod sel4;

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
    let code = match probe::run(&bi, &mut ipc) {
        Ok(()) => {
            log!("monitor", "all checks passed");
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

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    log!("monitor", "panic: {}", info.message());
    loop {
        core::hint::spin_loop();
    }
}
