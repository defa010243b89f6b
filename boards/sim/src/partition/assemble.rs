//! Step 4 of [`super::Partition::enter`]: takes every granted descriptor in grant-table order,
//! checks it is what the table says, and turns it into a capability (a ring endpoint, a device)
//! plus the seccomp allow-list entries and wait-set sources it needs.
//!
//! Avoids: trusting a descriptor by its number alone (each is checked through `/proc/self/fd`),
//! and minting more than one capability from a region.

use super::seccomp::FilterSpec;
use super::waitset::Watched;
use super::{PartitionError, borrow, leak_str, link, own};
use crate::grants::{DevicePart, End, Grant, GrantTable, LOG_FD, receiver_copies_in};
use crate::region::{Mapping, mapped_len, spec_of};
use ipc::{EventFd, Notify, Region, SenderTrust};
use kernel_config::System;
use kernel_config::model::ComponentId;
use runtime::{CapSetBuilder, DeviceCap, Source};
use std::os::fd::RawFd;

/// The capabilities, allow-list and wait set built from a component's grants.
pub(super) struct Assembly {
    system: &'static System,
    me: ComponentId,
    pub(super) table: GrantTable,
    pub(super) caps: CapSetBuilder,
    pub(super) watched: Vec<(Watched, Source)>,
    pub(super) filter: FilterSpec,
    /// The largest granted flash file, for the file-size limit.
    pub(super) max_file: u64,
    next_source: u8,
    pending_region: Option<(usize, Region<'static>)>,
}

impl Assembly {
    pub(super) fn new(system: &'static System, me: ComponentId, caps: CapSetBuilder) -> Self {
        let table = GrantTable::for_component(system, me);
        let filter = FilterSpec {
            log_fd: LOG_FD,
            getrandom: table.owns_rng(),
            pid: std::process::id() as i32,
            ..FilterSpec::default()
        };
        Assembly {
            system,
            me,
            table,
            caps,
            watched: Vec::new(),
            filter,
            max_file: 0,
            next_source: 0,
            pending_region: None,
        }
    }

    /// Takes every grant in table order, then the descriptor-less devices.
    pub(super) fn take_grants(mut self) -> Result<Self, PartitionError> {
        let grants: Vec<(RawFd, Grant)> = self.table.iter().collect();
        for (fd, grant) in grants {
            match grant {
                Grant::Region { channel, end } => self.region(fd, channel, end)?,
                Grant::Notify { channel, end } => self.notify(fd, channel, end)?,
                Grant::Device { device, part } => self.device(fd, device, part)?,
            }
        }
        self.rng_devices()?;
        Ok(self)
    }

    fn source(&mut self) -> Result<Source, PartitionError> {
        let s = Source::new(self.next_source).ok_or(PartitionError::TooManySources);
        self.next_source = self.next_source.saturating_add(1);
        s
    }

    /// A ring's memfd: checked by name and size, mapped, attached; its capability is minted
    /// when the channel's notification follows.
    fn region(&mut self, fd: RawFd, channel: usize, end: End) -> Result<(), PartitionError> {
        let ch = &self.system.channels[channel];
        let spec = spec_of(ch)?;
        let len = mapped_len(&spec);
        let found = link(fd);
        let size = rustix::fs::fstat(borrow(fd)).map(|s| s.st_size as usize);
        if !found.starts_with(&format!("/memfd:spacenode-ch:{} ", ch.name)) || size != Ok(len) {
            return Err(PartitionError::BadGrant {
                fd,
                expected: format!("the {len}-byte ring of channel `{}`", ch.name),
                found,
            });
        }
        let raw = fd;
        let fd = own(fd);
        let map = match end {
            End::Send => Mapping::map(&fd, len, &ch.name)?,
            End::Recv => Mapping::map_receiver(&fd, raw, len, &ch.name)?,
        };
        drop(fd);
        let ptr = map.leak();
        // SAFETY: ptr..ptr+len is a shared mapping leaked for the life of the
        // process ('static); the region is shared only with the channel's other end
        // (the monitor maps it too but mints no capability for it unless it is an
        // end); exactly one capability is minted from it, in `notify`.
        let region = unsafe { Region::attach(ptr, len, spec) }.map_err(|err| {
            crate::region::RegionSetupError::Ring {
                channel: ch.name.clone(),
                err,
            }
        })?;
        self.pending_region = Some((channel, region));
        Ok(())
    }

    /// A channel's eventfd: it must follow the channel's ring; mints the endpoint.
    fn notify(&mut self, fd: RawFd, channel: usize, end: End) -> Result<(), PartitionError> {
        let ch = &self.system.channels[channel];
        let found = link(fd);
        if found != "anon_inode:[eventfd]" {
            return Err(PartitionError::BadGrant {
                fd,
                expected: format!("the notification of channel `{}`", ch.name),
                found,
            });
        }
        let region = match self.pending_region.take() {
            Some((c, r)) if c == channel => r,
            _ => {
                return Err(PartitionError::BadGrant {
                    fd,
                    expected: format!("preceded by the ring of `{}`", ch.name),
                    found: "no ring before it".into(),
                });
            }
        };
        let name = leak_str(&ch.name);
        match end {
            End::Send => {
                self.filter.notify_signal.push(fd);
                let notify: &'static dyn Notify = Box::leak(Box::new(EventFd::from_fd(own(fd))));
                self.caps
                    .sender(name, region.into_send_cap(), notify)
                    .map_err(PartitionError::Caps)?;
                self.caps
                    .peer(name, protocol::ComponentId(ch.receiver as u8))
                    .map_err(PartitionError::Caps)?;
            }
            End::Recv => {
                self.filter.notify_wait.push(fd);
                let src = self.source()?;
                let trust = if receiver_copies_in(self.system, channel) {
                    SenderTrust::Untrusted
                } else {
                    SenderTrust::Trusted
                };
                let scratch = match trust {
                    SenderTrust::Untrusted => Some(
                        &mut Box::leak(
                            vec![0u64; ipc::scratch_words(ch.slot_size)].into_boxed_slice(),
                        )[..],
                    ),
                    SenderTrust::Trusted => None,
                };
                self.caps
                    .receiver(name, region.into_recv_cap(trust), scratch, src)
                    .map_err(PartitionError::Caps)?;
                self.caps
                    .peer(name, protocol::ComponentId(ch.sender as u8))
                    .map_err(PartitionError::Caps)?;
                self.watched.push((Watched::Notification(own(fd)), src));
            }
        }
        Ok(())
    }

    /// A device descriptor: checked by kind, allowed in the filter, waited on where it
    /// delivers input, and minted (boot control and the link recovery key ride on their
    /// flash device's capability as its second handle).
    fn device(&mut self, fd: RawFd, device: usize, part: DevicePart) -> Result<(), PartitionError> {
        let dev = &self.system.board.devices[device];
        let found = link(fd);
        let ok = match part {
            DevicePart::FlashImage | DevicePart::BootControl | DevicePart::LinkRecoveryKey => {
                found.starts_with('/')
            }
            DevicePart::Serial => found == "/dev/ptmx",
            DevicePart::Radio | DevicePart::WatchdogTimer => found.starts_with("socket:"),
        };
        if !ok {
            return Err(PartitionError::BadGrant {
                fd,
                expected: format!("device `{}` ({part:?})", dev.name),
                found,
            });
        }
        let mut src = None;
        match part {
            DevicePart::FlashImage | DevicePart::BootControl | DevicePart::LinkRecoveryKey => {
                self.filter.flash.push(fd);
                if let Ok(st) = rustix::fs::fstat(borrow(fd)) {
                    self.max_file = self.max_file.max(st.st_size as u64);
                }
            }
            DevicePart::Serial => {
                self.filter.serial.push(fd);
                src = Some(self.source()?);
            }
            DevicePart::Radio => {
                self.filter.sockets.push(fd);
                src = Some(self.source()?);
            }
            DevicePart::WatchdogTimer => self.filter.sockets.push(fd),
        }
        if let Some(s) = src {
            self.watched.push((Watched::Device(borrow(fd)), s));
        }
        if matches!(part, DevicePart::BootControl | DevicePart::LinkRecoveryKey) {
            return Ok(());
        }
        // The second handle: boot control, or the link recovery key.
        let second = |part| {
            self.table
                .fd_of(Grant::Device { device, part })
                .unwrap_or(-1)
        };
        let boot = if dev.name == crate::grants::BOOT_CONTROL_DEVICE {
            second(DevicePart::BootControl)
        } else if dev.name == crate::link_otp::LINK_RECOVERY_DEVICE {
            second(DevicePart::LinkRecoveryKey)
        } else {
            -1
        };
        self.caps
            .device(DeviceCap {
                name: leak_str(&dev.name),
                kind: dev.kind.as_str(),
                handles: [fd, boot],
                source: src,
            })
            .map_err(PartitionError::Caps)
    }

    /// The component's RNG has no descriptor: the filter allows `getrandom` to its owner.
    fn rng_devices(&mut self) -> Result<(), PartitionError> {
        let me = self.me;
        for dev in self
            .system
            .board
            .devices
            .iter()
            .filter(|d| d.owner == Some(me))
        {
            if dev.kind == kernel_config::model::DeviceKind::Rng {
                self.caps
                    .device(DeviceCap {
                        name: leak_str(&dev.name),
                        kind: dev.kind.as_str(),
                        handles: [-1, -1],
                        source: None,
                    })
                    .map_err(PartitionError::Caps)?;
            }
        }
        Ok(())
    }
}
