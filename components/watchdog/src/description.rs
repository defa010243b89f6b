//! The watchdog's configuration from a validated system description.
//!
//! Maps each `kernel_config::model::Component` (in id order) to a [`ComponentConfig`]: `health`
//! as is, `restart` to [`Restart::Policy`] / [`Restart::Hold`], no restart policy (the root
//! task) to [`Restart::Never`]; `critical`, `safe-mode` as is; `System::max_resets`. The
//! watchdog's own id is the component named `self_name`.
//!
//! Avoids: reading files (the caller loads the description) and any rule of its own beyond
//! [`Config::new`]'s.

use kernel_config::System;
use kernel_config::model::RestartPolicy as DescribedRestart;
use protocol::ComponentId;

use crate::config::{
    ComponentConfig, ComponentSet, Config, ConfigError, HealthConfig, Restart, RestartPolicy,
    Tuning,
};

/// Why a description could not be turned into a watchdog configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescriptionError {
    /// No component has the watchdog's name.
    NoSuchComponent,
    /// The description has more components than a component id or a report can name.
    TooManyComponents(usize),
    /// The configuration breaks a rule of [`Config::new`].
    Config(ConfigError),
}

impl core::fmt::Display for DescriptionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DescriptionError::NoSuchComponent => {
                f.write_str("the description has no component with the watchdog's name")
            }
            DescriptionError::TooManyComponents(n) => write!(
                f,
                "{n} components; the watchdog handles at most {}",
                protocol::MAX_COMPONENTS
            ),
            DescriptionError::Config(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for DescriptionError {}

fn id(index: usize) -> Result<ComponentId, DescriptionError> {
    if index >= protocol::MAX_COMPONENTS {
        return Err(DescriptionError::TooManyComponents(index + 1));
    }
    Ok(ComponentId(index as u8))
}

/// The watchdog configuration of `system`, for the watchdog component named `self_name`.
pub fn config_from(
    system: &System,
    self_name: &str,
    tuning: Tuning,
) -> Result<Config, DescriptionError> {
    let n = system.components.len();
    if n > protocol::MAX_COMPONENTS {
        return Err(DescriptionError::TooManyComponents(n));
    }
    let mut table = [ComponentConfig {
        critical: false,
        safe_mode: false,
        health: None,
        restart: Restart::Never,
    }; protocol::MAX_COMPONENTS];
    let mut self_id = None;
    for (i, c) in system.components.iter().enumerate() {
        if c.name == self_name {
            self_id = Some(id(i)?);
        }
        let restart = match &c.restart {
            None => Restart::Never,
            Some(DescribedRestart::Hold) => Restart::Hold,
            Some(DescribedRestart::Restart {
                max_restarts,
                window_s,
                backoff_ms,
                backoff_max_ms,
                min_run_ms,
                with,
            }) => {
                let mut set = ComponentSet::EMPTY;
                for w in with {
                    set = set
                        .with(id(*w)?)
                        .ok_or(DescriptionError::TooManyComponents(*w + 1))?;
                }
                Restart::Policy(RestartPolicy {
                    max_restarts: *max_restarts,
                    window_s: *window_s,
                    backoff_ms: *backoff_ms,
                    backoff_max_ms: *backoff_max_ms,
                    min_run_ms: *min_run_ms,
                    with: set,
                })
            }
        };
        if let Some(slot) = table.get_mut(i) {
            *slot = ComponentConfig {
                critical: c.critical,
                safe_mode: c.safe_mode,
                health: c.health.map(|h| HealthConfig {
                    ping_period_ms: h.ping_period_ms,
                    warn_after: h.warn_after,
                    fatal_after: h.fatal_after,
                }),
                restart,
            };
        }
    }
    let self_id = self_id.ok_or(DescriptionError::NoSuchComponent)?;
    Config::new(
        table.get(..n).unwrap_or(&[]),
        self_id,
        system.max_resets,
        tuning,
    )
    .map_err(DescriptionError::Config)
}
