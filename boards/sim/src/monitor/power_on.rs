//! Powering the board on: boot control, devices, reset counting, channels and the first start
//! of every component (the module docs of [`super`] give the order), and the board watchdog kick.
//!
//! Avoids: running the power cycle ([`super::Monitor::run`]).

use super::*;

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
        let (boot, trial_was_running, counted_boots) = select_boot(config)?;
        events(MonitorEvent::PowerOn { cycle, after, boot });
        let clock = SimClock::power_on();
        let radio = devices::RadioPath {
            ground: config.ground,
            uplink: config.radio_uplink,
            link: config.radio_link,
        };
        let devices = Devices::power_on(&system, &config.state_dir, &radio, config.serial_line)?;
        report_devices(&system, &devices, events);
        let boot_mode = resets::count_boot(
            &system,
            &config.state_dir,
            trial_was_running,
            counted_boots,
            config.counts_as_reset.as_deref(),
        );
        let active = report_mode(&system, &boot_mode, events);
        let (channels, own) = create_channels(&system)?;
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
    pub(super) fn kick_board(&mut self) {
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
}

/// The bootloader step: the boot stage's selection when it ran, else boot control's own, with
/// whether a trial was pending or running before this power-on and whether the node has run
/// before. Returns the boot log's line and those two facts.
fn select_boot(config: &MonitorConfig) -> Result<(String, bool, bool), MonitorError> {
    let boot_path = config.state_dir.join("boot.flash");
    // A boot control image cut short is read as far as it goes (the rest erased): the
    // bootloader then recovers the factory state if the record is gone, instead of
    // refusing to boot the board.
    devices::grow_image(&boot_path, crate::boot::BOOT_FLASH_SIZE)
        .map_err(|e| MonitorError::BootControl(format!("{}: {e}", boot_path.display())))?;
    Ok(if let Some(line) = &config.booted_by_stage {
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
    })
}

/// Every channel: a memfd ring initialised by `ipc` and an eventfd; the monitor's own ends
/// become its endpoints.
fn create_channels(system: &System) -> Result<(Vec<ChannelRes>, Own), MonitorError> {
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
        take_own_end(system, ch, region, &notify, &mut own)?;
        channels.push(ChannelRes { memfd, notify, map });
    }
    Ok((channels, own))
}

/// One boot log line per device a component owns.
fn report_devices(system: &System, devices: &Devices, events: &mut dyn FnMut(MonitorEvent)) {
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
}

/// Which components this boot's mode starts, and the boot log's mode line.
fn report_mode(
    system: &System,
    boot_mode: &resets::BootMode,
    events: &mut dyn FnMut(MonitorEvent),
) -> Vec<bool> {
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
    active
}

/// The monitor's own end of `ch`, if it has one, as one of its endpoints in `own`.
fn take_own_end(
    system: &System,
    ch: &kernel_config::model::Channel,
    region: Region<'static>,
    notify: &OwnedFd,
    own: &mut Own,
) -> Result<(), MonitorError> {
    let root = system.root().id;
    let endpoint = |err| MonitorError::Endpoint {
        channel: ch.name.clone(),
        err,
    };
    if ch.sender == root {
        let n = EventFd::from_fd(dup(notify)?);
        let cap = region.into_send_cap();
        match ch.message.name {
            Pong::NAME => own.pong = Some(ipc::Sender::new(cap, n).map_err(endpoint)?),
            FaultNotice::NAME => own.faults = Some(ipc::Sender::new(cap, n).map_err(endpoint)?),
            RestartResult::NAME => own.results = Some(ipc::Sender::new(cap, n).map_err(endpoint)?),
            _ => {}
        }
    } else if ch.receiver == root {
        let trust = if receiver_copies_in(system, ch.id) {
            SenderTrust::Untrusted
        } else {
            SenderTrust::Trusted
        };
        let cap = region.into_recv_cap(trust);
        let wake = dup(notify)?;
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
    Ok(())
}
