//! The sim board's devices at power-on: the stand-in for each device a component owns, as the
//! descriptors the grant table hands it (see [`crate::grants`]).
//!
//! | device kind | stand-in | monitor keeps |
//! | --- | --- | --- |
//! | flash, qspi, spi, sdhci | `STATE/NAME.flash`, a sim NOR image of [`flash_capacity`] bytes ([`FLASH_IMAGE_SIZE`], [`COMMS_FLASH_IMAGE_SIZE`] for `comms-flash`, [`crate::boot::SIM_SLOT_LAYOUT`] for `slot-flash`; created erased on first use, an older smaller image grown, never truncated) | nothing |
//! | boot control (with `slot-flash`) | `STATE/boot.flash` (see [`crate::boot`]); the monitor runs `select_boot` on it first | nothing |
//! | uart | a raw pty pair: the component gets the master; with a [`LineConfig`] (`spacenode run --serial-baud`), a [`SerialLine`] between the component's pty and the ground's (baud rate, seeded bit errors and byte drops) | the slave open (its path is printed for ground tools), or the line and its relay threads |
//! | radio | a UDP socket bound to `127.0.0.1:0` and connected to the node side of a [`LinkEmulator`] (seeded loss, latency, bandwidth; a perfect link by default) whose ground side is bound at [`RadioPath::uplink`] (written to `STATE/radio-uplink.addr`) and relays to [`RadioPath::ground`] | the link emulator (its relay threads stand for the space between node and ground) |
//! | watchdog | the component end of the timer's socket pair ([`crate::watchdog`]) | the timer hardware, serviced in its loop |
//! | rng | none (the `getrandom` system call, allowed only to the owner) | nothing |
//! | timer | none (the vDSO clock) | nothing |
//!
//! Devices owned by the root task or by no one get no stand-in.
//!
//! Avoids: any device state in the monitor beyond the watchdog timer, the pty slave and the
//! serial line's relays.

use crate::grants::{DevicePart, device_parts};
use crate::link::{LinkConfig, LinkEmulator};
use crate::serial::PtySerial;
use crate::serial_line::{LineConfig, SerialLine};
use crate::watchdog::{self, WatchdogHw};
use kernel_config::System;
use std::fs::File;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::OwnedFd;
use std::path::Path;

/// The file in the state directory that holds the address the ground sends uplink to (one
/// line, `IP:PORT`), rewritten at every power-on.
pub const RADIO_UPLINK_FILE: &str = "radio-uplink.addr";

/// Size of each sim flash image created by the monitor (every flash but `comms-flash`).
pub const FLASH_IMAGE_SIZE: usize = 1 << 20;

/// Size of the `comms-flash` image: the description's `size = 0x1000` for that device is the
/// flash controller's MMIO window, not the part's capacity. Comms keeps its SDLS state (64 KiB),
/// the CFDP journal (16 KiB) and a whole batch file (up to 1 MiB, the signer's reassembly
/// limit) on it, which a 1 MiB part cannot hold: the sim board fits a 2 MiB part there.
pub const COMMS_FLASH_IMAGE_SIZE: usize = 2 << 20;

/// The capacity of the sim flash part behind device `name`.
pub fn flash_capacity(name: &str) -> usize {
    match name {
        "comms-flash" => COMMS_FLASH_IMAGE_SIZE,
        crate::grants::BOOT_CONTROL_DEVICE => crate::boot::SIM_SLOT_LAYOUT.flash_len() as usize,
        _ => FLASH_IMAGE_SIZE,
    }
}

/// Grow an existing image at `path` that is smaller than `capacity` (made by an earlier build
/// with a smaller part) to `capacity`, the new bytes erased (0xFF): what it holds stays where it
/// was. A missing image is left to be created; a larger one is never truncated. The same
/// restores the size of an image cut short by damage (the sim's stand-in for a part whose tail
/// reads erased): what survived is then judged by the store that reads it.
pub fn grow_image(path: &Path, capacity: usize) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let want = capacity as u64;
    if len >= want {
        return Ok(());
    }
    file.seek(SeekFrom::Start(len))?;
    let erased = vec![0xFFu8; 64 * 1024];
    let mut left = want - len;
    while left > 0 {
        let n = left.min(erased.len() as u64) as usize;
        file.write_all(&erased[..n])?;
        left -= n as u64;
    }
    file.sync_all()
}

/// Why a device could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("device `{device}`: {what}")]
pub struct DeviceError {
    /// Device name.
    pub device: String,
    /// What failed.
    pub what: String,
}

/// The radio channel between the node and the ground.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RadioPath {
    /// Where the ground listens (the emulator sends downlink there and accepts uplink only
    /// from there).
    pub ground: SocketAddr,
    /// Where the ground sends uplink (the emulator's ground side).
    pub uplink: SocketAddr,
    /// Loss, latency and bandwidth.
    pub link: LinkConfig,
}

/// The descriptors of one device.
#[derive(Debug, Default)]
pub struct DeviceRes {
    /// Descriptors by part, in grant-table order.
    pub fds: Vec<(DevicePart, OwnedFd)>,
    /// One line for the boot log.
    pub note: String,
}

/// Every device's stand-in for one power cycle.
#[derive(Debug, Default)]
pub struct Devices {
    /// Indexed like `Board::devices`.
    pub per_device: Vec<DeviceRes>,
    /// The hardware watchdog timer, if the board has one with an owner.
    pub hw_watchdog: Option<WatchdogHw>,
    serial_slaves: Vec<PtySerial>,
    serial_lines: Vec<SerialLine>,
    /// The radio channel, while powered.
    pub radio_link: Option<LinkEmulator>,
}

fn err(device: &str, what: impl std::fmt::Display) -> DeviceError {
    DeviceError {
        device: device.to_string(),
        what: what.to_string(),
    }
}

fn open_rw(path: &Path) -> std::io::Result<File> {
    File::options().read(true).write(true).open(path)
}

impl Devices {
    /// Sets up every owned device of `system` under `state` (the boot control image must already
    /// exist: the monitor runs `select_boot` before this). `radio` is the radio's channel;
    /// `serial` the standby line's model (`None`: a plain pty pair, as fast as the ptys go).
    pub fn power_on(
        system: &System,
        state: &Path,
        radio: &RadioPath,
        serial: Option<LineConfig>,
    ) -> Result<Devices, DeviceError> {
        let mut out = Devices::default();
        for dev in &system.board.devices {
            let mut res = DeviceRes::default();
            let owned_by_component = dev
                .owner
                .and_then(|o| system.components.get(o))
                .is_some_and(|c| !c.root);
            if owned_by_component {
                let mut notes = Vec::new();
                for part in device_parts(dev.kind, &dev.name) {
                    let fd: OwnedFd = match part {
                        DevicePart::FlashImage => {
                            let path = state.join(format!("{}.flash", dev.name));
                            let capacity = flash_capacity(&dev.name);
                            grow_image(&path, capacity)
                                .map_err(|e| err(&dev.name, format!("{}: {e}", path.display())))?;
                            crate::flash::SimFlash::<4, 4096>::open_or_create(&path, capacity)
                                .map_err(|e| err(&dev.name, format!("{}: {e}", path.display())))?;
                            notes.push(format!("flash image {}", path.display()));
                            open_rw(&path)
                                .map_err(|e| err(&dev.name, format!("{}: {e}", path.display())))?
                                .into()
                        }
                        DevicePart::BootControl => {
                            let path = state.join("boot.flash");
                            notes.push(format!("boot control {}", path.display()));
                            open_rw(&path)
                                .map_err(|e| err(&dev.name, format!("{}: {e}", path.display())))?
                                .into()
                        }
                        DevicePart::LinkRecoveryKey => {
                            let path = state.join(crate::link_otp::LINK_OTP_FILE);
                            let path = if path.exists() {
                                notes.push(format!("link recovery key {}", path.display()));
                                path
                            } else {
                                notes.push("no link recovery key burnt".into());
                                std::path::PathBuf::from("/dev/null")
                            };
                            File::open(&path)
                                .map_err(|e| err(&dev.name, format!("{}: {e}", path.display())))?
                                .into()
                        }
                        DevicePart::Serial => {
                            let pty = |e: std::io::Error| err(&dev.name, format!("pty: {e}"));
                            let (master, path) = match serial {
                                None => {
                                    let (master, slave, path) = PtySerial::pair().map_err(pty)?;
                                    out.serial_slaves.push(slave);
                                    (master, path)
                                }
                                Some(cfg) => {
                                    let (master, path, line) =
                                        SerialLine::pair(cfg).map_err(pty)?;
                                    out.serial_lines.push(line);
                                    (master, path)
                                }
                            };
                            notes.push(format!(
                                "serial line, ground side at {}{}",
                                path.display(),
                                serial.map_or(String::new(), |c| format!(" ({c})"))
                            ));
                            master.into_fd()
                        }
                        DevicePart::Radio => {
                            let udp = |e: std::io::Error| err(&dev.name, format!("udp: {e}"));
                            let sock = UdpSocket::bind("127.0.0.1:0").map_err(udp)?;
                            let local = sock.local_addr().map_err(udp)?;
                            let link = LinkEmulator::start_at(
                                local,
                                radio.ground,
                                radio.uplink,
                                radio.link,
                            )
                            .map_err(|e| {
                                err(&dev.name, format!("link emulator at {}: {e}", radio.uplink))
                            })?;
                            sock.connect(link.node_side()).map_err(udp)?;
                            let addr_file = state.join(RADIO_UPLINK_FILE);
                            std::fs::write(&addr_file, format!("{}\n", link.ground_side()))
                                .map_err(|e| {
                                    err(&dev.name, format!("{}: {e}", addr_file.display()))
                                })?;
                            let l = &radio.link;
                            notes.push(format!(
                                "udp radio {local} <-> link (loss {:.3}%, latency {} ms, {}, seed {}) <-> ground: send to {}, listen on {}",
                                f64::from(l.loss_ppm) / 10_000.0,
                                l.latency.as_millis(),
                                l.bandwidth_bps
                                    .map_or("unlimited rate".to_string(), |b| format!("{} kbit/s", b / 1000)),
                                l.seed,
                                link.ground_side(),
                                radio.ground
                            ));
                            out.radio_link = Some(link);
                            sock.into()
                        }
                        DevicePart::WatchdogTimer => {
                            let (hw, dev_end) = watchdog::pair()
                                .map_err(|e| err(&dev.name, format!("socket pair: {e}")))?;
                            out.hw_watchdog = Some(hw);
                            notes.push("hardware watchdog timer (not armed until started)".into());
                            dev_end.into_fd()
                        }
                    };
                    res.fds.push((part, fd));
                }
                if notes.is_empty() {
                    notes.push(match dev.kind {
                        kernel_config::model::DeviceKind::Rng => "getrandom(2) allowed".into(),
                        _ => "no descriptor".into(),
                    });
                }
                res.note = notes.join(", ");
            }
            out.per_device.push(res);
        }
        Ok(out)
    }

    /// The descriptor of a device part.
    pub fn fd(&self, device: usize, part: DevicePart) -> Option<&OwnedFd> {
        self.per_device
            .get(device)?
            .fds
            .iter()
            .find(|(p, _)| *p == part)
            .map(|(_, fd)| fd)
    }
}

#[cfg(test)]
mod capacity_tests {
    use super::*;

    #[test]
    fn a_smaller_image_grows_erased_and_keeps_its_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("comms-flash.flash");
        let mut old = vec![0xFFu8; FLASH_IMAGE_SIZE];
        old[..4].copy_from_slice(b"SDLS");
        std::fs::write(&path, &old).expect("write");
        grow_image(&path, flash_capacity("comms-flash")).expect("grow");
        let now = std::fs::read(&path).expect("read");
        assert_eq!(now.len(), COMMS_FLASH_IMAGE_SIZE);
        assert_eq!(&now[..4], b"SDLS");
        assert!(now[FLASH_IMAGE_SIZE..].iter().all(|&b| b == 0xFF));
        // Never truncated, and a missing image is left alone.
        grow_image(&path, FLASH_IMAGE_SIZE).expect("no-op");
        assert_eq!(
            std::fs::metadata(&path).expect("meta").len() as usize,
            COMMS_FLASH_IMAGE_SIZE
        );
        grow_image(&dir.path().join("none"), 4096).expect("missing");
        assert!(!dir.path().join("none").exists());
        assert_eq!(flash_capacity("key-flash"), FLASH_IMAGE_SIZE);
    }
}
