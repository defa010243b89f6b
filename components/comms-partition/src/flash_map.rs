//! The regions of the `comms-flash` device. Comms owns the whole device (the description's
//! policy gives it to `comms` alone) and splits it in two:
//!
//! | region | bytes | what |
//! | --- | --- | --- |
//! | [`SDLS_REGION`] | `0 .. 32 KiB` | the SDLS security state record ([`comms::sdls::state`]), two mirrored copies of 16 KiB each ([`sdls_layout`]) |
//! | | `32 .. 48 KiB` | the sealed SDLS keys ([`crate::keys`], [`comms::sdls::sealed`]), two mirrored copies of 8 KiB ([`keys_layout`]) |
//! | | `48 .. 56 KiB` | the SDLS provisioning inbox, erased once comms sealed it, two copies of 4 KiB ([`inbox_layout`]) |
//! | | `56 .. 64 KiB` | unused |
//! | [`CFDP_REGION_START`] .. `+ 16 KiB` | `64 .. 80 KiB` | the CFDP transfer journal (resume after a reset; owned by `comms::cfdp`) |
//! | `80 KiB .. + MAX_BATCH_FILE` | `80 KiB .. 1104 KiB` | the batch file being received ([`cfdp_layout`]) |
//!
//! Nothing in the SDLS region is ever written by anything but the security engine's store and
//! [`crate::keys`] (and, before the first boot, the operator's inbox writer).
//!
//! # The batch size limit
//!
//! The largest batch file the node accepts is [`MAX_BATCH_FILE`] (1 MiB): the signer reassembles
//! a batch in a buffer of that size (`signer_partition::MAX_BATCH`), so a larger file could
//! never be signed. A `comms-flash` part must therefore hold at least [`COMMS_FLASH_MIN`] bytes
//! (the sim board's holds 2 MiB; the description's `size` for the device is its controller's
//! register window, not the part). A larger upload is refused at its metadata with the CFDP
//! condition `FileSizeError`, which the ground reports with this limit.
//!
//! Avoids: hard-coding the device size beyond the minimum it must have.

use store::StoreLayout;

/// Bytes reserved for SDLS (state, sealed keys, inbox) at the start of `comms-flash`.
pub const SDLS_REGION: u32 = 64 * 1024;
/// Where the CFDP region starts.
pub const CFDP_REGION_START: u32 = SDLS_REGION;

/// The largest batch file accepted by CFDP (the signer's reassembly limit).
pub const MAX_BATCH_FILE: u32 = 1 << 20;

/// Smallest `comms-flash` part that holds SDLS, the CFDP journal and a whole batch.
pub const COMMS_FLASH_MIN: u32 = cfdp_layout().data_base + MAX_BATCH_FILE;

/// The CFDP journal and data area: files of at most [`MAX_BATCH_FILE`] bytes.
pub const fn cfdp_layout() -> comms::cfdp::CfdpLayout {
    let base = comms::cfdp::CfdpLayout::comms(0).data_base;
    comms::cfdp::CfdpLayout::comms(base + MAX_BATCH_FILE)
}

/// The SDLS state record: copies at 0 and 16 KiB, each 16 KiB, tag `SDLS`.
pub const fn sdls_layout() -> StoreLayout {
    StoreLayout::new(0, 16 * 1024, comms::sdls::state::TAG)
}

/// The sealed key record: copies at 32 and 40 KiB, each 8 KiB, tag `LKEY`.
pub const fn keys_layout() -> StoreLayout {
    StoreLayout::new(32 * 1024, 8 * 1024, comms::sdls::sealed::TAG)
}

/// The provisioning inbox: copies at 48 and 52 KiB, each 4 KiB, tag `LPRV`.
pub const fn inbox_layout() -> StoreLayout {
    StoreLayout::new(48 * 1024, 4 * 1024, *b"LPRV")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdls_layout_stays_inside_its_region() {
        let l = sdls_layout();
        assert_eq!(l.base(), 0);
        let k = keys_layout();
        let i = inbox_layout();
        assert_eq!(l.base() + 2 * l.copy_size(), k.base());
        assert_eq!(k.base() + 2 * k.copy_size(), i.base());
        assert!(i.base() + 2 * i.copy_size() <= SDLS_REGION);
        let c = cfdp_layout();
        assert_eq!(c.journal.base(), CFDP_REGION_START);
        assert!(c.data_base as u64 >= c.journal.base() as u64 + c.journal.span());
        assert_eq!(c.data_size, MAX_BATCH_FILE);
        assert_eq!(COMMS_FLASH_MIN, 80 * 1024 + (1 << 20));
    }
}
