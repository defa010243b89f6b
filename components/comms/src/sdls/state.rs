//! The security state that survives a reboot, its record format, and where it is kept.
//!
//! # What is persisted, and when
//!
//! Per association: the key epoch, a **receive reservation** `R` and a **transmit reservation**
//! `T`. The invariant, kept at every instant including in the middle of a flash write, is:
//!
//! - every uplink ARSN the node has ever accepted is `<= R` as stored on flash;
//! - every downlink ARSN the node has ever sent is `<= T` as stored on flash.
//!
//! It holds because the engine never accepts an uplink unit with ARSN `s > R` (or sends with
//! `t > T`) before a record with `R' = s + BLOCK` (`T' = t + BLOCK`) has been *committed* (the
//! store's write returned `Ok`). The store ([`store::RecordStore`]) guarantees that a power cut at
//! any write or erase leaves either the previous record or the new one readable, and both satisfy
//! the invariant. At boot the engine sets each association's last accepted uplink ARSN to `R` and
//! its next downlink ARSN to `T + 1`, so no uplink unit accepted before the reboot can ever be
//! accepted again, and no downlink ARSN is reused. Writing once per `BLOCK` units bounds flash
//! wear; the cost is that after a reboot the ground must continue above `R` (the node reports `R`
//! in housekeeping structure 3 and in the boot event, both authenticated). Updates are written
//! mirrored ([`store::RecordStore::write_mirrored`]) so a bit flip in one copy cannot roll `R`
//! back by one block.
//!
//! # Record payload (version 1), integers big-endian
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 1 | version, `1` |
//! | 1 | 1 | n, `0..=MAX_ASSOCIATIONS` |
//! | 2 | 22·n | entries: SPI (2), key epoch (4), R (8), T (8) |
//!
//! The store adds its own header (tag `SDLS`, sequence number) and CRC-32C.
//!
//! Avoids: heap; authentication of the record (the flash belongs to comms' partition alone; an
//! attacker able to write it could also replace the code).

use hal::flash::{ErasedValue, NorFlash};
use store::{RecordStatus, RecordStore, StoreError, StoreLayout};

use zeroize::Zeroize;

use super::provision::MAX_ASSOCIATIONS;
use super::sealed::{self, KeyOrigin, MAX_SEALED_LEN, SealError};

/// Record format version.
pub const STATE_VERSION: u8 = 1;
/// Bytes per entry.
pub const ENTRY_LEN: usize = 22;
/// Largest payload.
pub const MAX_STATE_LEN: usize = 2 + ENTRY_LEN * MAX_ASSOCIATIONS;
/// The store tag of the security state record.
pub const TAG: [u8; 4] = *b"SDLS";

/// One association's persisted state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SaState {
    /// Security parameter index.
    pub spi: u16,
    /// Key epoch in use.
    pub epoch: u32,
    /// Receive reservation R: every accepted uplink ARSN is `<= rx_reserved`.
    pub rx_reserved: u64,
    /// Transmit reservation T: every sent downlink ARSN is `<= tx_reserved`.
    pub tx_reserved: u64,
}

/// Why a state record does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateDecodeError {
    /// Unknown version.
    #[error("security state version {0} is not supported")]
    BadVersion(u8),
    /// Length does not match the count, or count too large.
    #[error("security state record has a bad length")]
    BadLength,
}

/// Encode `states` into `out` (at least [`MAX_STATE_LEN`] bytes), returning the length.
pub fn encode(states: &[SaState], out: &mut [u8; MAX_STATE_LEN]) -> usize {
    let n = states.len().min(MAX_ASSOCIATIONS);
    out[0] = STATE_VERSION;
    out[1] = n as u8;
    for (s, e) in states
        .iter()
        .take(n)
        .zip(out[2..].chunks_exact_mut(ENTRY_LEN))
    {
        e[0..2].copy_from_slice(&s.spi.to_be_bytes());
        e[2..6].copy_from_slice(&s.epoch.to_be_bytes());
        e[6..14].copy_from_slice(&s.rx_reserved.to_be_bytes());
        e[14..22].copy_from_slice(&s.tx_reserved.to_be_bytes());
    }
    2 + ENTRY_LEN * n
}

/// Decode a record payload into up to [`MAX_ASSOCIATIONS`] entries.
pub fn decode(bytes: &[u8]) -> Result<StateEntries, StateDecodeError> {
    let (&version, rest) = bytes.split_first().ok_or(StateDecodeError::BadLength)?;
    if version != STATE_VERSION {
        return Err(StateDecodeError::BadVersion(version));
    }
    let (&n, body) = rest.split_first().ok_or(StateDecodeError::BadLength)?;
    let n = n as usize;
    if n > MAX_ASSOCIATIONS || body.len() != n * ENTRY_LEN {
        return Err(StateDecodeError::BadLength);
    }
    let mut out = StateEntries::default();
    for (slot, e) in out.items.iter_mut().zip(body.chunks_exact(ENTRY_LEN)) {
        let be8 = |b: &[u8]| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_be_bytes(a)
        };
        *slot = Some(SaState {
            spi: u16::from_be_bytes([e[0], e[1]]),
            epoch: u32::from_be_bytes([e[2], e[3], e[4], e[5]]),
            rx_reserved: be8(&e[6..14]),
            tx_reserved: be8(&e[14..22]),
        });
    }
    Ok(out)
}

/// Up to [`MAX_ASSOCIATIONS`] decoded entries, in record order (no heap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateEntries {
    items: [Option<SaState>; MAX_ASSOCIATIONS],
}

impl StateEntries {
    /// The entry for `spi`, if present.
    pub fn get(&self, spi: u16) -> Option<SaState> {
        self.items.iter().flatten().copied().find(|s| s.spi == spi)
    }

    /// All entries.
    pub fn iter(&self) -> impl Iterator<Item = &SaState> {
        self.items.iter().flatten()
    }
}

/// What the persistence backend found at boot.
// No heap to box into: the record is a few hundred bytes on the stack, once per boot.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// Nothing was ever committed (blank, or the very first write was cut before it committed,
    /// which means nothing was accepted yet either).
    Fresh,
    /// The newest committed record.
    Record(StateEntries),
}

/// Where the security state lives. The engine calls `save` before every reservation it relies
/// on and treats any error as "not committed".
pub trait StatePersist {
    /// Backend error.
    type Error: core::fmt::Debug;
    /// Commit `payload` as the new record. `Ok` means a reboot will read it (or a later one).
    fn save(&mut self, payload: &[u8]) -> Result<(), Self::Error>;
    /// Read the newest committed record at boot.
    fn load(&mut self) -> Result<Loaded, LoadError<Self::Error>>;
    /// Commit `file` (a [`super::provision`] file: the node's whole key set with the keys'
    /// new states) as the new sealed key record. `Ok` means a reboot will read it.
    fn save_keys(&mut self, file: &[u8]) -> Result<(), KeySaveError<Self::Error>>;
}

/// Why the sealed key record could not be rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeySaveError<E: core::fmt::Debug> {
    /// This backend was mounted without the key record ([`FlashPersist::with_sealed_keys`]).
    #[error("the sealed key record is not mounted")]
    NotMounted,
    /// The file could not be sealed.
    #[error("sealing the key record: {0}")]
    Seal(SealError),
    /// The backend failed (the new record may or may not have landed; both are usable).
    #[error("key record backend failed: {0:?}")]
    Backend(E),
}

/// The sealed key record as [`FlashPersist`] rewrites it at run time.
struct SealedKeys {
    store: RecordStore,
    seal: [u8; 32],
    origin: KeyOrigin,
    generation: u32,
}

impl Drop for SealedKeys {
    fn drop(&mut self) {
        self.seal.zeroize();
    }
}

impl core::fmt::Debug for SealedKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SealedKeys")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// Why the state could not be loaded at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoadError<E: core::fmt::Debug> {
    /// The backend failed.
    #[error("security state backend failed: {0:?}")]
    Backend(E),
    /// A record existed and no copy verifies any more: the floors are unknown. The node must
    /// not guess (it could re-accept old commands); it fails closed.
    #[error("security state record lost (both copies corrupt)")]
    Lost,
    /// The record verifies but does not decode.
    #[error("security state record does not decode: {0}")]
    Decode(StateDecodeError),
}

/// The security state on NOR flash, in one crash-safe record written mirrored.
#[derive(Debug)]
pub struct FlashPersist<F> {
    flash: F,
    store: RecordStore,
    keys: Option<SealedKeys>,
}

impl<F: NorFlash> FlashPersist<F> {
    /// Mount the record at `layout` (its tag should be [`TAG`]) on `flash`.
    pub fn mount(mut flash: F, layout: StoreLayout) -> Result<Self, StoreError<F::Error>>
    where
        F: ErasedValue,
    {
        let store = RecordStore::mount(&mut flash, layout)?;
        Ok(FlashPersist {
            flash,
            store,
            keys: None,
        })
    }

    /// Also mount the sealed key record at `layout` (tag [`super::sealed::TAG`]), last
    /// written as `generation` with `origin`, so key state changes can be sealed under `seal`
    /// (the board's sealing secret for this flash; kept, and zeroized on drop).
    pub fn with_sealed_keys(
        mut self,
        layout: StoreLayout,
        seal: &[u8; 32],
        origin: KeyOrigin,
        generation: u32,
    ) -> Result<Self, StoreError<F::Error>>
    where
        F: ErasedValue,
    {
        let store = RecordStore::mount(&mut self.flash, layout)?;
        self.keys = Some(SealedKeys {
            store,
            seal: *seal,
            origin,
            generation,
        });
        Ok(self)
    }

    /// The flash device back (tests use it to power-cycle the sim flash).
    pub fn into_flash(self) -> F {
        self.flash
    }

    /// The flash device.
    pub fn flash_mut(&mut self) -> &mut F {
        &mut self.flash
    }
}

impl<F: NorFlash> StatePersist for FlashPersist<F>
where
    F::Error: core::fmt::Debug,
{
    type Error = StoreError<F::Error>;

    fn save(&mut self, payload: &[u8]) -> Result<(), Self::Error> {
        match self.store.write_mirrored(&mut self.flash, payload) {
            Ok(_) => Ok(()),
            // The first copy committed; only the mirror failed. The record is committed (see
            // `write_mirrored`), so the reservation holds.
            Err(_) if self.committed(payload) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Seal `file` as the next generation and write it mirrored. A power cut (or an error)
    /// at any flash operation leaves the previous record or the new one readable
    /// ([`RecordStore::write_mirrored`]); both hold the same keys, only one state differs. The
    /// generation advances even on error, so a retry never reuses the nonce of a record that
    /// may have landed (GCM-SIV would survive it, but there is no need).
    fn save_keys(&mut self, file: &[u8]) -> Result<(), KeySaveError<Self::Error>> {
        let keys = self.keys.as_mut().ok_or(KeySaveError::NotMounted)?;
        let generation = sealed::next_generation(keys.generation).map_err(KeySaveError::Seal)?;
        let mut record = [0u8; MAX_SEALED_LEN];
        let written = sealed::seal(&keys.seal, keys.origin, generation, file, &mut record)
            .map_err(KeySaveError::Seal)
            .map(|n| {
                keys.generation = generation;
                let r = record.get(..n).unwrap_or(&[]);
                match keys.store.write_mirrored(&mut self.flash, r) {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let mut back = [0u8; MAX_SEALED_LEN];
                        let same = matches!(keys.store.read(&mut self.flash, &mut back),
                            Ok(Some(m)) if back.get(..m) == Some(r));
                        back.zeroize();
                        // The first copy committed; only the mirror failed: committed.
                        if same {
                            Ok(())
                        } else {
                            Err(KeySaveError::Backend(e))
                        }
                    }
                }
            });
        record.zeroize();
        written?
    }

    fn load(&mut self) -> Result<Loaded, LoadError<Self::Error>> {
        match self.store.status() {
            RecordStatus::Blank | RecordStatus::Interrupted => Ok(Loaded::Fresh),
            RecordStatus::Lost => Err(LoadError::Lost),
            RecordStatus::Present { .. } => {
                let mut buf = [0u8; MAX_STATE_LEN];
                match self.store.read(&mut self.flash, &mut buf) {
                    Ok(Some(n)) => decode(buf.get(..n).unwrap_or(&[]))
                        .map(Loaded::Record)
                        .map_err(LoadError::Decode),
                    Ok(None) => Err(LoadError::Lost),
                    Err(StoreError::BufferTooSmall { .. }) => {
                        Err(LoadError::Decode(StateDecodeError::BadLength))
                    }
                    Err(e) => Err(LoadError::Backend(e)),
                }
            }
        }
    }
}

impl<F: NorFlash> FlashPersist<F> {
    /// Whether the newest valid record is exactly `payload` (after a failed mirror write).
    fn committed(&mut self, payload: &[u8]) -> bool {
        let mut buf = [0u8; MAX_STATE_LEN];
        matches!(self.store.read(&mut self.flash, &mut buf), Ok(Some(n)) if buf.get(..n) == Some(payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let states = [
            SaState {
                spi: 1,
                epoch: 2,
                rx_reserved: 3,
                tx_reserved: u64::MAX,
            },
            SaState {
                spi: 0xFFFE,
                epoch: u32::MAX,
                rx_reserved: 0,
                tx_reserved: 5,
            },
        ];
        let mut buf = [0u8; MAX_STATE_LEN];
        let n = encode(&states, &mut buf);
        assert_eq!(n, 2 + 2 * ENTRY_LEN);
        let d = decode(&buf[..n]).unwrap();
        assert_eq!(d.iter().copied().collect::<Vec<_>>(), states.to_vec());
        assert_eq!(d.get(0xFFFE), Some(states[1]));
        assert_eq!(d.get(7), None);
    }

    #[test]
    fn decode_refuses_bad_records() {
        assert_eq!(decode(&[]), Err(StateDecodeError::BadLength));
        assert_eq!(decode(&[2, 0]), Err(StateDecodeError::BadVersion(2)));
        assert_eq!(decode(&[1]), Err(StateDecodeError::BadLength));
        assert_eq!(decode(&[1, 1, 0]), Err(StateDecodeError::BadLength));
        assert_eq!(decode(&[1, 9]), Err(StateDecodeError::BadLength));
        assert!(decode(&[1, 0]).is_ok());
    }
}
