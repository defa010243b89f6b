//! The Communications Link Control Word (CCSDS 232.0 §4.2.1, the report of COP-1's FARM),
//! carried in the operational control field of TM transfer frames: control word type `0`,
//! version `00`, status field, COP in effect (`01` = COP-1), virtual channel, the No RF
//! Available, No Bit Lock, Lockout, Wait and Retransmit flags, the FARM-B counter (2 bits) and
//! the report value V(R).
//!
//! Avoids: any field beyond what the standard defines (the spare bits are written as zero).

/// One CLCW.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clcw {
    /// Status field (3 bits, mission-specific; 0 here).
    pub status: u8,
    /// Virtual channel this report is for (6 bits).
    pub vcid: u8,
    /// The physical layer reports no RF.
    pub no_rf_available: bool,
    /// The physical layer reports no bit lock.
    pub no_bit_lock: bool,
    /// FARM is in Lockout.
    pub lockout: bool,
    /// FARM is in Wait (no buffer for the next frame).
    pub wait: bool,
    /// FARM has discarded or missed a type-AD frame: the sender must retransmit.
    pub retransmit: bool,
    /// FARM-B counter, two low bits.
    pub farm_b_counter: u8,
    /// V(R): the N(S) FARM expects next.
    pub report_value: u8,
}

/// Why four bytes are not a CLCW.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClcwError {
    /// Control word type 1 (not a CLCW) or version not `00`.
    #[error("operational control field is not a CLCW (type/version {0:#05b})")]
    NotClcw(u8),
    /// COP in effect is not COP-1.
    #[error("CLCW reports COP in effect {0}, only COP-1 (1) is supported")]
    Cop(u8),
}

impl Clcw {
    /// The 32-bit word, most significant bit first on the wire.
    pub fn to_bytes(self) -> [u8; 4] {
        let word = (u32::from(self.status & 0x07) << 26)
            | (1 << 24)
            | (u32::from(self.vcid & 0x3F) << 18)
            | (u32::from(self.no_rf_available) << 15)
            | (u32::from(self.no_bit_lock) << 14)
            | (u32::from(self.lockout) << 13)
            | (u32::from(self.wait) << 12)
            | (u32::from(self.retransmit) << 11)
            | (u32::from(self.farm_b_counter & 0x03) << 9)
            | u32::from(self.report_value);
        word.to_be_bytes()
    }

    /// Reads a CLCW.
    pub fn from_bytes(bytes: [u8; 4]) -> Result<Self, ClcwError> {
        let word = u32::from_be_bytes(bytes);
        let type_version = (word >> 29) as u8;
        if type_version != 0 {
            return Err(ClcwError::NotClcw(type_version));
        }
        let cop = ((word >> 24) & 0x03) as u8;
        if cop != 1 {
            return Err(ClcwError::Cop(cop));
        }
        Ok(Self {
            status: ((word >> 26) & 0x07) as u8,
            vcid: ((word >> 18) & 0x3F) as u8,
            no_rf_available: word & (1 << 15) != 0,
            no_bit_lock: word & (1 << 14) != 0,
            lockout: word & (1 << 13) != 0,
            wait: word & (1 << 12) != 0,
            retransmit: word & (1 << 11) != 0,
            farm_b_counter: ((word >> 9) & 0x03) as u8,
            report_value: word as u8,
        })
    }
}
