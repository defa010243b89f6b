//! Starting one component process with exactly its descriptors.
//!
//! The child is `EXE pd NAME` with an empty environment, stdin and stdout on `/dev/null` (the
//! component closes them), stderr on a fresh pipe whose read end the monitor keeps (log lines),
//! in a process group of its own (a Ctrl-C on the terminal reaches the monitor only, which then
//! stops the components itself). Between `fork` and `exec` the child, using only
//! async-signal-safe system calls and no allocation:
//! 1. sets `PR_SET_PDEATHSIG` to `SIGKILL`, so it dies with the monitor;
//! 2. moves the boot block to descriptor 3 and the grants to 4, 5, ... (see [`crate::grants`]):
//!    first every source is duplicated above every source and target number (so no move
//!    overwrites a source still to be moved), then each copy is `dup2`ed onto its target, which
//!    also clears close-on-exec on the target;
//! 3. closes every descriptor above the last target (`close_range`), whatever the monitor had
//!    open, close-on-exec or not.
//!
//! Everything else (no-new-privs, limits, seccomp) the child does itself after `exec`, in the
//! partition start-up ([`crate::partition`]), where it is single threaded and may allocate.
//!
//! Avoids: inheriting anything by accident (the monitor's descriptors are closed by number, not
//! by trusting close-on-exec flags) and allocating between `fork` and `exec`.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// A started child.
#[derive(Debug)]
pub struct Spawned {
    /// Its process id.
    pub pid: u32,
    /// A pidfd on it: readable when it has exited; reaped with `waitid(P_PIDFD)`.
    pub pidfd: OwnedFd,
    /// Read end of its stderr pipe (non-blocking).
    pub log: File,
}

/// Starts `exe args...` with `boot` at descriptor 3 and `grants[i]` at descriptor `4 + i`.
pub fn spawn(
    exe: &Path,
    args: &[OsString],
    boot: BorrowedFd<'_>,
    grants: &[BorrowedFd<'_>],
) -> io::Result<Spawned> {
    let sources: Vec<RawFd> = std::iter::once(boot.as_raw_fd())
        .chain(grants.iter().map(|g| g.as_raw_fd()))
        .collect();
    let first_target: RawFd = crate::grants::BOOT_FD;
    let last_target = first_target + sources.len() as RawFd - 1;
    let base = sources.iter().copied().max().unwrap_or(0).max(last_target) + 1;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: the closure runs in the forked child before exec and makes only async-signal-safe
    // system calls (prctl, dup2, close_range) on numbers computed before the fork; it neither
    // allocates nor touches locks.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            for (i, &src) in sources.iter().enumerate() {
                if libc::dup2(src, base + i as RawFd) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            for i in 0..sources.len() {
                if libc::dup2(base + i as RawFd, first_target + i as RawFd) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            let from = (last_target + 1) as libc::c_uint;
            if libc::syscall(libc::SYS_close_range, from, libc::c_uint::MAX, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| io::Error::other("child has no stderr pipe"))?;
    let pid = child.id();
    // The child is ours and not yet reaped, so the pid cannot have been reused.
    let pidfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(pid as i32)
            .ok_or_else(|| io::Error::other("child pid 0"))?,
        rustix::process::PidfdFlags::empty(),
    )?;
    let log = File::from(OwnedFd::from(stderr));
    rustix::io::ioctl_fionbio(&log, true)?;
    // `child` is dropped without waiting: the monitor reaps through the pidfd.
    drop(child);
    Ok(Spawned { pid, pidfd, log })
}

/// Sends `SIGKILL` through the pidfd (no pid reuse race).
pub fn kill(pidfd: &OwnedFd) -> io::Result<()> {
    rustix::process::pidfd_send_signal(pidfd, rustix::process::Signal::KILL)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn fds_of(pid: u32) -> Vec<RawFd> {
        let mut v: Vec<RawFd> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .expect("proc")
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn the_child_holds_exactly_stdio_the_boot_block_and_its_grants() {
        // Some descriptors the child must NOT inherit, not close-on-exec on purpose.
        let leak = rustix::io::dup(std::io::stdin()).expect("dup");
        let boot =
            rustix::fs::memfd_create("boot", rustix::fs::MemfdFlags::CLOEXEC).expect("memfd");
        let a = rustix::fs::memfd_create("a", rustix::fs::MemfdFlags::CLOEXEC).expect("memfd");
        let b = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).expect("eventfd");
        let mut s = spawn(
            Path::new("/bin/sleep"),
            &["5".into()],
            boot.as_fd_borrowed(),
            &[a.as_fd_borrowed(), b.as_fd_borrowed()],
        )
        .expect("spawn");
        let fds = fds_of(s.pid);
        kill(&s.pidfd).expect("kill");
        let status = rustix::process::waitid(
            rustix::process::WaitId::PidFd(std::os::fd::AsFd::as_fd(&s.pidfd)),
            rustix::process::WaitIdOptions::EXITED,
        )
        .expect("waitid")
        .expect("status");
        assert_eq!(status.terminating_signal(), Some(libc::SIGKILL));
        assert_eq!(fds, vec![0, 1, 2, 3, 4, 5]);
        let mut rest = Vec::new();
        assert_eq!(
            s.log
                .read_to_end(&mut rest)
                .map(|_| rest.len())
                .unwrap_or(0),
            0
        );
        drop(leak);
    }

    trait Borrowed {
        fn as_fd_borrowed(&self) -> BorrowedFd<'_>;
    }
    impl Borrowed for OwnedFd {
        fn as_fd_borrowed(&self) -> BorrowedFd<'_> {
            std::os::fd::AsFd::as_fd(self)
        }
    }
}
