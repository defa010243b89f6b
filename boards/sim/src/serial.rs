//! The sim board's serial line: a pseudo-terminal pair in raw mode.
//!
//! [`PtySerial::pair`] opens a pty: the *master* end and the *slave* end, both as [`PtySerial`],
//! plus the slave's path (`/dev/pts/N`). The monitor grants one end to the comms component and
//! keeps or hands out the other for the ground side: a ground tool can open the printed path
//! like any serial port (pyserial, `picocom`, `pppd`). The slave is put in raw mode
//! (`cfmakeraw`): 8-bit clean, no echo, no CR/LF translation, no line buffering, no signal or
//! flow-control characters, so PPP frames pass byte for byte.
//!
//! [`PtySerial`] implements the `embedded-io` traits that make up `hal::serial::Serial`:
//! `read` blocks until at least one byte is there, `read_ready`/`write_ready` never block (a
//! zero-timeout `poll`). When the other end has been closed, reads fail with an error (Linux
//! reports `EIO` on a pty whose peer is gone) instead of returning 0 forever. Keep the slave open
//! (the monitor does) while the master is in use, or the master reads `EIO`.
//!
//! It does not emulate baud rate or line noise: [`crate::serial_line`] does, and the monitor
//! puts it between two of these when `spacenode run --serial-baud` is given.

use hal::serial::{ErrorType, Read, ReadReady, Write, WriteReady};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::{Mode, OFlags};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{OptionalActions, tcgetattr, tcsetattr};
use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

/// One end of a pty, as a serial line.
#[derive(Debug)]
pub struct PtySerial {
    file: File,
}

impl PtySerial {
    /// Open a pty pair in raw mode: `(master, slave, slave path)`.
    pub fn pair() -> io::Result<(PtySerial, PtySerial, PathBuf)> {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let name = ptsname(&master, Vec::new())?;
        let path = PathBuf::from(
            <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(name.into_bytes()),
        );
        let slave = rustix::fs::open(
            &path,
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut t = tcgetattr(&slave)?;
        t.make_raw();
        tcsetattr(&slave, OptionalActions::Now, &t)?;
        Ok((PtySerial::from_fd(master), PtySerial::from_fd(slave), path))
    }

    /// Wrap a descriptor granted by the monitor (either end of a pair).
    pub fn from_fd(fd: OwnedFd) -> PtySerial {
        PtySerial {
            file: File::from(fd),
        }
    }

    /// Give the descriptor back (to hand it to a component process).
    pub fn into_fd(self) -> OwnedFd {
        OwnedFd::from(self.file)
    }

    fn ready(&self, flags: PollFlags) -> io::Result<bool> {
        let mut fds = [PollFd::new(&self.file, flags)];
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let n = poll(&mut fds, Some(&zero))?;
        let rev = fds[0].revents();
        // A hung-up or failed line is "ready": the next call reports the error instead of
        // the caller waiting forever.
        Ok(n > 0 && rev.intersects(flags | PollFlags::HUP | PollFlags::ERR))
    }
}

impl AsFd for PtySerial {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl ErrorType for PtySerial {
    type Error = io::Error;
}

impl Read for PtySerial {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        loop {
            match self.file.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}

impl ReadReady for PtySerial {
    fn read_ready(&mut self) -> Result<bool, io::Error> {
        self.ready(PollFlags::IN)
    }
}

impl Write for PtySerial {
    fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        loop {
            match self.file.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> Result<(), io::Error> {
        Ok(())
    }
}

impl WriteReady for PtySerial {
    fn write_ready(&mut self) -> Result<bool, io::Error> {
        self.ready(PollFlags::OUT)
    }
}
