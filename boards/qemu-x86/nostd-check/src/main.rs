//! Proof, at build time, that the watchdog, signer and comms partitions, the upgrade crate, and
//! every crate they depend on are truly `no_std`: this freestanding binary links them with its
//! own panic handler and without libstd. Had any crate in their graph linked `std`, rustc would
//! refuse to build it (duplicate lang item `panic_impl`); this was checked with a crate that
//! uses `std`. `build-roottask --check` builds it; it is never run, and does nothing if it is.
//!
//! What it does not prove: that the partitions run on seL4. The signer and the watchdog do
//! (the partition program runs them); comms needs links this board does not have yet (see
//! boards/qemu-x86/README.md).
#![no_std]
#![no_main]

extern crate comms_partition as _;
extern crate signer_partition as _;
extern crate upgrade as _;
extern crate watchdog_partition as _;

#[unsafe(no_mangle)]
extern "C" fn _start() -> ! {
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
