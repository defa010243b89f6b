//! The regions of the `comms-flash` device. Comms owns the whole device (the description's
//! policy gives it to `comms` alone) and splits it in two:
//!
//! | region | bytes | what |
//! | --- | --- | --- |
//! | [`SDLS_REGION`] | `0 .. 64 KiB` | the SDLS security state record ([`comms::sdls::state`]), two mirrored copies of 32 KiB each ([`sdls_layout`]) |
//! | [`CFDP_REGION_START`] .. end | `64 KiB ..` | CFDP resume state of partly received transfers (owned by `comms::cfdp`) |
//!
//! Nothing in the SDLS region is ever written by anything but the security engine's store.
//!
//! Avoids: hard-coding the device size (the CFDP region ends where the flash ends).

use store::StoreLayout;

/// Bytes reserved for the SDLS state at the start of `comms-flash`.
pub const SDLS_REGION: u32 = 64 * 1024;
/// Where the CFDP region starts.
pub const CFDP_REGION_START: u32 = SDLS_REGION;

/// The SDLS state record: copies at 0 and 32 KiB, each 32 KiB, tag `SDLS`.
pub const fn sdls_layout() -> StoreLayout {
    StoreLayout::new(0, SDLS_REGION / 2, comms::sdls::state::TAG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdls_layout_stays_inside_its_region() {
        let l = sdls_layout();
        assert_eq!(l.base(), 0);
        assert_eq!(l.base() + 2 * l.copy_size(), SDLS_REGION);
        assert!(CFDP_REGION_START >= l.base() + 2 * l.copy_size());
    }
}
