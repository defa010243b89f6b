//! A JEDEC SPI-NOR flash part as `hal` NOR flash ([`hal::flash::NorFlash`]), over any
//! `embedded-hal` [`SpiDevice`] (the flight board's SPI and GQSPI, the dev board's SPI0).
//!
//! Sources: JEDEC JESD216 and the common single-I/O command set as Linux
//! `drivers/mtd/spi-nor/core.c` uses it (`SPINOR_OP_WREN` 0x06, `SPINOR_OP_RDSR` 0x05 with
//! `SR_WIP` bit 0 and `SR_WEL` bit 1, `SPINOR_OP_READ` 0x03, `SPINOR_OP_PP` 0x02,
//! `SPINOR_OP_BE_4K` 0x20, `SPINOR_OP_RDID` 0x9F); Micron MT25Q datasheet (256-byte pages, a page
//! program wraps inside its page, 4 KiB subsector erase, tPP 1.8 ms and tSSE 400 ms maximum).
//! Every program and erase: write enable, check WEL, the command, then poll WIP with a bound.
//! A part that never clears WIP (unpowered, or gone) is reported, never waited on forever.
//! Parts above 16 MiB take the dedicated 4-byte-address commands (`SPINOR_OP_READ_4B` 0x13,
//! `SPINOR_OP_PP_4B` 0x12, `SPINOR_OP_BE_4K_4B` 0x21, Linux `include/linux/mtd/spi-nor.h`; Linux
//! gives the MT25QU512A `SPI_NOR_4B_OPCODES` in `drivers/mtd/spi-nor/micron-st.c`), never the
//! stateful 4-byte address mode, so a part reset mid-way cannot leave the driver out of step.
//!
//! Avoids: quad and dual I/O, block protection.

#![no_std]
#![warn(missing_docs)]

use embedded_hal::spi::{Operation, SpiDevice};
use hal::flash::{
    ErasedValue, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Write enable (`SPINOR_OP_WREN`).
pub const OP_WREN: u8 = 0x06;
/// Read status register (`SPINOR_OP_RDSR`).
pub const OP_RDSR: u8 = 0x05;
/// Read data, 3-byte address (`SPINOR_OP_READ`).
pub const OP_READ: u8 = 0x03;
/// Page program, 3-byte address (`SPINOR_OP_PP`).
pub const OP_PP: u8 = 0x02;
/// Erase a 4 KiB sector (`SPINOR_OP_BE_4K`).
pub const OP_SE_4K: u8 = 0x20;
/// Read the JEDEC identification (`SPINOR_OP_RDID`).
pub const OP_RDID: u8 = 0x9F;
/// Read data, 4-byte address (`SPINOR_OP_READ_4B`).
pub const OP_READ_4B: u8 = 0x13;
/// Page program, 4-byte address (`SPINOR_OP_PP_4B`).
pub const OP_PP_4B: u8 = 0x12;
/// Erase a 4 KiB sector, 4-byte address (`SPINOR_OP_BE_4K_4B`).
pub const OP_SE_4K_4B: u8 = 0x21;
/// The largest part a 3-byte address reaches.
pub const MAX_3B: u32 = 16 << 20;
/// Status: write in progress (`SR_WIP`).
pub const SR_WIP: u8 = 0x01;
/// Status: write enable latch (`SR_WEL`).
pub const SR_WEL: u8 = 0x02;
/// Page size: a program never crosses a page.
pub const PAGE: usize = 256;
/// Erase sector size.
pub const SECTOR: usize = 4096;

/// One part: what it answers to RDID, how large it is, how long it may stay busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// JEDEC manufacturer and device id (RDID's first three bytes).
    pub jedec_id: [u8; 3],
    /// Bytes.
    pub capacity: u32,
    /// Status polls to wait for a page program before giving up.
    pub program_polls: u32,
    /// Status polls to wait for a sector erase before giving up.
    pub erase_polls: u32,
}

/// Micron MT25QU128ABA: 16 MiB, 1.8 V (datasheet: manufacturer 0x20, type 0xBB, capacity 0x18).
/// The poll bounds allow the datasheet maxima (1.8 ms, 400 ms) at one poll per microsecond.
pub const MT25QU128: Part = Part {
    jedec_id: [0x20, 0xBB, 0x18],
    capacity: 16 << 20,
    program_polls: 1_800,
    erase_polls: 400_000,
};

/// Micron MT25QU512ABB: 64 MiB, 1.8 V, the QSPI boot flash of the ZCU102 (UG1182 "Quad-SPI
/// Flash Memory"); Linux `micron-st.c` "mt25qu512a" `INFO6(0x20bb20, ...)`, 4-byte opcodes. Same
/// datasheet maxima as the MT25QU128.
pub const MT25QU512: Part = Part {
    jedec_id: [0x20, 0xBB, 0x20],
    capacity: 64 << 20,
    program_polls: 1_800,
    erase_polls: 400_000,
};

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpiNorError<E> {
    /// The SPI transfer itself failed.
    Spi(E),
    /// RDID did not answer the expected part: wrong part fitted, or none.
    WrongPart {
        /// What the part answered.
        found: [u8; 3],
    },
    /// WEL did not set after write enable: the part is write-protected or not answering.
    NotWriteEnabled,
    /// WIP stayed set past the part's maximum time: the part lost power or failed; the bytes
    /// the operation touched are undefined.
    Timeout,
    /// Offset or length outside the part.
    OutOfBounds,
    /// Offset or length not a multiple of the erase sector.
    NotAligned,
}

impl<E: core::fmt::Debug> NorFlashError for SpiNorError<E> {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            SpiNorError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            SpiNorError::NotAligned => NorFlashErrorKind::NotAligned,
            _ => NorFlashErrorKind::Other,
        }
    }
}

impl<E: core::fmt::Debug> core::fmt::Display for SpiNorError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SpiNorError::Spi(e) => write!(f, "SPI transfer to the NOR flash failed: {e:?}"),
            SpiNorError::WrongPart { found } => write!(
                f,
                "the SPI NOR answered JEDEC id {found:02x?}, not the part the board expects"
            ),
            SpiNorError::NotWriteEnabled => {
                f.write_str("the SPI NOR did not enable writes (write-protected or not answering)")
            }
            SpiNorError::Timeout => f.write_str(
                "the SPI NOR stayed busy past its maximum time: the touched bytes are undefined",
            ),
            SpiNorError::OutOfBounds => f.write_str("offset or length outside the SPI NOR"),
            SpiNorError::NotAligned => f.write_str("erase range not on 4 KiB sector boundaries"),
        }
    }
}

/// A SPI-NOR part on a SPI device.
#[derive(Debug)]
pub struct SpiNor<D> {
    dev: D,
    part: Part,
}

type Result<T, D> =
    core::result::Result<T, SpiNorError<<D as embedded_hal::spi::ErrorType>::Error>>;

/// A command and its address: 3 address bytes on parts up to 16 MiB, else the 4-byte command.
struct Cmd {
    bytes: [u8; 5],
    len: usize,
}

impl Cmd {
    fn new(part: &Part, cmd3: u8, cmd4: u8, offset: u32) -> Cmd {
        let a = offset.to_be_bytes();
        if part.capacity > MAX_3B {
            Cmd {
                bytes: [cmd4, a[0], a[1], a[2], a[3]],
                len: 5,
            }
        } else {
            Cmd {
                bytes: [cmd3, a[1], a[2], a[3], 0],
                len: 4,
            }
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl<D: SpiDevice> SpiNor<D> {
    /// Checks that `part` answers on `dev`.
    pub fn new(mut dev: D, part: Part) -> Result<Self, D> {
        let mut id = [0u8; 3];
        dev.transaction(&mut [Operation::Write(&[OP_RDID]), Operation::Read(&mut id)])
            .map_err(SpiNorError::Spi)?;
        if id != part.jedec_id {
            return Err(SpiNorError::WrongPart { found: id });
        }
        Ok(SpiNor { dev, part })
    }

    fn status(&mut self) -> Result<u8, D> {
        let mut sr = [0u8; 1];
        self.dev
            .transaction(&mut [Operation::Write(&[OP_RDSR]), Operation::Read(&mut sr)])
            .map_err(SpiNorError::Spi)?;
        Ok(sr[0])
    }

    fn wait_ready(&mut self, polls: u32) -> Result<(), D> {
        for _ in 0..polls {
            if self.status()? & SR_WIP == 0 {
                return Ok(());
            }
        }
        Err(SpiNorError::Timeout)
    }

    fn write_enable(&mut self) -> Result<(), D> {
        self.dev.write(&[OP_WREN]).map_err(SpiNorError::Spi)?;
        if self.status()? & (SR_WEL | SR_WIP) != SR_WEL {
            return Err(SpiNorError::NotWriteEnabled);
        }
        Ok(())
    }

    fn in_bounds(&self, offset: u32, len: usize) -> Result<(), D> {
        match (offset as usize).checked_add(len) {
            Some(end) if end <= self.part.capacity as usize => Ok(()),
            _ => Err(SpiNorError::OutOfBounds),
        }
    }
}

impl<D: SpiDevice> ErrorType for SpiNor<D> {
    type Error = SpiNorError<D::Error>;
}

impl<D: SpiDevice> ReadNorFlash for SpiNor<D> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), D> {
        self.in_bounds(offset, bytes.len())?;
        self.wait_ready(self.part.erase_polls)?;
        self.dev
            .transaction(&mut [
                Operation::Write(Cmd::new(&self.part, OP_READ, OP_READ_4B, offset).as_slice()),
                Operation::Read(bytes),
            ])
            .map_err(SpiNorError::Spi)
    }

    fn capacity(&self) -> usize {
        self.part.capacity as usize
    }
}

/// NOR flash erases to `0xFF`.
impl<D: SpiDevice> ErasedValue for SpiNor<D> {
    const ERASED: u8 = 0xFF;
}

impl<D: SpiDevice> NorFlash for SpiNor<D> {
    const WRITE_SIZE: usize = 1;
    const ERASE_SIZE: usize = SECTOR;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), D> {
        if from > to || to as usize > self.part.capacity as usize {
            return Err(SpiNorError::OutOfBounds);
        }
        if !(from as usize).is_multiple_of(SECTOR) || !(to as usize).is_multiple_of(SECTOR) {
            return Err(SpiNorError::NotAligned);
        }
        for sector in (from..to).step_by(SECTOR) {
            self.write_enable()?;
            let cmd = Cmd::new(&self.part, OP_SE_4K, OP_SE_4K_4B, sector);
            self.dev.write(cmd.as_slice()).map_err(SpiNorError::Spi)?;
            self.wait_ready(self.part.erase_polls)?;
        }
        Ok(())
    }

    /// Programs page by page: a page program wraps inside its page, so none crosses one.
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), D> {
        self.in_bounds(offset, bytes.len())?;
        let mut done = 0;
        while done < bytes.len() {
            let at = offset as usize + done;
            let n = (PAGE - at % PAGE).min(bytes.len() - done);
            self.write_enable()?;
            self.dev
                .transaction(&mut [
                    Operation::Write(Cmd::new(&self.part, OP_PP, OP_PP_4B, at as u32).as_slice()),
                    Operation::Write(&bytes[done..done + n]),
                ])
                .map_err(SpiNorError::Spi)?;
            self.wait_ready(self.part.program_polls)?;
            done += n;
        }
        Ok(())
    }
}
