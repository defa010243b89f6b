//! The validated system: every name resolved to an index, every number in range. Code that boots,
//! exports or analyses a system works on this, never on the raw TOML. Values here are only built by
//! `validate`, so holding a `System` means every rule of the description format holds.

pub use crate::raw::{DeviceKind, Integrity, Trigger};
use protocol::catalogue::MessageKind;

/// A component's index in `System::components`; on the wire it is the component id (a `u8`).
pub type ComponentId = usize;

#[derive(Debug, Clone)]
pub struct System {
    pub name: String,
    pub summary: String,
    /// Board resets allowed (counted on flash across resets) before the node boots in safe mode.
    pub max_resets: u32,
    /// The description file's name as given by the user.
    pub description_file: String,
    pub board: Board,
    pub components: Vec<Component>,
    pub channels: Vec<Channel>,
    pub policy: Policy,
    /// The standby serial link's PPP settings (`[standby-link]`, else the defaults).
    pub standby: StandbyLink,
    /// What the radio speaks (the `[link]` section; comms' units when absent).
    pub radio_link: runtime::RadioLink,
}

/// `[standby-link]`: the addresses IPCP assigns, LCP echo liveness, and RFC 1661's Restart timer
/// and counters ([`StandbyLink::DEFAULT`] where the table says nothing).
pub use runtime::StandbyLink;

#[derive(Debug, Clone)]
pub struct Component {
    pub id: ComponentId,
    pub name: String,
    pub summary: String,
    /// The root task: holds the authority to start, stop and restart the others. Exactly one.
    pub root: bool,
    pub priority: u8,
    pub budget_us: u64,
    pub period_us: u64,
    pub stack_size: u64,
    pub memory_size: u64,
    pub integrity: Integrity,
    /// Its failure resets the board.
    pub critical: bool,
    /// Indices into `Board::devices`.
    pub devices: Vec<usize>,
    /// `None` only for the root task, which nothing can restart.
    pub restart: Option<RestartPolicy>,
    /// How the watchdog pings it; `None` for components nobody pings (the watchdog itself, which
    /// the hardware watchdog covers).
    pub health: Option<Health>,
    /// How it judges a trial boot of a new image, if it is an upgrade agent (`trial = {...}`).
    pub trial: Option<Trial>,
    /// Runs in safe mode, which the node enters when the reset cap is reached.
    pub safe_mode: bool,
    /// Program image name (Microkit `program_image`).
    pub program: String,
}

/// Ping period and thresholds: `warn_after` missed pings make it late, `fatal_after` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    pub ping_period_ms: u32,
    pub warn_after: u32,
    pub fatal_after: u32,
}

/// An upgrade agent's trial boot rules: the new image is confirmed once the watchdog has reported
/// every component healthy for `soak_ms`; it is cancelled if that has not happened by
/// `deadline_ms` of uptime; boot control boots it at most `attempts` times before rolling back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trial {
    pub soak_ms: u32,
    pub attempts: u8,
    pub deadline_ms: u32,
}

impl Trial {
    /// The rules when a description gives none: 3 s soak, 2 attempts, 60 s deadline.
    pub const DEFAULT: Trial = Trial {
        soak_ms: 3_000,
        attempts: 2,
        deadline_ms: 60_000,
    };
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Restart on failure, at most `max_restarts` within `window_s`, waiting `backoff_ms` doubled
    /// on every consecutive restart up to `backoff_max_ms`; components in `with` restart too.
    Restart {
        max_restarts: u32,
        window_s: u32,
        backoff_ms: u32,
        backoff_max_ms: u32,
        /// A component that fails sooner than this after a (re)start counts as crash-looping:
        /// its back-off keeps doubling instead of starting over (Hubris's supervisor rule).
        min_run_ms: u32,
        with: Vec<ComponentId>,
    },
    /// Never restart: hold the component down and report it.
    Hold,
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: usize,
    pub name: String,
    pub summary: String,
    pub sender: ComponentId,
    pub receiver: ComponentId,
    pub message: &'static MessageKind,
    pub slots: u32,
    pub slot_size: u32,
    /// The receiver copies each slot into private memory before validating it.
    pub copy_in: bool,
    /// The ring keeps its contents when either end restarts (default: a fresh ring).
    pub keep_on_restart: bool,
    /// The ring geometry as the `ipc` crate checks it at run time.
    pub spec: ipc::ChannelSpec,
}

impl Channel {
    /// Bytes of shared memory the ring needs, by the `ipc` crate's layout (header, then slots of
    /// a length header plus the message, each on its own cache lines).
    pub fn ring_bytes(&self) -> u64 {
        self.spec.region_size() as u64
    }
}

#[derive(Debug, Clone)]
pub struct Board {
    pub name: String,
    pub summary: String,
    pub file: String,
    pub page_size: u64,
    pub memory: Vec<MemoryRange>,
    pub devices: Vec<Device>,
    /// Where batches and bundles live, checked to hold the largest of each.
    pub storage: crate::board_limits::Storage,
}

#[derive(Debug, Clone)]
pub struct MemoryRange {
    pub name: String,
    pub base: u64,
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct Device {
    pub name: String,
    pub kind: DeviceKind,
    pub base: u64,
    pub size: u64,
    pub irq: Option<u32>,
    pub trigger: Trigger,
    pub source: String,
    pub summary: String,
    /// The component that owns it, if any.
    pub owner: Option<ComponentId>,
}

#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub integrity: bool,
    pub device_owner: Vec<DeviceOwnerRule>,
    pub no_path: Vec<NoPathRule>,
    pub only_sender: Vec<OnlySenderRule>,
}

#[derive(Debug, Clone)]
pub struct DeviceOwnerRule {
    pub device: usize,
    pub owner: ComponentId,
    pub why: String,
}

/// A node of the information-flow graph: a component or a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    Component(ComponentId),
    Device(usize),
}

#[derive(Debug, Clone)]
pub struct NoPathRule {
    pub from: Node,
    pub to: Node,
    pub except_through: Vec<Node>,
    pub why: String,
}

#[derive(Debug, Clone)]
pub struct OnlySenderRule {
    pub message: &'static MessageKind,
    pub sender: ComponentId,
    pub why: String,
}

impl System {
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    pub fn root(&self) -> &Component {
        // `validate` guarantees exactly one root.
        self.components
            .iter()
            .find(|c| c.root)
            .unwrap_or(&self.components[0])
    }

    /// Channels a component sends on.
    pub fn sends(&self, c: ComponentId) -> impl Iterator<Item = &Channel> {
        self.channels.iter().filter(move |ch| ch.sender == c)
    }

    /// Channels a component receives on.
    pub fn receives(&self, c: ComponentId) -> impl Iterator<Item = &Channel> {
        self.channels.iter().filter(move |ch| ch.receiver == c)
    }

    pub fn node_name(&self, n: Node) -> &str {
        match n {
            Node::Component(c) => &self.components[c].name,
            Node::Device(d) => &self.board.devices[d].name,
        }
    }
}
