//! The sim board's [`runtime::WaitBackend`]: `ppoll` over a component's receive notifications
//! (eventfds, cleared when they fire) and device descriptors (reported, not read: the driver
//! reads them), with the component's deadline as the timeout.
//!
//! System calls: `ppoll`, `read` on the receive eventfds, `clock_gettime` (vDSO). Exactly what
//! the seccomp filter allows for them.
//!
//! A degraded component (its `init` failed) stops watching its devices
//! ([`WaitBackend::ignore_devices`]): nothing reads them any more.
//!
//! Avoids: blocking forever when a deadline is set, and reading device data.

use crate::clock::SimClock;
use hal::time::{Instant, MonotonicClock};
use runtime::{NotifySet, Source, WaitBackend, WaitError};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use std::os::fd::{BorrowedFd, OwnedFd};

/// What a watched descriptor is.
#[derive(Debug)]
pub enum Watched {
    /// A receive notification: cleared (read) when it fires.
    Notification(OwnedFd),
    /// A device: only reported.
    Device(BorrowedFd<'static>),
}

/// The wait set of one component process.
#[derive(Debug)]
pub struct PollWait {
    watched: Vec<(Watched, Source)>,
    clock: SimClock,
}

impl PollWait {
    /// A wait set over `watched`, on the board clock `clock`.
    pub fn new(watched: Vec<(Watched, Source)>, clock: SimClock) -> Self {
        PollWait { watched, clock }
    }
}

fn fd_of(w: &Watched) -> BorrowedFd<'_> {
    match w {
        Watched::Notification(fd) => std::os::fd::AsFd::as_fd(fd),
        Watched::Device(fd) => *fd,
    }
}

impl WaitBackend for PollWait {
    fn ignore_devices(&mut self) {
        self.watched
            .retain(|(w, _)| matches!(w, Watched::Notification(_)));
    }

    fn wait(&mut self, deadline: Option<Instant>) -> Result<NotifySet, WaitError> {
        let timeout = deadline.map(|d| {
            let left = d.saturating_duration_since(self.clock.now());
            Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            }
        });
        let mut fds: Vec<PollFd<'_>> = self
            .watched
            .iter()
            .map(|(w, _)| PollFd::from_borrowed_fd(fd_of(w), PollFlags::IN))
            .collect();
        match poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(WaitError::Os(e.raw_os_error())),
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        let mut set = NotifySet::EMPTY;
        for ((w, src), ready) in self.watched.iter().zip(ready) {
            if !ready {
                continue;
            }
            if let Watched::Notification(fd) = w {
                let mut buf = [0u8; 8];
                match rustix::io::read(fd, &mut buf) {
                    Ok(_) | Err(Errno::AGAIN) | Err(Errno::INTR) => {}
                    Err(e) => return Err(WaitError::Os(e.raw_os_error())),
                }
            }
            set.insert(*src);
        }
        if deadline.is_some_and(|d| self.clock.now() >= d) {
            set.insert(Source::TIMER);
        }
        Ok(set)
    }

    fn now(&self) -> Instant {
        self.clock.now()
    }
}
