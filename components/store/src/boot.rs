//! A/B boot control ([`hal::boot::BootControl`]) persisted as one crash-safe record.
//!
//! Any board gets boot control by giving [`FlashBootControl`] a NOR flash (or a `&mut` to one)
//! and a [`StoreLayout`] of two copies. Every state change is one [`RecordStore::write_mirrored`]
//! of the 20-byte record below, so a power cut at any point leaves the state before or after
//! the change (see [`crate::record`]), and a bit flip in either copy loses nothing. The confirm
//! and the rise of the security counter are one record write, so no power cut can separate them.
//!
//! Record payload, format version 3 (integers little-endian):
//!
//! | offset | length | field | values |
//! | --- | --- | --- | --- |
//! | 0 | 1 | format version | `3` |
//! | 1 | 1 | confirmed slot | `0` = A, `1` = B |
//! | 2 | 1 | booted slot | `0` = A, `1` = B |
//! | 3 | 1 | boot reason | `0` normal, `1` trial, `2` rolled back, `3` recovered, `4` fallback |
//! | 4 | 1 | trial slot | `0xFF` = no trial, else `0` = A, `1` = B |
//! | 5 | 1 | trial attempts left | `0` when no trial |
//! | 6 | 1 | clean reboots since the last confirm that raised the security counter | `u8` |
//! | 7 | 1 | reserved | `0` |
//! | 8 | 4 | boot count | `u32` |
//! | 12 | 8 | security counter | `u64`, of the last confirmed image |
//!
//! A version-2 record (byte 6 reserved as `0`, before clean reboots were counted) reads as 0
//! clean reboots; a version-1 record (the first 12 bytes above, version byte `1`, written before
//! security counters existed) as security counter 0. Either is rewritten as version 3 by the
//! next state change.
//!
//! A record that verifies but does not decode (unknown version, out-of-range values) is treated
//! like a corrupt one: [`FlashBootControl::open`] refuses it, and
//! [`FlashBootControl::open_or_recover`] replaces it with the factory state.
//!
//! The state is cached in memory after open; this module does not re-read flash behind the
//! caller's back, and it never writes flash except in the six state-changing calls.

use crate::error::StoreError;
use crate::layout::StoreLayout;
use crate::record::{CopyState, RecordStatus, RecordStore};
use hal::boot::{
    BootControl, BootControlError, BootReason, BootState, MAX_TRIAL_ATTEMPTS, Slot, Trial,
};
use hal::flash::{ErasedValue, NorFlash};

/// Length of the boot record payload.
pub const BOOT_RECORD_LEN: usize = 20;
/// Length of a version-1 payload (no security counter).
const V1_LEN: usize = 12;
const VERSION: u8 = 3;
/// Version 2: the same layout with byte 6 reserved (`0`).
const V2: u8 = 2;
const NO_TRIAL: u8 = 0xFF;

/// Why boot control could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootOpenError<E: core::fmt::Debug> {
    /// The flash or layout failed.
    #[error("boot control storage: {0}")]
    Store(#[from] StoreError<E>),
    /// Copies exist but none verifies and decodes: the boot state is lost.
    #[error("boot control record is corrupt in both copies")]
    Corrupt,
}

/// Boot control on a NOR flash.
#[derive(Debug)]
pub struct FlashBootControl<F> {
    flash: F,
    store: RecordStore,
    state: BootState,
    recovered: bool,
    selected: bool,
}

impl<F: NorFlash> FlashBootControl<F> {
    /// Open boot control. A layout where no record was ever committed (blank, or the first
    /// write was cut) gives the factory state (slot A confirmed) without writing anything; a lost
    /// state is [`BootOpenError::Corrupt`].
    pub fn open(mut flash: F, layout: StoreLayout) -> Result<Self, BootOpenError<F::Error>>
    where
        F: ErasedValue,
    {
        let mut store = RecordStore::mount(&mut flash, layout)?;
        let state = match read_state(&mut store, &mut flash)? {
            Some(s) => s,
            None if never_committed(&store) => BootState::FACTORY,
            None => return Err(BootOpenError::Corrupt),
        };
        Ok(FlashBootControl {
            flash,
            store,
            state,
            recovered: false,
            selected: false,
        })
    }

    /// Like [`FlashBootControl::open`], but a lost state is replaced by the factory state (slot A
    /// confirmed), which the next `select_boot` reports as [`BootReason::Recovered`]. This is
    /// the bootloader's choice: a board must boot something, and slot A holds the factory image.
    pub fn open_or_recover(
        mut flash: F,
        layout: StoreLayout,
    ) -> Result<Self, BootOpenError<F::Error>>
    where
        F: ErasedValue,
    {
        let mut store = RecordStore::mount(&mut flash, layout)?;
        let (state, recovered) = match read_state(&mut store, &mut flash)? {
            Some(s) => (s, false),
            None if never_committed(&store) => (BootState::FACTORY, false),
            None => (BootState::FACTORY, true),
        };
        Ok(FlashBootControl {
            flash,
            store,
            state,
            recovered,
            selected: false,
        })
    }

    /// The state of the two copies of the boot record.
    pub fn copy_states(&self) -> [CopyState; 2] {
        self.store.copy_states()
    }

    /// Give the flash back.
    pub fn into_inner(self) -> F {
        self.flash
    }

    fn persist(&mut self, next: BootState) -> Result<(), BootControlError<StoreError<F::Error>>> {
        let bytes = encode(&next);
        let before = self.store.seq();
        match self.store.write_mirrored(&mut self.flash, &bytes) {
            Ok(_) => {}
            // The first copy committed the new state (the sequence number moved on) and only its
            // mirror failed: the state did change, so this is success. The next update rewrites
            // the bad copy first.
            Err(_) if self.store.seq() != before => {}
            Err(e) => return Err(BootControlError::Storage(e)),
        }
        self.state = next;
        Ok(())
    }
}

/// No boot record was ever committed: the store is blank, or the very first write was cut. (The
/// boot record is always written mirrored, so once committed it has two valid copies and a
/// blank copy cannot reappear without a double fault.)
fn never_committed(store: &RecordStore) -> bool {
    matches!(
        store.status(),
        RecordStatus::Blank | RecordStatus::Interrupted
    )
}

fn read_state<F: NorFlash>(
    store: &mut RecordStore,
    flash: &mut F,
) -> Result<Option<BootState>, StoreError<F::Error>> {
    let mut buf = [0u8; BOOT_RECORD_LEN];
    match store.read(flash, &mut buf) {
        Ok(Some(BOOT_RECORD_LEN)) => Ok(decode(&buf)),
        Ok(Some(V1_LEN)) if buf[0] == 1 => {
            let mut v2 = buf;
            v2[0] = V2;
            Ok(decode(&v2))
        }
        Ok(_) => Ok(None),
        // A longer record than ours is not a boot record of this version.
        Err(StoreError::BufferTooSmall { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn slot_byte(s: Slot) -> u8 {
    match s {
        Slot::A => 0,
        Slot::B => 1,
    }
}

fn byte_slot(b: u8) -> Option<Slot> {
    match b {
        0 => Some(Slot::A),
        1 => Some(Slot::B),
        _ => None,
    }
}

/// Encode a boot state as the version-3 record.
pub fn encode(s: &BootState) -> [u8; BOOT_RECORD_LEN] {
    let reason = match s.reason {
        BootReason::Normal => 0,
        BootReason::Trial => 1,
        BootReason::RolledBack => 2,
        BootReason::Recovered => 3,
        BootReason::Fallback => 4,
    };
    let (ts, ta) = match s.trial {
        Some(t) => (slot_byte(t.slot), t.attempts_left),
        None => (NO_TRIAL, 0),
    };
    let mut out = [0u8; BOOT_RECORD_LEN];
    out[..8].copy_from_slice(&[
        VERSION,
        slot_byte(s.confirmed),
        slot_byte(s.booted),
        reason,
        ts,
        ta,
        s.clean_reboots,
        0,
    ]);
    out[8..12].copy_from_slice(&s.boot_count.to_le_bytes());
    out[12..].copy_from_slice(&s.security_counter.to_le_bytes());
    out
}

/// Decode a version-3 (or version-2) record; `None` for anything out of range.
pub fn decode(b: &[u8; BOOT_RECORD_LEN]) -> Option<BootState> {
    let [
        ver,
        conf,
        booted,
        reason,
        ts,
        ta,
        r0,
        r1,
        c0,
        c1,
        c2,
        c3,
        ..,
    ] = *b;
    let mut counter = [0u8; 8];
    counter.copy_from_slice(&b[12..]);
    let known = ver == VERSION || ver == V2 && r0 == 0;
    if !known || r1 != 0 {
        return None;
    }
    let reason = match reason {
        0 => BootReason::Normal,
        1 => BootReason::Trial,
        2 => BootReason::RolledBack,
        3 => BootReason::Recovered,
        4 => BootReason::Fallback,
        _ => return None,
    };
    let confirmed = byte_slot(conf)?;
    let trial = match ts {
        NO_TRIAL if ta == 0 => None,
        NO_TRIAL => return None,
        s => {
            let slot = byte_slot(s)?;
            if slot == confirmed || ta > MAX_TRIAL_ATTEMPTS {
                return None;
            }
            Some(Trial {
                slot,
                attempts_left: ta,
            })
        }
    };
    Some(BootState {
        confirmed,
        booted: byte_slot(booted)?,
        reason,
        trial,
        boot_count: u32::from_le_bytes([c0, c1, c2, c3]),
        security_counter: u64::from_le_bytes(counter),
        clean_reboots: r0,
    })
}

impl<F: NorFlash> BootControl for FlashBootControl<F> {
    type Error = StoreError<F::Error>;

    fn state(&self) -> BootState {
        self.state
    }

    fn select_boot(&mut self) -> Result<Slot, BootControlError<Self::Error>> {
        if self.selected {
            return Err(BootControlError::AlreadySelected);
        }
        let mut s = self.state;
        s.boot_count = s.boot_count.wrapping_add(1);
        match s.trial {
            Some(t) if t.attempts_left > 0 => {
                s.trial = Some(Trial {
                    slot: t.slot,
                    attempts_left: t.attempts_left - 1,
                });
                s.booted = t.slot;
                s.reason = BootReason::Trial;
            }
            Some(_) => {
                s.trial = None;
                s.booted = s.confirmed;
                s.reason = BootReason::RolledBack;
            }
            None => {
                s.booted = s.confirmed;
                s.reason = if self.recovered {
                    BootReason::Recovered
                } else {
                    BootReason::Normal
                };
            }
        }
        self.persist(s)?;
        self.selected = true;
        self.recovered = false;
        Ok(s.booted)
    }

    fn request_trial(
        &mut self,
        slot: Slot,
        attempts: u8,
    ) -> Result<(), BootControlError<Self::Error>> {
        if attempts == 0 || attempts > MAX_TRIAL_ATTEMPTS {
            return Err(BootControlError::InvalidAttempts(attempts));
        }
        if slot == self.state.confirmed {
            return Err(BootControlError::SlotIsConfirmed(slot));
        }
        if self.state.trial_running() {
            return Err(BootControlError::TrialRunning);
        }
        let mut s = self.state;
        s.trial = Some(Trial {
            slot,
            attempts_left: attempts,
        });
        self.persist(s)
    }

    fn cancel_trial(&mut self) -> Result<(), BootControlError<Self::Error>> {
        if self.state.trial.is_none() {
            return Ok(());
        }
        let mut s = self.state;
        s.trial = None;
        self.persist(s)
    }

    fn record_fallback(&mut self, slot: Slot) -> Result<(), BootControlError<Self::Error>> {
        if !self.selected {
            return Err(BootControlError::NotSelected);
        }
        if slot == self.state.booted {
            return Ok(());
        }
        let mut s = self.state;
        s.reason = if slot == s.confirmed {
            BootReason::RolledBack
        } else {
            BootReason::Fallback
        };
        s.booted = slot;
        s.confirmed = slot;
        s.trial = None;
        self.persist(s)
    }

    fn count_clean_reboot(&mut self) -> Result<u8, BootControlError<Self::Error>> {
        let mut s = self.state;
        s.clean_reboots = s.clean_reboots.saturating_add(1);
        self.persist(s)?;
        Ok(s.clean_reboots)
    }

    fn confirm(&mut self, security_counter: u64) -> Result<(), BootControlError<Self::Error>> {
        if !self.state.trial_running() {
            return Err(BootControlError::NotInTrial);
        }
        let mut s = self.state;
        s.confirmed = s.booted;
        s.trial = None;
        // Only a confirm that raises the counter starts the reboot count over: a confirm at
        // the same counter (the other slot's image, confirmed again and again) would let the
        // agent alternate trial -> confirm -> trial without ever reaching the cap.
        if security_counter > s.security_counter {
            s.clean_reboots = 0;
        }
        s.security_counter = s.security_counter.max(security_counter);
        self.persist(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip_exact_bytes() {
        let s = BootState {
            confirmed: Slot::A,
            booted: Slot::B,
            reason: BootReason::Trial,
            trial: Some(Trial {
                slot: Slot::B,
                attempts_left: 2,
            }),
            boot_count: 0x0102_0304,
            security_counter: 0x0a0b_0c0d_0e0f_1011,
            clean_reboots: 5,
        };
        let b = encode(&s);
        assert_eq!(
            b,
            [
                3, 0, 1, 1, 1, 2, 5, 0, 4, 3, 2, 1, 0x11, 0x10, 0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a
            ]
        );
        assert_eq!(decode(&b), Some(s));
        // The same record as version 2 (byte 6 reserved) reads as no clean reboots; a version-2
        // record with byte 6 set is not one.
        let mut v2 = b;
        v2[0] = 2;
        assert_eq!(decode(&v2), None);
        v2[6] = 0;
        let s2 = BootState {
            clean_reboots: 0,
            ..s
        };
        assert_eq!(decode(&v2), Some(s2));
        assert_eq!(
            decode(&encode(&BootState::FACTORY)),
            Some(BootState::FACTORY)
        );
    }

    #[test]
    fn out_of_range_records_are_refused() {
        let good = encode(&BootState::FACTORY);
        for (i, v) in [
            (0, 4u8),
            (0, 1),
            (1, 2),
            (2, 9),
            (3, 5),
            (4, 0),
            (5, 1),
            (7, 1),
        ] {
            let mut b = good;
            b[i] = v;
            assert_eq!(decode(&b), None, "byte {i} = {v}");
        }
        // Trial attempts above the maximum.
        let mut b = good;
        b[4] = 1;
        b[5] = MAX_TRIAL_ATTEMPTS + 1;
        assert_eq!(decode(&b), None);
    }
}
