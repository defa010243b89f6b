//! Who a component process is, so that no other process can read its memory: its own
//! unprivileged user and group, and never dumpable.
//!
//! - **Own UID and GID** `UID_BASE + component index` (no supplementary groups), when the
//!   process starts as root (the monitor runs as root): one user per component, so a sibling,
//!   or anything else on the machine that is not root, is another user and cannot `ptrace` it or
//!   open its `/proc/PID/mem`. Dropping root also drops every capability. Applied after the CPU
//!   budget (setting `SCHED_DEADLINE` needs `CAP_SYS_NICE`) and before the resource limits and
//!   the seccomp filter. Without root the process keeps the monitor's UID, and its log says so
//!   once, as the CPU budget line does: every component then shares one user, and only the next
//!   point keeps the others out.
//! - **Still dies with the monitor**: a change of UID or GID clears `PR_SET_PDEATHSIG`
//!   (prctl(2)), which the monitor set before exec so that no component outlives it. It is set
//!   again right after the switch, and if the monitor died in between (the parent is no longer
//!   the one that started us) the component refuses to start.
//! - **Not dumpable** (`PR_SET_DUMPABLE` 0), always, last (a UID change resets the flag to the
//!   system's `suid_dumpable`): the kernel then refuses `ptrace` and `/proc/PID/mem` (and
//!   `/proc/PID/fd`, `maps`, `environ`) to every process without `CAP_SYS_PTRACE`, the same
//!   user included, and writes no core dump.
//!
//! Avoids: user namespaces (they would need the monitor to map IDs and give the component a
//! capability set inside the namespace) and any ID the description did not derive.

use super::sandbox::SandboxError;

/// First UID and GID of the component range (index 0); far above ordinary users and system
/// accounts.
pub const UID_BASE: u32 = 0x5A00_0000;

/// What became of the process's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// It runs as its own user and group.
    Own {
        /// UID = GID.
        uid: u32,
    },
    /// Not root: it keeps the monitor's user.
    Shared {
        /// The monitor's (and every component's) UID.
        uid: u32,
    },
}

impl Identity {
    /// A log line for the component.
    pub fn describe(self) -> String {
        match self {
            Identity::Own { uid } => {
                format!("runs as its own user and group {uid}, not dumpable")
            }
            Identity::Shared { uid } => format!(
                "own user NOT applied, it shares the monitor's UID {uid} with every component (start the monitor as root for one user per component); not dumpable, so no process without CAP_SYS_PTRACE can read its memory"
            ),
        }
    }
}

fn os(what: &'static str) -> SandboxError {
    SandboxError::Os {
        what,
        err: std::io::Error::last_os_error(),
    }
}

/// Applies the identity of component number `index` (see the module docs).
pub fn apply(index: usize) -> Result<Identity, SandboxError> {
    // SAFETY: plain identity system calls with valid arguments, in the single-threaded
    // start-up of the component process.
    let identity = unsafe {
        let uid = libc::geteuid();
        let monitor = libc::getppid();
        if uid == 0 {
            let own = UID_BASE.saturating_add(u32::try_from(index).unwrap_or(u32::MAX - UID_BASE));
            if libc::setgroups(0, std::ptr::null()) != 0 {
                return Err(os("setgroups"));
            }
            if libc::setresgid(own, own, own) != 0 {
                return Err(os("setresgid"));
            }
            if libc::setresuid(own, own, own) != 0 {
                return Err(os("setresuid"));
            }
            // The switch cleared the parent-death signal: without it a killed monitor would
            // leave this component running on its own.
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(os("PR_SET_PDEATHSIG"));
            }
            if libc::getppid() != monitor {
                return Err(SandboxError::Os {
                    what: "PR_SET_PDEATHSIG",
                    err: std::io::Error::other("the monitor ended while this component started"),
                });
            }
            Identity::Own { uid: own }
        } else {
            Identity::Shared { uid }
        }
    };
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| SandboxError::Os {
            what: "PR_SET_DUMPABLE",
            err: e.into(),
        })?;
    Ok(identity)
}
