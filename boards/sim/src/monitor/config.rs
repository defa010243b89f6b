//! What the monitor is told to boot (`MonitorConfig`), and how powering on or running can fail.
//!
//! Avoids: any behaviour; these are the monitor's inputs and outcomes only.

use super::*;

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
    /// The standby serial line's baud rate and noise; `None` (the default): a plain pty pair,
    /// as fast as the ptys go and without errors.
    pub serial_line: Option<crate::serial_line::LineConfig>,
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
            serial_line: None,
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

    pub(super) fn executable_for(&self, name: &str) -> &PathBuf {
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

pub(super) fn os(what: &'static str) -> impl FnOnce(rustix::io::Errno) -> MonitorError {
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
