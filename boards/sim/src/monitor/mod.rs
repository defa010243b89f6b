//! The monitor: the sim board's root task, a Linux process.
//!
//! At power-on ([`Monitor::power_on`]) it loads the system description, locks and opens the
//! board's state directory, runs the bootloader step of boot control, sets up each device's
//! stand-in ([`devices`]), counts this boot on the reset counter and decides normal or safe mode
//! ([`resets`]), creates every channel (a memfd region initialised by `ipc`, see
//! [`crate::region`], and an eventfd notification), and starts each component as a child process
//! holding only its grants ([`spawn`], [`crate::grants`]); in safe mode only the components
//! marked `safe-mode`. Each start gets a fresh random seed from `getrandom` in its boot block
//! ([`crate::partition::bootblock`]). The child sandboxes itself before its component code runs
//! ([`crate::partition`]).
//!
//! Then it runs ([`Monitor::run`]), deciding nothing by itself:
//! - a child that ends without being asked to is reported at once as a `fault-notice` on the
//!   monitor's fault channel (exit code, signal, or seccomp violation, [`exit`]) and left down;
//! - a `restart-request` on its restart channel (which only that channel's sender holds) is
//!   checked ([`restart`]) and executed: the old process is killed if alive, the rings it
//!   receives on are emptied unless the channel says `keep-on-restart`, and a new process gets
//!   the same capabilities; the answer goes back as a `restart-result`. Malformed requests and
//!   refusals are counted and reported;
//! - a `reboot-request` from its sender, or expiry of the hardware watchdog timer, ends the power
//!   cycle: every component is stopped and [`run_board`] powers on again from the top; a
//!   reboot requested for any reason but a watchdog escalation is a clean power-off, marked on
//!   the reset counter once every component is stopped ([`resets`]), as is a stop;
//! - the watchdog's pings on its ping channel are answered like any component's;
//! - every line a component writes to stderr is reported with the component's name ([`logs`]);
//! - the stop descriptor (a signalfd for SIGINT/SIGTERM in `spacenode run`, an eventfd in tests)
//!   stops every component (SIGKILL through its pidfd, then reaped), marks the clean power-off
//!   and returns.
//!
//! Tests can start chosen components from another executable ([`MonitorConfig::launch_with`]);
//! the `spacenode` command never does.
//!
//! Avoids: threads (except the radio channel's relay, [`crate::link::LinkEmulator`], which
//! stands for the space between node and ground, not for the monitor), signals handlers (children are watched through pidfds), and any decision
//! about when to restart (the watchdog's).

mod children;
mod config;
pub mod devices;
pub mod events;
pub mod exit;
pub mod logs;
mod power_on;
mod requests;
pub mod resets;
pub mod restart;
pub mod spawn;

use config::os;
pub use config::{DEFAULT_GROUND, MonitorConfig, MonitorError, PowerOff};

pub use events::{MonitorEvent, ResetCause};

use crate::clock::SimClock;
use crate::grants::{End, Grant, GrantTable, receiver_copies_in};
use crate::partition::bootblock::BootBlock;
use crate::region::{Mapping, RegionSetupError, create_memfd, mapped_len, spec_of};
use devices::{DeviceError, Devices};
use hal::boot::BootControl;
use hal::time::MonotonicClock;
use ipc::{EndpointError, EventFd, Receiver, RecvError, Region, SenderTrust};
use kernel_config::model::ComponentId;
use kernel_config::{Source, System};
use logs::LogPipe;
use protocol::{
    FaultNotice, Message, Ping, Pong, Progress, RebootRequest, RestartOutcome, RestartRequest,
    RestartResult,
};
use rustix::event::{PollFd, PollFlags, Timespec};
use std::ffi::OsString;
use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

type Tx<M> = ipc::Sender<'static, M, EventFd>;

struct OwnRx<M> {
    rx: Receiver<'static, M>,
    wake: OwnedFd,
    channel: usize,
    rejected: u64,
}

/// The monitor's own endpoints. Declared before the mappings they point into, so they are
/// dropped first.
#[derive(Default)]
struct Own {
    ping: Option<OwnRx<Ping>>,
    pong: Option<Tx<Pong>>,
    faults: Option<Tx<FaultNotice>>,
    restarts: Option<OwnRx<RestartRequest>>,
    results: Option<Tx<RestartResult>>,
    reboots: Vec<OwnRx<RebootRequest>>,
    progress: Progress,
}

impl Own {
    fn wake_fds(&self) -> Vec<BorrowedFd<'_>> {
        let mut v: Vec<BorrowedFd<'_>> = Vec::new();
        if let Some(p) = &self.ping {
            v.push(p.wake.as_fd());
        }
        if let Some(r) = &self.restarts {
            v.push(r.wake.as_fd());
        }
        v.extend(self.reboots.iter().map(|r| r.wake.as_fd()));
        v
    }
}

struct ChannelRes {
    memfd: OwnedFd,
    notify: OwnedFd,
    map: Mapping,
}

struct Child {
    pid: u32,
    pidfd: OwnedFd,
    log: LogPipe,
}

/// One power cycle of the sim board.
pub struct Monitor {
    // Field order matters: `own` holds endpoints into `channels`' mappings.
    own: Own,
    system: System,
    config: MonitorConfig,
    clock: SimClock,
    children: Vec<Option<Child>>,
    history: Vec<restart::History>,
    faults: Vec<u32>,
    /// Started in this power cycle's mode (safe mode leaves the others off).
    active: Vec<bool>,
    mode: protocol::NodeMode,
    /// The reset counter shows the node commissioned, or is lost (told to every component).
    booted_before: bool,
    devices: Devices,
    channels: Vec<ChannelRes>,
    _lock: Option<File>,
    /// When the board's watchdog was last kicked ([`MonitorConfig::board_kick`]).
    last_kick: Option<std::time::Instant>,
}

/// Takes the state directory's lock (`DIR/lock`, an exclusive `flock`), creating the directory:
/// one running node per state directory. Held until the returned file is dropped.
pub fn lock_state(dir: &std::path::Path) -> Result<File, MonitorError> {
    if dir.exists() && !dir.is_dir() {
        return Err(MonitorError::StateDir {
            path: dir.to_path_buf(),
            err: std::io::Error::other(
                "exists and is not a directory; --state takes a directory (created if missing)",
            ),
        });
    }
    std::fs::create_dir_all(dir).map_err(|err| MonitorError::StateDir {
        path: dir.to_path_buf(),
        err,
    })?;
    let path = dir.join("lock");
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|err| MonitorError::StateDir {
            path: path.clone(),
            err,
        })?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(|_| MonitorError::Locked(dir.to_path_buf()))?;
    Ok(f)
}

fn dup(fd: &OwnedFd) -> Result<OwnedFd, MonitorError> {
    rustix::io::fcntl_dupfd_cloexec(fd, 0).map_err(os("dup"))
}

/// One short text per grant, for the boot log.
pub fn describe_grants(system: &System, c: ComponentId) -> Vec<String> {
    let table = GrantTable::for_component(system, c);
    let mut out = Vec::new();
    for (_, g) in table.iter() {
        match g {
            Grant::Notify { channel, end } => {
                let ch = &system.channels[channel];
                out.push(match end {
                    End::Send => format!("send {}", ch.name),
                    End::Recv if receiver_copies_in(system, channel) => {
                        format!("receive {} (copy-in)", ch.name)
                    }
                    End::Recv => format!("receive {}", ch.name),
                });
            }
            Grant::Device { device, part } => match part {
                crate::grants::DevicePart::BootControl => out.push("boot control".into()),
                crate::grants::DevicePart::LinkRecoveryKey => {
                    out.push("link recovery key".into());
                }
                _ => out.push(format!("device {}", system.board.devices[device].name)),
            },
            Grant::Region { .. } => {}
        }
    }
    for d in system.board.devices.iter().filter(|d| d.owner == Some(c)) {
        if d.kind == kernel_config::model::DeviceKind::Rng {
            out.push(format!("device {} (getrandom)", d.name));
        }
    }
    out
}

impl Monitor {
    /// The description this power cycle booted.
    pub fn system(&self) -> &System {
        &self.system
    }

    /// The pid of a running component.
    pub fn pid_of(&self, name: &str) -> Option<u32> {
        let c = self.system.component(name)?.id;
        self.children.get(c)?.as_ref().map(|ch| ch.pid)
    }

    /// The mode this power cycle booted in.
    pub fn node_mode(&self) -> protocol::NodeMode {
        self.mode
    }

    /// The board clock's epoch.
    pub fn clock(&self) -> SimClock {
        self.clock
    }
}

impl Monitor {
    /// Stops every component; returns how many were running.
    pub fn shutdown(&mut self, events: &mut dyn FnMut(MonitorEvent)) -> usize {
        let running: Vec<ComponentId> = (0..self.children.len())
            .filter(|&c| self.children[c].is_some())
            .collect();
        for &c in &running {
            if let Some(child) = &self.children[c] {
                let _ = spawn::kill(&child.pidfd);
            }
        }
        for &c in &running {
            self.stop_child(c, events);
        }
        running.len()
    }

    /// Runs the power cycle until `stop` is readable or the board must reset.
    pub fn run(
        &mut self,
        stop: BorrowedFd<'_>,
        events: &mut dyn FnMut(MonitorEvent),
    ) -> Result<PowerOff, MonitorError> {
        loop {
            let timeout = self
                .devices
                .hw_watchdog
                .as_ref()
                .and_then(|hw| hw.deadline())
                .map(|d| {
                    // One microsecond past the deadline, so the timer has expired when poll
                    // returns. Built from a Duration: tv_nsec must stay below one second.
                    let left = d
                        .saturating_duration_since(self.clock.now())
                        .saturating_add(std::time::Duration::from_micros(1));
                    Timespec {
                        tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                        tv_nsec: i64::from(left.subsec_nanos()),
                    }
                });
            let stop_ready;
            {
                let mut fds = vec![PollFd::from_borrowed_fd(stop, PollFlags::IN)];
                if let Some(hw) = &self.devices.hw_watchdog {
                    fds.push(PollFd::new(hw, PollFlags::IN));
                }
                for wake in self.own.wake_fds() {
                    fds.push(PollFd::from_borrowed_fd(wake, PollFlags::IN));
                }
                for child in self.children.iter().flatten() {
                    fds.push(PollFd::new(&child.pidfd, PollFlags::IN));
                    if !child.log.closed() {
                        fds.push(PollFd::new(&child.log, PollFlags::IN));
                    }
                }
                match rustix::event::poll(&mut fds, timeout.as_ref()) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(os("poll")(e)),
                }
                stop_ready = !fds[0].revents().is_empty();
            }
            if stop_ready {
                let n = self.shutdown(events);
                self.mark_clean_power_off(events);
                events(MonitorEvent::Stopped { components: n });
                return Ok(PowerOff::Stopped);
            }
            for wake in self.own.wake_fds() {
                // Clears the notification; the rings are drained below whatever it said.
                let _ = rustix::io::read(wake, &mut [0u8; 8]);
            }
            for c in 0..self.children.len() {
                self.forward_logs(c, events);
                if let Some(cause) = self.reap(c, false) {
                    self.handle_exit(c, cause, events);
                }
            }
            self.answer_pings();
            self.handle_restart_requests(events)?;
            let reset = match self.handle_reboot_requests(events) {
                Some(cause) => Some(cause),
                None => {
                    let now = self.clock.now();
                    match self.devices.hw_watchdog.as_mut().map(|hw| hw.service(now)) {
                        Some(crate::watchdog::WatchdogStatus::Expired { at }) => {
                            Some(ResetCause::HardwareWatchdog {
                                at_ms: at.as_micros() / 1000,
                            })
                        }
                        _ => None,
                    }
                }
            };
            if reset.is_none() {
                self.kick_board();
            }
            if let Some(cause) = reset {
                events(MonitorEvent::Reset(cause.clone()));
                self.shutdown(events);
                if cause.is_clean() {
                    self.mark_clean_power_off(events);
                }
                return Ok(PowerOff::Reset(cause));
            }
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        // Never leave component processes behind, whatever path dropped the monitor.
        self.shutdown(&mut |_| {});
    }
}

/// Runs the board until `stop` fires: power on, run, and on a reset power on again from the top
/// (re-reading nothing but what `config` holds, re-creating every channel and process).
pub fn run_board(
    config: &MonitorConfig,
    stop: BorrowedFd<'_>,
    events: &mut dyn FnMut(MonitorEvent),
) -> Result<(), MonitorError> {
    let mut after = None;
    let mut cycle = 0u32;
    loop {
        cycle = cycle.saturating_add(1);
        let mut m = Monitor::power_on(config, cycle, after.take(), events)?;
        match m.run(stop, events)? {
            PowerOff::Stopped => return Ok(()),
            PowerOff::Reset(cause) => {
                drop(m);
                after = Some(cause);
            }
        }
    }
}
