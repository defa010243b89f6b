//! Comms' SDLS keys (associations and master keys): kept on comms' own flash, sealed under the
//! board's sealing secret ([`comms::sdls::sealed`]), never compiled into the image.
//!
//! Two records on `comms-flash` ([`crate::flash_map`]):
//!
//! - the **sealed keys** (tag `LKEY`, mirrored): what comms boots with;
//! - the **inbox** (tag `LPRV`, mirrored): where the operator puts a provisioning file
//!   ([`comms::sdls::provision`] format) before the first boot, in the clean room
//!   (`spacenode provision-link --state STATE FILE` on the sim board, [`write_inbox`]). Comms
//!   seals it into the key record at boot and then **erases** the inbox: the keys stay in clear
//!   on flash only until that first boot.
//!
//! At boot ([`load`]):
//!
//! | key record | inbox | result |
//! | --- | --- | --- |
//! | present, verifies | blank | boot with it |
//! | present, verifies | holds a file | boot with the record; the inbox is erased, unused (a provisioned node changes key states over the air, never keys by the inbox) |
//! | present, does not verify | any | [`KeysError::Damaged`]: comms runs degraded |
//! | lost (no copy verifies) | any | [`KeysError::Lost`]: comms runs degraded |
//! | blank, on a node that has run (the monitor says it booted before, or comms' SDLS state record is written: [`sdls_state_written`]) | blank | [`KeysError::Lost`]: every first boot seals a record, so it was erased |
//! | first write cut, on a flash where comms' SDLS state record is written | blank | [`KeysError::Lost`]: the state is written only after the keys were sealed, so the record was damaged (e.g. truncated), not cut at its first seal |
//! | blank (or first write cut) | holds a valid file | seal it, erase the inbox, boot with it |
//! | blank (or first write cut) | holds an invalid file | [`KeysError::InboxRefused`] |
//! | blank (or first write cut), first boot | blank | with the `sim-default-keys` feature (the sim binary only): seal the sim board's **public** default and boot with it, origin [`KeyOrigin::SimDefault`]; otherwise [`KeysError::NotProvisioned`] |
//!
//! At run time the record is rewritten (next generation, mirrored) only when a key changes
//! state (130,7 / 130,8) or a new key arrives over the air (130,6, OTAR, under the
//! key-encryption key of a version 2 provisioning file), by
//! [`comms::sdls::FlashPersist::save_keys`] under the same secret.
//!
//! So damaged or lost keys are never silently replaced (not by the public default either):
//! comms stays down and says why, and only the operator's explicit new provisioning brings it
//! back.
//!
//! Avoids: heap, keeping any plaintext copy after use (buffers are zeroized), and any way for
//! the link to reach the inbox.

use comms::sdls::ProvisionError;
use comms::sdls::sealed::{self, KeyOrigin, MAX_FILE_LEN, MAX_SEALED_LEN, SealError, Unsealed};
use hal::flash::{ErasedValue, NorFlash};
use store::{RecordStatus, RecordStore, StoreError};
use zeroize::Zeroize;

use crate::flash_map::{inbox_layout, keys_layout};

/// How the keys were obtained at this boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysHow {
    /// Unsealed from the key record.
    Loaded,
    /// Sealed from the inbox at this boot (the inbox is now erased).
    FromInbox,
    /// The sim board's public default, sealed at this first boot.
    SimDefaultFirstBoot,
}

/// The keys comms boots with.
#[derive(Debug, Clone)]
pub struct LinkKeys {
    /// The associations, their keys, origin and generation.
    pub sealed: Unsealed,
    /// How they were obtained.
    pub how: KeysHow,
    /// An inbox found beside an existing key record was erased unused.
    pub inbox_ignored: bool,
}

/// Why comms has no usable keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError<E: core::fmt::Debug> {
    /// Flash trouble reading or writing the records.
    #[error("comms-flash: {0:?}")]
    Storage(StoreError<E>),
    /// The key record exists but does not verify.
    #[error(
        "the sealed SDLS keys on comms-flash are damaged ({0}); comms will not invent new ones: re-provision with `spacenode provision-link` (the ground needs the same file)"
    )]
    Damaged(SealError),
    /// The key record was lost (both copies damaged, or erased on a node that has run).
    #[error(
        "the sealed SDLS keys on comms-flash are lost (erased or damaged on a node that has run); comms will not invent new ones: re-provision with `spacenode provision-link` (the ground needs the same file)"
    )]
    Lost,
    /// The inbox holds a file comms refuses.
    #[error("the SDLS provisioning inbox on comms-flash holds an invalid file: {0}")]
    InboxRefused(ProvisionError),
    /// Nothing sealed, nothing in the inbox, no sim default in this build.
    #[error(
        "no SDLS keys: comms-flash holds neither sealed keys nor a provisioning file in its inbox; provision one (`spacenode provision-link`)"
    )]
    NotProvisioned,
}

impl<E: core::fmt::Debug> From<StoreError<E>> for KeysError<E> {
    fn from(e: StoreError<E>) -> Self {
        KeysError::Storage(e)
    }
}

/// Load (or at first boot, seal) comms' keys; see the module docs for every case.
/// `seal` is the board's sealing secret for `flash`; `has_run` whether the node has run before
/// (the runtime's word, or [`sdls_state_written`]).
pub fn load<F: NorFlash + ErasedValue>(
    flash: &mut F,
    seal: &[u8; 32],
    has_run: bool,
) -> Result<LinkKeys, KeysError<F::Error>> {
    let mut store = RecordStore::mount(flash, keys_layout())?;
    let mut inbox = RecordStore::mount(flash, inbox_layout())?;
    let inbox_blank = inbox.status() == RecordStatus::Blank;
    match store.status() {
        RecordStatus::Present { .. } => {
            let mut buf = [0u8; MAX_SEALED_LEN];
            let read = store.read(flash, &mut buf);
            let opened = match read {
                Ok(Some(n)) => {
                    sealed::unseal(seal, buf.get(..n).unwrap_or(&[])).map_err(KeysError::Damaged)
                }
                Ok(None) => Err(KeysError::Lost),
                Err(StoreError::BufferTooSmall { .. }) => {
                    Err(KeysError::Damaged(SealError::Malformed))
                }
                Err(e) => Err(KeysError::Storage(e)),
            };
            buf.zeroize();
            let sealed = opened?;
            if !inbox_blank {
                erase_inbox(flash)?;
            }
            Ok(LinkKeys {
                sealed,
                how: KeysHow::Loaded,
                inbox_ignored: !inbox_blank,
            })
        }
        RecordStatus::Lost => Err(KeysError::Lost),
        status @ (RecordStatus::Blank | RecordStatus::Interrupted) => {
            let mut file = [0u8; MAX_FILE_LEN];
            let got = read_inbox(flash, &mut inbox, &mut file);
            let result = match got {
                Ok(Some(n)) => seal_new(
                    flash,
                    &mut store,
                    seal,
                    KeyOrigin::Provisioned,
                    file.get(..n).unwrap_or(&[]),
                )
                .and_then(|sealed| {
                    erase_inbox(flash)?;
                    Ok(LinkKeys {
                        sealed,
                        how: KeysHow::FromInbox,
                        inbox_ignored: false,
                    })
                }),
                Ok(None) if has_run && status == RecordStatus::Blank => Err(KeysError::Lost),
                // A record cut after comms' SDLS state was written (comms writes that only
                // after its keys are sealed) is a damaged record, not a first seal cut short.
                Ok(None) if status == RecordStatus::Interrupted && sdls_state_written(flash) => {
                    Err(KeysError::Lost)
                }
                Ok(None) => sim_default(flash, &mut store, seal),
                Err(e) => Err(e),
            };
            file.zeroize();
            result
        }
    }
}

fn read_inbox<F: NorFlash + ErasedValue>(
    flash: &mut F,
    inbox: &mut RecordStore,
    file: &mut [u8; MAX_FILE_LEN],
) -> Result<Option<usize>, KeysError<F::Error>> {
    match inbox.status() {
        RecordStatus::Blank | RecordStatus::Interrupted => Ok(None),
        RecordStatus::Lost => Err(KeysError::InboxRefused(ProvisionError::BadCrc)),
        RecordStatus::Present { .. } => match inbox.read(flash, file) {
            Ok(Some(n)) => comms::sdls::Provisioning::parse(file.get(..n).unwrap_or(&[]))
                .map(|_| Some(n))
                .map_err(KeysError::InboxRefused),
            Ok(None) => Err(KeysError::InboxRefused(ProvisionError::BadCrc)),
            Err(StoreError::BufferTooSmall { .. }) => {
                Err(KeysError::InboxRefused(ProvisionError::BadLength {
                    len: MAX_FILE_LEN + 1,
                    expected: MAX_FILE_LEN,
                }))
            }
            Err(e) => Err(KeysError::Storage(e)),
        },
    }
}

fn seal_new<F: NorFlash + ErasedValue>(
    flash: &mut F,
    store: &mut RecordStore,
    seal: &[u8; 32],
    origin: KeyOrigin,
    file: &[u8],
) -> Result<Unsealed, KeysError<F::Error>> {
    let mut record = [0u8; MAX_SEALED_LEN];
    let sealed = sealed::seal(seal, origin, 1, file, &mut record)
        .map_err(|e| match e {
            SealError::Invalid(p) => KeysError::InboxRefused(p),
            other => KeysError::Damaged(other),
        })
        .and_then(|n| {
            let r = record.get(..n).unwrap_or(&[]);
            store.write_mirrored(flash, r)?;
            sealed::unseal(seal, r).map_err(KeysError::Damaged)
        });
    record.zeroize();
    sealed
}

#[cfg(feature = "sim-default-keys")]
fn sim_default<F: NorFlash + ErasedValue>(
    flash: &mut F,
    store: &mut RecordStore,
    seal: &[u8; 32],
) -> Result<LinkKeys, KeysError<F::Error>> {
    let file = comms::sdls::sim_default::sim_default_bytes().map_err(KeysError::InboxRefused)?;
    let sealed = seal_new(flash, store, seal, KeyOrigin::SimDefault, &file)?;
    Ok(LinkKeys {
        sealed,
        how: KeysHow::SimDefaultFirstBoot,
        inbox_ignored: false,
    })
}

#[cfg(not(feature = "sim-default-keys"))]
fn sim_default<F: NorFlash + ErasedValue>(
    _: &mut F,
    _: &mut RecordStore,
    _: &[u8; 32],
) -> Result<LinkKeys, KeysError<F::Error>> {
    Err(KeysError::NotProvisioned)
}

/// Erase both copies of the inbox (it held keys in clear).
fn erase_inbox<F: NorFlash + ErasedValue>(flash: &mut F) -> Result<(), KeysError<F::Error>> {
    let l = inbox_layout();
    let end = l.base() + 2 * l.copy_size();
    flash
        .erase(l.base(), end)
        .map_err(|e| KeysError::Storage(StoreError::Flash(e)))
}

/// Write a provisioning `file` into the inbox of `flash` (the operator's side, before the first
/// boot). The file is checked first; nothing is written if comms would refuse it.
pub fn write_inbox<F: NorFlash + ErasedValue>(
    flash: &mut F,
    file: &[u8],
) -> Result<(), KeysError<F::Error>> {
    comms::sdls::Provisioning::parse(file).map_err(KeysError::InboxRefused)?;
    let mut inbox = RecordStore::mount(flash, inbox_layout())?;
    inbox.write_mirrored(flash, file)?;
    Ok(())
}

/// Whether comms' SDLS state record was ever written on `flash` (comms writes it at its first
/// boot): then the node has run, whatever else says. Unreadable flash counts as written (the
/// safe answer: blank keys are then lost, not new).
pub fn sdls_state_written<F: NorFlash + ErasedValue>(flash: &mut F) -> bool {
    RecordStore::mount(flash, crate::flash_map::sdls_layout())
        .map_or(true, |s| s.status() != RecordStatus::Blank)
}

/// Whether `flash` already holds a key record (present, or damaged: anything but blank).
pub fn has_key_record<F: NorFlash + ErasedValue>(
    flash: &mut F,
) -> Result<bool, KeysError<F::Error>> {
    let store = RecordStore::mount(flash, keys_layout())?;
    Ok(store.status() != RecordStatus::Blank)
}

/// The boot log line saying which keys comms runs with: a WARN, loud, for the sim board's
/// public default.
pub fn log_origin(keys: &LinkKeys) {
    let g = keys.sealed.generation;
    match (keys.sealed.origin, keys.how) {
        (KeyOrigin::SimDefault, _) => log::warn!(
            "SDLS keys: the sim board's PUBLIC default keys (comms::sdls::sim_default; anyone can read them): this link is NOT secure; provision your own with `spacenode provision-link` on a fresh state"
        ),
        (KeyOrigin::Provisioned, KeysHow::FromInbox) => log::info!(
            "SDLS keys: provisioned from the inbox, sealed on comms-flash (generation {g}); inbox erased"
        ),
        (KeyOrigin::Provisioned, _) => {
            log::info!("SDLS keys: sealed on comms-flash (generation {g})")
        }
    }
    match keys.sealed.provisioning.kek() {
        Some(k) => log::info!(
            "SDLS key-encryption key (MKID {}): new keys can come over the air (TC 130,6), above key id {}",
            k.mkid,
            k.last_kid
        ),
        None => log::info!(
            "SDLS keys without a key-encryption key (version 1 provisioning): this node cannot take new keys over the air"
        ),
    }
    if keys.inbox_ignored {
        log::warn!(
            "SDLS provisioning inbox erased unused: this node already has sealed keys (new keys and key states change over the air, `spacenode ground keys`)"
        );
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use board_sim::flash::{PowerCut, SimFlash};
    use comms::sdls::mac::{KEY_LEN, Key};
    use comms::sdls::{Permissions, ProvisionedSa, Provisioning};
    use std::{vec, vec::Vec};

    const SEAL: [u8; 32] = [0x5E; 32];

    fn flash() -> SimFlash {
        SimFlash::anonymous(crate::flash_map::COMMS_FLASH_MIN as usize).unwrap()
    }

    /// An operator's file: one association whose key is `fill` repeated.
    fn file(fill: u8) -> Vec<u8> {
        let sa = ProvisionedSa {
            spi: 9,
            permissions: Permissions::ALL,
            window: 64,
            telemetry: true,
            master: Key::from_bytes([fill; KEY_LEN]),
            state: comms::sdls::KeyState::Active,
            suite: comms::sdls::Suite::Aes256Gcm,
            key_id: 0,
        };
        let mut out = vec![0u8; Provisioning::encoded_len(1)];
        Provisioning::encode(&[sa], &mut out).unwrap();
        out
    }

    fn whole(f: &SimFlash) -> Vec<u8> {
        let mut b = vec![0u8; f.capacity()];
        f.peek(0, &mut b).unwrap();
        b
    }

    fn key_of(k: &LinkKeys) -> [u8; KEY_LEN] {
        *k.sealed
            .provisioning
            .associations()
            .next()
            .unwrap()
            .master
            .as_bytes()
    }

    #[test]
    fn the_inbox_is_sealed_at_first_boot_then_erased_and_the_keys_never_lie_in_clear() {
        let mut f = flash();
        write_inbox(&mut f, &file(0x42)).unwrap();
        assert!(whole(&f).windows(KEY_LEN).any(|w| w == [0x42; KEY_LEN]));
        let k = load(&mut f, &SEAL, false).unwrap();
        assert_eq!(k.how, KeysHow::FromInbox);
        assert_eq!(k.sealed.origin, KeyOrigin::Provisioned);
        assert_eq!(k.sealed.generation, 1);
        assert_eq!(key_of(&k), [0x42; KEY_LEN]);
        assert!(!whole(&f).windows(KEY_LEN).any(|w| w == [0x42; KEY_LEN]));
        let again = load(&mut f, &SEAL, true).unwrap();
        assert_eq!(again.how, KeysHow::Loaded);
        assert_eq!(key_of(&again), [0x42; KEY_LEN]);
    }

    #[test]
    fn an_inbox_beside_sealed_keys_is_erased_unused() {
        let mut f = flash();
        write_inbox(&mut f, &file(1)).unwrap();
        load(&mut f, &SEAL, false).unwrap();
        write_inbox(&mut f, &file(2)).unwrap();
        let k = load(&mut f, &SEAL, true).unwrap();
        assert!(k.inbox_ignored);
        assert_eq!(key_of(&k), [1; KEY_LEN]);
        assert!(!whole(&f).windows(KEY_LEN).any(|w| w == [2; KEY_LEN]));
        assert!(!load(&mut f, &SEAL, true).unwrap().inbox_ignored);
    }

    #[test]
    fn lost_or_damaged_keys_are_reported_and_never_replaced() {
        // Erased on a node that has run: lost, even with the sim default compiled in.
        let mut f = flash();
        write_inbox(&mut f, &file(3)).unwrap();
        load(&mut f, &SEAL, false).unwrap();
        let l = keys_layout();
        f.erase(l.base(), l.base() + 2 * l.copy_size()).unwrap();
        assert!(matches!(load(&mut f, &SEAL, true), Err(KeysError::Lost)));
        assert!(!has_key_record(&mut f).unwrap());
        // Another board's secret: the record does not verify.
        let mut f = flash();
        write_inbox(&mut f, &file(3)).unwrap();
        load(&mut f, &SEAL, false).unwrap();
        assert!(matches!(
            load(&mut f, &[0; 32], true),
            Err(KeysError::Damaged(SealError::BadTag))
        ));
        // One copy flipped: the mirror carries on; both flipped: lost. Nothing is written.
        let before = whole(&f);
        f.flip_bit(u64::from(l.base()) + 40, 0).unwrap();
        assert_eq!(key_of(&load(&mut f, &SEAL, true).unwrap()), [3; KEY_LEN]);
        f.flip_bit(u64::from(l.base() + l.copy_size()) + 40, 0)
            .unwrap();
        assert!(matches!(load(&mut f, &SEAL, true), Err(KeysError::Lost)));
        let after = whole(&f);
        let diff = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        assert_eq!(diff, 2, "only the two flipped bytes differ");
    }

    /// A key record cut short (its first copy's header left, the rest erased, as a truncated
    /// image grown back) on a flash whose SDLS state is written: lost, never the sim default.
    #[test]
    fn a_key_record_cut_after_the_state_was_written_is_lost() {
        let mut f = flash();
        write_inbox(&mut f, &file(5)).unwrap();
        load(&mut f, &SEAL, false).unwrap();
        let mut state = RecordStore::mount(&mut f, crate::flash_map::sdls_layout()).unwrap();
        state.write_mirrored(&mut f, b"state").unwrap();
        let l = keys_layout();
        let mut image = whole(&f);
        let from = l.base() as usize + 100;
        image[from..l.base() as usize + 2 * l.copy_size() as usize].fill(0xFF);
        let mut cut = flash();
        let e = cut.capacity() as u32;
        cut.erase(0, e).unwrap();
        cut.write(0, &image).unwrap();
        assert_eq!(
            RecordStore::mount(&mut cut, l).unwrap().status(),
            RecordStatus::Interrupted
        );
        // Whatever the monitor says about earlier boots.
        for has_run in [false, true] {
            assert!(matches!(
                load(&mut cut, &SEAL, has_run),
                Err(KeysError::Lost)
            ));
        }
        assert!(!whole(&cut).windows(KEY_LEN).any(|w| w == [5; KEY_LEN]));
    }

    #[test]
    fn an_invalid_inbox_is_refused_and_nothing_is_sealed() {
        let mut f = flash();
        let mut bad = file(4);
        bad[4] = 9;
        assert!(matches!(
            write_inbox(&mut f, &bad),
            Err(KeysError::InboxRefused(ProvisionError::BadVersion(9)))
        ));
        // Written behind the writer's back (bad CRC inside a good record).
        let mut bad = file(4);
        bad[10] ^= 1;
        let mut inbox = RecordStore::mount(&mut f, inbox_layout()).unwrap();
        inbox.write_mirrored(&mut f, &bad).unwrap();
        assert!(matches!(
            load(&mut f, &SEAL, false),
            Err(KeysError::InboxRefused(ProvisionError::BadCrc))
        ));
        assert!(!has_key_record(&mut f).unwrap());
    }

    #[cfg(feature = "sim-default-keys")]
    #[test]
    fn a_blank_first_boot_seals_the_public_default_which_later_boots_report() {
        let mut f = flash();
        let k = load(&mut f, &SEAL, false).unwrap();
        assert_eq!(k.how, KeysHow::SimDefaultFirstBoot);
        assert_eq!(k.sealed.origin, KeyOrigin::SimDefault);
        let k = load(&mut f, &SEAL, true).unwrap();
        assert_eq!(
            (k.how, k.sealed.origin),
            (KeysHow::Loaded, KeyOrigin::SimDefault)
        );
    }

    #[cfg(not(feature = "sim-default-keys"))]
    #[test]
    fn a_blank_first_boot_without_the_sim_feature_is_not_provisioned() {
        let mut f = flash();
        assert!(matches!(
            load(&mut f, &SEAL, false),
            Err(KeysError::NotProvisioned)
        ));
        assert!(!has_key_record(&mut f).unwrap());
    }

    /// A power cut at every flash operation of the first boot's sealing (and at a few landed
    /// lengths): the next boot always comes up with the operator's keys, and the inbox ends
    /// erased.
    #[test]
    fn a_power_cut_anywhere_in_the_first_boot_still_yields_the_operators_keys() {
        let mut cases = 0;
        for at_op in 0..64u64 {
            let mut finished = false;
            for landed in [0usize, 7, 64, usize::MAX] {
                let mut f = flash();
                write_inbox(&mut f, &file(0x77)).unwrap();
                f.power_cycle();
                f.cut_power(PowerCut { at_op, landed });
                let first = load(&mut f, &SEAL, false);
                finished = f.powered();
                f.power_cycle();
                let k = load(&mut f, &SEAL, true)
                    .unwrap_or_else(|e| panic!("cut at op {at_op} ({landed} landed): {e}"));
                assert_eq!(key_of(&k), [0x77; KEY_LEN], "cut at op {at_op}");
                assert!(!whole(&f).windows(KEY_LEN).any(|w| w == [0x77; KEY_LEN]));
                if finished {
                    first.unwrap();
                }
                cases += 1;
            }
            if finished {
                assert!(at_op > 2, "the sealing takes several flash operations");
                break;
            }
        }
        assert!(cases > 8);
    }

    /// Two associations: 9 (active, telemetry) and 10 (pre-activation), keys `[spi; 32]`,
    /// with a KEK (MKID 1) when `kek` is set.
    fn two(with_kek: bool) -> Vec<u8> {
        use comms::sdls::{Kek, KeyState};
        let sa = |spi, telemetry, state| ProvisionedSa {
            spi,
            permissions: Permissions::ALL,
            window: 64,
            telemetry,
            master: Key::from_bytes([spi as u8; KEY_LEN]),
            state,
            suite: comms::sdls::Suite::Aes256Gcm,
            key_id: 0,
        };
        let kek = Kek {
            mkid: 1,
            last_kid: 0,
            key: Key::from_bytes([0x4B; KEY_LEN]),
        };
        let mut out = vec![0u8; Provisioning::encoded_len_kek(2)];
        let n = Provisioning::encode_file(
            &[
                sa(9, true, KeyState::Active),
                sa(10, false, KeyState::PreActive),
            ],
            with_kek.then_some(&kek),
            &mut out,
        )
        .unwrap();
        out.truncate(n);
        out
    }

    type Persist = comms::sdls::FlashPersist<SimFlash>;
    type Change<'a> = &'a dyn Fn(
        &mut comms::sdls::SecurityEngine,
        &mut Persist,
    ) -> Result<(), comms::sdls::ManageError>;
    type Check<'a> = &'a dyn Fn(&LinkKeys) -> bool;

    /// Cut power at every flash operation of `change` on a node provisioned with `file`, with
    /// 0, 7, 64 and all bytes of the cut write landed. After each cut the next boot must
    /// unseal keys that `outcome` reads as the new set (`Some(true)`) or the old one
    /// (`Some(false)`, allowed only if `change` did not report `Ok`), and `next` (given which
    /// one) must still work on that node and be read back by the boot after. Returns (cases,
    /// new, old).
    fn power_cut_sweep<'a>(
        file: &[u8],
        change: Change<'_>,
        outcome: &dyn Fn(&LinkKeys) -> Option<bool>,
        next: &dyn Fn(bool) -> (Change<'a>, Check<'a>),
    ) -> (usize, usize, usize) {
        use comms::sdls::{FlashPersist, SecurityEngine};
        let mount = |f: SimFlash, k: &LinkKeys| {
            FlashPersist::mount(f, crate::flash_map::sdls_layout())
                .and_then(|p| {
                    p.with_sealed_keys(keys_layout(), &SEAL, k.sealed.origin, k.sealed.generation)
                })
                .unwrap()
        };
        let (mut cases, mut landed_new, mut kept_old) = (0, 0, 0);
        for at_op in 0..64u64 {
            let mut finished = false;
            for landed in [0usize, 7, 64, usize::MAX] {
                let mut f = flash();
                write_inbox(&mut f, file).unwrap();
                let k = load(&mut f, &SEAL, false).unwrap();
                let mut persist = mount(f, &k);
                let mut engine =
                    SecurityEngine::boot(&k.sealed.provisioning, &mut persist, 16).unwrap();
                // Count operations from here (the counter runs from power-on).
                persist.flash_mut().power_cycle();
                persist.flash_mut().cut_power(PowerCut { at_op, landed });
                let r = change(&mut engine, &mut persist);
                finished = persist.flash_mut().powered();
                let mut f = persist.into_flash();
                f.power_cycle();
                let k2 = load(&mut f, &SEAL, true)
                    .unwrap_or_else(|e| panic!("cut at op {at_op} ({landed} landed): {e}"));
                let new = outcome(&k2)
                    .unwrap_or_else(|| panic!("op {at_op}: neither the old nor the new keys"));
                if new {
                    landed_new += 1;
                } else {
                    assert!(r.is_err(), "op {at_op}: reported Ok but not on flash");
                    kept_old += 1;
                }
                // Still usable: the next change is sealed and read back.
                let (then, check) = next(new);
                let mut persist = mount(f, &k2);
                let mut engine =
                    SecurityEngine::boot(&k2.sealed.provisioning, &mut persist, 16).unwrap();
                then(&mut engine, &mut persist).unwrap();
                let mut f = persist.into_flash();
                f.power_cycle();
                assert!(check(&load(&mut f, &SEAL, true).unwrap()), "op {at_op}");
                if finished {
                    r.unwrap_or_else(|e| panic!("op {at_op}: {e}"));
                }
                cases += 1;
            }
            if finished {
                assert!(
                    at_op > 1,
                    "the reseal takes several flash operations: {at_op}"
                );
                break;
            }
        }
        std::eprintln!(
            "{cases} cases: {landed_new} ended with the new keys, {kept_old} with the old"
        );
        (cases, landed_new, kept_old)
    }

    fn sa_of(k: &LinkKeys, spi: u16) -> (comms::sdls::KeyState, [u8; KEY_LEN]) {
        k.sealed
            .provisioning
            .associations()
            .find(|s| s.spi == spi)
            .map(|s| (s.state, *s.master.as_bytes()))
            .unwrap()
    }

    /// A power cut at every flash operation of a key state change at run time (activation
    /// of a pre-activation key, resealed by [`comms::sdls::FlashPersist`]), at several landed
    /// lengths: the next boot always has the same keys, sealed and verifying, with the key
    /// either still in pre-activation or active (active whenever the change reported `Ok`),
    /// and the node can still change a key's state after it.
    #[test]
    fn a_power_cut_anywhere_in_a_key_state_change_leaves_usable_keys() {
        use comms::sdls::KeyState::{Active, Deactivated, PreActive};
        let activate: Change<'_> = &|e, p| e.set_key_state(10, Active, 9, p);
        let deactivate: Change<'_> = &|e, p| e.set_key_state(10, Deactivated, 9, p);
        let (cases, landed_new, kept_old) = power_cut_sweep(
            &two(false),
            activate,
            &|k| {
                assert_eq!(sa_of(k, 9), (Active, [9; KEY_LEN]));
                match sa_of(k, 10) {
                    (Active, [10, ..]) => Some(true),
                    (PreActive, [10, ..]) => Some(false),
                    _ => None,
                }
            },
            &|new| {
                if new {
                    (deactivate, &|k| sa_of(k, 10).0 == Deactivated)
                } else {
                    (activate, &|k| sa_of(k, 10).0 == Active)
                }
            },
        );
        assert!(
            cases > 8 && landed_new > 0 && kept_old > 0,
            "{cases} {landed_new} {kept_old}"
        );
    }

    /// The same sweep over an OTAR (TC 130,6) of a new key into association 10: the next
    /// boot has either the old key or the new one (in pre-activation, with the KEK's last KID
    /// moved), never a mix, and never the old one after an `Ok`; then the node still takes
    /// the next OTAR (if the cut one landed its KID is used up, so the next one needs a
    /// higher KID) and the boot after unseals that key.
    #[test]
    fn a_power_cut_anywhere_in_an_otar_leaves_the_old_or_the_new_key() {
        use comms::sdls::KeyState::{Active, PreActive};
        use comms::sdls::otar::{self, Kek, OtarKey};
        let wrapped = |kid: u16, fill: u8| {
            let kek = Kek {
                mkid: 1,
                last_kid: 0,
                key: Key::from_bytes([0x4B; KEY_LEN]),
            };
            let key = OtarKey {
                spi: 10,
                kid,
                key: Key::from_bytes([fill; KEY_LEN]),
            };
            let mut out = vec![0u8; otar::MAX_PDU_LEN];
            let n = otar::wrap(&kek, &[3; otar::IV_LEN], &[key], &mut out).unwrap();
            out.truncate(n);
            out
        };
        let (first, second) = (wrapped(200, 0x77), wrapped(201, 0x78));
        let install: Change<'_> = &|e, p| e.install_keys(&first, p).map(|_| ());
        let install_next: Change<'_> = &|e, p| e.install_keys(&second, p).map(|_| ());
        let last_kid = |k: &LinkKeys| k.sealed.provisioning.kek().unwrap().last_kid;
        let next_landed: Check<'_> =
            &|k| sa_of(k, 10) == (PreActive, [0x78; KEY_LEN]) && last_kid(k) == 201;
        let (cases, landed_new, kept_old) = power_cut_sweep(
            &two(true),
            install,
            &|k| {
                assert_eq!(sa_of(k, 9), (Active, [9; KEY_LEN]));
                match (sa_of(k, 10), last_kid(k)) {
                    ((PreActive, [0x77, ..]), 200) => Some(true),
                    ((PreActive, [10, ..]), 0) => Some(false),
                    _ => None,
                }
            },
            &|_| (install_next, next_landed),
        );
        assert!(
            cases > 8 && landed_new > 0 && kept_old > 0,
            "{cases} {landed_new} {kept_old}"
        );
    }
}
