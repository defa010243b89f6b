//! The monitor's children: starting a component with exactly its grants, forwarding its log,
//! reaping it, reporting its exit as a fault notice, and restarting it.
//!
//! Avoids: deciding when to restart (the watchdog's request does).

use super::*;

impl Monitor {
    pub(super) fn start(
        &mut self,
        c: ComponentId,
        events: &mut dyn FnMut(MonitorEvent),
    ) -> Result<(), MonitorError> {
        let comp = &self.system.components[c];
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| MonitorError::Os {
            what: "getrandom (seed for a component start)",
            err: std::io::Error::other(e.to_string()),
        })?;
        let block = BootBlock {
            component: comp.name.clone(),
            monitor_pid: std::process::id(),
            epoch_ns: self.clock.epoch_ns(),
            seed,
            node_mode: self.mode,
            booted_before: self.booted_before,
            description: self.config.description.clone(),
            board: self.config.board.clone(),
        };
        let boot_fd = block.to_sealed_memfd().map_err(|e| MonitorError::Os {
            what: "boot block",
            err: std::io::Error::other(e.to_string()),
        })?;
        let table = GrantTable::for_component(&self.system, c);
        let mut grants: Vec<BorrowedFd<'_>> = Vec::new();
        for (_, g) in table.iter() {
            let fd = match g {
                Grant::Region { channel, .. } => self.channels[channel].memfd.as_fd(),
                Grant::Notify { channel, .. } => self.channels[channel].notify.as_fd(),
                Grant::Device { device, part } => self
                    .devices
                    .fd(device, part)
                    .ok_or_else(|| MonitorError::Os {
                        what: "device descriptor missing",
                        err: std::io::Error::other(self.system.board.devices[device].name.clone()),
                    })?
                    .as_fd(),
            };
            grants.push(fd);
        }
        let exe = self.config.executable_for(&comp.name).clone();
        let args: [OsString; 2] = ["pd".into(), comp.name.clone().into()];
        let spawned = spawn::spawn(&exe, &args, boot_fd.as_fd(), &grants).map_err(|err| {
            MonitorError::Spawn {
                component: comp.name.clone(),
                exe: exe.clone(),
                err,
            }
        })?;
        events(MonitorEvent::Started {
            component: comp.name.clone(),
            pid: spawned.pid,
            grants: describe_grants(&self.system, c),
            restart: self.history[c].total,
        });
        self.children[c] = Some(Child {
            pid: spawned.pid,
            pidfd: spawned.pidfd,
            log: LogPipe::new(spawned.log),
        });
        Ok(())
    }

    pub(super) fn forward_logs(&mut self, c: ComponentId, events: &mut dyn FnMut(MonitorEvent)) {
        let name = &self.system.components[c].name;
        if let Some(child) = &mut self.children[c] {
            for line in child.log.drain().lines {
                events(MonitorEvent::Log {
                    component: name.clone(),
                    line,
                });
            }
        }
    }

    /// Reaps component `c` if it has ended; returns its cause.
    pub(super) fn reap(&mut self, c: ComponentId, block: bool) -> Option<protocol::FaultCause> {
        let child = self.children[c].as_ref()?;
        let mut opts = rustix::process::WaitIdOptions::EXITED;
        if !block {
            opts |= rustix::process::WaitIdOptions::NOHANG;
        }
        let status = loop {
            match rustix::process::waitid(rustix::process::WaitId::PidFd(child.pidfd.as_fd()), opts)
            {
                Err(rustix::io::Errno::INTR) => continue,
                other => break other,
            }
        };
        match status {
            Ok(Some(st)) => {
                let cause = exit::cause_of(&st)?;
                Some(cause)
            }
            Ok(None) => None,
            // ECHILD: already reaped elsewhere; treat as gone with an unknown signal.
            Err(_) => Some(protocol::FaultCause::Signal { signal: 0 }),
        }
    }

    /// Kills component `c` (if running) and reaps it, forwarding its last log lines.
    pub(super) fn stop_child(&mut self, c: ComponentId, events: &mut dyn FnMut(MonitorEvent)) {
        if let Some(child) = &self.children[c] {
            let _ = spawn::kill(&child.pidfd);
            let _ = self.reap(c, true);
            self.forward_logs(c, events);
            self.children[c] = None;
        }
    }

    pub(super) fn now_us(&self) -> u64 {
        self.clock.now().as_micros()
    }

    pub(super) fn handle_exit(
        &mut self,
        c: ComponentId,
        cause: protocol::FaultCause,
        events: &mut dyn FnMut(MonitorEvent),
    ) {
        self.forward_logs(c, events);
        let pid = self.children[c].as_ref().map(|ch| ch.pid).unwrap_or(0);
        self.children[c] = None;
        self.faults[c] = self.faults[c].saturating_add(1);
        let notice = FaultNotice {
            at_ms: self.now_us() / 1000,
            occurrence: self.faults[c],
            component: protocol::ComponentId(c as u8),
            cause,
        };
        let notified = match &mut self.own.faults {
            Some(tx) => {
                let ok = tx.try_send(&notice).is_ok();
                if ok {
                    self.own.progress.messages_out = self.own.progress.messages_out.wrapping_add(1);
                }
                ok
            }
            None => false,
        };
        events(MonitorEvent::Fault {
            component: self.system.components[c].name.clone(),
            pid,
            cause,
            notified,
        });
    }

    /// Empties the rings component `c` receives on, unless they keep their contents on restart.
    /// Only the receiver writes the consumer index, and the receiver is not running now.
    pub(super) fn refresh_rings(&mut self, c: ComponentId) {
        for ch in self
            .system
            .channels
            .iter()
            .filter(|ch| ch.receiver == c && !ch.keep_on_restart)
        {
            let map = &self.channels[ch.id].map;
            // SAFETY: both offsets are inside the region's header (checked at init: the mapping
            // holds at least OFF_SLOTS bytes), 4-aligned (the mapping is page-aligned), and the
            // indices are only ever accessed atomically.
            let (producer, consumer) = unsafe {
                (
                    AtomicU32::from_ptr(map.ptr().add(ipc::OFF_PRODUCER).cast()),
                    AtomicU32::from_ptr(map.ptr().add(ipc::OFF_CONSUMER).cast()),
                )
            };
            let p = producer.load(Ordering::Acquire);
            // A producer index out of range is left alone: the new receiver refuses it.
            if u64::from(p) < 2 * u64::from(ch.slots) {
                consumer.store(p, Ordering::Release);
            }
        }
    }

    pub(super) fn restart(
        &mut self,
        c: ComponentId,
        events: &mut dyn FnMut(MonitorEvent),
    ) -> Result<u16, MonitorError> {
        self.stop_child(c, events);
        self.refresh_rings(c);
        let now = self.now_us();
        self.history[c].record(now);
        self.start(c, events)?;
        Ok(self.history[c].total)
    }
}
