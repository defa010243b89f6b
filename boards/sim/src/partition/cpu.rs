//! The CPU budget of a component process: the description's `budget-us` every `period-us`, as
//! Linux's `SCHED_DEADLINE` (runtime = budget, deadline = period = period).
//!
//! This is the same contract as an seL4 MCS scheduling context: within each period the process
//! runs for at most its budget, then the kernel throttles it until the next period, whatever it
//! is doing; and it is guaranteed that budget each period (the kernel's admission control refuses
//! a set of budgets the CPUs cannot honour). A component stuck in a loop therefore costs the
//! others at most its budget, and the watchdog sees it miss its pings.
//!
//! Setting it needs `CAP_SYS_NICE` (root, or the capability granted to the `spacenode`
//! executable). Without it, or when admission control refuses (every `SCHED_DEADLINE` task on
//! the machine together would exceed the CPUs' capacity, e.g. several sim boards at once), the
//! component runs unthrottled under the normal scheduler and its log says so once, with the
//! reason: the sim board stays usable unprivileged, and nobody mistakes it for enforced.
//!
//! The description's *priorities* are not applied on the sim board: Linux runs every
//! `SCHED_DEADLINE` task before any normal one, so components preempt the monitor (priority 254
//! in the description), which runs under the normal scheduler. A component that sends the
//! monitor a burst (restart requests, say) can find the ring full before the monitor ran; it must
//! keep what did not fit and send it later, as it must on any board.
//!
//! Avoids: `SCHED_FLAG_RESET_ON_FORK` (a deadline task cannot fork, which a component must not
//! do anyway) and the overrun signal (`SCHED_FLAG_DL_OVERRUN` would kill a component for using
//! its budget; throttling is the contract).

use rustix::io::Errno;

/// `SCHED_DEADLINE` from `<linux/sched.h>`.
pub const SCHED_DEADLINE: u32 = 6;

/// `struct sched_attr` (`SCHED_ATTR_SIZE_VER0`, 48 bytes) from `<linux/sched/types.h>`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedAttr {
    /// Size of this structure.
    pub size: u32,
    /// Scheduling policy.
    pub policy: u32,
    /// `SCHED_FLAG_*`.
    pub flags: u64,
    /// Nice value (normal policies).
    pub nice: i32,
    /// Static priority (real-time policies).
    pub priority: u32,
    /// Runtime per period, ns (`SCHED_DEADLINE`).
    pub runtime: u64,
    /// Relative deadline, ns.
    pub deadline: u64,
    /// Period, ns.
    pub period: u64,
}

/// What became of the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuBudget {
    /// The kernel throttles the process to its budget.
    Enforced,
    /// No `CAP_SYS_NICE`.
    NotPermitted,
    /// Admission control refused: not enough CPU bandwidth left on this machine.
    NoBandwidth,
    /// Another error (an old kernel without `SCHED_DEADLINE`, a budget under 1 µs...).
    Failed(Errno),
}

impl CpuBudget {
    /// A log line for the component.
    pub fn describe(self, budget_us: u64, period_us: u64) -> String {
        let what = format!("CPU budget {budget_us} us every {period_us} us");
        match self {
            CpuBudget::Enforced => format!("{what}: enforced (SCHED_DEADLINE)"),
            CpuBudget::NotPermitted => format!(
                "{what}: NOT enforced, setting SCHED_DEADLINE needs CAP_SYS_NICE (run as root, or `setcap cap_sys_nice+ep` on the spacenode executable)"
            ),
            CpuBudget::NoBandwidth => format!(
                "{what}: NOT enforced, the kernel's admission control has no CPU bandwidth left (other deadline tasks, e.g. another sim board, hold it)"
            ),
            CpuBudget::Failed(e) => format!("{what}: NOT enforced, sched_setattr failed: {e}"),
        }
    }
}

/// The attributes for `budget_us` every `period_us`.
pub fn attr(budget_us: u64, period_us: u64) -> SchedAttr {
    let ns = |us: u64| us.saturating_mul(1000);
    SchedAttr {
        size: core::mem::size_of::<SchedAttr>() as u32,
        policy: SCHED_DEADLINE,
        runtime: ns(budget_us),
        deadline: ns(period_us),
        period: ns(period_us),
        ..SchedAttr::default()
    }
}

/// Puts the calling process under its budget (see the module docs).
pub fn apply(budget_us: u64, period_us: u64) -> CpuBudget {
    let a = attr(budget_us, period_us);
    // SAFETY: sched_setattr(2) reads `size` bytes from a valid, initialised `struct sched_attr`
    // that outlives the call; pid 0 is the calling thread, flags must be 0.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &a as *const SchedAttr, 0u32) };
    if r == 0 {
        return CpuBudget::Enforced;
    }
    match Errno::from_io_error(&std::io::Error::last_os_error()) {
        Some(Errno::PERM) => CpuBudget::NotPermitted,
        Some(Errno::BUSY) => CpuBudget::NoBandwidth,
        Some(e) => CpuBudget::Failed(e),
        None => CpuBudget::Failed(Errno::INVAL),
    }
}

/// The scheduling attributes of process `pid` (tests and the monitor read them back).
pub fn get(pid: u32) -> std::io::Result<SchedAttr> {
    let mut a = SchedAttr::default();
    // SAFETY: sched_getattr(2) writes at most `size` (the last argument) bytes into `a`, a
    // valid, writable `struct sched_attr`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            pid as libc::pid_t,
            &mut a as *mut SchedAttr,
            core::mem::size_of::<SchedAttr>() as u32,
            0u32,
        )
    };
    if r == 0 {
        Ok(a)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attribute_block_is_the_kernels_version_0() {
        assert_eq!(core::mem::size_of::<SchedAttr>(), 48);
        let a = attr(5000, 20_000);
        assert_eq!(
            (a.runtime, a.deadline, a.period),
            (5_000_000, 20_000_000, 20_000_000)
        );
        assert_eq!(a.policy, SCHED_DEADLINE);
    }

    #[test]
    fn this_process_reads_back_its_own_policy() {
        let a = get(std::process::id()).expect("sched_getattr");
        // The test runner is not a deadline task.
        assert_ne!(a.policy, SCHED_DEADLINE);
    }
}
