//! The watchdog's configuration: per component, how it is pinged and what happens when it fails;
//! for the node, the reset cap and the watchdog's own timing constants.
//!
//! Values normally come from the system description (see [`crate::description`]), whose loader
//! already rejects nonsense; [`Config::new`] checks the same rules again (plus the ones the
//! watchdog relies on), because a flight build may embed a hand-made table. Everything here is
//! `Copy` and fixed-size: no allocation.
//!
//! Avoids: names (components are [`ComponentId`]s, their position in the description) and any
//! notion of channels (the component wrapper maps ids to channel endpoints).

use protocol::{ComponentId, MAX_COMPONENTS};

/// How a component is pinged: every `ping_period_ms`; `warn_after` consecutive missed pings make
/// it late, `fatal_after` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthConfig {
    /// Time between two pings, and the deadline for answering one, in milliseconds.
    pub ping_period_ms: u32,
    /// Consecutive missed pings that make the component late (a warning).
    pub warn_after: u32,
    /// Consecutive missed pings that make the component failed.
    pub fatal_after: u32,
}

/// A set of components, as a bit mask over ids `0..32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ComponentSet(u32);

impl ComponentSet {
    /// No component.
    pub const EMPTY: ComponentSet = ComponentSet(0);

    /// The set with `ids` in it; `None` if an id is 32 or more.
    pub fn of(ids: &[ComponentId]) -> Option<Self> {
        let mut set = ComponentSet::EMPTY;
        for id in ids {
            set = set.with(*id)?;
        }
        Some(set)
    }

    /// This set plus `id`; `None` if `id` is 32 or more.
    pub fn with(self, id: ComponentId) -> Option<Self> {
        let bit = 1u32.checked_shl(u32::from(id.0))?;
        Some(ComponentSet(self.0 | bit))
    }

    /// Whether `id` is in the set.
    pub fn contains(self, id: ComponentId) -> bool {
        1u32.checked_shl(u32::from(id.0))
            .is_some_and(|bit| self.0 & bit != 0)
    }

    /// The members, in increasing id order.
    pub fn iter(self) -> impl Iterator<Item = ComponentId> {
        (0..MAX_COMPONENTS as u8)
            .map(ComponentId)
            .filter(move |id| self.contains(*id))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// What to do when a restartable component fails (see [`crate::policy`] for the exact rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Restarts allowed for this component's own failures in any `window_s`-second interval.
    pub max_restarts: u32,
    /// Length of the restart budget window, in seconds.
    pub window_s: u32,
    /// First back-off: time from failure to restart request, in milliseconds.
    pub backoff_ms: u32,
    /// Largest back-off, in milliseconds.
    pub backoff_max_ms: u32,
    /// A component failing sooner than this after its start is crash-looping: its back-off keeps
    /// doubling instead of starting over.
    pub min_run_ms: u32,
    /// Components restarted together with this one.
    pub with: ComponentSet,
}

/// A component's restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Nothing can restart it (the root task). A failure is final: held, or a board reset if the
    /// component is critical.
    Never,
    /// Never restarted: held down and reported (a board reset if critical).
    Hold,
    /// Restarted through the monitor per the policy.
    Policy(RestartPolicy),
}

/// One component as the watchdog sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentConfig {
    /// Its failure beyond what its restart policy can mend resets the board.
    pub critical: bool,
    /// It runs in safe mode.
    pub safe_mode: bool,
    /// How it is pinged; `None` if it is not pinged (faults reported by the monitor still count).
    pub health: Option<HealthConfig>,
    /// What happens when it fails.
    pub restart: Restart,
}

/// The watchdog's own timing constants (not part of the system description).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// How long the monitor has to answer a restart request before the restart counts as
    /// failed, in milliseconds.
    pub restart_timeout_ms: u32,
    /// Shortest time between two health reports sent because something changed, in ms.
    pub report_min_interval_ms: u32,
    /// A report is sent at least this often even if nothing changed, in ms (so the ground and
    /// the upgrade agent see fresh ages and the healthy-since-boot time).
    pub report_period_ms: u32,
    /// Continuous health (every component answering, none late or failed) for this long, in
    /// normal mode, clears the reset counter (see [`crate::reset_counter`]), in ms.
    pub clear_after_ms: u32,
    /// Continuous health for this long in safe mode leaves safe mode (see
    /// [`crate::reset_counter`]), in ms: safe mode decays, so a node whose fault was transient
    /// comes back without the ground.
    pub safe_mode_decay_ms: u32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            restart_timeout_ms: 5_000,
            report_min_interval_ms: 1_000,
            report_period_ms: 1_000,
            clear_after_ms: 600_000,
            safe_mode_decay_ms: 3_600_000,
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// No components, or more than [`MAX_COMPONENTS`].
    ComponentCount {
        /// How many were given.
        count: usize,
    },
    /// The watchdog's own id is not one of the components.
    UnknownSelf(ComponentId),
    /// The watchdog cannot ping itself (the hardware watchdog covers it).
    SelfPinged,
    /// A ping period of zero.
    ZeroPingPeriod(ComponentId),
    /// Thresholds not `1 <= warn_after <= fatal_after <= 255`.
    Thresholds(ComponentId),
    /// `max_restarts` or `window_s` is zero.
    EmptyBudget(ComponentId),
    /// `backoff_max_ms < backoff_ms`.
    Backoff(ComponentId),
    /// A `with` member is not a component, is the component itself, or cannot be restarted
    /// (the watchdog itself, or a component with [`Restart::Never`]).
    BadCompanion {
        /// The component whose policy is wrong.
        component: ComponentId,
        /// The offending member.
        companion: ComponentId,
    },
    /// A tuning constant of zero.
    ZeroTuning,
    /// `max_resets` is zero.
    ZeroMaxResets,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::ComponentCount { count } => {
                write!(
                    f,
                    "{count} components; the watchdog handles 1 to {MAX_COMPONENTS}"
                )
            }
            ConfigError::UnknownSelf(id) => write!(f, "the watchdog's id {} is no component", id.0),
            ConfigError::SelfPinged => f.write_str("the watchdog cannot ping itself"),
            ConfigError::ZeroPingPeriod(id) => write!(f, "component {}: ping period 0", id.0),
            ConfigError::Thresholds(id) => write!(
                f,
                "component {}: thresholds must satisfy 1 <= warn-after <= fatal-after <= 255",
                id.0
            ),
            ConfigError::EmptyBudget(id) => {
                write!(
                    f,
                    "component {}: max-restarts and window-s must be > 0",
                    id.0
                )
            }
            ConfigError::Backoff(id) => {
                write!(f, "component {}: backoff-max-ms < backoff-ms", id.0)
            }
            ConfigError::BadCompanion {
                component,
                companion,
            } => write!(
                f,
                "component {}: cannot restart component {} with it",
                component.0, companion.0
            ),
            ConfigError::ZeroTuning => f.write_str("watchdog tuning constants must be > 0"),
            ConfigError::ZeroMaxResets => f.write_str("max-resets must be > 0"),
        }
    }
}

impl core::error::Error for ConfigError {}

/// The whole configuration, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    components: [Option<ComponentConfig>; MAX_COMPONENTS],
    len: usize,
    self_id: ComponentId,
    max_resets: u32,
    tuning: Tuning,
}

impl Config {
    /// Check and build. `components[i]` is component id `i`; `self_id` is the watchdog's own id.
    pub fn new(
        components: &[ComponentConfig],
        self_id: ComponentId,
        max_resets: u32,
        tuning: Tuning,
    ) -> Result<Self, ConfigError> {
        let len = components.len();
        if len == 0 || len > MAX_COMPONENTS {
            return Err(ConfigError::ComponentCount { count: len });
        }
        let self_cfg = components
            .get(usize::from(self_id.0))
            .ok_or(ConfigError::UnknownSelf(self_id))?;
        if self_cfg.health.is_some() {
            return Err(ConfigError::SelfPinged);
        }
        if max_resets == 0 {
            return Err(ConfigError::ZeroMaxResets);
        }
        let t = &tuning;
        if t.restart_timeout_ms == 0
            || t.report_min_interval_ms == 0
            || t.report_period_ms == 0
            || t.clear_after_ms == 0
            || t.safe_mode_decay_ms == 0
        {
            return Err(ConfigError::ZeroTuning);
        }
        let mut table = [None; MAX_COMPONENTS];
        for (i, c) in components.iter().enumerate() {
            let id = ComponentId(i as u8); // i < MAX_COMPONENTS = 32
            check_component(id, c, components, self_id)?;
            if let Some(slot) = table.get_mut(i) {
                *slot = Some(*c);
            }
        }
        Ok(Config {
            components: table,
            len,
            self_id,
            max_resets,
            tuning,
        })
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a configuration has at least one component (the watchdog).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Component `id`'s configuration.
    pub fn component(&self, id: ComponentId) -> Option<&ComponentConfig> {
        self.components.get(usize::from(id.0))?.as_ref()
    }

    /// Every component with its id, in id order.
    pub fn components(&self) -> impl Iterator<Item = (ComponentId, &ComponentConfig)> {
        self.components
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((ComponentId(i as u8), c.as_ref()?)))
    }

    /// The watchdog's own id.
    pub fn self_id(&self) -> ComponentId {
        self.self_id
    }

    /// Board resets allowed before the node boots in safe mode.
    pub fn max_resets(&self) -> u32 {
        self.max_resets
    }

    /// The timing constants.
    pub fn tuning(&self) -> &Tuning {
        &self.tuning
    }
}

fn check_component(
    id: ComponentId,
    c: &ComponentConfig,
    all: &[ComponentConfig],
    self_id: ComponentId,
) -> Result<(), ConfigError> {
    if let Some(h) = c.health {
        if h.ping_period_ms == 0 {
            return Err(ConfigError::ZeroPingPeriod(id));
        }
        if h.warn_after == 0 || h.warn_after > h.fatal_after || h.fatal_after > 255 {
            return Err(ConfigError::Thresholds(id));
        }
    }
    if let Restart::Policy(p) = c.restart {
        if p.max_restarts == 0 || p.window_s == 0 {
            return Err(ConfigError::EmptyBudget(id));
        }
        if p.backoff_max_ms < p.backoff_ms {
            return Err(ConfigError::Backoff(id));
        }
        for companion in p.with.iter() {
            let restartable = all
                .get(usize::from(companion.0))
                .is_some_and(|m| m.restart != Restart::Never);
            if companion == id || companion == self_id || !restartable {
                return Err(ConfigError::BadCompanion {
                    component: id,
                    companion,
                });
            }
        }
    }
    Ok(())
}
