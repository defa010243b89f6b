//! The watchdog core in static memory, not on the partition's stack.
//!
//! The core keeps per-component state for up to 32 components (about 16.5 KiB). The runtime
//! holds the component value on the event loop's stack and moves it a few times while starting
//! (out of `init`, into the runner); an unoptimised build copies it at every move. Keeping the
//! core here and only a reference in [`crate::WatchdogPd`] makes those moves cheap, so the
//! partition fits the stack its description budgets.
//!
//! [`take`] hands out the slot once per process: a second watchdog in the same process is refused
//! (the partition runs one).
//!
//! Avoids: the heap. This module holds the crate's only `unsafe` code.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};
use watchdog::Watchdog;

struct Slot {
    taken: AtomicBool,
    value: UnsafeCell<MaybeUninit<Watchdog>>,
}

// SAFETY: the value is reachable only through `take`, which hands out one reference at most
// once per process (the atomic flag), so no two threads ever see it.
unsafe impl Sync for Slot {}

static CORE: Slot = Slot {
    taken: AtomicBool::new(false),
    value: UnsafeCell::new(MaybeUninit::uninit()),
};

/// Moves `core` into the static slot and returns the only reference to it; `None` (and `core` is
/// dropped) if the slot was already taken in this process.
pub fn take(core: Watchdog) -> Option<&'static mut Watchdog> {
    if CORE.taken.swap(true, Ordering::AcqRel) {
        return None;
    }
    // SAFETY: the flag was false, so this is the only call that ever reaches here in this
    // process; the pointer is to static memory, valid for 'static, and after `write` the value
    // is initialised. No other reference to it exists or will be made.
    let slot = unsafe { &mut *CORE.value.get() };
    Some(slot.write(core))
}
