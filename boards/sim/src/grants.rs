//! The grant table: which file descriptor of a component process is which capability.
//!
//! Both the monitor (when it arranges a child's descriptors) and the child (when it takes them
//! up) compute the table with the same function, [`GrantTable::for_component`], from the same
//! system description. Nothing about it travels as a claim the child could alter: the monitor
//! passes the description itself (in the sealed boot block, see [`crate::partition::bootblock`])
//! and the descriptors. A component's authority is exactly the set of open descriptors it holds
//! (plus its mapped regions and the system calls its seccomp filter allows); the table only
//! *labels* them, so even a component that ignored or rewrote its table could not reach anything
//! beyond what the kernel already lets it touch.
//!
//! # The descriptor convention (sim board)
//!
//! | fd | what | kept after start-up? |
//! | --- | --- | --- |
//! | 0, 1 | not granted (closed before component code runs) | no |
//! | 2 | write end of the component's log pipe; the monitor prefixes each line with its name | yes |
//! | 3 | the boot block: a sealed, read-only memfd (description, board, name, power-on epoch) | no, closed after reading |
//! | 4 .. | the grants below, in this order | regions: no (mapped, then closed); the rest: yes |
//!
//! Grants, in order:
//! 1. for every channel the component sends or receives on, in description order: the channel's
//!    ring region (a memfd, [`Grant::Region`]) then the channel's notification (an eventfd,
//!    [`Grant::Notify`]). The sender only writes the eventfd, the receiver only waits on and reads
//!    it; the seccomp filter enforces that direction per descriptor.
//! 2. for every device the component owns, in board order, the descriptors of its sim stand-in
//!    ([`DevicePart`]): flash (and qspi, spi, sdhci, i2c: storage behind a controller) → the image file; uart → the pty master; radio → a UDP socket on
//!    loopback, already connected to the ground side; watchdog → the component end of the timer's
//!    socket pair; rng and timer → no descriptor (rng is the `getrandom` system call, which the
//!    seccomp filter allows only to the rng's owner; the clock is the vDSO). The owner of the
//!    device named [`BOOT_CONTROL_DEVICE`] also gets the boot control flash image, right after
//!    the device's own descriptor: the sim board keeps boot control beside the image slots.
//!    The owner of [`crate::link_otp::LINK_RECOVERY_DEVICE`] also gets the link recovery key's
//!    write-once stand-in, read-only, right after that flash's image (`/dev/null` when none was
//!    burnt).
//!
//! Avoids: passing descriptor numbers in messages, environment variables or anything else a
//! component could reinterpret; numbers are positional and derived from the description only.

use kernel_config::System;
use kernel_config::model::{ComponentId, DeviceKind, Integrity};
use std::os::fd::RawFd;

/// The component's log pipe (write end).
pub const LOG_FD: RawFd = 2;
/// The boot block (read once, closed before component code runs).
pub const BOOT_FD: RawFd = 3;
/// The first granted descriptor.
pub const FIRST_GRANT_FD: RawFd = 4;
/// The device whose owner also gets boot control (see the module docs).
pub const BOOT_CONTROL_DEVICE: &str = "slot-flash";

/// Which end of a channel a component holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// It sends: writes slots, signals the notification.
    Send,
    /// It receives: reads slots, waits on the notification.
    Recv,
}

/// One descriptor of a sim device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DevicePart {
    /// Flash image file (read/write with positioned I/O).
    FlashImage,
    /// The boot control flash image (granted with [`BOOT_CONTROL_DEVICE`]).
    BootControl,
    /// The link recovery key's write-once stand-in, read-only (granted with
    /// [`crate::link_otp::LINK_RECOVERY_DEVICE`]).
    LinkRecoveryKey,
    /// The pty master of a serial line.
    Serial,
    /// A connected UDP socket on loopback.
    Radio,
    /// The component end of the hardware watchdog timer's socket pair.
    WatchdogTimer,
}

/// What one granted descriptor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grant {
    /// The ring region (memfd) of channel `channel` (index into `System::channels`).
    Region {
        /// Channel index.
        channel: usize,
        /// The end this component holds.
        end: End,
    },
    /// The notification (eventfd) of channel `channel`.
    Notify {
        /// Channel index.
        channel: usize,
        /// The end this component holds.
        end: End,
    },
    /// A descriptor of device `device` (index into `Board::devices`).
    Device {
        /// Device index.
        device: usize,
        /// Which descriptor of the device.
        part: DevicePart,
    },
}

/// The descriptors of one component, in order from [`FIRST_GRANT_FD`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantTable {
    grants: Vec<(RawFd, Grant)>,
    rng: bool,
}

/// Descriptors a device of this kind is represented by on the sim board.
pub fn device_parts(kind: DeviceKind, name: &str) -> Vec<DevicePart> {
    let mut parts = match kind {
        DeviceKind::Flash
        | DeviceKind::Qspi
        | DeviceKind::Spi
        | DeviceKind::Sdhci
        | DeviceKind::I2c => {
            vec![DevicePart::FlashImage]
        }
        DeviceKind::Uart => vec![DevicePart::Serial],
        DeviceKind::Radio => vec![DevicePart::Radio],
        DeviceKind::Watchdog => vec![DevicePart::WatchdogTimer],
        DeviceKind::Rng | DeviceKind::Timer => vec![],
    };
    if name == BOOT_CONTROL_DEVICE {
        parts.push(DevicePart::BootControl);
    }
    if name == crate::link_otp::LINK_RECOVERY_DEVICE {
        parts.push(DevicePart::LinkRecoveryKey);
    }
    parts
}

impl GrantTable {
    /// The table of component `c` (its position in the description). Deterministic: the monitor
    /// and the component compute the same table from the same description.
    pub fn for_component(system: &System, c: ComponentId) -> GrantTable {
        let mut grants = Vec::new();
        let mut fd = FIRST_GRANT_FD;
        let mut push = |g: Grant, grants: &mut Vec<(RawFd, Grant)>| {
            grants.push((fd, g));
            fd += 1;
        };
        for ch in &system.channels {
            let end = if ch.sender == c {
                End::Send
            } else if ch.receiver == c {
                End::Recv
            } else {
                continue;
            };
            push(
                Grant::Region {
                    channel: ch.id,
                    end,
                },
                &mut grants,
            );
            push(
                Grant::Notify {
                    channel: ch.id,
                    end,
                },
                &mut grants,
            );
        }
        let mut rng = false;
        for (d, dev) in system.board.devices.iter().enumerate() {
            if dev.owner != Some(c) {
                continue;
            }
            if dev.kind == DeviceKind::Rng {
                rng = true;
            }
            for part in device_parts(dev.kind, &dev.name) {
                push(Grant::Device { device: d, part }, &mut grants);
            }
        }
        GrantTable { grants, rng }
    }

    /// Every grant with its descriptor number, in order.
    pub fn iter(&self) -> impl Iterator<Item = (RawFd, Grant)> + '_ {
        self.grants.iter().copied()
    }

    /// Number of granted descriptors.
    pub fn len(&self) -> usize {
        self.grants.len()
    }

    /// True if nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// The descriptor of a grant, if the table has it.
    pub fn fd_of(&self, grant: Grant) -> Option<RawFd> {
        self.grants
            .iter()
            .find(|(_, g)| *g == grant)
            .map(|(fd, _)| *fd)
    }

    /// Whether the component owns the random number generator (may call `getrandom`).
    pub fn owns_rng(&self) -> bool {
        self.rng
    }

    /// The descriptors that stay open once the component runs: the log pipe, notifications
    /// and devices (regions are mapped and closed).
    pub fn kept_fds(&self) -> Vec<RawFd> {
        let mut fds = vec![LOG_FD];
        fds.extend(
            self.grants
                .iter()
                .filter(|(_, g)| !matches!(g, Grant::Region { .. }))
                .map(|(fd, _)| *fd),
        );
        fds
    }
}

/// Whether the receiver of a channel must copy slots in before validating them: the description
/// asks for it, or the sender is of lower integrity than the receiver.
pub fn receiver_copies_in(system: &System, channel: usize) -> bool {
    let Some(ch) = system.channels.get(channel) else {
        return true;
    };
    let integrity = |c: ComponentId| system.components.get(c).map(|c| c.integrity);
    let lower_sender = matches!(
        (integrity(ch.sender), integrity(ch.receiver)),
        (Some(Integrity::Low), Some(Integrity::High)) | (None, _) | (_, None)
    );
    ch.copy_in || lower_sender
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel_config::shipped;

    fn sim() -> System {
        kernel_config::load(
            &shipped::description(),
            &shipped::board("sim").expect("sim"),
        )
        .expect("shipped description loads")
    }

    #[test]
    fn every_channel_end_is_granted_to_exactly_its_two_components() {
        let s = sim();
        for ch in &s.channels {
            for comp in &s.components {
                let t = GrantTable::for_component(&s, comp.id);
                let has = |end| {
                    t.fd_of(Grant::Region {
                        channel: ch.id,
                        end,
                    })
                    .is_some()
                        && t.fd_of(Grant::Notify {
                            channel: ch.id,
                            end,
                        })
                        .is_some()
                };
                assert_eq!(has(End::Send), ch.sender == comp.id, "{}", ch.name);
                assert_eq!(has(End::Recv), ch.receiver == comp.id, "{}", ch.name);
            }
        }
    }

    #[test]
    fn descriptors_are_dense_from_four_and_devices_follow_their_owner() {
        let s = sim();
        let signer = s.component("signer").expect("signer").id;
        let t = GrantTable::for_component(&s, signer);
        let fds: Vec<RawFd> = t.iter().map(|(fd, _)| fd).collect();
        let expected: Vec<RawFd> = (FIRST_GRANT_FD..FIRST_GRANT_FD + fds.len() as RawFd).collect();
        assert_eq!(fds, expected);
        assert!(t.owns_rng(), "the signer owns the rng");
        let key_flash = s
            .board
            .devices
            .iter()
            .position(|d| d.name == "key-flash")
            .expect("key-flash");
        assert!(
            t.fd_of(Grant::Device {
                device: key_flash,
                part: DevicePart::FlashImage
            })
            .is_some()
        );
        let comms = GrantTable::for_component(&s, s.component("comms").expect("comms").id);
        assert!(!comms.owns_rng());
        assert!(comms.iter().all(|(_, g)| g
            != Grant::Device {
                device: key_flash,
                part: DevicePart::FlashImage
            }));
        let upgrade = GrantTable::for_component(&s, s.component("upgrade").expect("upgrade").id);
        assert_eq!(
            upgrade
                .iter()
                .filter(|(_, g)| matches!(
                    g,
                    Grant::Device {
                        part: DevicePart::BootControl,
                        ..
                    }
                ))
                .count(),
            1
        );
    }

    #[test]
    fn low_integrity_senders_force_copy_in() {
        let s = sim();
        for ch in &s.channels {
            let low_to_high = s.components[ch.sender].integrity == Integrity::Low
                && s.components[ch.receiver].integrity == Integrity::High;
            assert_eq!(
                receiver_copies_in(&s, ch.id),
                ch.copy_in || low_to_high,
                "{}",
                ch.name
            );
        }
        assert!(receiver_copies_in(&s, usize::MAX));
    }
}
