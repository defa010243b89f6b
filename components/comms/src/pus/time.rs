//! The TM time field: CCSDS Day Segmented time code (CCSDS 301.0-B-4 §3.3), 16-bit day,
//! millisecond of day, no sub-millisecond field, with its P-field: 7 bytes, built by
//! `spacepackets::time::cds`.
//!
//! Avoids: reading any clock; the caller passes mission time (hal `MissionTime`, Unix µs).

use spacepackets::time::UnixTime;
use spacepackets::time::cds::{CdsTime, SubmillisPrecision};

/// Length of the time field.
pub const STAMP_LEN: usize = 7;

/// The CDS short stamp of `unix_us` (microseconds since 1970). Times the 16-bit day cannot hold
/// (after 2137) or unknown times (`None`) give the CCSDS epoch itself, day 0 ms 0.
pub fn cds_stamp(unix_us: Option<u64>) -> [u8; STAMP_LEN] {
    let mut out = [0x40, 0, 0, 0, 0, 0, 0];
    let Some(us) = unix_us else {
        return out;
    };
    let secs = i64::try_from(us / 1_000_000).unwrap_or(i64::MAX);
    let nanos = ((us % 1_000_000) * 1000) as u32;
    if let Ok(t) = CdsTime::from_unix_time_with_u16_days(
        &UnixTime::new(secs, nanos),
        SubmillisPrecision::Absent,
    ) {
        let mut buf = [0u8; STAMP_LEN];
        if t.write_to_slice(&mut buf) == Ok(STAMP_LEN) {
            out = buf;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch_is_day_4383() {
        // 1958-01-01 to 1970-01-01 is 4383 days.
        assert_eq!(cds_stamp(Some(0)), [0x40, 0x11, 0x1F, 0, 0, 0, 0]);
        // One day and 1.5 s later.
        let us = (86_400 + 1) * 1_000_000 + 500_000;
        assert_eq!(cds_stamp(Some(us)), [0x40, 0x11, 0x20, 0, 0, 0x05, 0xDC]);
        assert_eq!(cds_stamp(None), [0x40, 0, 0, 0, 0, 0, 0]);
        assert_eq!(cds_stamp(Some(u64::MAX)), [0x40, 0, 0, 0, 0, 0, 0]);
    }
}
