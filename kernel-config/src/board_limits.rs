//! Where each board keeps the two largest things the node receives, and whether they fit: the
//! board file's `[storage]` table names the device holding CFDP batch files and the device holding
//! the A/B upgrade slots, with the bytes of the part behind each (a device's `size` is only its
//! controller's register window). A board whose parts cannot hold the largest batch or the largest
//! bundle fails to load, so `config check` fails for that board.
//!
//! The requirements mirror constants of the crates that use the storage (kernel-config depends on
//! none of them); `tests/storage_limits.rs` (root package) pins each one to its source.
//! Avoids: guessing which device holds what from its name or kind.

use crate::raw::S;
use crate::validate::Checker;
use serde::Deserialize;

/// `comms_partition::flash_map::MAX_BATCH_FILE`: the largest batch file the node accepts.
pub const MAX_BATCH_FILE: u64 = 1 << 20;
/// `comms_partition::flash_map::COMMS_FLASH_MIN`: the SDLS state, sealed keys and inbox (64 KiB), the CFDP journal
/// (16 KiB) and one batch of [`MAX_BATCH_FILE`] bytes.
pub const BATCH_STORE_MIN: u64 = 80 * 1024 + MAX_BATCH_FILE;
/// `hal::slots::SlotLayout::header_area` on every board: `upgrade::limits::MAX_HEADER_LEN`.
pub const SLOT_HEADER_AREA: u64 = 64 * 1024;
/// `hal::slots::SlotLayout::progress_len` on every board: the upgrade agent's records.
pub const SLOT_PROGRESS_LEN: u64 = 16 * 1024;

/// The `[storage]` table of a board file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawStorage {
    /// The device whose part holds comms' state and the batch file being received.
    pub batches: S<String>,
    /// Bytes of that part available to comms.
    pub batch_capacity: S<i64>,
    /// The device whose part holds the two upgrade slots and the agent's records.
    pub bundles: S<String>,
    /// Bytes of that part available to the slots.
    pub bundle_capacity: S<i64>,
    /// Bytes per slot (header area and image): the largest bundle the board accepts.
    pub slot_size: S<i64>,
}

/// What a validated board keeps from its `[storage]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    pub batches: String,
    pub batch_capacity: u64,
    pub bundles: String,
    pub bundle_capacity: u64,
    pub slot_size: u64,
}

impl Storage {
    /// Bytes the slot store needs: two slots, then the agent's records.
    pub fn slot_store_len(&self) -> u64 {
        2 * self.slot_size + SLOT_PROGRESS_LEN
    }
}

/// Checks a board's storage against what the node needs. `devices` are the board's device names.
pub(crate) fn check(c: &mut Checker, s: &RawStorage, devices: &[&str]) -> Option<Storage> {
    let known = |c: &mut Checker, name: &S<String>, role: &str| {
        let ok = devices.contains(&name.get_ref().as_str());
        if !ok {
            c.err(
                name.span(),
                format!(
                    "{role} device `{}` is not a device of this board",
                    name.get_ref()
                ),
                format!("name one of: {}", devices.join(", ")),
            );
        }
        ok
    };
    let batches_known = known(c, &s.batches, "the batch");
    let bundles_known = known(c, &s.bundles, "the bundle");
    let batch_capacity = capacity(c, &s.batch_capacity, "batch-capacity")?;
    let bundle_capacity = capacity(c, &s.bundle_capacity, "bundle-capacity")?;
    let slot_size = capacity(c, &s.slot_size, "slot-size")?;
    let storage = Storage {
        batches: s.batches.get_ref().clone(),
        batch_capacity,
        bundles: s.bundles.get_ref().clone(),
        bundle_capacity,
        slot_size,
    };
    let mut ok = batches_known && bundles_known;
    if batch_capacity < BATCH_STORE_MIN {
        ok = false;
        c.err(
            s.batch_capacity.span(),
            format!(
                "`{}` cannot hold the largest batch: its part has {batch_capacity} bytes, comms needs {BATCH_STORE_MIN} (64 KiB for the SDLS state and keys, 16 KiB CFDP journal, a {MAX_BATCH_FILE}-byte batch)",
                storage.batches
            ),
            "put batches on a part of at least that size (name it in `batches`), or lower MAX_BATCH_FILE for every board",
        );
    }
    if slot_size <= SLOT_HEADER_AREA || !slot_size.is_multiple_of(4096) {
        ok = false;
        c.err(
            s.slot_size.span(),
            format!("slot size {slot_size} leaves no room for an image after the {SLOT_HEADER_AREA}-byte bundle header area, or is not a 4 KiB multiple"),
            "use a 4 KiB multiple above 64 KiB: it is the largest bundle this board accepts",
        );
    } else if bundle_capacity < storage.slot_store_len() {
        ok = false;
        c.err(
            s.bundle_capacity.span(),
            format!(
                "`{}` cannot hold two bundles of {slot_size} bytes: its part has {bundle_capacity} bytes, two slots and the agent's records need {}",
                storage.bundles,
                storage.slot_store_len()
            ),
            "use a larger part for `bundles`, or a smaller `slot-size` (the largest bundle the board accepts)",
        );
    }
    ok.then_some(storage)
}

fn capacity(c: &mut Checker, v: &S<i64>, what: &str) -> Option<u64> {
    let n = *v.get_ref();
    if n <= 0 {
        c.err(
            v.span(),
            format!("{what} {n} is not a size"),
            "give the bytes of the part",
        );
        return None;
    }
    Some(n as u64)
}
