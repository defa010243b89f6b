//! The TOML shapes of the description and board files, exactly as written, with the byte span of
//! every value a diagnostic may point at. Unknown keys are refused (`deny_unknown_fields`).
//! Numbers are read as `i64` so that range errors are ours, with a span and a fix, not serde's.
//! Nothing here checks meaning; `validate` does.

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSystem {
    pub system: RawHeader,
    #[serde(default)]
    pub component: Vec<RawComponent>,
    #[serde(default)]
    pub channel: Vec<RawChannel>,
    #[serde(default)]
    pub policy: RawPolicy,
    /// The standby serial link's PPP settings (optional; defaults in `validate::standby`).
    pub standby_link: Option<S<RawStandbyLink>>,
    /// What the radio speaks (absent: comms' units).
    #[serde(default)]
    pub link: Option<RawLink>,
}

/// `[standby-link]`: the standby serial line's PPP session as the node runs it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawStandbyLink {
    pub node_address: Option<S<String>>,
    pub ground_address: Option<S<String>>,
    pub echo_interval_ms: Option<S<i64>>,
    pub echo_failure: Option<S<i64>>,
    pub restart_ms: Option<S<i64>>,
    pub max_configure: Option<S<i64>>,
    pub max_terminate: Option<S<i64>>,
    pub max_failure: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "kebab-case")]
pub struct RawHeader {
    pub name: S<String>,
    #[serde(default)]
    pub summary: String,
    /// Board resets (watchdog escalations) allowed before the node boots in safe mode.
    pub max_resets: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawComponent {
    pub name: S<String>,
    #[serde(default)]
    pub summary: String,
    pub root: Option<S<bool>>,
    pub priority: S<i64>,
    pub budget_us: S<i64>,
    pub period_us: S<i64>,
    pub stack_size: S<i64>,
    pub memory_size: S<i64>,
    pub integrity: S<Integrity>,
    #[serde(default)]
    pub critical: bool,
    #[serde(default)]
    pub devices: Vec<S<String>>,
    pub restart: Option<S<RawRestart>>,
    pub health: Option<S<RawHealth>>,
    /// How an upgrade agent judges a trial boot of a new image.
    pub trial: Option<S<RawTrial>>,
    /// Runs in safe mode (after the reset cap is reached).
    #[serde(default)]
    pub safe_mode: bool,
    pub program: Option<S<String>>,
}

/// How the watchdog judges a component: ping period and missed-ping thresholds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawHealth {
    pub ping_period_ms: S<i64>,
    pub warn_after: S<i64>,
    pub fatal_after: S<i64>,
}

/// How an upgrade agent judges a trial boot: soak time, attempts, deadline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawTrial {
    pub soak_ms: S<i64>,
    pub attempts: S<i64>,
    pub deadline_ms: S<i64>,
}

/// Integrity level: a `high` component trusts nothing a `low` one sends without copying it first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Integrity {
    High,
    Low,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestartKind {
    Restart,
    Hold,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawRestart {
    pub policy: S<RestartKind>,
    pub max_restarts: Option<S<i64>>,
    pub window_s: Option<S<i64>>,
    pub backoff_ms: Option<S<i64>>,
    pub backoff_max_ms: Option<S<i64>>,
    pub min_run_ms: Option<S<i64>>,
    #[serde(default)]
    pub with: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawChannel {
    pub name: S<String>,
    #[serde(default)]
    pub summary: String,
    pub from: S<String>,
    pub to: S<String>,
    pub message: S<String>,
    pub slots: S<i64>,
    pub slot_size: S<i64>,
    #[serde(default)]
    pub copy_in: bool,
    #[serde(default)]
    pub keep_on_restart: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawPolicy {
    #[serde(default)]
    pub integrity: bool,
    #[serde(default)]
    pub device_owner: Vec<S<RawDeviceOwner>>,
    #[serde(default)]
    pub no_path: Vec<S<RawNoPath>>,
    #[serde(default)]
    pub only_sender: Vec<S<RawOnlySender>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawDeviceOwner {
    pub device: S<String>,
    pub owner: S<String>,
    #[serde(default)]
    pub why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawNoPath {
    pub from: S<String>,
    pub to: S<String>,
    #[serde(default)]
    pub except_through: Vec<S<String>>,
    #[serde(default)]
    pub why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawOnlySender {
    pub message: S<String>,
    pub sender: S<String>,
    #[serde(default)]
    pub why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBoard {
    pub board: RawBoardHeader,
    #[serde(default)]
    pub memory: Vec<RawMemory>,
    #[serde(default)]
    pub device: Vec<RawDevice>,
    pub storage: crate::board_limits::RawStorage,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawBoardHeader {
    pub name: S<String>,
    #[serde(default)]
    pub summary: String,
    pub page_size: S<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMemory {
    pub name: S<String>,
    pub base: S<i64>,
    pub size: S<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// A serial port (on flight hardware the radio modem and the RS-422 standby link are UARTs).
    Uart,
    /// A datagram radio (the sim board's UDP radio).
    Radio,
    /// A hardware watchdog timer.
    Watchdog,
    /// A hardware random number generator.
    Rng,
    /// A quad-SPI flash controller.
    Qspi,
    /// A SPI controller (with a NOR flash on it where the description says so).
    Spi,
    /// NOR flash with no controller of its own (the sim board's file-backed flash).
    Flash,
    /// An SD/eMMC host controller.
    Sdhci,
    /// An I2C controller (with a FRAM or EEPROM on it where the description says so).
    I2c,
    /// A timer block.
    Timer,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Uart => "uart",
            DeviceKind::Radio => "radio",
            DeviceKind::Watchdog => "watchdog",
            DeviceKind::Rng => "rng",
            DeviceKind::Qspi => "qspi",
            DeviceKind::Spi => "spi",
            DeviceKind::Flash => "flash",
            DeviceKind::Sdhci => "sdhci",
            DeviceKind::I2c => "i2c",
            DeviceKind::Timer => "timer",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Level,
    Edge,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    pub name: S<String>,
    pub kind: S<DeviceKind>,
    pub base: S<i64>,
    pub size: S<i64>,
    pub irq: Option<S<i64>>,
    pub trigger: Option<Trigger>,
    /// Where the address and IRQ come from (reference manual section, device tree node).
    pub source: String,
    #[serde(default)]
    pub summary: String,
}

/// What the radio (the primary ground link) speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawRadio {
    /// comms' own secured units.
    Units,
    /// The CCSDS space link.
    Ccsds,
}

/// An SDLS suite named in `[link]`: read only to be refused in words (each association's
/// suite is in the provisioning file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RawSuite {
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
    #[serde(rename = "hmac-sha-256")]
    HmacSha256,
}

/// The `[link]` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawLink {
    pub radio: S<RawRadio>,
    pub spacecraft_id: Option<S<i64>>,
    pub tc_virtual_channel: Option<S<i64>>,
    pub tm_virtual_channel: Option<S<i64>>,
    pub suite: Option<S<RawSuite>>,
    pub tm_frame_length: Option<S<i64>>,
}
