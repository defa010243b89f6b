//! The agent's state, its start (reconciling the progress record with boot control after any
//! reset), the trust and floors a bundle is checked against, and the status it reports.
//!
//! **After a reset**, boot control is the truth about slots and trials, the progress record
//! about the transfer, and the slots' headers about versions:
//!
//! | boot control | record | the agent |
//! | --- | --- | --- |
//! | running image on trial | any | soaks ([`crate::trial`]); if the record already says rolled back (a cut before the cancel), cancels again |
//! | trial pending for the target | receiving or staged | the trial was requested: record staged, reboot into it |
//! | no trial, target confirmed | staged | the confirm landed, the record did not: record confirmed |
//! | no trial, target not confirmed | staged | the trial ended without a confirm: record rolled back, reason "never confirmed" |
//! | no trial | receiving | resume: the target's header must hash as recorded and verify again, then the chunks not in place are copied or asked for |
//! | any | unreadable | start idle, report "progress lost" (the ground starts again from byte 0) |
//!
//! **Trust and floors** ([`Agent::policy`]): the root is the newest of the running header's
//! root and the root persisted from the last accepted bundle; board and hardware are the running
//! image's; the version must be **greater** than the confirmed image's, the security counter
//! **at least** the node's (a release that is not a security fix keeps the counter: a strictly
//! greater rule would burn a counter step, bounded by `upgrade::MAX_COUNTER_STEP`, on every
//! release); expiry is in the node's boot count (boot control's `boot_count`), the one monotonic
//! counter the node keeps across power cycles.
//!
//! Avoids: trusting the record for anything boot control or flash can tell, and any state
//! that needs the ground to recover.

use crate::record::{self, Phase, Progress};
use crate::refusal::plain;
use crate::slot_io;
use hal::boot::{BootControl, Slot};
use hal::flash::{ErasedValue, NorFlash};
use hal::slots::SlotLayout;
use protocol::{Refusal, SlotVersion, UpgradeError, UpgradeState, UpgradeStatus};
use sha2::{Digest, Sha256};
use store::{RecordStatus, RecordStore, StoreLayout};
use upgrade::{
    Floor, Header, MAX_CHUNK_LOG2, MAX_HEADER_LEN, Manifest, PREFIX_LEN, Policy, Root, Rule, Trust,
    Version,
};

/// Tunables of the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Healthy time (the watchdog's `healthy_since_boot_ms`) a trial image needs to be confirmed.
    pub soak_ms: u32,
    /// Boots a trial image gets before boot control rolls back by itself.
    pub trial_attempts: u8,
    /// Uptime by which a trial image must have soaked; later, the agent cancels the trial.
    pub soak_deadline_ms: u64,
}

/// The agent's large buffers (static memory in the partition; see [`crate::component`]).
pub struct Buffers {
    /// The incoming bundle's header (at least `upgrade::MAX_HEADER_LEN` bytes).
    pub incoming: &'static mut [u8],
    /// The running slot's header (at least `upgrade::MAX_HEADER_LEN` bytes).
    pub running: &'static mut [u8],
    /// One image chunk (at least `1 << upgrade::MAX_CHUNK_LOG2` bytes).
    pub chunk: &'static mut [u8],
}

/// One transfer message (an `upgrade-chunk`), as plain values.
#[derive(Debug, Clone, Copy)]
pub struct Piece<'a> {
    /// The ground's bundle id (a new one restarts the transfer).
    pub bundle_id: u64,
    /// Message index.
    pub index: u32,
    /// Messages in the transfer.
    pub count: u32,
    /// Bundle offset of `data`.
    pub offset: u32,
    /// Bundle length.
    pub total_len: u32,
    /// The bytes.
    pub data: &'a [u8],
}

/// What the agent needs of a watchdog health report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// Uptime of the node, ms.
    pub uptime_ms: u64,
    /// How long every component has been healthy since boot, ms (0 after any failure).
    pub healthy_for_ms: u32,
    /// A component the watchdog declared failed, restarting or stopped, if any.
    pub failed: Option<u8>,
    /// The node runs in safe mode.
    pub safe_mode: bool,
}

/// Why the agent could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError<E: core::fmt::Debug> {
    /// A buffer is smaller than the format's maximum.
    Buffers,
    /// The progress region does not fit the flash (a board configuration error).
    Store(store::StoreError<E>),
}

/// Where the agent is in this power cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Idle,
    Header,
    Preparing { cursor: u32 },
    Receiving { chunk: u32 },
    Verifying { cursor: u32 },
    Rebooting,
    Trial,
    Done,
}

/// Why the agent asks the monitor for a reboot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reboot {
    /// Into the trial image.
    Trial,
    /// Back to the confirmed image.
    Rollback,
}

/// The upgrade agent on flash `F` with boot control `B`.
pub struct Agent<F: NorFlash + ErasedValue, B: BootControl> {
    pub(crate) flash: F,
    pub(crate) boot: B,
    pub(crate) layout: SlotLayout,
    pub(crate) cfg: Config,
    pub(crate) store: RecordStore,
    pub(crate) p: Progress,
    pub(crate) bufs: Buffers,
    pub(crate) running_len: usize,
    pub(crate) incoming_fill: usize,
    pub(crate) total_len: u32,
    pub(crate) mode: Mode,
    pub(crate) slots: [SlotVersion; 2],
    pub(crate) reboot: Option<Reboot>,
    pub(crate) flash_errors: u32,
    /// Messages kept in the receive window ([`crate::window`]).
    pub(crate) held: [u64; crate::window::WINDOW_WORDS],
}

pub(crate) const fn idx(s: Slot) -> usize {
    match s {
        Slot::A => 0,
        Slot::B => 1,
    }
}

pub(crate) const fn wire(s: Slot) -> protocol::Slot {
    match s {
        Slot::A => protocol::Slot::A,
        Slot::B => protocol::Slot::B,
    }
}

/// The manifest of the header at the start of `buf`, if it parses.
pub(crate) fn manifest_of(buf: &[u8]) -> Option<Manifest<'_>> {
    let h = Header::parse(buf).ok()?;
    Manifest::parse(h.manifest.body).ok()
}

/// The node's security counter: boot control's (raised with every confirm), or the confirmed
/// image's own if higher (a factory image confirmed before the counter existed).
fn node_counter(confirmed_image: u32, boot_control: u64) -> u32 {
    confirmed_image.max(u32::try_from(boot_control).unwrap_or(u32::MAX))
}

fn version_of(m: &Manifest<'_>) -> SlotVersion {
    SlotVersion {
        present: true,
        version: [m.version.major, m.version.minor, m.version.patch],
        security_counter: m.security_counter,
    }
}

impl<F: NorFlash + ErasedValue, B: BootControl> Agent<F, B> {
    /// Mounts the progress record, reads both slots' headers, and reconciles (module docs).
    pub fn start(
        mut flash: F,
        boot: B,
        layout: SlotLayout,
        cfg: Config,
        bufs: Buffers,
    ) -> Result<Self, StartError<F::Error>> {
        if bufs.incoming.len() < MAX_HEADER_LEN
            || bufs.running.len() < MAX_HEADER_LEN
            || bufs.chunk.len() < (1 << MAX_CHUNK_LOG2)
        {
            return Err(StartError::Buffers);
        }
        let half = layout.progress_len / 2;
        let store_layout = StoreLayout::new(layout.progress_offset(), half, record::TAG);
        let store = RecordStore::mount(&mut flash, store_layout).map_err(StartError::Store)?;
        let mut agent = Agent {
            flash,
            boot,
            layout,
            cfg,
            store,
            p: Progress::EMPTY,
            bufs,
            running_len: 0,
            incoming_fill: 0,
            total_len: 0,
            mode: Mode::Idle,
            slots: [SlotVersion::default(); 2],
            reboot: None,
            flash_errors: 0,
            held: [0; crate::window::WINDOW_WORDS],
        };
        agent.load_record();
        agent.load_slots();
        agent.reconcile();
        Ok(agent)
    }

    fn load_record(&mut self) {
        let mut buf = [0u8; record::MAX_LEN];
        let status = self.store.status();
        let read = match status {
            RecordStatus::Blank => return,
            RecordStatus::Present { .. } => self.store.read(&mut self.flash, &mut buf),
            RecordStatus::Interrupted | RecordStatus::Lost => Ok(None),
        };
        match read {
            Ok(Some(n)) => {
                if let Some(p) = buf.get(..n).and_then(Progress::decode) {
                    self.p = p;
                    return;
                }
                log::error!("progress record does not decode: starting idle");
            }
            Ok(None) => log::error!("progress record lost ({status}): starting idle"),
            Err(e) => log::error!("progress record unreadable ({e}): starting idle"),
        }
        self.p = Progress::EMPTY;
        self.p.refusal = Some(plain(UpgradeError::ProgressLost));
        // A fresh record, so that the next start does not report the loss again.
        self.persist();
    }

    /// Reads the running slot's header (the trust anchor) and the other slot's version.
    fn load_slots(&mut self) {
        let booted = self.boot.state().booted;
        let len = self.read_header(booted, true);
        self.running_len = len.unwrap_or(0);
        match manifest_of(&self.bufs.running[..self.running_len]) {
            Some(m) if self.running_len > 0 => self.slots[idx(booted)] = version_of(&m),
            _ => log::error!(
                "the running slot {booted} has no readable bundle header: every bundle will be refused"
            ),
        }
        let other = booted.other();
        if let Some(n) = self.read_header(other, false)
            && let Some(m) = manifest_of(&self.bufs.incoming[..n])
        {
            self.slots[idx(other)] = version_of(&m);
        }
    }

    /// Reads `slot`'s header area into the running (or incoming) buffer; its length if a
    /// header prefix is there.
    pub(crate) fn read_header(&mut self, slot: Slot, running: bool) -> Option<usize> {
        let area = (self.layout.header_area as usize).min(MAX_HEADER_LEN);
        let buf = if running {
            &mut self.bufs.running
        } else {
            &mut self.bufs.incoming
        };
        let n = area - area % F::READ_SIZE.max(1);
        let dst = buf.get_mut(..n)?;
        if let Err(e) = slot_io::read(&mut self.flash, self.layout.slot_offset(slot), dst) {
            log::error!("reading slot {slot}'s header failed: {e}");
            self.flash_errors += 1;
            return None;
        }
        let len = upgrade::header_len(dst.get(..PREFIX_LEN)?).ok()?;
        (len <= n).then_some(len)
    }

    fn reconcile(&mut self) {
        let bs = self.boot.state();
        let target = if self.p.target_b { Slot::B } else { Slot::A };
        if bs.trial_running() {
            self.mode = Mode::Trial;
            log::info!(
                "trial boot of slot {}: confirming after {} ms healthy",
                bs.booted,
                self.cfg.soak_ms
            );
            if self.p.phase == Phase::RolledBack {
                let r = self
                    .p
                    .refusal
                    .unwrap_or(plain(UpgradeError::TrialUnhealthy));
                self.reject(r);
            }
            return;
        }
        let pending = bs.trial.is_some_and(|t| t.slot == target);
        match self.p.phase {
            Phase::Staged | Phase::Receiving if pending => {
                self.p.phase = Phase::Staged;
                self.persist();
                self.mode = Mode::Rebooting;
                self.reboot = Some(Reboot::Trial);
            }
            Phase::Staged if bs.confirmed == target => {
                self.p.phase = Phase::Confirmed;
                self.persist();
            }
            Phase::Staged => {
                log::warn!(
                    "the trial of slot {target} ended without a confirm: running slot {} again",
                    bs.booted
                );
                self.p.phase = Phase::RolledBack;
                self.p.refusal = Some(plain(UpgradeError::TrialNotConfirmed));
                self.persist();
            }
            Phase::Receiving => self.resume(target),
            _ => {}
        }
    }

    /// Picks a transfer up after a reset (module docs).
    fn resume(&mut self, target: Slot) {
        let ok = target == self.boot.state().booted.other()
            && self.read_header(target, false) == Some(self.p.header_len as usize)
            && Sha256::digest(&self.bufs.incoming[..self.p.header_len as usize])[..]
                == self.p.header_hash[..];
        if !ok {
            log::error!("the transfer's header is no longer in slot {target}: starting idle");
            return self.abandon(plain(UpgradeError::SlotDamaged));
        }
        self.incoming_fill = self.p.header_len as usize;
        let checked = {
            let policy = self.policy();
            policy
                .map(|p| upgrade::verify(&self.bufs.incoming[..self.incoming_fill], &p))
                .map(|r| r.map(|v| v.manifest.image_len))
        };
        match checked {
            Some(Ok(len)) => {
                self.total_len = u32::try_from(len + u64::from(self.p.header_len)).unwrap_or(0);
                self.mode = Mode::Preparing { cursor: 0 };
                log::info!(
                    "resuming bundle {:#x}: {} chunks already in slot {target}",
                    self.p.bundle_id,
                    self.p.done_count(record::BITMAP_LEN as u32 * 8)
                );
            }
            Some(Err(e)) => {
                log::error!("the transfer's header no longer verifies: {e}");
                self.abandon(plain(crate::refusal::of_verify(&e)));
            }
            None => self.abandon(plain(UpgradeError::SlotDamaged)),
        }
    }

    /// Ends the transfer with `r`, persisted.
    pub(crate) fn abandon(&mut self, r: Refusal) {
        self.p.phase = Phase::Idle;
        self.p.refusal = Some(r);
        self.mode = Mode::Idle;
        self.incoming_fill = 0;
        self.persist();
    }

    /// Writes the progress record; false (logged, counted) if flash failed.
    pub(crate) fn persist(&mut self) -> bool {
        let mut buf = [0u8; record::MAX_LEN];
        let n = self.p.encode(&mut buf);
        match self.store.write(&mut self.flash, &buf[..n]) {
            Ok(_) => true,
            Err(e) => {
                log::error!("writing the progress record failed: {e}");
                self.flash_errors += 1;
                false
            }
        }
    }

    /// What a bundle is checked against (module docs); `None` without a running header.
    pub(crate) fn policy(&self) -> Option<Policy<'_>> {
        let running = self.bufs.running.get(..self.running_len)?;
        let m = manifest_of(running)?;
        let h = Header::parse(running).ok()?;
        let own = Root::parse(h.roots().last()?.body).ok()?;
        let trust = match self.p.root().and_then(|b| Root::parse(b).ok()) {
            Some(saved) if saved.version > own.version => saved.body,
            _ => own.body,
        };
        let bs = self.boot.state();
        let confirmed = self.slots[idx(bs.confirmed)];
        let [major, minor, patch] = confirmed.version;
        Some(Policy {
            trust: Trust::Root(trust),
            board: m.board,
            hardware: m.hardware,
            version: Floor {
                current: Version::new(major, minor, patch),
                rule: Rule::Greater,
            },
            security_counter: Floor {
                current: node_counter(confirmed.security_counter, bs.security_counter),
                rule: Rule::AtLeast,
            },
            max_image_len: u64::from(self.layout.max_image_len()),
            now: Some(u64::from(bs.boot_count)),
        })
    }

    /// The slot being written.
    pub(crate) fn target(&self) -> Slot {
        if self.p.target_b { Slot::B } else { Slot::A }
    }

    /// The bundle byte the agent needs next.
    pub(crate) fn need(&self) -> u64 {
        let h = u64::from(self.p.header_len);
        match self.mode {
            Mode::Header => self.incoming_fill as u64,
            Mode::Preparing { .. } => h,
            Mode::Receiving { chunk } => {
                let log2 = manifest_of(&self.bufs.incoming[..self.incoming_fill])
                    .map_or(0, |m| m.chunk_log2);
                h + (u64::from(chunk) << log2)
            }
            Mode::Idle => 0,
            _ => u64::from(self.total_len),
        }
    }

    /// A reboot the agent wants (taken once).
    pub fn take_reboot(&mut self) -> Option<Reboot> {
        self.reboot.take()
    }

    /// Flash operations that failed since start.
    pub fn flash_errors(&self) -> u32 {
        self.flash_errors
    }

    /// The status report.
    pub fn status(&self) -> UpgradeStatus {
        let bs = self.boot.state();
        let total = match self.mode {
            Mode::Preparing { .. } | Mode::Receiving { .. } | Mode::Verifying { .. } => {
                manifest_of(&self.bufs.incoming[..self.incoming_fill])
                    .map_or(0, |m| m.chunk_count())
            }
            _ => 0,
        };
        let state = match self.mode {
            Mode::Header | Mode::Receiving { .. } => UpgradeState::Receiving,
            Mode::Preparing { .. } => UpgradeState::Preparing,
            Mode::Verifying { .. } => UpgradeState::Verifying,
            Mode::Trial => UpgradeState::TrialBoot,
            Mode::Rebooting if self.reboot == Some(Reboot::Rollback) => UpgradeState::RolledBack,
            Mode::Rebooting => UpgradeState::Written,
            Mode::Idle | Mode::Done => match self.p.phase {
                Phase::Idle | Phase::Receiving => UpgradeState::Idle,
                Phase::Staged => UpgradeState::Written,
                Phase::Confirmed => UpgradeState::Confirmed,
                Phase::RolledBack => UpgradeState::RolledBack,
            },
        };
        let piece = u64::from(self.p.piece_len.max(1));
        let (next_chunk, held_ahead) = match self.mode {
            Mode::Receiving { chunk } => self.window_report(chunk),
            Mode::Header => Some(self.header_report()),
            _ => None,
        }
        .unwrap_or((u32::try_from(self.need() / piece).unwrap_or(u32::MAX), 0));
        UpgradeStatus {
            bundle_id: self.p.bundle_id,
            next_chunk,
            answers: UpgradeStatus::UNSOLICITED,
            held_ahead,
            bytes_received: self.p.bytes_received,
            bytes_copied: self.p.bytes_copied,
            chunks_done: if total > 0 {
                self.p.done_count(total)
            } else {
                0
            },
            chunks_total: total,
            security_counter: node_counter(
                self.slots[idx(bs.confirmed)].security_counter,
                bs.security_counter,
            ),
            state,
            active_slot: wire(bs.booted),
            confirmed_slot: wire(bs.confirmed),
            attempts_left: bs.trial.map_or(0, |t| t.attempts_left),
            slots: self.slots,
            last_refusal: self.p.refusal,
        }
    }
}
