//! The runtime's board backend on seL4: waiting is `seL4_Wait` on the component's own
//! notification, whose badge bits are the `runtime::Source` indices of its receive channels
//! (laid out by the `system` crate); time is the TSC, scaled by the frequency the kernel
//! measured at boot (bootinfo `archInfo`, passed by the monitor).
//!
//! seL4 5.0 without MCS has no timeout on a wait. The monitor owns the timer and signals every
//! started component's notification with [`system::TICK_BIT`] (the bit of `Source::TIMER`) at
//! each tick (100 Hz), so a wait blocks in the kernel and, on each tick, returns `TIMER` once
//! its deadline has passed: deadlines are met up to one tick late. A tick before the deadline
//! (or with no deadline) is not an event and is dropped here; a deadline already due polls
//! instead of blocking. After each wake-up it looks whether the monitor asks for a fault
//! (`crate::fault_asked`: the board's check of the fault path of a component in service).
//!
//! Avoids: any capability besides the component's own notification; any heap.

use core::arch::x86_64::_rdtsc;
use hal::time::Instant;
use runtime::{NotifySet, Source, WaitBackend, WaitError};
use sel4::{seL4_Poll, seL4_Wait};
use system::SLOT_OWN_NOTIFICATION;

/// The wait backend of one component.
pub struct Sel4Wait {
    tsc_per_us: u64,
}

impl Sel4Wait {
    /// `tsc_mhz`: TSC ticks per microsecond (at least 1).
    pub fn new(tsc_mhz: u64) -> Self {
        Self {
            tsc_per_us: tsc_mhz.max(1),
        }
    }
}

impl WaitBackend for Sel4Wait {
    fn wait(&mut self, deadline: Option<Instant>) -> Result<NotifySet, WaitError> {
        loop {
            // A deadline already due: take what is pending without blocking.
            let due = deadline.is_some_and(|d| self.now() >= d);
            let bits = if due {
                seL4_Poll(SLOT_OWN_NOTIFICATION)
            } else {
                seL4_Wait(SLOT_OWN_NOTIFICATION)
            };
            if crate::fault_asked() {
                crate::fault_as_asked();
            }
            let mut set = NotifySet::from_bits(bits);
            set.remove(Source::TIMER);
            if deadline.is_some_and(|d| self.now() >= d) {
                set.insert(Source::TIMER);
            }
            if !set.is_empty() {
                return Ok(set);
            }
        }
    }

    fn now(&self) -> Instant {
        // SAFETY: rdtsc has no preconditions; the kernel leaves it usable at user level.
        Instant::from_micros(unsafe { _rdtsc() } / self.tsc_per_us)
    }
}
