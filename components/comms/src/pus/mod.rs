//! CCSDS space packets (CCSDS 133.0-B-2) with PUS-C headers (ECSS-E-ST-70-41C), on the
//! `spacepackets` crate: telecommand parsing, telemetry building, and the source data of the
//! services this node speaks.
//!
//! | service | subtypes | module |
//! | --- | --- | --- |
//! | 1 request verification | TM 1,1 .. 1,8 | [`verification`] |
//! | 3 housekeeping | TC 3,27 one-shot report, TM 3,25 report (structures 1 health, 2 links, 3 security) | [`hk`] |
//! | 5 event reporting | TM 5,1 .. 5,4 | [`event`] |
//! | 8 function management | TC 8,1 perform function (sign chunk, upgrade chunk) | [`function`] |
//! | 17 test | TC 17,1, TM 17,2 | here |
//! | 130 security management (mission-specific) | TC 130,1 rotate key, 130,2 raise anti-replay floor, 130,3 set ARSN (resynchronise), 130,4 verify key (TM 130,5), 130,7 activate key, 130,8 deactivate key | [`function`] |
//!
//! Packets always carry the PUS packet error control field (CRC-16/CCITT-FALSE). TM secondary
//! headers carry a 7-byte CDS timestamp (P-field 0x40, 16-bit day since 1958-01-01, 32-bit
//! millisecond of day), as `tmtccmd`'s `CdsShortTimestamp` reads it.
//!
//! Avoids: heap; every builder writes into a caller's buffer.

pub mod event;
pub mod event_log;
pub mod function;
pub mod hk;
pub mod hk_ppp;
pub mod hk_upgrade;
pub mod tc;
pub mod time;
pub mod tm;
pub mod verification;

/// Service 1: request verification.
pub const ST_VERIFICATION: u8 = 1;
/// Service 3: housekeeping.
pub const ST_HOUSEKEEPING: u8 = 3;
/// Service 5: event reporting.
pub const ST_EVENT: u8 = 5;
/// Service 8: function management.
pub const ST_FUNCTION: u8 = 8;
/// Service 17: test.
pub const ST_TEST: u8 = 17;
/// Service 130 (mission-specific range 128..=255): SDLS security management.
pub const ST_SECURITY: u8 = 130;

/// Largest APID (11 bits); 0x7FF is the idle packet APID and is refused.
pub const MAX_APID: u16 = 0x7FE;
