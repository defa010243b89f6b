//! The seccomp filter of a component process: the only system calls component code can make.
//!
//! Installed by [`crate::partition`] after the process has mapped its regions and closed every
//! descriptor it was not granted, right before component code runs. Default action: **kill the
//! whole process** (`SECCOMP_RET_KILL_PROCESS`); the monitor sees `SIGSYS` and reports a
//! `SeccompViolation`. The filter checks the architecture first (a foreign-ABI system call kills
//! too). It is built per component from its grant table, so descriptor-bearing calls are allowed
//! only on the descriptors that carry that right.
//!
//! # Allow-list (x86_64 names; aarch64 uses the same calls where they exist)
//!
//! | system call | condition | why |
//! | --- | --- | --- |
//! | `ppoll` | none | the event loop's wait; it only reports readiness of descriptors already held |
//! | `read` | fd is a notification this component *receives* on, its serial line, or a device socket | clearing a notification; serial input; `std`'s `recv` on a connected socket |
//! | `write` | fd is 2 (log), a notification it *sends* on, its serial line, or a device socket | log lines; waking a receiver; serial output; `std`'s `send` on a connected socket is `write` |
//! | `pread64`, `pwrite64`, `fsync`, `fdatasync`, `fstat`, `statx` | fd is one of its flash images | the file-backed NOR flash (size from `fstat`/`statx` at open) |
//! | `sendto` | fd is its radio or watchdog socket **and** the destination address is NULL | sending on a socket the monitor already connected: no way to address anyone else |
//! | `recvfrom` | fd is its radio or watchdog socket | receiving frames |
//! | `close` | fd is one of its granted descriptors except the log (a notification, flash image, serial line or socket) | error paths drop the driver that owns a descriptor (a store that does not mount gives its flash back): closing a capability only gives it up, and a component must never be killed by its own error path (issue 13 finding 1) |
//! | `fcntl` | fd is one of those **and** the command is `F_GETFD` | debug builds of `std` check a descriptor is still open before closing it |
//! | `getsockname` | fd is its radio or watchdog socket | the radio driver checks its socket is on loopback |
//! | `ioctl` | fd is a device socket or serial line **and** the request is `FIONBIO` | the drivers make their descriptor non-blocking (no other ioctl: no terminal or socket reconfiguration) |
//! | `getrandom` | only if it owns the `rng` device | the rng device of the sim board is the kernel's CSPRNG |
//! | `clock_gettime`, `clock_getres` | none | the monotonic clock when the vDSO is unavailable |
//! | `mmap` | `MAP_ANONYMOUS` set and `PROT_EXEC` clear | the allocator; no file mappings, no new code |
//! | `mprotect` | `PROT_EXEC` clear | the allocator; never making memory executable |
//! | `munmap`, `brk` | none | the allocator, on the process's own memory |
//! | `madvise` | advice `MADV_DONTNEED` or `MADV_FREE`; any other advice fails with `EPERM` | the allocator returning pages; refused: `MADV_REMOVE` (it would punch a hole in a shared ring, under the other end's feet) and the rest, which no component needs |
//! | `mremap` | fails with `EPERM`, always | growing a mapping of a ring would reach, with the mapping's write permission, the bytes this side maps read-only (the slots of a receiver, [`crate::region`]); glibc's `realloc` falls back to allocate-copy-free when `mremap` fails, so nothing needs it |
//! | `rt_sigreturn` | none | returning from a signal handler installed before the filter (none of the memory-fault ones: `crate::partition::sandbox` resets those) |
//! | `rt_sigprocmask`, `getpid`, `gettid` | none | `abort()` blocks signals and asks its own ids |
//! | `sigaltstack` | none | `std` disables a thread's alternate signal stack when the thread ends (the component's thread, on its way to an orderly exit); no handler can be installed (`sigaction` is refused) |
//! | `tgkill` | to its own process id, signal `SIGABRT` | `abort()`, so a panic that aborts is reported as `SIGABRT`, not as a violation |
//! | `exit`, `exit_group` | none | ending the process |
//!
//! Everything else is refused with a kill: opening files (`open`, `openat`), creating sockets,
//! pipes, eventfds or memfds, `dup`, any other `fcntl`, `ioctl`, `mmap` of a file, `execve`, `fork`/`clone`,
//! `kill` of anyone, `ptrace`, `prctl`, `setrlimit`, `seccomp`, `sigaction` and the rest.
//!
//! The `EPERM` answers come from a second, smaller filter installed first ([`refusals`]: it
//! matches only those calls); the kernel runs both and the stricter answer wins, so the
//! allow-list's kill still applies to everything it does not allow.
//!
//! Avoids: `SECCOMP_RET_TRAP` (a handler inside the component could swallow the violation) and
//! errno returns (a misbehaving component must stop, not carry on after a refusal), except for
//! the two memory calls above, which the allocator makes on its own and survives refused. The
//! cost is that the kernel does not tell the monitor *which* call it was: reports carry syscall
//! 0.

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;
use std::os::fd::RawFd;

/// What a component's filter allows, by descriptor role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterSpec {
    /// The log pipe (write).
    pub log_fd: RawFd,
    /// Notifications it receives on (read, to clear).
    pub notify_wait: Vec<RawFd>,
    /// Notifications it sends on (write, to signal).
    pub notify_signal: Vec<RawFd>,
    /// Flash images (positioned read/write, sync, stat).
    pub flash: Vec<RawFd>,
    /// Serial lines (read/write).
    pub serial: Vec<RawFd>,
    /// Connected sockets (send without address, receive).
    pub sockets: Vec<RawFd>,
    /// Whether `getrandom` is allowed.
    pub getrandom: bool,
    /// The process's own pid (for `tgkill(pid, _, SIGABRT)`).
    pub pid: i32,
}

/// Why a filter could not be built or installed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// This architecture is not supported by the filter compiler.
    #[error("seccomp: unsupported architecture {0}")]
    Arch(&'static str),
    /// The filter compiler refused the rules.
    #[error("seccomp: cannot build the filter: {0}")]
    Build(#[from] seccompiler::BackendError),
    /// The kernel refused the filter.
    #[error("seccomp: cannot install the filter: {0}")]
    Install(#[from] seccompiler::Error),
}

fn arg_eq(index: u8, value: u64) -> Result<SeccompCondition, SeccompError> {
    Ok(SeccompCondition::new(
        index,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::Eq,
        value,
    )?)
}

fn fd_eq(fd: RawFd) -> Result<SeccompCondition, SeccompError> {
    // Descriptor arguments are `int`: compare the low 32 bits only.
    Ok(SeccompCondition::new(
        0,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        fd as u32 as u64,
    )?)
}

fn masked(index: u8, mask: u64, value: u64) -> Result<SeccompCondition, SeccompError> {
    Ok(SeccompCondition::new(
        index,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(mask),
        value,
    )?)
}

/// One rule per descriptor: "first argument is this fd" (plus `extra` conditions).
fn on_fds(
    fds: &[RawFd],
    extra: &dyn Fn() -> Result<Vec<SeccompCondition>, SeccompError>,
) -> Result<Vec<SeccompRule>, SeccompError> {
    fds.iter()
        .map(|&fd| {
            let mut conds = vec![fd_eq(fd)?];
            conds.extend(extra()?);
            Ok(SeccompRule::new(conds)?)
        })
        .collect()
}

fn none() -> Result<Vec<SeccompCondition>, SeccompError> {
    Ok(vec![])
}

fn target_arch() -> Result<TargetArch, SeccompError> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| SeccompError::Arch(std::env::consts::ARCH))
}

/// The rules: system call number → alternatives (empty = unconditional).
pub fn rules(spec: &FilterSpec) -> Result<BTreeMap<i64, Vec<SeccompRule>>, SeccompError> {
    let mut r: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let mut add = |nr: libc::c_long, rules: Vec<SeccompRule>| {
        if rules.is_empty() {
            return;
        }
        r.entry(nr).or_default().extend(rules);
    };
    let readable: Vec<RawFd> = spec
        .notify_wait
        .iter()
        .chain(&spec.serial)
        .chain(&spec.sockets)
        .copied()
        .collect();
    let mut writable = vec![spec.log_fd];
    writable.extend(
        spec.notify_signal
            .iter()
            .chain(&spec.serial)
            .chain(&spec.sockets),
    );
    add(libc::SYS_read, on_fds(&readable, &none)?);
    add(libc::SYS_write, on_fds(&writable, &none)?);
    for nr in [
        libc::SYS_pread64,
        libc::SYS_pwrite64,
        libc::SYS_fsync,
        libc::SYS_fdatasync,
        libc::SYS_fstat,
        libc::SYS_statx,
    ] {
        add(nr, on_fds(&spec.flash, &none)?);
    }
    add(
        libc::SYS_sendto,
        on_fds(&spec.sockets, &|| Ok(vec![arg_eq(4, 0)?]))?,
    );
    add(libc::SYS_recvfrom, on_fds(&spec.sockets, &none)?);
    let granted: Vec<RawFd> = readable
        .iter()
        .chain(&spec.notify_signal)
        .chain(&spec.flash)
        .copied()
        .collect();
    add(libc::SYS_close, on_fds(&granted, &none)?);
    // Debug builds of `std` check an `OwnedFd` is still open (F_GETFD) before closing it.
    add(
        libc::SYS_fcntl,
        on_fds(&granted, &|| Ok(vec![arg_eq(1, libc::F_GETFD as u64)?]))?,
    );
    add(libc::SYS_getsockname, on_fds(&spec.sockets, &none)?);
    let devices: Vec<RawFd> = spec.sockets.iter().chain(&spec.serial).copied().collect();
    add(
        libc::SYS_ioctl,
        on_fds(&devices, &|| {
            Ok(vec![SeccompCondition::new(
                1,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Eq,
                libc::FIONBIO,
            )?])
        })?,
    );
    let always = |r: &mut BTreeMap<i64, Vec<SeccompRule>>, nr: libc::c_long| {
        r.insert(nr, vec![]);
    };
    for nr in [
        libc::SYS_ppoll,
        libc::SYS_clock_gettime,
        libc::SYS_clock_getres,
        libc::SYS_munmap,
        // Allowed here, answered `EPERM` (all of mremap, most of madvise) by `refusals`.
        libc::SYS_mremap,
        libc::SYS_madvise,
        libc::SYS_brk,
        libc::SYS_rt_sigreturn,
        libc::SYS_rt_sigprocmask,
        libc::SYS_sigaltstack,
        libc::SYS_getpid,
        libc::SYS_gettid,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ] {
        always(&mut r, nr);
    }
    if spec.getrandom {
        always(&mut r, libc::SYS_getrandom);
    }
    let prot_exec = libc::PROT_EXEC as u64;
    let map_anon = libc::MAP_ANONYMOUS as u64;
    r.insert(
        libc::SYS_mmap,
        vec![SeccompRule::new(vec![
            masked(3, map_anon, map_anon)?,
            masked(2, prot_exec, 0)?,
        ])?],
    );
    r.insert(
        libc::SYS_mprotect,
        vec![SeccompRule::new(vec![masked(2, prot_exec, 0)?])?],
    );
    r.insert(
        libc::SYS_tgkill,
        vec![SeccompRule::new(vec![
            SeccompCondition::new(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Eq,
                spec.pid as u32 as u64,
            )?,
            arg_eq(2, libc::SIGABRT as u64)?,
        ])?],
    );
    Ok(r)
}

/// Compiles the filter for this architecture.
pub fn compile(spec: &FilterSpec) -> Result<BpfProgram, SeccompError> {
    let filter = SeccompFilter::new(
        rules(spec)?,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        target_arch()?,
    )?;
    filter.try_into().map_err(SeccompError::Build)
}

/// The calls the allow-list lets through that fail with `EPERM` instead (module docs): every
/// `mremap`, and `madvise` with any advice but `MADV_DONTNEED` and `MADV_FREE`.
pub fn refusals() -> Result<BTreeMap<i64, Vec<SeccompRule>>, SeccompError> {
    let ne = |value: libc::c_int| {
        SeccompCondition::new(2, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, value as u64)
    };
    let mut r = BTreeMap::new();
    r.insert(libc::SYS_mremap, vec![]);
    r.insert(
        libc::SYS_madvise,
        vec![SeccompRule::new(vec![
            ne(libc::MADV_DONTNEED)?,
            ne(libc::MADV_FREE)?,
        ])?],
    );
    Ok(r)
}

/// Compiles the [`refusals`] filter (everything else allowed: the allow-list decides).
pub fn compile_refusals() -> Result<BpfProgram, SeccompError> {
    let filter = SeccompFilter::new(
        refusals()?,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        target_arch()?,
    )?;
    filter.try_into().map_err(SeccompError::Build)
}

/// Compiles and installs both filters on the calling thread (the component process is single
/// threaded): the refusals first (the allow-list forbids installing filters), then the
/// allow-list. `PR_SET_NO_NEW_PRIVS` must be set first ([`super::sandbox`] does).
pub fn install(spec: &FilterSpec) -> Result<(), SeccompError> {
    let refuse = compile_refusals()?;
    let prog = compile(spec)?;
    seccompiler::apply_filter(&refuse)?;
    seccompiler::apply_filter(&prog)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_calls_are_limited_to_the_granted_roles() {
        let spec = FilterSpec {
            log_fd: 2,
            notify_wait: vec![5],
            notify_signal: vec![7],
            flash: vec![9],
            serial: vec![],
            sockets: vec![10],
            getrandom: false,
            pid: 100,
        };
        let r = rules(&spec).expect("rules");
        assert_eq!(
            r[&libc::SYS_read].len(),
            2,
            "read: the received notification and the socket"
        );
        assert_eq!(
            r[&libc::SYS_write].len(),
            3,
            "write: log, the sent notification and the socket"
        );
        assert_eq!(r[&libc::SYS_pwrite64].len(), 1);
        assert!(!r.contains_key(&libc::SYS_getrandom));
        assert_eq!(
            r[&libc::SYS_ioctl].len(),
            1,
            "ioctl: FIONBIO on the socket only"
        );
        for forbidden in [
            libc::SYS_openat,
            libc::SYS_socket,
            libc::SYS_execve,
            libc::SYS_clone,
            libc::SYS_dup,
            libc::SYS_kill,
            libc::SYS_prctl,
        ] {
            assert!(
                !r.contains_key(&forbidden),
                "{forbidden} must not be allowed"
            );
        }
        compile(&spec).expect("compiles");
        let with_rng = FilterSpec {
            getrandom: true,
            ..spec
        };
        assert!(
            rules(&with_rng)
                .expect("rules")
                .contains_key(&libc::SYS_getrandom)
        );
    }
}
