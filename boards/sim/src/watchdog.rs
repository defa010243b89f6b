//! The sim board's hardware watchdog timer: a component-side handle and the board-side timer.
//!
//! The timer hardware is on the board side ([`WatchdogHw`], held by the monitor); the watchdog
//! component holds only [`SimWatchdog`], which implements [`hal::watchdog::WatchdogTimer`]. They
//! are the two ends of a Unix datagram socket pair, so the component-side end is one file
//! descriptor the monitor can grant, and a component restart keeps the timer running.
//!
//! Wire format (one datagram per command, the "register write"):
//! - start: `01` followed by the timeout in microseconds, `u64` little-endian (9 bytes);
//! - kick: `02` (1 byte).
//!
//! The board side takes note of commands when it services the device ([`WatchdogHw::service`],
//! called by the monitor when the descriptor is readable and at the deadline), and timestamps
//! them then: a kick counts when the board sees it, never earlier than it was sent. Malformed
//! datagrams are counted and ignored, like writes to unmapped register bits. Once expired the
//! timer stays expired: the monitor treats expiry as a board reset and builds a new
//! `WatchdogHw` at the next power-on.
//!
//! Nothing here sleeps or uses wall-clock time: the board side is driven with the monitor's
//! [`hal::time::Instant`]s, which makes it testable on a simulated clock.

use hal::time::Instant;
use hal::watchdog::{WatchdogError, WatchdogTimer};
use std::io::ErrorKind;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

const CMD_START: u8 = 1;
const CMD_KICK: u8 = 2;
/// Shortest timeout the sim timer accepts.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);
/// Longest timeout the sim timer accepts.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// Create a connected timer: the board side and the component side.
pub fn pair() -> std::io::Result<(WatchdogHw, SimWatchdog)> {
    let (hw, dev) = UnixDatagram::pair()?;
    hw.set_nonblocking(true)?;
    dev.set_nonblocking(true)?;
    Ok((
        WatchdogHw::new(hw),
        SimWatchdog {
            sock: dev,
            started: false,
        },
    ))
}

/// The component's handle on the hardware watchdog timer.
#[derive(Debug)]
pub struct SimWatchdog {
    sock: UnixDatagram,
    started: bool,
}

impl SimWatchdog {
    /// The handle from a descriptor granted by the monitor (the component-side end of
    /// [`pair`]). A fresh handle does not know whether the timer is armed: call `start` first.
    pub fn from_fd(fd: OwnedFd) -> std::io::Result<Self> {
        let sock = UnixDatagram::from(fd);
        sock.set_nonblocking(true)?;
        Ok(SimWatchdog {
            sock,
            started: false,
        })
    }

    /// The descriptor, for the monitor to grant to the watchdog component.
    pub fn into_fd(self) -> OwnedFd {
        self.sock.into()
    }

    fn send(&self, cmd: &[u8]) -> Result<(), WatchdogError> {
        match self.sock.send(cmd) {
            Ok(n) if n == cmd.len() => Ok(()),
            _ => Err(WatchdogError::Device),
        }
    }
}

impl AsFd for SimWatchdog {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl WatchdogTimer for SimWatchdog {
    fn timeout_range(&self) -> (Duration, Duration) {
        (MIN_TIMEOUT, MAX_TIMEOUT)
    }

    fn start(&mut self, timeout: Duration) -> Result<(), WatchdogError> {
        if !(MIN_TIMEOUT..=MAX_TIMEOUT).contains(&timeout) {
            return Err(WatchdogError::TimeoutOutOfRange {
                requested: timeout,
                min: MIN_TIMEOUT,
                max: MAX_TIMEOUT,
            });
        }
        let us = u64::try_from(timeout.as_micros()).map_err(|_| WatchdogError::Device)?;
        let mut cmd = [0u8; 9];
        cmd[0] = CMD_START;
        cmd[1..].copy_from_slice(&us.to_le_bytes());
        self.send(&cmd)?;
        self.started = true;
        Ok(())
    }

    fn kick(&mut self) -> Result<(), WatchdogError> {
        if !self.started {
            return Err(WatchdogError::NotStarted);
        }
        match self.sock.send(&[CMD_KICK]) {
            Ok(1) => Ok(()),
            // The board has not yet taken the kicks already queued; each of them re-arms the
            // countdown when it is taken, so dropping this one loses nothing.
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            _ => Err(WatchdogError::Device),
        }
    }
}

/// What the timer is doing, as of the last [`WatchdogHw::service`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchdogStatus {
    /// Never started: the board is not protected.
    Disarmed,
    /// Counting down: the board resets at `deadline` unless kicked.
    Armed {
        /// When the timer runs out.
        deadline: Instant,
        /// The configured timeout.
        timeout: Duration,
    },
    /// Ran out at `at`: the board must reset now.
    Expired {
        /// The deadline that was missed.
        at: Instant,
    },
}

/// The timer hardware, held by the board (the monitor).
#[derive(Debug)]
pub struct WatchdogHw {
    sock: UnixDatagram,
    status: WatchdogStatus,
    kicks: u64,
    malformed: u64,
}

impl WatchdogHw {
    fn new(sock: UnixDatagram) -> Self {
        WatchdogHw {
            sock,
            status: WatchdogStatus::Disarmed,
            kicks: 0,
            malformed: 0,
        }
    }

    /// Take note of every command sent since the last call, as of `now`, and report the status.
    /// Call it when the descriptor is readable and when `now` reaches [`WatchdogHw::deadline`].
    pub fn service(&mut self, now: Instant) -> WatchdogStatus {
        if let WatchdogStatus::Expired { .. } = self.status {
            return self.status;
        }
        // Commands sent before the deadline are honoured even if the board is late to read them.
        let mut buf = [0u8; 16];
        loop {
            match self.sock.recv(&mut buf) {
                Ok(n) => self.apply(buf.get(..n).unwrap_or(&[]), now),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // WouldBlock (drained) or a dead peer: nothing more to take.
                Err(_) => break,
            }
        }
        if let WatchdogStatus::Armed { deadline, .. } = self.status
            && now >= deadline
        {
            self.status = WatchdogStatus::Expired { at: deadline };
        }
        self.status
    }

    fn apply(&mut self, cmd: &[u8], now: Instant) {
        match cmd {
            [CMD_START, t @ ..] if t.len() == 8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(t);
                let timeout = Duration::from_micros(u64::from_le_bytes(b));
                if (MIN_TIMEOUT..=MAX_TIMEOUT).contains(&timeout) {
                    self.status = WatchdogStatus::Armed {
                        deadline: now.saturating_add(timeout),
                        timeout,
                    };
                } else {
                    self.malformed += 1;
                }
            }
            [CMD_KICK] => match self.status {
                WatchdogStatus::Armed { timeout, .. } => {
                    self.kicks += 1;
                    self.status = WatchdogStatus::Armed {
                        deadline: now.saturating_add(timeout),
                        timeout,
                    };
                }
                _ => self.malformed += 1,
            },
            _ => self.malformed += 1,
        }
    }

    /// The status as of the last service.
    pub fn status(&self) -> WatchdogStatus {
        self.status
    }

    /// When the board must next service the timer (the running deadline), if armed.
    pub fn deadline(&self) -> Option<Instant> {
        match self.status {
            WatchdogStatus::Armed { deadline, .. } => Some(deadline),
            _ => None,
        }
    }

    /// Kicks taken so far.
    pub fn kicks(&self) -> u64 {
        self.kicks
    }

    /// Malformed or out-of-order commands ignored so far (including kicks before start).
    pub fn malformed(&self) -> u64 {
        self.malformed
    }
}

impl AsFd for WatchdogHw {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Instant {
        Instant::from_micros(v * 1_000)
    }

    #[test]
    fn expires_exactly_at_the_deadline_unless_kicked() {
        let (mut hw, mut wd) = pair().expect("pair");
        assert_eq!(hw.service(ms(0)), WatchdogStatus::Disarmed);
        assert_eq!(
            hw.service(ms(10_000)),
            WatchdogStatus::Disarmed,
            "never started: never expires"
        );
        wd.start(Duration::from_millis(100)).expect("start");
        assert_eq!(
            hw.service(ms(10_000)),
            WatchdogStatus::Armed {
                deadline: ms(10_100),
                timeout: Duration::from_millis(100)
            }
        );
        wd.kick().expect("kick");
        assert_eq!(
            hw.service(ms(10_050)).clone(),
            WatchdogStatus::Armed {
                deadline: ms(10_150),
                timeout: Duration::from_millis(100)
            }
        );
        assert!(matches!(
            hw.service(ms(10_149)),
            WatchdogStatus::Armed { .. }
        ));
        assert_eq!(
            hw.service(ms(10_150)),
            WatchdogStatus::Expired { at: ms(10_150) }
        );
        // Expired is final: a late kick does not bring the board back.
        wd.kick().expect("kick");
        assert_eq!(
            hw.service(ms(10_151)),
            WatchdogStatus::Expired { at: ms(10_150) }
        );
        assert_eq!(hw.kicks(), 1);
    }

    #[test]
    fn restart_changes_the_timeout_and_kicks_queued_before_the_deadline_count() {
        let (mut hw, mut wd) = pair().expect("pair");
        wd.start(Duration::from_millis(100)).expect("start");
        hw.service(ms(0));
        wd.start(Duration::from_secs(2)).expect("restart");
        for _ in 0..1000 {
            wd.kick().expect("kick");
        }
        // Serviced late, after the old deadline: the commands were queued in time.
        assert_eq!(
            hw.service(ms(100)),
            WatchdogStatus::Armed {
                deadline: ms(2_100),
                timeout: Duration::from_secs(2)
            }
        );
        assert_eq!(hw.deadline(), Some(ms(2_100)));
    }

    #[test]
    fn refusals_and_malformed_commands() {
        let (mut hw, mut wd) = pair().expect("pair");
        assert_eq!(wd.kick(), Err(WatchdogError::NotStarted));
        assert!(matches!(
            wd.start(Duration::from_micros(10)),
            Err(WatchdogError::TimeoutOutOfRange { .. })
        ));
        assert!(matches!(
            wd.start(Duration::from_secs(7200)),
            Err(WatchdogError::TimeoutOutOfRange { .. })
        ));
        // A forged or garbled command does nothing but count.
        wd.sock.send(&[9, 9, 9]).expect("send");
        wd.sock
            .send(&[CMD_START, 0, 0, 0, 0, 0, 0, 0, 0])
            .expect("send zero timeout");
        wd.sock.send(&[CMD_KICK]).expect("kick before start, raw");
        assert_eq!(hw.service(ms(5)), WatchdogStatus::Disarmed);
        assert_eq!(hw.malformed(), 3);
    }

    #[test]
    fn a_restarted_component_gets_a_fresh_handle_on_the_same_timer() {
        let (mut hw, mut wd) = pair().expect("pair");
        wd.start(Duration::from_millis(50)).expect("start");
        hw.service(ms(0));
        let fd: OwnedFd = wd.sock.try_clone().expect("clone").into();
        drop(wd);
        let mut again = SimWatchdog::from_fd(fd).expect("from fd");
        assert_eq!(again.kick(), Err(WatchdogError::NotStarted));
        again.start(Duration::from_millis(50)).expect("start");
        assert!(
            matches!(hw.service(ms(40)), WatchdogStatus::Armed { deadline, .. } if deadline == ms(90))
        );
    }
}
