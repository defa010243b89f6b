//! `spacenode run`: power the node on, on the sim board, and run it until Ctrl-C or SIGTERM.
//!
//! Opens (or creates) the board's persistent state in `--state DIR` (default: see
//! [`default_state_dir`]), boots the shipped system description with `board_sim`'s monitor,
//! prints the boot log (power-on, devices, each component with its pid and capabilities, and
//! whether it has application logic yet), the reset count and the boot mode (normal, or safe mode
//! past the reset cap), then every component's log line prefixed with its name, every fault,
//! restart and reset. The radio goes through a seeded link emulator (`--radio-loss`,
//! `--radio-latency-ms`, `--radio-kbps`, `--radio-seed`); the ground sends to `--radio-uplink`
//! (default 127.0.0.1:47101) and listens on `--ground` (default 127.0.0.1:47100). The standby
//! serial line is a plain pty pair unless `--serial-baud` puts the sim line model on it (a baud
//! rate, with seeded `--serial-ber` bit errors and `--serial-drop` byte losses, `--serial-seed`).
//!
//! The watchdog logs one compact health status line per change (state, restarts, last fault per
//! component, mode and resets; round trips and uptime alone never trigger one), so a healthy node
//! prints nothing while it runs:
//!
//! ```text
//! [watchdog] INFO  health #2 up 2.8s normal resets 0 | monitor ok 319us | watchdog ok 0us | comms ok 319us | signer ok 135us r1 missed-pings | upgrade ok 319us ; progress monitor 290 comms 30 signer 5 upgrade 15
//! ```
//!
//! A reset (reboot request, hardware watchdog) powers on
//! again from the top. SIGINT and SIGTERM stop every component and exit 0.
//!
//! `--board qemu-x86` is handed to [`crate::run_qemu`].
//!
//! Avoids: running devboard or flight here (they are cross-built images).

use crate::failure::Failure;
use board_sim::monitor::{MonitorConfig, MonitorEvent};
use board_sim::serial_line::LineConfig;
use clap::Args;
use kernel_config::shipped;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

#[derive(Args)]
pub struct RunArgs {
    /// Directory of the board's persistent state (flash images, boot control)
    /// [default: $XDG_STATE_HOME/spacenode/sim, else ~/.local/state/spacenode/sim]
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Board to run on: `sim` (the node as host processes), or `qemu-x86` (the real seL4 5.0
    /// kernel under QEMU: builds it and the monitor from this checkout, boots, runs the
    /// watchdog, signer, comms and upgrade partitions and the monitor's checks, then serves
    /// until Ctrl-C; comms' standby link is a pty on this host, printed with the `spacenode
    /// ground` options that reach it; there is no radio, and the flash is volatile RAM)
    #[arg(long, value_name = "NAME", default_value = "sim")]
    board: String,
    /// On a fresh state directory: the signed bundle (from `spacenode bundle create`) to
    /// factory-provision into slot A; its root becomes the board's root of trust (OTP). Without
    /// it a fresh board gets the running executable signed with the sim board's PUBLIC keys
    #[arg(long, value_name = "FILE")]
    factory_bundle: Option<PathBuf>,
    /// The sim board's hardware watchdog timeout in milliseconds (1000 to 600000): an image
    /// whose monitor shows no sign of life for this long (it hangs) is reset by the board
    #[arg(long, value_name = "MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1_000..=600_000))]
    board_watchdog_ms: u64,
    #[command(flatten)]
    radio: RadioArgs,
}

/// The sim radio's channel (a seeded link emulator between the node's radio and the ground).
#[derive(Args, Debug, Clone)]
pub struct RadioArgs {
    /// Fraction of radio frames lost in each direction, 0 to <1 (seeded: same seed, same losses)
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    radio_loss: f64,
    /// One-way radio latency in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 0)]
    radio_latency_ms: u64,
    /// Radio rate in kbit/s per direction (0: unlimited)
    #[arg(long, value_name = "KBPS", default_value_t = 0)]
    radio_kbps: u64,
    /// Seed of the radio's loss pattern
    #[arg(long, value_name = "N", default_value_t = 1)]
    radio_seed: u64,
    /// Where the ground sends uplink (the radio channel's ground side)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:47101")]
    radio_uplink: std::net::SocketAddr,
    /// Where the ground listens for downlink (uplink is taken only from this address)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:47100")]
    ground: std::net::SocketAddr,
    /// What the radio speaks: `description` (the shipped description's `[link]`: the CCSDS
    /// space link, spacecraft id 421), `ccsds:SCID` (CCSDS TC frames in CLTUs up under COP-1,
    /// TM frames behind the ASM down, SDLS under each association's suite from the provisioning
    /// file) or `units` (comms' own secured units, one per datagram); the ground's `--link`
    /// must match (`radio` is the shipped description's)
    #[arg(
        long,
        value_name = "description|ccsds:SCID|units",
        default_value = crate::radio_link::DESCRIPTION
    )]
    radio_link: crate::radio_link::RadioChoice,
    #[command(flatten)]
    serial: SerialArgs,
}

/// The sim standby serial line (between comms' UART and the pty the ground opens).
#[derive(Args, Debug, Clone)]
pub struct SerialArgs {
    /// Put a modelled line on the standby serial link: BAUD bits per second, 8N1 (10 bit times
    /// a byte), in each direction. Without it the link is a plain pty pair, as fast as the ptys
    /// go and without errors, and the other --serial-* options are refused
    #[arg(long, value_name = "BAUD",
          value_parser = clap::value_parser!(u32).range(50..=4_000_000))]
    serial_baud: Option<u32>,
    /// Probability that each data bit on the serial line is flipped, 0 to <1, resolution 1e-9
    /// (e.g. 1e-5); seeded: the same seed damages the same bytes
    #[arg(
        long,
        value_name = "RATE",
        default_value_t = 0.0,
        requires = "serial_baud"
    )]
    serial_ber: f64,
    /// Probability that a byte on the serial line is lost, 0 to <1, resolution 1e-6 (seeded)
    #[arg(
        long,
        value_name = "RATE",
        default_value_t = 0.0,
        requires = "serial_baud"
    )]
    serial_drop: f64,
    /// Seed of the serial line's bit errors and byte drops
    #[arg(long, value_name = "N", default_value_t = 1, requires = "serial_baud")]
    serial_seed: u64,
}

impl SerialArgs {
    fn to_args(&self) -> Vec<(&'static str, String)> {
        let Some(baud) = self.serial_baud else {
            return Vec::new();
        };
        vec![
            ("--serial-baud", baud.to_string()),
            ("--serial-ber", self.serial_ber.to_string()),
            ("--serial-drop", self.serial_drop.to_string()),
            ("--serial-seed", self.serial_seed.to_string()),
        ]
    }

    /// The line these options ask for (`None`: no --serial-baud, a plain pty pair).
    fn line(&self) -> Result<Option<LineConfig>, Failure> {
        let ber = rate("--serial-ber", self.serial_ber, 1e9, "1e-5")?;
        let drop = rate("--serial-drop", self.serial_drop, 1e6, "1e-4")?;
        // Without --serial-baud clap refuses the other --serial-* options.
        let Some(baud) = self.serial_baud else {
            return Ok(None);
        };
        Ok(Some(LineConfig {
            baud: Some(baud),
            bit_error_ppb: ber,
            drop_ppm: drop,
            seed: self.serial_seed,
        }))
    }
}

/// `value` (a probability in [0, 1)) in units of `1/per`; refuses what is out of range or
/// nonzero but below the resolution (it would silently be a clean line).
fn rate(flag: &str, value: f64, per: f64, example: &str) -> Result<u32, Failure> {
    if !(0.0..1.0).contains(&value) {
        return Err(Failure::Usage(format!(
            "{flag} {value} is not a probability in [0, 1): give e.g. {example}"
        )));
    }
    let units = (value * per).round();
    if value > 0.0 && units < 1.0 {
        return Err(Failure::Usage(format!(
            "{flag} {value} is below the model's resolution of {:e}: give 0 or at least that",
            1.0 / per
        )));
    }
    Ok(units as u32)
}

impl RadioArgs {
    /// The same settings as command-line arguments (handed to each image by the boot stage).
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        [
            ("--radio-loss", self.radio_loss.to_string()),
            ("--radio-latency-ms", self.radio_latency_ms.to_string()),
            ("--radio-kbps", self.radio_kbps.to_string()),
            ("--radio-seed", self.radio_seed.to_string()),
            ("--radio-uplink", self.radio_uplink.to_string()),
            ("--ground", self.ground.to_string()),
            ("--radio-link", self.radio_link.to_string()),
        ]
        .into_iter()
        .chain(self.serial.to_args())
        .flat_map(|(k, v)| [k.into(), v.into()])
        .collect()
    }

    /// Checks the values and applies them to `config`.
    pub fn apply(&self, config: &mut MonitorConfig) -> Result<(), Failure> {
        if !(0.0..1.0).contains(&self.radio_loss) {
            return Err(Failure::Usage(format!(
                "--radio-loss {} is not a fraction in [0, 1): give e.g. 0.1 for 10% loss",
                self.radio_loss
            )));
        }
        for (flag, a) in [
            ("--radio-uplink", self.radio_uplink),
            ("--ground", self.ground),
        ] {
            if !a.ip().is_loopback() {
                return Err(Failure::Usage(format!(
                    "{flag} {a}: the sim radio stays on this machine; give a loopback address (127.0.0.1:PORT)"
                )));
            }
        }
        config.description = self.radio_link.description();
        config.ground = self.ground;
        config.radio_uplink = self.radio_uplink;
        config.radio_link.seed = self.radio_seed;
        config.radio_link.loss_ppm = (self.radio_loss * 1_000_000.0).round() as u32;
        config.radio_link.latency = std::time::Duration::from_millis(self.radio_latency_ms);
        config.radio_link.bandwidth_bps =
            (self.radio_kbps > 0).then(|| self.radio_kbps.saturating_mul(1000));
        config.serial_line = self.serial.line()?;
        Ok(())
    }
}

/// `$XDG_STATE_HOME/spacenode/sim`, else `$HOME/.local/state/spacenode/sim`, else
/// `./spacenode-state/sim`.
pub fn default_state_dir() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        });
    match base {
        Some(b) => b.join("spacenode").join("sim"),
        None => PathBuf::from("spacenode-state").join("sim"),
    }
}

/// Blocks SIGINT and SIGTERM and returns a signalfd that becomes readable when one arrives.
/// (Component processes start with an empty signal mask: `std::process::Command` resets it.)
pub(crate) fn stop_signals() -> Result<OwnedFd, Failure> {
    // SAFETY: plain libc calls on a local sigset; the returned descriptor is checked and owned.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(Failure::Usage("cannot block SIGINT/SIGTERM".into()));
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            return Err(Failure::Usage(format!(
                "cannot create a signalfd: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

pub(crate) fn print(event: MonitorEvent) {
    let mut out = std::io::stdout().lock();
    let _ = match &event {
        MonitorEvent::Started { component, .. } if !crate::pd::has_logic(component) => writeln!(
            out,
            "{event}; no application logic yet (its partition runs the event loop, answering pings if it is pinged)"
        ),
        _ => writeln!(out, "{event}"),
    };
    let _ = out.flush();
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
    if args.board == "qemu-x86" {
        if args.state.is_some() || args.factory_bundle.is_some() {
            return Err(Failure::Usage(
                "--state and --factory-bundle apply to the sim board only: the qemu-x86 board keeps no state (its flash is RAM, lost at every boot)".into(),
            ));
        }
        return crate::run_qemu::run();
    }
    if args.board != "sim" {
        return Err(Failure::Usage(format!(
            "board `{}` cannot run on this machine: only `--board sim` and `--board qemu-x86` run here (devboard and flight need seL4 Microkit images, which this project does not build yet; `spacenode config sdf` writes their system description)",
            args.board
        )));
    }
    let state = args.state.unwrap_or_else(default_state_dir);
    // Checked here once, so that a bad value is reported before anything powers on.
    let board = shipped::board("sim")
        .ok_or_else(|| Failure::Usage("the sim board is missing from this build".into()))?;
    let mut probe = MonitorConfig::new(shipped::description(), board, state.clone(), "".into());
    args.radio.apply(&mut probe)?;
    let stop = stop_signals()?;
    println!(
        "spacenode run: sim board, state in {} (Ctrl-C stops the node)",
        state.display()
    );
    let opts = crate::boot::BootOptions {
        state,
        factory_bundle: args.factory_bundle,
        image_args: args.radio.to_args(),
        board_watchdog: std::time::Duration::from_millis(args.board_watchdog_ms),
    };
    crate::boot::run(&opts, std::os::fd::AsFd::as_fd(&stop), &mut |line| {
        // A component's line may quote outside text (a provisioning file, a description).
        let line = line.to_string();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", crate::escape::escape(&line));
        let _ = out.flush();
    })
}
