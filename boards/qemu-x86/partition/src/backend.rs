//! The runtime's board backend on seL4: waiting is `seL4_Wait` on the component's own
//! notification, whose badge bits are the `runtime::Source` indices of its receive channels
//! (laid out by the `system` crate); time is the TSC, scaled by the frequency the kernel
//! measured at boot (bootinfo `archInfo`, passed by the monitor).
//!
//! seL4 5.0 without MCS has no timeout on a wait, and no timer is granted to components yet, so
//! a wait with a deadline polls the notification and yields until the deadline: correct, but it
//! spends CPU while it waits. A wait without a deadline blocks in the kernel.
//!
//! Avoids: any capability besides the component's own notification; any heap.

use core::arch::x86_64::_rdtsc;
use hal::time::Instant;
use runtime::{NotifySet, Source, WaitBackend, WaitError};
use sel4::{seL4_Poll, seL4_Wait, seL4_Yield};
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
        let Some(deadline) = deadline else {
            return Ok(NotifySet::from_bits(seL4_Wait(SLOT_OWN_NOTIFICATION)));
        };
        loop {
            let mut set = NotifySet::from_bits(seL4_Poll(SLOT_OWN_NOTIFICATION));
            if self.now() >= deadline {
                set.insert(Source::TIMER);
            }
            if !set.is_empty() {
                return Ok(set);
            }
            seL4_Yield();
        }
    }

    fn now(&self) -> Instant {
        // SAFETY: rdtsc has no preconditions; the kernel leaves it usable at user level.
        Instant::from_micros(unsafe { _rdtsc() } / self.tsc_per_us)
    }
}
