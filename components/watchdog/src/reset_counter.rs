//! The board reset counter on flash: counts the boots that followed a fault reset without a
//! healthy period in between, decides safe mode at boot, and keeps the last escalation so the
//! ground learns why the node reset.
//!
//! ## Rules
//!
//! - **Counting** (at every boot, by whoever boots the components, before any of them starts
//!   and before the first kick): [`ResetCounter::boot`] adds one to `boots_since_healthy` and
//!   writes the record, unless the power cycle before this boot ended in one of the two ways
//!   below. Every other reset is counted this way whatever caused it (an escalation, the
//!   hardware watchdog expiring because the watchdog itself hung, a brown-out, the whole board
//!   killed), because the count is taken at the next boot, not by the software that was failing.
//! - **Clean power-off is not a fault.** Before a power cycle ends on purpose (the operator
//!   stops the node: `spacenode run` on SIGINT/SIGTERM; a reboot requested for a reason other
//!   than a watchdog escalation: the upgrade agent's trial boot or rollback, a commanded reboot
//!   such as leaving safe mode), the board, with every component already stopped, calls
//!   [`ResetCounter::mark_clean_power_off`]. The next boot sees the mark, does not count itself
//!   and clears the mark in the same write. A cycle that ends any other way never writes the
//!   mark, so a fault reset can never pass for a clean one. Four ordinary stop/starts in ten
//!   minutes therefore leave the count where it was.
//! - **Requested reboots are capped by the bootloader.** Boot control counts the clean reboots
//!   software asked for since the last confirm that raised the security counter; past
//!   `hal::boot::MAX_CLEAN_REBOOTS` the boot stage calls [`ResetCounter::count_this_boot`], and that boot counts whatever the mark or a
//!   trial say, so a reboot-requesting partition cannot reboot the node forever unseen.
//! - **Trial boots are the upgrade's business.** A reset while boot control shows a trial
//!   running (`hal::boot::BootState::trial_running()` read at power-on, before the bootloader
//!   selects this boot) is not counted: boot control itself counts those attempts on flash and
//!   rolls back to the confirmed image when they are used up (at most
//!   `hal::boot::MAX_TRIAL_ATTEMPTS` boots), so a broken trial image cannot loop forever, and
//!   counting its resets here as well would push a healthy node into safe mode for an upgrade
//!   that boot control is already undoing. The board passes that fact as `trial_was_running`.
//! - **Resets** = `boots_since_healthy - 1` (the boots after the first). The node boots in
//!   **safe mode** when resets exceed `max_resets`: with `max-resets = 3` the first boot and
//!   three resets boot normally, the fourth fault reset without a healthy period in between
//!   boots in safe mode.
//! - **Clearing after a healthy period**: when the watchdog has seen every component healthy
//!   for `Tuning::clear_after_ms` continuously in normal mode it asks for
//!   [`ResetCounter::mark_healthy`], which sets `boots_since_healthy` to 1 (this boot, which
//!   was healthy). The next reset is then reset number 1 again. In safe mode that is refused:
//!   running less did not show that the fault is gone.
//! - **Leaving safe mode** is [`ResetCounter::leave_safe_mode`]: the count goes to 0 and the
//!   clean power-off mark is set in one write, then the watchdog stops kicking and the
//!   hardware watchdog resets the board, which boots normally without counting. The watchdog
//!   does it on the ground's authenticated command, or by itself once the node has been
//!   healthy in safe mode for `Tuning::safe_mode_decay_ms` (safe mode decays; if the fault is
//!   still there the node is back in safe mode after `max_resets` more fault resets). This is
//!   the only mark written while components run, by the counter's owner as its last act.
//! - **Escalations** are recorded *before* the watchdog stops kicking
//!   ([`ResetCounter::record_escalation`]): the total and the last one (component and fault
//!   kind), reported after the reset in every health report. Recording an escalation does not
//!   change the count (the next boot counts the reset), so nothing is counted twice.
//! - **A lost record** (both copies corrupt: radiation hit both) is taken as "at the cap" and
//!   not cleanly powered off: this boot runs normally, but one more fault reset without a
//!   healthy period boots safe mode. A record never written (blank, or its very first write
//!   was cut) is a first boot, unless the board knows from another record (boot control's boot
//!   count) that the node has booted before ([`ResetCounter::booted_before`]): then it was
//!   erased, and is lost.
//! - **Commissioned** (flags bit 2, [`ResetCounter::mark_commissioned`]): set by the watchdog the
//!   first time every component answered in time in a normal boot, i.e. every component has
//!   opened and written its stores. The board tells components "booted before" from it, so a
//!   store they find blank afterwards is lost, not new; a node stopped during its very first
//!   seconds is not yet commissioned and its blank stores are still new.
//!
//! Every update is one [`RecordStore::write_mirrored`]: a power cut at any flash operation
//! leaves the record as it was before the update or as it is after it, never anything else,
//! so a reset is never lost or invented by a cut (the sweep in `tests/reset_counter.rs` cuts
//! every operation). A cut while writing the clean power-off mark leaves the record unmarked,
//! so the reset counts: the safe side.
//!
//! ## Record payload, format version 1 (16 bytes, integers little-endian)
//!
//! | offset | length | field | values |
//! | --- | --- | --- | --- |
//! | 0 | 1 | format version | `1` |
//! | 1 | 1 | flags | bit 0: an escalation is on record; bit 1: the last power cycle ended cleanly (not counted at the next boot); bit 2: commissioned (some boot reached "every component answered"); other bits 0 |
//! | 2 | 2 | boots since healthy | `u16`, saturating |
//! | 4 | 4 | total boots | `u32`, saturating |
//! | 8 | 4 | escalations | `u32`, saturating |
//! | 12 | 1 | last escalation: component id | `0` when none |
//! | 13 | 1 | last escalation: fault kind | `0` none, `1` exit, `2` signal, `3` seccomp, `4` missed pings, `5` wrong nonce, `6` restart failed |
//! | 14 | 2 | reserved | `0` |
//!
//! A record that verifies but does not decode (other version, unknown bits or codes) is treated
//! as lost. (Bit 1 was added after the first release of format 1: software from before it
//! takes a marked record as lost, which costs at most one count, never a missed one.) The store's layout tag is [`RESET_COUNTER_TAG`].
//!
//! Avoids: knowing where on flash the record lives (the board gives a [`StoreLayout`]) and
//! holding the flash (every call borrows it, so the record can share a device).

use hal::flash::{ErasedValue, NorFlash};
use protocol::{ComponentId, Escalation, FaultKind, NodeMode};
use store::{RecordStatus, RecordStore, StoreError, StoreLayout};

use crate::boot::BootInfo;

/// Where the record lives on a flash device dedicated to it (the `health-flash` of the shipped
/// description): two 4 KiB copies at the start of the device. Whoever counts boots (the board's
/// root task) and the watchdog component must use the same layout; boards whose sectors are
/// larger than 4 KiB pass their own [`StoreLayout`].
pub const HEALTH_FLASH_LAYOUT: StoreLayout = StoreLayout::new(0, 4096, RESET_COUNTER_TAG);

/// Length of the record payload.
pub const RESET_RECORD_LEN: usize = 16;
/// The store tag of the reset counter record.
pub const RESET_COUNTER_TAG: [u8; 4] = *b"RSTC";
const VERSION: u8 = 1;
const FLAG_ESCALATION: u8 = 1;
const FLAG_CLEAN_OFF: u8 = 2;
const FLAG_COMMISSIONED: u8 = 4;

/// The reset counter's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResetRecord {
    /// Boots since the node was last healthy for the clearing period (this one included, once
    /// [`ResetCounter::boot`] ran).
    pub boots_since_healthy: u16,
    /// Boots since the record was created.
    pub total_boots: u32,
    /// Escalations since the record was created.
    pub escalations: u32,
    /// The last escalation.
    pub last_escalation: Option<Escalation>,
    /// The power cycle that wrote this ended cleanly (see the module docs): the next boot is
    /// not counted.
    pub clean_power_off: bool,
    /// Some boot of this node reached "every component answered in time" (so every component
    /// had opened, and written, its stores): from then on a blank store is a lost one.
    pub commissioned: bool,
}

impl ResetRecord {
    /// Resets since the node was last healthy: the boots after the first.
    pub fn resets(&self) -> u16 {
        self.boots_since_healthy.saturating_sub(1)
    }

    /// The payload bytes.
    pub fn encode(&self) -> [u8; RESET_RECORD_LEN] {
        let mut b = [0u8; RESET_RECORD_LEN];
        b[0] = VERSION;
        b[2..4].copy_from_slice(&self.boots_since_healthy.to_le_bytes());
        b[4..8].copy_from_slice(&self.total_boots.to_le_bytes());
        b[8..12].copy_from_slice(&self.escalations.to_le_bytes());
        if let Some(e) = self.last_escalation {
            b[1] = FLAG_ESCALATION;
            b[12] = e.component.0;
            b[13] = e.fault.code();
        }
        if self.clean_power_off {
            b[1] |= FLAG_CLEAN_OFF;
        }
        if self.commissioned {
            b[1] |= FLAG_COMMISSIONED;
        }
        b
    }

    /// Decode a payload; `None` unless it is exactly a valid version-1 record.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let b: &[u8; RESET_RECORD_LEN] = bytes.try_into().ok()?;
        let [
            version,
            flags,
            h0,
            h1,
            t0,
            t1,
            t2,
            t3,
            e0,
            e1,
            e2,
            e3,
            comp,
            code,
            r0,
            r1,
        ] = *b;
        if version != VERSION
            || flags & !(FLAG_ESCALATION | FLAG_CLEAN_OFF | FLAG_COMMISSIONED) != 0
            || r0 != 0
            || r1 != 0
        {
            return None;
        }
        let last_escalation = if flags & FLAG_ESCALATION != 0 {
            Some(Escalation {
                component: ComponentId(comp),
                fault: FaultKind::from_code(code)?,
            })
        } else if comp != 0 || code != 0 {
            return None;
        } else {
            None
        };
        Some(ResetRecord {
            boots_since_healthy: u16::from_le_bytes([h0, h1]),
            total_boots: u32::from_le_bytes([t0, t1, t2, t3]),
            escalations: u32::from_le_bytes([e0, e1, e2, e3]),
            last_escalation,
            clean_power_off: flags & FLAG_CLEAN_OFF != 0,
            commissioned: flags & FLAG_COMMISSIONED != 0,
        })
    }
}

/// What [`ResetCounter::open`] found on flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Nothing was ever committed: a first boot.
    Nothing,
    /// A valid record.
    Record,
    /// A record existed and cannot be read: taken as "at the cap" at the next boot.
    Lost,
}

/// Why a reset counter operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetCounterError<E: core::fmt::Debug> {
    /// The flash or the store failed; the record on flash is the one before the operation.
    Store(StoreError<E>),
    /// [`ResetCounter::mark_healthy`] in safe mode: only the ground clears safe mode.
    SafeMode,
}

impl<E: core::fmt::Debug> From<StoreError<E>> for ResetCounterError<E> {
    fn from(e: StoreError<E>) -> Self {
        ResetCounterError::Store(e)
    }
}

impl<E: core::fmt::Debug> core::fmt::Display for ResetCounterError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ResetCounterError::Store(e) => write!(f, "reset counter storage: {e}"),
            ResetCounterError::SafeMode => {
                f.write_str("the reset counter is not cleared automatically in safe mode")
            }
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for ResetCounterError<E> {}

/// The reset counter. Holds no flash: pass the device it was opened on to every call.
#[derive(Debug, Clone)]
pub struct ResetCounter {
    store: RecordStore,
    record: ResetRecord,
    found: Found,
    mode: Option<NodeMode>,
    counted: Option<bool>,
    force_count: bool,
}

impl ResetCounter {
    /// Read the record (reads only, writes nothing).
    pub fn open<F: NorFlash + ErasedValue>(
        flash: &mut F,
        layout: StoreLayout,
    ) -> Result<Self, ResetCounterError<F::Error>> {
        let mut store = RecordStore::mount(flash, layout)?;
        let mut buf = [0u8; RESET_RECORD_LEN];
        let (record, found) = match store.status() {
            RecordStatus::Blank | RecordStatus::Interrupted => {
                (ResetRecord::default(), Found::Nothing)
            }
            RecordStatus::Lost => (ResetRecord::default(), Found::Lost),
            RecordStatus::Present { len, .. } if len as usize != RESET_RECORD_LEN => {
                (ResetRecord::default(), Found::Lost)
            }
            RecordStatus::Present { .. } => match store.read(flash, &mut buf)? {
                Some(n) => match buf.get(..n).and_then(ResetRecord::decode) {
                    Some(r) => (r, Found::Record),
                    None => (ResetRecord::default(), Found::Lost),
                },
                None => (ResetRecord::default(), Found::Lost),
            },
        };
        Ok(ResetCounter {
            store,
            record,
            found,
            mode: None,
            counted: None,
            force_count: false,
        })
    }

    /// The record as last read or written.
    pub fn record(&self) -> ResetRecord {
        self.record
    }

    /// What [`ResetCounter::open`] found.
    pub fn found(&self) -> Found {
        self.found
    }

    /// The board knows from another record that the node has booted before: a blank counter
    /// was erased, not never used, and is taken as lost ("at the cap"), never as a first boot.
    pub fn booted_before(&mut self) {
        if self.found == Found::Nothing {
            self.found = Found::Lost;
        }
    }

    /// Whether [`ResetCounter::boot`] counted this boot as a reset (`None` before it ran):
    /// `false` after a clean power-off or a trial boot (see the module docs).
    pub fn counted(&self) -> Option<bool> {
        self.counted
    }

    /// Count this boot and decide its mode. Call once per boot, before starting components.
    /// `trial_was_running`: boot control showed a trial running when this power-on began
    /// (before the bootloader selected this boot), so the reset that ended it is the upgrade's
    /// business and is not counted.
    ///
    /// On an error nothing was counted; boot with [`BootInfo::COUNTER_UNAVAILABLE`] (safe mode),
    /// since the cap can no longer be enforced.
    pub fn boot<F: NorFlash>(
        &mut self,
        flash: &mut F,
        max_resets: u32,
        trial_was_running: bool,
    ) -> Result<BootInfo, ResetCounterError<F::Error>> {
        let mut next = self.record;
        if self.found == Found::Lost {
            let at_cap = u16::try_from(max_resets).unwrap_or(u16::MAX);
            next.boots_since_healthy = next.boots_since_healthy.max(at_cap);
        }
        let counts = self.force_count
            || !(trial_was_running || self.found == Found::Record && next.clean_power_off);
        if counts || next.boots_since_healthy == 0 {
            next.boots_since_healthy = next.boots_since_healthy.saturating_add(1);
        }
        next.clean_power_off = false;
        next.total_boots = next.total_boots.saturating_add(1);
        self.persist(flash, next)?;
        self.found = Found::Record;
        self.counted = Some(counts);
        let resets = next.resets();
        let mode = if u32::from(resets) > max_resets {
            NodeMode::Safe
        } else {
            NodeMode::Normal
        };
        self.mode = Some(mode);
        Ok(BootInfo {
            mode,
            resets,
            last_escalation: next.last_escalation,
        })
    }

    /// Every component answered in time in this boot (normal mode): the node is commissioned,
    /// and from now on a store found blank was lost, not never used. Written once per node.
    pub fn mark_commissioned<F: NorFlash>(
        &mut self,
        flash: &mut F,
    ) -> Result<(), ResetCounterError<F::Error>> {
        if self.record.commissioned {
            return Ok(());
        }
        let mut next = self.record;
        next.commissioned = true;
        self.persist(flash, next)
    }

    /// The power cycle ends on purpose (operator stop, or a reboot requested for a reason other
    /// than an escalation): the next boot is not counted. Call with every component stopped,
    /// as the last write of the cycle. A lost or never-written record is left alone (the next
    /// boot then counts, the safe side).
    pub fn mark_clean_power_off<F: NorFlash>(
        &mut self,
        flash: &mut F,
    ) -> Result<(), ResetCounterError<F::Error>> {
        if self.found != Found::Record || self.record.clean_power_off {
            return Ok(());
        }
        let mut next = self.record;
        next.clean_power_off = true;
        self.persist(flash, next)
    }

    /// The bootloader counts this boot as a reset although the last power cycle ended cleanly (or
    /// during a trial): software asked for more clean reboots than the bootloader's cap
    /// (`hal::boot::MAX_CLEAN_REBOOTS`) without a confirm raising the security counter in between. Call before
    /// [`ResetCounter::boot`], which then counts this boot whatever the mark and the trial say.
    pub fn count_this_boot(&mut self) {
        self.force_count = true;
    }

    /// Record an escalation. Call before the watchdog stops kicking the hardware watchdog.
    pub fn record_escalation<F: NorFlash>(
        &mut self,
        flash: &mut F,
        escalation: Escalation,
    ) -> Result<(), ResetCounterError<F::Error>> {
        let mut next = self.record;
        next.escalations = next.escalations.saturating_add(1);
        next.last_escalation = Some(escalation);
        self.persist(flash, next)
    }

    /// The node was healthy for the clearing period: only this boot counts from now on.
    /// Refused in safe mode (as decided by [`ResetCounter::boot`] on this counter).
    pub fn mark_healthy<F: NorFlash>(
        &mut self,
        flash: &mut F,
    ) -> Result<(), ResetCounterError<F::Error>> {
        if self.mode == Some(NodeMode::Safe) {
            return Err(ResetCounterError::SafeMode);
        }
        let mut next = self.record;
        next.boots_since_healthy = next.boots_since_healthy.min(1);
        if next == self.record {
            return Ok(());
        }
        self.persist(flash, next)
    }

    /// Leave safe mode (the ground's command, or safe mode decaying): forget all resets and mark
    /// a clean power-off, in one write, so the reboot that follows (the watchdog stops kicking)
    /// boots normally and is not counted. Totals are kept.
    pub fn leave_safe_mode<F: NorFlash>(
        &mut self,
        flash: &mut F,
    ) -> Result<(), ResetCounterError<F::Error>> {
        let mut next = self.record;
        next.boots_since_healthy = 0;
        next.clean_power_off = true;
        self.persist(flash, next)
    }

    fn persist<F: NorFlash>(
        &mut self,
        flash: &mut F,
        next: ResetRecord,
    ) -> Result<(), ResetCounterError<F::Error>> {
        let before = self.store.seq();
        match self.store.write_mirrored(flash, &next.encode()) {
            Ok(_) => {}
            // The first copy committed (the sequence moved on) and only the mirror failed: the
            // record did change. The next update rewrites the damaged copy.
            Err(_) if self.store.seq() > before => {}
            Err(e) => return Err(e.into()),
        }
        self.record = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_rejects_anything_else() {
        let r = ResetRecord {
            boots_since_healthy: 0x0102,
            total_boots: 0x0304_0506,
            escalations: 7,
            last_escalation: Some(Escalation {
                component: ComponentId(3),
                fault: FaultKind::WrongNonce,
            }),
            clean_power_off: false,
            commissioned: false,
        };
        let b = r.encode();
        assert_eq!(
            b,
            [1, 1, 2, 1, 6, 5, 4, 3, 7, 0, 0, 0, 3, 5, 0, 0],
            "documented layout"
        );
        assert_eq!(ResetRecord::decode(&b), Some(r));
        let none = ResetRecord::default();
        assert_eq!(ResetRecord::decode(&none.encode()), Some(none));
        let clean = ResetRecord {
            clean_power_off: true,
            ..r
        };
        assert_eq!(clean.encode()[1], 3, "bit 1: clean power-off");
        assert_eq!(ResetRecord::decode(&clean.encode()), Some(clean));
        let commissioned = ResetRecord {
            commissioned: true,
            ..r
        };
        assert_eq!(commissioned.encode()[1], 5, "bit 2: commissioned");
        assert_eq!(
            ResetRecord::decode(&commissioned.encode()),
            Some(commissioned)
        );
        for (i, v) in [(0usize, 2u8), (1, 8), (1, 0x81), (13, 7), (14, 1), (15, 1)] {
            let mut bad = b;
            bad[i] = v;
            assert_eq!(ResetRecord::decode(&bad), None, "byte {i} = {v}");
        }
        let mut stray = none.encode();
        stray[12] = 4;
        assert_eq!(ResetRecord::decode(&stray), None);
        assert_eq!(ResetRecord::decode(&b[..15]), None);
        assert_eq!(ResetRecord::decode(&[]), None);
    }
}
