//! The process-level restrictions of a component process, applied before its seccomp filter.
//!
//! In order: refuse to run under any parent but the monitor (the parent-death signal, set by the
//! monitor between `fork` and `exec`, only helps if the parent is still the monitor), close every
//! descriptor outside the grant table, set `PR_SET_NO_NEW_PRIVS` (no privilege gain through
//! `execve`, and the precondition for an unprivileged seccomp filter), then resource limits:
//!
//! | limit | value | why |
//! | --- | --- | --- |
//! | `RLIMIT_DATA` | data in use at this point + the component's `memory-size` | heap and private memory as the description budgets it (shared ring regions do not count) |
//! | `RLIMIT_STACK` | stack mapped at this point + the component's `stack-size` | the component's stack budget on top of what start-up used |
//! | `RLIMIT_CORE` | 0 | a killed component must not leave a core file (it could hold keys) |
//! | `RLIMIT_FSIZE` | largest granted flash image (0 without flash) | a component cannot grow files |
//! | `RLIMIT_NOFILE` | highest granted descriptor + 1 | no room for more descriptors (seccomp forbids creating them anyway) |
//!
//! Last, `SIGSEGV` and `SIGBUS` go back to their default action. Rust's start-up installs a
//! stack-overflow handler for them that, for a fault outside the guard page (which is where a
//! stack stopped by `RLIMIT_STACK` faults), resets itself with `rt_sigaction` and returns; the
//! seccomp filter forbids that call, so the monitor would report a seccomp violation instead of
//! the memory fault it was. With the default action the kernel ends the process with the signal,
//! and the fault notice says `Signal { signal: 11 }`.
//!
//! The budget and period of the description (CPU time) are not a resource limit: see
//! [`super::cpu`].
//!
//! Avoids: anything that needs privilege (namespaces, chroot); the sim board must run
//! unprivileged in CI. The one step that uses root when it has it, a user per component, is
//! [`super::identity`]'s, and it says so when it cannot.

use hex_conservative::FromHex;
use rustix::process::{Resource, Rlimit, getppid, setrlimit};
use std::os::fd::RawFd;

/// Why the sandbox could not be set up. The component does not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The parent process is not the monitor that wrote the boot block.
    #[error("parent process is {actual:?}, not the monitor (pid {expected}); refusing to run")]
    WrongParent {
        /// The monitor's pid from the boot block.
        expected: u32,
        /// The actual parent.
        actual: Option<u32>,
    },
    /// A system call failed.
    #[error("{what}: {err}")]
    Os {
        /// What was being done.
        what: &'static str,
        /// The error.
        err: std::io::Error,
    },
}

fn os(what: &'static str) -> impl FnOnce(rustix::io::Errno) -> SandboxError {
    move |e| SandboxError::Os {
        what,
        err: e.into(),
    }
}

/// The limits to apply, from the description and the grant table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The component's `memory-size`, in bytes.
    pub memory_size: u64,
    /// The component's `stack-size`, in bytes.
    pub stack_size: u64,
    /// Largest granted flash image in bytes (0 if none).
    pub max_file_size: u64,
    /// Highest descriptor the component holds.
    pub highest_fd: RawFd,
}

/// Refuses to run if the parent is not `monitor_pid`.
pub fn check_parent(monitor_pid: u32) -> Result<(), SandboxError> {
    let actual = getppid().map(|p| p.as_raw_nonzero().get() as u32);
    if actual == Some(monitor_pid) {
        Ok(())
    } else {
        Err(SandboxError::WrongParent {
            expected: monitor_pid,
            actual,
        })
    }
}

/// The descriptors open in this process, from `/proc/self/fd`.
pub fn open_fds() -> Result<Vec<RawFd>, SandboxError> {
    let dir = std::fs::read_dir("/proc/self/fd").map_err(|err| SandboxError::Os {
        what: "listing /proc/self/fd",
        err,
    })?;
    let mut fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .collect();
    fds.sort_unstable();
    // One of them was the directory being listed, now closed.
    fds.retain(|&fd| rustix::io::fcntl_getfd(unsafe_borrow(fd)).is_ok());
    Ok(fds)
}

fn unsafe_borrow(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: the descriptor is only used for fcntl(F_GETFD)/close in this single-threaded
    // start-up code; an invalid number makes the call fail with EBADF, nothing else.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// Closes every open descriptor not in `keep`; returns the ones it closed.
pub fn close_all_but(keep: &[RawFd]) -> Result<Vec<RawFd>, SandboxError> {
    let mut closed = Vec::new();
    for fd in open_fds()? {
        if !keep.contains(&fd) {
            // SAFETY: fd is open (just listed) and not owned by any Rust object this code will
            // use again: the only objects alive at this point own descriptors in `keep`.
            unsafe { libc::close(fd) };
            closed.push(fd);
        }
    }
    Ok(closed)
}

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn stack_mapping_bytes() -> Option<u64> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let line = maps.lines().find(|l| l.ends_with("[stack]"))?;
    let (a, b) = maps_range(line)?;
    b.checked_sub(a)
}

/// The `start-end` addresses that begin a `/proc/self/maps` line.
pub fn maps_range(line: &str) -> Option<(u64, u64)> {
    let (a, b) = line.split_whitespace().next()?.split_once('-')?;
    Some((hex_u64(a)?, hex_u64(b)?))
}

/// A number written as 1 to 16 hex digits, nothing else (no sign, no `0x`, no spaces), decoded
/// by the project's hex codec: left-padded to 8 bytes, big-endian.
pub fn hex_u64(text: &str) -> Option<u64> {
    let pad = 16usize
        .checked_sub(text.len())
        .filter(|_| !text.is_empty())?;
    let full = format!("{}{text}", "0".repeat(pad));
    <[u8; 8]>::from_hex(&full).ok().map(u64::from_be_bytes)
}

fn limit(resource: Resource, what: &'static str, value: u64) -> Result<(), SandboxError> {
    setrlimit(
        resource,
        Rlimit {
            current: Some(value),
            maximum: Some(value),
        },
    )
    .map_err(os(what))
}

/// Sets `PR_SET_NO_NEW_PRIVS` and the resource limits of the module docs.
pub fn restrict(limits: &Limits) -> Result<(), SandboxError> {
    rustix::thread::set_no_new_privs(true).map_err(os("PR_SET_NO_NEW_PRIVS"))?;
    let data_now = status_kib("VmData:").unwrap_or(0).saturating_mul(1024);
    limit(
        Resource::Data,
        "RLIMIT_DATA",
        data_now.saturating_add(limits.memory_size),
    )?;
    let stack_now = stack_mapping_bytes().unwrap_or(0);
    limit(
        Resource::Stack,
        "RLIMIT_STACK",
        stack_now.saturating_add(limits.stack_size),
    )?;
    limit(Resource::Core, "RLIMIT_CORE", 0)?;
    limit(Resource::Fsize, "RLIMIT_FSIZE", limits.max_file_size)?;
    let nofile = u64::try_from(limits.highest_fd).unwrap_or(0) + 1;
    limit(Resource::Nofile, "RLIMIT_NOFILE", nofile)?;
    for (signal, what) in [(libc::SIGSEGV, "SIGSEGV"), (libc::SIGBUS, "SIGBUS")] {
        // SAFETY: resetting a signal to its default action has no memory-safety preconditions.
        if unsafe { libc::signal(signal, libc::SIG_DFL) } == libc::SIG_ERR {
            return Err(SandboxError::Os {
                what,
                err: std::io::Error::last_os_error(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_addresses_are_strict_hex() {
        assert_eq!(hex_u64("7ffd1a2b3000"), Some(0x7ffd_1a2b_3000));
        assert_eq!(hex_u64("ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(hex_u64("F"), Some(15));
        // A sign ("+f" is 15 to `from_str_radix`), `0x`, spaces, non-hex, empty, too long.
        for bad in ["+f", "-1", "0xf", " f", "f ", "g", "", "1ffffffffffffffff"] {
            assert_eq!(hex_u64(bad), None, "{bad:?}");
        }
        assert_eq!(
            maps_range("7ffd1000-7ffd3000 rw-p 00000000 00:00 0 [stack]"),
            Some((0x7ffd_1000, 0x7ffd_3000))
        );
        assert_eq!(maps_range("+ffd1000-7ffd3000 rw-p"), None);
    }
}
