//! QEMU's `fw_cfg` device, as the monitor reads the files the host hands it (`boot`'s
//! `-fw_cfg name=opt/spacenode/...`): selector port 0x510 (16-bit), data port 0x511; the file
//! directory is item 0x19, a big-endian count then 64-byte entries (size, select key,
//! reserved, 56-byte name), as QEMU's `docs/specs/fw_cfg.rst` and Linux's `qemu_fw_cfg.h`
//! define it.
//!
//! Avoids: writing to the device (DMA interface included); reading a file but once.

use sel4::*;

const SELECTOR: Word = 0x510;
const DATA: Word = 0x511;
const FILE_DIR: u16 = 0x19;

/// Why a file could not be read.
pub enum FwCfgError {
    /// The directory has no file of this name.
    NoFile(&'static str),
    /// The file is larger than the buffer it is read into.
    TooLong {
        name: &'static str,
        size: u32,
        max: usize,
    },
    Io(Error),
}

impl core::fmt::Display for FwCfgError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoFile(name) => write!(f, "QEMU's fw_cfg has no {name}"),
            Self::TooLong { name, size, max } => {
                write!(f, "{name} holds {size} bytes, more than the {max} expected")
            }
            Self::Io(e) => write!(f, "reading fw_cfg failed: {}", e.name()),
        }
    }
}

/// The device, through the monitor's I/O port capability.
pub struct FwCfg<'a> {
    pub ipc: &'a mut IpcBuffer,
    pub port: CPtr,
}

impl FwCfg<'_> {
    /// Reads file `name` into the start of `out`; returns its length.
    pub fn read_file(&mut self, name: &'static str, out: &mut [u8]) -> Result<usize, FwCfgError> {
        let (key, size) = self.find(name)?;
        let (len, max) = (size as usize, out.len());
        let dst = out
            .get_mut(..len)
            .ok_or(FwCfgError::TooLong { name, size, max })?;
        self.select(key)?;
        for b in dst.iter_mut() {
            *b = self.byte()?;
        }
        Ok(len)
    }

    /// The select key and size of file `name`.
    fn find(&mut self, name: &'static str) -> Result<(u16, u32), FwCfgError> {
        self.select(FILE_DIR)?;
        let count = u32::from_be_bytes(self.bytes()?);
        for _ in 0..count {
            let size = u32::from_be_bytes(self.bytes()?);
            let key = u16::from_be_bytes(self.bytes()?);
            let _reserved: [u8; 2] = self.bytes()?;
            let entry: [u8; 56] = self.bytes()?;
            let len = entry.iter().position(|&b| b == 0).unwrap_or(entry.len());
            if &entry[..len] == name.as_bytes() {
                return Ok((key, size));
            }
        }
        Err(FwCfgError::NoFile(name))
    }

    fn select(&mut self, key: u16) -> Result<(), FwCfgError> {
        self.ipc
            .io_out16(self.port, SELECTOR, key)
            .map_err(FwCfgError::Io)
    }

    fn byte(&mut self) -> Result<u8, FwCfgError> {
        self.ipc.io_in8(self.port, DATA).map_err(FwCfgError::Io)
    }

    /// The next `N` bytes of the selected item.
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], FwCfgError> {
        let mut out = [0u8; N];
        for b in out.iter_mut() {
            *b = self.byte()?;
        }
        Ok(out)
    }
}
