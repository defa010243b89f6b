//! The ground's end of the standby link: `--link serial:PATH[,BAUD]` opens the serial device
//! (on the sim board, the pty path `spacenode run` prints as "serial line, ground side at"),
//! puts it in raw mode at the baud rate, and runs the same PPP engine and UDP encapsulation as
//! the node ([`comms::standby::StandbyLine`]) as the client ([`Endpoints::GROUND`]): the node
//! assigns the addresses in IPCP. SDLS units then go up and down exactly as on the radio.
//!
//! Waiting is a `poll` on the device with a deadline; the engine's timers run between reads.
//! Leaving sends no LCP Terminate-Request, on purpose: after one the node sits in RFC 1661's
//! Stopping state for its Restart timer, ignoring Configure-Requests, so the next command's
//! session waited 3 to 9 s (measured: 9.06 s for the second of two pings in a row). Without it,
//! the next session's Configure-Request renegotiates the node's Opened link at once, and a
//! ground that does not come back is noticed by the node's echo liveness (6 s).
//!
//! Avoids: waits without a deadline, and an own PPP client (the node's engine is symmetric).

use board_sim::serial::PtySerial;
use comms::standby::{Endpoints, StandbyLine, Step};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::{Mode, OFlags};
use rustix::termios::{OptionalActions, tcgetattr, tcsetattr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Baud rate when `--link serial:PATH` names none.
pub const DEFAULT_BAUD: u32 = 115_200;

/// Which link a ground command uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkChoice {
    /// The radio speaking comms' own secured units (UDP to the node's `--radio-uplink`; the
    /// node runs with `--radio-link units`).
    Units,
    /// The radio speaking the CCSDS space link (the node runs with the same `--radio-link`, or
    /// with the shipped description's: `--link radio`).
    Ccsds(crate::radio_link::RadioChoice),
    /// The standby serial line at `path`, `baud` bits per second.
    Serial {
        /// Device path.
        path: PathBuf,
        /// Baud rate.
        baud: u32,
    },
}

impl LinkChoice {
    /// The radio as the shipped description's `[link]` has it (what `spacenode run` speaks
    /// without `--radio-link`): the CCSDS space link.
    pub fn radio() -> Result<LinkChoice, String> {
        let shipped = crate::radio_link::RadioChoice::shipped()?;
        Ok(match shipped.link {
            runtime::RadioLink::Units => LinkChoice::Units,
            runtime::RadioLink::Ccsds(_) => LinkChoice::Ccsds(shipped),
        })
    }
}

impl std::str::FromStr for LinkChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "radio" {
            return LinkChoice::radio();
        }
        if s == "units" {
            return Ok(LinkChoice::Units);
        }
        if s.starts_with("ccsds:") {
            return s.parse().map(LinkChoice::Ccsds);
        }
        let Some(rest) = s.strip_prefix("serial:") else {
            return Err(format!(
                "unknown link {s:?}: use `radio` (as the shipped description has it), `ccsds:SCID`, `units` or `serial:PATH[,BAUD]` (e.g. serial:/dev/pts/3,115200)"
            ));
        };
        let (path, baud) = match rest.rsplit_once(',') {
            Some((p, b)) => (
                p,
                b.parse::<u32>()
                    .ok()
                    .filter(|b| *b > 0)
                    .ok_or_else(|| format!("baud rate {b:?} in --link is not a positive number"))?,
            ),
            None => (rest, DEFAULT_BAUD),
        };
        if path.is_empty() {
            return Err("--link serial: needs the device path, e.g. serial:/dev/pts/3".into());
        }
        Ok(LinkChoice::Serial {
            path: PathBuf::from(path),
            baud,
        })
    }
}

/// The serial link could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SerialLinkError {
    /// The device could not be opened or set up.
    #[error(
        "serial line {path}: {source} (is it the path `spacenode run` printed as \"serial line, ground side at\"?)"
    )]
    Open {
        /// Device.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// PPP did not reach IPCP Opened in time.
    #[error(
        "PPP on {path} did not come up within {secs} s (LCP {lcp}; IPCP {ipcp}): is `spacenode run` up, and is this its standby line?"
    )]
    NoPpp {
        /// Device.
        path: PathBuf,
        /// Time allowed.
        secs: u64,
        /// LCP's state at the end.
        lcp: ppp::fsm::State,
        /// IPCP's state at the end.
        ipcp: ppp::fsm::State,
    },
    /// The line went away (the node's end closed).
    #[error("serial line {0}: the other end went away (node stopped?)")]
    Gone(PathBuf),
}

/// An open PPP session on the serial line.
pub struct SerialLink {
    path: PathBuf,
    serial: PtySerial,
    line: Box<StandbyLine>,
    epoch: Instant,
}

fn open_device(path: &std::path::Path, baud: u32) -> std::io::Result<PtySerial> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut t = tcgetattr(&fd)?;
    t.make_raw();
    t.set_speed(baud)?;
    tcsetattr(&fd, OptionalActions::Now, &t)?;
    Ok(PtySerial::from_fd(fd))
}

impl SerialLink {
    /// Opens `path` at `baud` and negotiates PPP (LCP, then IPCP) within `within`.
    pub fn connect(
        path: PathBuf,
        baud: u32,
        within: Duration,
    ) -> Result<SerialLink, SerialLinkError> {
        let serial = open_device(&path, baud).map_err(|source| SerialLinkError::Open {
            path: path.clone(),
            source,
        })?;
        let mut seed = [0u8; 4];
        // A Magic-Number only has to differ between sessions; the clock will do if the OS
        // RNG is unavailable.
        if getrandom::fill(&mut seed).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.subsec_nanos());
            seed = (nanos ^ std::process::id()).to_be_bytes();
        }
        let cfg = Endpoints::GROUND.ppp_config(
            u32::from_be_bytes(seed),
            &comms::standby::StandbyLink::DEFAULT,
        );
        let line =
            StandbyLine::new(Endpoints::GROUND, cfg, 0).map_err(|e| SerialLinkError::Open {
                path: path.clone(),
                source: std::io::Error::other(e),
            })?;
        let mut link = SerialLink {
            path,
            serial,
            line: Box::new(line),
            epoch: Instant::now(),
        };
        let deadline = Instant::now() + within;
        while !link.line.is_up() {
            if Instant::now() >= deadline {
                let s = link.line.ppp().status();
                return Err(SerialLinkError::NoPpp {
                    path: link.path.clone(),
                    secs: within.as_secs(),
                    lcp: s.lcp,
                    ipcp: s.ipcp,
                });
            }
            // Negotiation only: a unit before IPCP is up is not possible.
            link.pump(deadline)?;
        }
        Ok(link)
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// One receive step, the timers, and a wait for the line until the engine's next deadline
    /// (at most 20 ms, at most until `deadline`). Returns whether a unit came out.
    fn pump(&mut self, deadline: Instant) -> Result<bool, SerialLinkError> {
        let now = self.now_ms();
        match self.line.step(&mut self.serial, now) {
            Step::Unit => return Ok(true),
            Step::Failed => return Err(SerialLinkError::Gone(self.path.clone())),
            Step::Idle => {}
        }
        self.line.poll(&mut self.serial, now);
        let left = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(20));
        let mut flags = PollFlags::IN;
        if self.line.pending() > 0 {
            flags |= PollFlags::OUT;
        }
        let mut fds = [PollFd::new(&self.serial, flags)];
        let ts = Timespec {
            tv_sec: 0,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let _ = poll(&mut fds, Some(&ts));
        Ok(false)
    }

    /// Sends one unit (queued in PPP and written as the line takes it).
    pub fn send(&mut self, unit: &[u8]) -> std::io::Result<()> {
        self.line
            .send(&mut self.serial, unit)
            .map_err(std::io::Error::other)
    }

    /// Waits up to `wait` for one unit; copies it into `buf` and returns its length.
    pub fn recv(
        &mut self,
        buf: &mut [u8],
        wait: Duration,
    ) -> Result<Option<usize>, SerialLinkError> {
        let deadline = Instant::now() + wait;
        loop {
            if self.pump(deadline)? {
                let u = self.line.unit();
                let n = u.len().min(buf.len());
                buf[..n].copy_from_slice(&u[..n]);
                return Ok(Some(n));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }
}

impl Drop for SerialLink {
    fn drop(&mut self) {
        // What is still queued (a last unit) goes out if the line takes it now.
        self.line.flush(&mut self.serial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_choice_parses() {
        assert_eq!("units".parse(), Ok(LinkChoice::Units));
        assert!(matches!("radio".parse(), Ok(LinkChoice::Ccsds(_))));
        assert_eq!(
            "serial:/dev/pts/3".parse(),
            Ok(LinkChoice::Serial {
                path: "/dev/pts/3".into(),
                baud: 115_200
            })
        );
        assert_eq!(
            "serial:/dev/ttyS0,9600".parse(),
            Ok(LinkChoice::Serial {
                path: "/dev/ttyS0".into(),
                baud: 9600
            })
        );
        for bad in ["serial:", "serial:/dev/x,0", "serial:/dev/x,fast", "tcp:1"] {
            assert!(bad.parse::<LinkChoice>().is_err(), "{bad}");
        }
    }
}
