//! Linux eventfd backend of [`Notify`], for endpoints in separate processes (the sim board).
//!
//! `signal` writes 1 to the eventfd, `wait` blocks in `poll(2)` until it is readable and then
//! reads (clears) it, `poll` does the same with a zero timeout. System calls used: `write`,
//! `read`, `ppoll` (what a seccomp filter must allow). The descriptor may be blocking or not.
//!
//! Avoids: `std`; owning policy about how the descriptor is created or inherited (the monitor
//! decides, `EventFd::new` is a convenience).

use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec, eventfd, poll};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::{Errno, read, write};

use crate::error::NotifyError;
use crate::notify::Notify;

fn os(e: Errno) -> NotifyError {
    NotifyError::Os(e.raw_os_error())
}

/// A notification backed by an eventfd.
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// A new eventfd (close-on-exec, non-blocking). To hand it to a child process, the monitor
    /// clears close-on-exec on the descriptor it passes.
    pub fn new() -> Result<Self, NotifyError> {
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).map_err(os)?;
        Ok(Self { fd })
    }

    /// Wraps an eventfd descriptor the runtime was given.
    pub fn from_fd(fd: OwnedFd) -> Self {
        Self { fd }
    }

    /// Gives the descriptor back.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    fn readable(&self, timeout: Option<&Timespec>) -> Result<bool, NotifyError> {
        let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
        loop {
            match poll(&mut fds, timeout) {
                Ok(n) => return Ok(n > 0),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(os(e)),
            }
        }
    }

    /// Reads (clears) the counter; `false` if it was already zero.
    fn drain(&self) -> Result<bool, NotifyError> {
        let mut buf = [0u8; 8];
        loop {
            match read(&self.fd, &mut buf) {
                Ok(_) => return Ok(true),
                Err(Errno::AGAIN) => return Ok(false),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(os(e)),
            }
        }
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Notify for EventFd {
    fn signal(&self) -> Result<(), NotifyError> {
        loop {
            match write(&self.fd, &1u64.to_ne_bytes()) {
                // AGAIN: the counter is saturated, so the flag is set already.
                Ok(_) | Err(Errno::AGAIN) => return Ok(()),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(os(e)),
            }
        }
    }

    fn wait(&self) -> Result<(), NotifyError> {
        loop {
            if self.readable(None)? && self.drain()? {
                return Ok(());
            }
        }
    }

    fn poll(&self) -> Result<bool, NotifyError> {
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if self.readable(Some(&zero))? {
            self.drain()
        } else {
            Ok(false)
        }
    }
}
