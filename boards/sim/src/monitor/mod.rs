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

pub mod devices;
pub mod events;
pub mod exit;
pub mod logs;
pub mod resets;
pub mod restart;
pub mod spawn;

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

/// Default address the sim radio sends to (the ground side of the link).
pub const DEFAULT_GROUND: &str = "127.0.0.1:47100";

/// What to boot and where.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// The system description.
    pub description: Source,
    /// The board file.
    pub board: Source,
    /// The board's persistent state (flash images, boot control).
    pub state_dir: PathBuf,
    /// The program started as `EXE pd NAME` for each component (normally `spacenode` itself).
    pub executable: PathBuf,
    /// Where the ground listens: the radio channel delivers downlink there and takes uplink
    /// only from there.
    pub ground: SocketAddr,
    /// Where the ground sends uplink: the ground side of the radio channel.
    pub radio_uplink: SocketAddr,
    /// The radio channel's loss, latency and bandwidth (default: a perfect link).
    pub radio_link: crate::link::LinkConfig,
    /// Set when a boot stage ran before this monitor (the `spacenode run` secure boot): it holds
    /// the state directory's lock and already selected and verified the slot; the text is its
    /// account of that, for the power-on line. `None`: the monitor locks the state and runs
    /// `select_boot` itself (tests that boot the monitor directly).
    pub booted_by_stage: Option<String>,
    /// Set by a boot stage that counts this boot as a fault reset although the last power cycle
    /// ended cleanly (past its cap on requested reboots, `hal::boot::MAX_CLEAN_REBOOTS`): why.
    pub counts_as_reset: Option<String>,
    /// The board's hardware watchdog outside the image (a pipe the boot stage reads): the monitor
    /// writes a byte to it while its own loop runs and the image's hardware watchdog timer has
    /// not expired, so an image that hangs as a whole stops kicking it and the board resets.
    pub board_kick: Option<std::sync::Arc<OwnedFd>>,
    launchers: Vec<(String, PathBuf)>,
}

impl MonitorConfig {
    /// A configuration with the default ground address and no launcher overrides.
    pub fn new(
        description: Source,
        board: Source,
        state_dir: PathBuf,
        executable: PathBuf,
    ) -> Self {
        MonitorConfig {
            description,
            board,
            state_dir,
            executable,
            ground: SocketAddr::from(([127, 0, 0, 1], 47100)),
            // Any free port, so that boards in parallel tests never collide; `spacenode run`
            // fixes it (47101) for the ground tool. The port in use is in the radio's boot
            // log line and in `STATE/radio-uplink.addr`.
            radio_uplink: SocketAddr::from(([127, 0, 0, 1], 0)),
            radio_link: crate::link::LinkConfig {
                mtu: crate::radio::RADIO_MTU,
                ..crate::link::LinkConfig::default()
            },
            booted_by_stage: None,
            counts_as_reset: None,
            board_kick: None,
            launchers: Vec::new(),
        }
    }

    /// **Tests only**: start component `name` from `exe` (as `EXE pd NAME`) instead of
    /// [`MonitorConfig::executable`]. The executable must implement the `pd` protocol (call
    /// [`crate::partition::Partition::enter`]); it gets exactly the same grants and sandbox.
    pub fn launch_with(mut self, name: &str, exe: PathBuf) -> Self {
        self.launchers.push((name.to_string(), exe));
        self
    }

    fn executable_for(&self, name: &str) -> &PathBuf {
        self.launchers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
            .unwrap_or(&self.executable)
    }
}

/// Why the monitor could not power on or keep running.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The description or board file was rejected (the text is the full diagnostics).
    #[error("{0}")]
    Description(String),
    /// The state directory could not be created or opened.
    #[error("state directory {path}: {err}")]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        err: std::io::Error,
    },
    /// Another monitor runs on the same state directory.
    #[error(
        "state directory {0} is in use by another running node (its `lock` file is locked); stop it or use another --state directory"
    )]
    Locked(PathBuf),
    /// Boot control could not be opened.
    #[error("{0}")]
    BootControl(String),
    /// A device stand-in failed.
    #[error("{0}")]
    Device(#[from] DeviceError),
    /// A channel region failed.
    #[error("{0}")]
    Region(#[from] RegionSetupError),
    /// One of the monitor's own endpoints could not be made.
    #[error("channel `{channel}`: {err}")]
    Endpoint {
        /// Channel name.
        channel: String,
        /// Why.
        err: EndpointError,
    },
    /// A component process could not be started.
    #[error("cannot start component `{component}` from {exe}: {err}")]
    Spawn {
        /// Component name.
        component: String,
        /// The executable.
        exe: PathBuf,
        /// Why.
        err: std::io::Error,
    },
    /// A system call of the monitor failed.
    #[error("{what}: {err}")]
    Os {
        /// What was being done.
        what: &'static str,
        /// Why.
        err: std::io::Error,
    },
}

fn os(what: &'static str) -> impl FnOnce(rustix::io::Errno) -> MonitorError {
    move |e| MonitorError::Os {
        what,
        err: e.into(),
    }
}

/// How a power cycle ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PowerOff {
    /// The stop descriptor fired.
    Stopped,
    /// The board must reset.
    Reset(ResetCause),
}

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
            Grant::Device { device, part } => {
                if part != crate::grants::DevicePart::BootControl {
                    out.push(format!("device {}", system.board.devices[device].name));
                } else {
                    out.push("boot control".into());
                }
            }
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
    /// Powers the board on: everything in the module docs up to and including starting every
    /// component. `cycle` and `after` are for the boot log.
    pub fn power_on(
        config: &MonitorConfig,
        cycle: u32,
        after: Option<ResetCause>,
        events: &mut dyn FnMut(MonitorEvent),
    ) -> Result<Monitor, MonitorError> {
        let system = kernel_config::load(&config.description, &config.board)
            .map_err(|d| MonitorError::Description(d.to_string()))?;
        let lock = match config.booted_by_stage {
            Some(_) => None,
            None => Some(lock_state(&config.state_dir)?),
        };
        let boot_path = config.state_dir.join("boot.flash");
        // A boot control image cut short is read as far as it goes (the rest erased): the
        // bootloader then recovers the factory state if the record is gone, instead of
        // refusing to boot the board.
        devices::grow_image(&boot_path, crate::boot::BOOT_FLASH_SIZE)
            .map_err(|e| MonitorError::BootControl(format!("{}: {e}", boot_path.display())))?;
        let (boot, trial_was_running, counted_boots) = if let Some(line) = &config.booted_by_stage {
            // The boot stage selected this boot already (and counted it): a trial boot or a
            // rollback means a trial was pending or running before this power-on (the upgrade's
            // business), and more than this one boot means the node has run before.
            let st = crate::boot::open_for_bootloader(&boot_path)
                .ok()
                .map(|bc| bc.state());
            let trial = st.is_some_and(|s| {
                matches!(
                    s.reason,
                    hal::boot::BootReason::Trial | hal::boot::BootReason::RolledBack
                )
            });
            (line.clone(), trial, st.is_some_and(|s| s.boot_count > 1))
        } else {
            let mut bc = crate::boot::open_for_bootloader(&boot_path)
                .map_err(|e| MonitorError::BootControl(format!("{}: {e}", boot_path.display())))?;
            // Read before this boot is selected: a reset during a trial is the upgrade's business,
            // and a boot count above 0 means the node has run before.
            let trial_was_running = bc.state().trial_running();
            let counted_boots = bc.state().boot_count > 0;
            let boot = match bc.select_boot() {
                Ok(slot) => format!("booting slot {slot} ({})", bc.state().reason),
                Err(e) => format!(
                    "select_boot failed ({e}); booting the confirmed slot {}",
                    bc.state().confirmed
                ),
            };
            (boot, trial_was_running, counted_boots)
        };
        events(MonitorEvent::PowerOn { cycle, after, boot });
        let clock = SimClock::power_on();
        let radio = devices::RadioPath {
            ground: config.ground,
            uplink: config.radio_uplink,
            link: config.radio_link,
        };
        let devices = Devices::power_on(&system, &config.state_dir, &radio)?;
        for (d, res) in devices.per_device.iter().enumerate() {
            let dev = &system.board.devices[d];
            if let Some(owner) = dev.owner.and_then(|o| system.components.get(o))
                && !owner.root
            {
                events(MonitorEvent::Device {
                    device: dev.name.clone(),
                    owner: owner.name.clone(),
                    note: res.note.clone(),
                });
            }
        }
        let boot_mode = resets::count_boot(
            &system,
            &config.state_dir,
            trial_was_running,
            counted_boots,
            config.counts_as_reset.as_deref(),
        );
        let active: Vec<bool> = system
            .components
            .iter()
            .map(|c| boot_mode.mode == protocol::NodeMode::Normal || c.safe_mode || c.root)
            .collect();
        events(MonitorEvent::Mode {
            mode: boot_mode.mode,
            resets: boot_mode.resets,
            max_resets: boot_mode.max_resets,
            note: boot_mode.note.clone(),
            not_started: system
                .components
                .iter()
                .zip(&active)
                .filter(|(_, a)| !**a)
                .map(|(c, _)| c.name.clone())
                .collect(),
        });
        let root = system.root().id;
        let mut channels = Vec::new();
        let mut own = Own::default();
        for ch in &system.channels {
            let spec = spec_of(ch)?;
            let len = mapped_len(&spec);
            let memfd = create_memfd(&ch.name, len)?;
            let map = Mapping::map(&memfd, len, &ch.name)?;
            // SAFETY: `map` is a fresh shared mapping of `len` bytes that stays mapped until the
            // Monitor drops `channels`, after `own` (field order), so the 'static endpoints below
            // never outlive it. No endpoint exists yet anywhere (no child started). At most one
            // capability per end is minted: here for the monitor's own ends, in the one child
            // holding the other end.
            let region = unsafe { Region::init(map.ptr(), map.len(), spec) }.map_err(|err| {
                RegionSetupError::Ring {
                    channel: ch.name.clone(),
                    err,
                }
            })?;
            let notify = rustix::event::eventfd(
                0,
                rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
            )
            .map_err(os("eventfd"))?;
            let endpoint = |err| MonitorError::Endpoint {
                channel: ch.name.clone(),
                err,
            };
            if ch.sender == root {
                let n = EventFd::from_fd(dup(&notify)?);
                let cap = region.into_send_cap();
                match ch.message.name {
                    Pong::NAME => own.pong = Some(ipc::Sender::new(cap, n).map_err(endpoint)?),
                    FaultNotice::NAME => {
                        own.faults = Some(ipc::Sender::new(cap, n).map_err(endpoint)?)
                    }
                    RestartResult::NAME => {
                        own.results = Some(ipc::Sender::new(cap, n).map_err(endpoint)?)
                    }
                    _ => {}
                }
            } else if ch.receiver == root {
                let trust = if receiver_copies_in(&system, ch.id) {
                    SenderTrust::Untrusted
                } else {
                    SenderTrust::Trusted
                };
                let cap = region.into_recv_cap(trust);
                let wake = dup(&notify)?;
                fn make<M: ipc::Wire>(
                    cap: ipc::RecvCap<'static>,
                    slot_size: u32,
                ) -> Result<Receiver<'static, M>, EndpointError> {
                    match cap.trust() {
                        SenderTrust::Trusted => Receiver::zero_copy(cap),
                        // A few hundred bytes per power cycle, for the life of the process.
                        SenderTrust::Untrusted => Receiver::copy_in(
                            cap,
                            Box::leak(vec![0u64; ipc::scratch_words(slot_size)].into_boxed_slice()),
                        ),
                    }
                }
                match ch.message.name {
                    Ping::NAME => {
                        own.ping = Some(OwnRx {
                            rx: make(cap, ch.slot_size).map_err(endpoint)?,
                            wake,
                            channel: ch.id,
                            rejected: 0,
                        })
                    }
                    RestartRequest::NAME => {
                        own.restarts = Some(OwnRx {
                            rx: make(cap, ch.slot_size).map_err(endpoint)?,
                            wake,
                            channel: ch.id,
                            rejected: 0,
                        })
                    }
                    RebootRequest::NAME => own.reboots.push(OwnRx {
                        rx: make(cap, ch.slot_size).map_err(endpoint)?,
                        wake,
                        channel: ch.id,
                        rejected: 0,
                    }),
                    _ => {}
                }
            }
            channels.push(ChannelRes { memfd, notify, map });
        }
        let n = system.components.len();
        let mut m = Monitor {
            own,
            config: config.clone(),
            clock,
            children: (0..n).map(|_| None).collect(),
            history: vec![restart::History::default(); n],
            faults: vec![0; n],
            active,
            mode: boot_mode.mode,
            booted_before: boot_mode.booted_before,
            devices,
            channels,
            _lock: lock,
            system,
            last_kick: None,
        };
        m.kick_board();
        for c in 0..n {
            if !m.system.components[c].root && m.active[c] {
                m.start(c, events)?;
                m.kick_board();
            }
        }
        Ok(m)
    }

    /// Kicks the board's hardware watchdog ([`MonitorConfig::board_kick`]), at most every 100 ms.
    /// A full pipe (the boot stage behind) is no error: it has seen life recently enough.
    fn kick_board(&mut self) {
        let Some(fd) = &self.config.board_kick else {
            return;
        };
        let now = std::time::Instant::now();
        if self
            .last_kick
            .is_some_and(|t| now.duration_since(t) < std::time::Duration::from_millis(100))
        {
            return;
        }
        let _ = rustix::io::write(fd.as_fd(), &[1]);
        self.last_kick = Some(now);
    }

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

    fn start(
        &mut self,
        c: ComponentId,
        events: &mut dyn FnMut(MonitorEvent),
    ) -> Result<(), MonitorError> {
        let comp = &self.system.components[c];
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| MonitorError::Os {
            what: "getrandom (seed for a component start)",
            err: std::io::Error::other(e.to_string()),
        })?;
        let block = BootBlock {
            component: comp.name.clone(),
            monitor_pid: std::process::id(),
            epoch_ns: self.clock.epoch_ns(),
            seed,
            node_mode: self.mode,
            booted_before: self.booted_before,
            description: self.config.description.clone(),
            board: self.config.board.clone(),
        };
        let boot_fd = block.to_sealed_memfd().map_err(|e| MonitorError::Os {
            what: "boot block",
            err: std::io::Error::other(e.to_string()),
        })?;
        let table = GrantTable::for_component(&self.system, c);
        let mut grants: Vec<BorrowedFd<'_>> = Vec::new();
        for (_, g) in table.iter() {
            let fd = match g {
                Grant::Region { channel, .. } => self.channels[channel].memfd.as_fd(),
                Grant::Notify { channel, .. } => self.channels[channel].notify.as_fd(),
                Grant::Device { device, part } => self
                    .devices
                    .fd(device, part)
                    .ok_or_else(|| MonitorError::Os {
                        what: "device descriptor missing",
                        err: std::io::Error::other(self.system.board.devices[device].name.clone()),
                    })?
                    .as_fd(),
            };
            grants.push(fd);
        }
        let exe = self.config.executable_for(&comp.name).clone();
        let args: [OsString; 2] = ["pd".into(), comp.name.clone().into()];
        let spawned = spawn::spawn(&exe, &args, boot_fd.as_fd(), &grants).map_err(|err| {
            MonitorError::Spawn {
                component: comp.name.clone(),
                exe: exe.clone(),
                err,
            }
        })?;
        events(MonitorEvent::Started {
            component: comp.name.clone(),
            pid: spawned.pid,
            grants: describe_grants(&self.system, c),
            restart: self.history[c].total,
        });
        self.children[c] = Some(Child {
            pid: spawned.pid,
            pidfd: spawned.pidfd,
            log: LogPipe::new(spawned.log),
        });
        Ok(())
    }

    fn forward_logs(&mut self, c: ComponentId, events: &mut dyn FnMut(MonitorEvent)) {
        let name = &self.system.components[c].name;
        if let Some(child) = &mut self.children[c] {
            for line in child.log.drain().lines {
                events(MonitorEvent::Log {
                    component: name.clone(),
                    line,
                });
            }
        }
    }

    /// Reaps component `c` if it has ended; returns its cause.
    fn reap(&mut self, c: ComponentId, block: bool) -> Option<protocol::FaultCause> {
        let child = self.children[c].as_ref()?;
        let mut opts = rustix::process::WaitIdOptions::EXITED;
        if !block {
            opts |= rustix::process::WaitIdOptions::NOHANG;
        }
        let status = loop {
            match rustix::process::waitid(rustix::process::WaitId::PidFd(child.pidfd.as_fd()), opts)
            {
                Err(rustix::io::Errno::INTR) => continue,
                other => break other,
            }
        };
        match status {
            Ok(Some(st)) => {
                let cause = exit::cause_of(&st)?;
                Some(cause)
            }
            Ok(None) => None,
            // ECHILD: already reaped elsewhere; treat as gone with an unknown signal.
            Err(_) => Some(protocol::FaultCause::Signal { signal: 0 }),
        }
    }

    /// Kills component `c` (if running) and reaps it, forwarding its last log lines.
    fn stop_child(&mut self, c: ComponentId, events: &mut dyn FnMut(MonitorEvent)) {
        if let Some(child) = &self.children[c] {
            let _ = spawn::kill(&child.pidfd);
            let _ = self.reap(c, true);
            self.forward_logs(c, events);
            self.children[c] = None;
        }
    }

    fn now_us(&self) -> u64 {
        self.clock.now().as_micros()
    }

    fn handle_exit(
        &mut self,
        c: ComponentId,
        cause: protocol::FaultCause,
        events: &mut dyn FnMut(MonitorEvent),
    ) {
        self.forward_logs(c, events);
        let pid = self.children[c].as_ref().map(|ch| ch.pid).unwrap_or(0);
        self.children[c] = None;
        self.faults[c] = self.faults[c].saturating_add(1);
        let notice = FaultNotice {
            at_ms: self.now_us() / 1000,
            occurrence: self.faults[c],
            component: protocol::ComponentId(c as u8),
            cause,
        };
        let notified = match &mut self.own.faults {
            Some(tx) => {
                let ok = tx.try_send(&notice).is_ok();
                if ok {
                    self.own.progress.messages_out = self.own.progress.messages_out.wrapping_add(1);
                }
                ok
            }
            None => false,
        };
        events(MonitorEvent::Fault {
            component: self.system.components[c].name.clone(),
            pid,
            cause,
            notified,
        });
    }

    /// Empties the rings component `c` receives on, unless they keep their contents on restart.
    /// Only the receiver writes the consumer index, and the receiver is not running now.
    fn refresh_rings(&mut self, c: ComponentId) {
        for ch in self
            .system
            .channels
            .iter()
            .filter(|ch| ch.receiver == c && !ch.keep_on_restart)
        {
            let map = &self.channels[ch.id].map;
            // SAFETY: both offsets are inside the region's header (checked at init: the mapping
            // holds at least OFF_SLOTS bytes), 4-aligned (the mapping is page-aligned), and the
            // indices are only ever accessed atomically.
            let (producer, consumer) = unsafe {
                (
                    AtomicU32::from_ptr(map.ptr().add(ipc::OFF_PRODUCER).cast()),
                    AtomicU32::from_ptr(map.ptr().add(ipc::OFF_CONSUMER).cast()),
                )
            };
            let p = producer.load(Ordering::Acquire);
            // A producer index out of range is left alone: the new receiver refuses it.
            if u64::from(p) < 2 * u64::from(ch.slots) {
                consumer.store(p, Ordering::Release);
            }
        }
    }

    fn restart(
        &mut self,
        c: ComponentId,
        events: &mut dyn FnMut(MonitorEvent),
    ) -> Result<u16, MonitorError> {
        self.stop_child(c, events);
        self.refresh_rings(c);
        let now = self.now_us();
        self.history[c].record(now);
        self.start(c, events)?;
        Ok(self.history[c].total)
    }

    fn answer_pings(&mut self) {
        let (Some(ping), Some(pong)) = (&mut self.own.ping, &mut self.own.pong) else {
            return;
        };
        self.own.progress.loop_iterations = self.own.progress.loop_iterations.wrapping_add(1);
        loop {
            match ping
                .rx
                .try_recv(|p| (p.nonce.to_native(), p.sequence.to_native()))
            {
                Ok((nonce, sequence)) => {
                    self.own.progress.messages_in = self.own.progress.messages_in.wrapping_add(1);
                    let answer = Pong {
                        nonce,
                        sequence,
                        component: protocol::ComponentId(self.system.root().id as u8),
                        degraded: false,
                        progress: self.own.progress,
                    };
                    if pong.try_send(&answer).is_ok() {
                        self.own.progress.messages_out =
                            self.own.progress.messages_out.wrapping_add(1);
                    }
                }
                Err(RecvError::Empty) => return,
                Err(RecvError::Malformed) => {
                    self.own.progress.malformed = self.own.progress.malformed.wrapping_add(1);
                }
                Err(RecvError::PeerCorrupt(_)) => {
                    self.own.progress.malformed = self.own.progress.malformed.wrapping_add(1);
                    return;
                }
            }
        }
    }

    fn handle_restart_requests(
        &mut self,
        events: &mut dyn FnMut(MonitorEvent),
    ) -> Result<(), MonitorError> {
        loop {
            let Some(req) = &mut self.own.restarts else {
                return Ok(());
            };
            let channel = req.channel;
            let got = req
                .rx
                .try_recv(|r| (r.request_id.to_native(), r.component.0));
            let (request_id, target) = match got {
                Ok(v) => v,
                Err(RecvError::Empty) => return Ok(()),
                Err(e) => {
                    req.rejected += 1;
                    let count = req.rejected;
                    events(MonitorEvent::Rejected {
                        channel: self.system.channels[channel].name.clone(),
                        what: format!("{e}"),
                        count,
                    });
                    if matches!(e, RecvError::PeerCorrupt(_)) {
                        return Ok(());
                    }
                    continue;
                }
            };
            let requester = self.system.channels[channel].sender;
            let now = self.now_us();
            let checked = restart::check(&self.system, requester, target, &self.history, now)
                .and_then(|c| {
                    // Safe mode: what was not started in this power cycle is not started now.
                    if self.active.get(c).copied().unwrap_or(false) {
                        Ok(c)
                    } else {
                        Err(protocol::RestartRefusal::NotAllowed)
                    }
                });
            let outcome = match checked {
                Err(reason) => {
                    if let Some(req) = &mut self.own.restarts {
                        req.rejected += 1;
                    }
                    events(MonitorEvent::RestartRefused {
                        target,
                        reason,
                        request_id,
                    });
                    RestartOutcome::Refused { reason }
                }
                Ok(c) => {
                    let with = match &self.system.components[c].restart {
                        Some(kernel_config::model::RestartPolicy::Restart { with, .. }) => {
                            with.clone()
                        }
                        _ => Vec::new(),
                    };
                    match self.restart(c, events) {
                        Ok(restarts) => {
                            events(MonitorEvent::Restarted {
                                component: self.system.components[c].name.clone(),
                                restarts,
                                request_id,
                            });
                            for w in with {
                                if w != c && !self.system.components[w].root && self.active[w] {
                                    self.restart(w, events)?;
                                }
                            }
                            RestartOutcome::Restarted { restarts }
                        }
                        Err(MonitorError::Spawn {
                            component,
                            exe,
                            err,
                        }) => {
                            events(MonitorEvent::Log {
                                component: "monitor".into(),
                                line: format!(
                                    "restart of {component} from {} failed: {err}",
                                    exe.display()
                                ),
                            });
                            RestartOutcome::Failed
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            if let Some(tx) = &mut self.own.results {
                let _ = tx.try_send(&RestartResult {
                    request_id,
                    component: protocol::ComponentId(target),
                    outcome,
                });
            }
        }
    }

    fn handle_reboot_requests(
        &mut self,
        events: &mut dyn FnMut(MonitorEvent),
    ) -> Option<ResetCause> {
        for req in &mut self.own.reboots {
            loop {
                let sender = self.system.channels[req.channel].sender;
                let got = req.rx.try_recv(|r| {
                    use protocol::RebootReason as R;
                    use protocol::lifecycle::ArchivedRebootReason as A;
                    let reason = match r.reason {
                        A::TrialBoot => R::TrialBoot,
                        A::Rollback => R::Rollback,
                        A::WatchdogEscalation => R::WatchdogEscalation,
                        A::Commanded => R::Commanded,
                    };
                    (r.request_id.to_native(), r.requester.0, reason)
                });
                match got {
                    Ok((request_id, requester, reason)) if usize::from(requester) == sender => {
                        return Some(ResetCause::RebootRequest {
                            requester: self.system.components[sender].name.clone(),
                            reason,
                            request_id,
                        });
                    }
                    Ok((_, requester, _)) => {
                        req.rejected += 1;
                        events(MonitorEvent::Rejected {
                            channel: self.system.channels[req.channel].name.clone(),
                            what: format!("requester id {requester} is not the channel's sender"),
                            count: req.rejected,
                        });
                    }
                    Err(RecvError::Empty) => break,
                    Err(e) => {
                        req.rejected += 1;
                        events(MonitorEvent::Rejected {
                            channel: self.system.channels[req.channel].name.clone(),
                            what: format!("{e}"),
                            count: req.rejected,
                        });
                        if matches!(e, RecvError::PeerCorrupt(_)) {
                            break;
                        }
                    }
                }
            }
        }
        None
    }

    /// With every component stopped: the power cycle ends on purpose, so the next boot is not
    /// counted as a reset ([`resets::mark_clean_power_off`]).
    fn mark_clean_power_off(&self, events: &mut dyn FnMut(MonitorEvent)) {
        events(MonitorEvent::Log {
            component: "monitor".into(),
            line: resets::mark_clean_power_off(&self.system, &self.config.state_dir),
        });
    }

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
