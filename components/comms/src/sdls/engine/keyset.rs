//! Changes to the node's key set: key states (130,7 activate, 130,8 deactivate) and new keys
//! over the air (130,6 OTAR). Each one writes the whole key set, as a provisioning file, through
//! [`StatePersist::save_keys`] (comms reseals it as the next generation on both copies) **before**
//! it changes anything in memory: a refused or failed write changes nothing.
//!
//! Avoids: heap; key bytes left in a buffer (the file is zeroized after the write).

use zeroize::Zeroize;

use super::super::key_state::KeyState;
use super::super::mac::{self, Key};
use super::super::otar::{self, Kek, OtarError};
use super::super::permissions::Permissions;
use super::super::provision::{MAX_ASSOCIATIONS, ProvisionedSa, Provisioning, Suite};
use super::super::sealed::MAX_FILE_LEN;
use super::super::state::StatePersist;
use super::{Association, ManageError, RestoreError, SaState, SecurityEngine, derive_pair};

impl SecurityEngine {
    /// Key recovery (`super::super::key_recovery`): commit the provisioning `file` the ground
    /// sent as the new key set, with each association's state from `state`: the anti-replay
    /// record first, then the sealed key record. The running engine does not change (the
    /// caller answers under it, then boots the new one from the records,
    /// [`SecurityEngine::boot`]). A power cut between the two writes leaves the keys lost and
    /// the new floors on flash: comms recovers again, never below them.
    pub fn commit_keys<P: StatePersist>(
        file: &[u8],
        state: impl Fn(u16) -> Option<SaState>,
        persist: &mut P,
        block: u64,
    ) -> Result<(), RestoreError> {
        let provisioning = Provisioning::parse(file).map_err(|_| RestoreError::Mac)?;
        let mut fresh = Self::boot_lost(&provisioning, block).map_err(|_| RestoreError::Mac)?;
        fresh.restore(state, persist)?;
        persist
            .save_keys(file)
            .map_err(|_| RestoreError::PersistFailed)
    }

    /// Commit the key set with every association mapped through `f` and the KEK `kek`,
    /// without touching memory.
    fn save_key_set<P: StatePersist>(
        &self,
        persist: &mut P,
        kek: Option<&Kek>,
        f: impl Fn(&Association) -> ProvisionedSa,
    ) -> Result<(), ManageError> {
        let mut list: [ProvisionedSa; MAX_ASSOCIATIONS] = core::array::from_fn(|_| ProvisionedSa {
            spi: 0,
            permissions: Permissions::NONE,
            window: 0,
            telemetry: false,
            master: Key::from_bytes([0; mac::KEY_LEN]),
            state: KeyState::Active,
            suite: Suite::Aes256Gcm,
            key_id: 0,
        });
        let mut n = 0;
        for (slot, a) in list.iter_mut().zip(self.sas.iter().flatten()) {
            *slot = f(a);
            n += 1;
        }
        let mut file = [0u8; MAX_FILE_LEN];
        let saved = Provisioning::encode_file(list.get(..n).unwrap_or(&[]), kek, &mut file)
            .map_err(|_| ManageError::PersistFailed)
            .and_then(|len| {
                persist
                    .save_keys(file.get(..len).unwrap_or(&[]))
                    .map_err(|_| ManageError::PersistFailed)
            });
        file.zeroize();
        saved
    }

    /// Activate (pre-activation -> active) or deactivate (active -> deactivated) the key of
    /// association `spi`, as asked by a command that came under association `carrier`. The
    /// sealed key record is rewritten first ([`StatePersist::save_keys`]); only then does the
    /// change take effect. Deactivating the carrier's own key is refused
    /// ([`ManageError::KeyInUse`]). Deactivating the telemetry association's key moves
    /// unsolicited telemetry to the carrier (active: it just authenticated this command), in
    /// the same sealed write, so the node never sends under a retired key.
    pub fn set_key_state<P: StatePersist>(
        &mut self,
        spi: u16,
        wanted: KeyState,
        carrier: u16,
        persist: &mut P,
    ) -> Result<(), ManageError> {
        let sa = self.find(spi).ok_or(ManageError::UnknownSpi(spi))?;
        let current = sa.key_state;
        let allowed = matches!(
            (current, wanted),
            (KeyState::PreActive, KeyState::Active)
                | (KeyState::Active, KeyState::Deactivated)
                | (KeyState::Deactivated, KeyState::Destroyed)
        );
        if !allowed {
            return Err(ManageError::KeyState { current, wanted });
        }
        if wanted == KeyState::Deactivated && spi == carrier {
            return Err(ManageError::KeyInUse(spi));
        }
        if self.find(carrier).is_none() {
            return Err(ManageError::UnknownSpi(carrier));
        }
        let move_telemetry = wanted == KeyState::Deactivated && sa.telemetry;
        self.save_key_set(persist, self.kek.as_ref(), |a| ProvisionedSa {
            spi: a.spi,
            permissions: a.permissions,
            window: a.window,
            telemetry: if move_telemetry {
                a.spi == carrier
            } else {
                a.telemetry
            },
            master: if a.spi == spi && wanted == KeyState::Destroyed {
                Key::from_bytes([0; mac::KEY_LEN])
            } else {
                a.master.clone()
            },
            state: if a.spi == spi { wanted } else { a.key_state },
            suite: a.suite,
            key_id: a.key_id,
        })?;
        for a in self.sas.iter_mut().flatten() {
            if a.spi == spi {
                a.key_state = wanted;
                if wanted == KeyState::Destroyed {
                    // Key zeroizes what it held when replaced.
                    a.master = Key::from_bytes([0; mac::KEY_LEN]);
                    a.up = Key::from_bytes([0; mac::KEY_LEN]);
                    a.down = Key::from_bytes([0; mac::KEY_LEN]);
                }
            }
            if move_telemetry {
                a.telemetry = a.spi == carrier;
            }
        }
        Ok(())
    }

    /// OTAR (TC 130,6): unwrap the new master keys in `pdu` under the KEK
    /// ([`otar::unwrap`]: MKID, tag, every KID new) and install each into its association,
    /// in pre-activation. Refused as a whole, before anything is written, if an association
    /// is unknown or its key is active ([`ManageError::KeyActive`]; the carrier's key is
    /// always active, so the key in use is never replaced). The association keeps its epoch
    /// and anti-replay state (no window reopens); its session keys are derived from the new
    /// key. The key set with the new keys and the KEK's new last KID is sealed first.
    /// Returns the keys' SPIs and KIDs.
    pub fn install_keys<P: StatePersist>(
        &mut self,
        pdu: &[u8],
        persist: &mut P,
    ) -> Result<Installed, ManageError> {
        let keys = otar::unwrap(self.kek.as_ref(), pdu).map_err(ManageError::Otar)?;
        let mut installed: Installed = [None; MAX_ASSOCIATIONS];
        let mut derived: [Option<(u16, Key, Key)>; MAX_ASSOCIATIONS] = Default::default();
        for ((k, out), d) in keys
            .keys()
            .zip(installed.iter_mut())
            .zip(derived.iter_mut())
        {
            let sa = self.find(k.spi).ok_or(ManageError::UnknownSpi(k.spi))?;
            if sa.key_state == KeyState::Active {
                return Err(ManageError::KeyActive(k.spi));
            }
            // Key ids stay unique (provision.rs): a KID another association's key keeps is
            // not new, whatever the KEK's last KID says.
            let kept = |a: &&Association| a.spi != k.spi && keys.keys().all(|n| n.spi != a.spi);
            if self
                .sas
                .iter()
                .flatten()
                .filter(kept)
                .any(|a| a.key_id == k.kid)
            {
                return Err(ManageError::Otar(OtarError::KidNotNew {
                    kid: k.kid,
                    last: self.kek.as_ref().map_or(0, |k| k.last_kid),
                }));
            }
            let (up, down) = derive_pair(&k.key, k.spi, sa.epoch).map_err(|_| ManageError::Mac)?;
            *out = Some((k.spi, k.kid));
            *d = Some((k.spi, up, down));
        }
        let mut kek = self
            .kek
            .clone()
            .ok_or(ManageError::Otar(OtarError::NoKek))?;
        kek.last_kid = keys.last_kid();
        let new_key = |spi: u16| keys.keys().find(|k| k.spi == spi);
        self.save_key_set(persist, Some(&kek), |a| ProvisionedSa {
            spi: a.spi,
            permissions: a.permissions,
            window: a.window,
            telemetry: a.telemetry,
            master: new_key(a.spi).map_or_else(|| a.master.clone(), |k| k.key.clone()),
            state: if new_key(a.spi).is_some() {
                KeyState::PreActive
            } else {
                a.key_state
            },
            suite: a.suite,
            key_id: new_key(a.spi).map_or(a.key_id, |k| k.kid),
        })?;
        for (spi, up, down) in derived.into_iter().flatten() {
            if let (Some(k), Some(a)) = (
                new_key(spi),
                self.sas.iter_mut().flatten().find(|a| a.spi == spi),
            ) {
                a.master = k.key.clone();
                a.key_id = k.kid;
                a.key_state = KeyState::PreActive;
                a.up = up;
                a.down = down;
            }
        }
        self.kek = Some(kek);
        Ok(installed)
    }
}

/// What an OTAR installed: (SPI, KID) of each key, in command order.
pub type Installed = [Option<(u16, u16)>; MAX_ASSOCIATIONS];
