//! NOR flash emulated in a file, with power-cut and bit-flip injection.
//!
//! Byte `i` of the backing file is byte `i` of the flash; an erased device is all `ERASED`
//! (`0xFF` by default, as NOR flash; `0x00` models parts that erase to zero). The emulator
//! enforces what real flash does and what the `hal::flash` contract promises:
//!
//! - **erase** works on whole sectors of `ERASE_SIZE` bytes (aligned start and end) and sets them to
//!   `ERASED`; each sector's erase count is kept (since open, for wear statistics);
//! - **write** offsets and lengths are multiples of `WRITE_SIZE`, and a write may only move bits
//!   away from their erased value (clear them when `ERASED` is `0xFF`, set them when it is
//!   `0x00`): a write that would move one back is refused with
//!   [`SimFlashError::WriteToUnerased`] and nothing is written;
//! - **read** has a granularity of 1 byte.
//!
//! Faults: [`SimFlash::cut_power`] arms a power cut at a numbered write or erase (see
//! [`fault`] for the exact torn state it leaves), and [`SimFlash::flip_bit`] flips any bit of the
//! medium at any time, as radiation would. Re-opening the file (or [`SimFlash::power_cycle`]) is
//! the reboot: the torn state is what the next power cycle sees.
//!
//! This module does no caching: every operation goes to the file with positioned I/O, so several
//! processes may open the same image one after the other (the monitor, then a component).
//! It does not lock the file; the board hands each flash to one owner at a time.

pub mod error;
pub mod fault;

pub use error::SimFlashError;
pub use fault::PowerCut;

use hal::flash::{ErasedValue, ErrorType, MultiwriteNorFlash, NorFlash, ReadNorFlash};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Default write granularity of the sim flash, in bytes.
pub const DEFAULT_WRITE_SIZE: usize = 4;
/// Default sector (erase) size of the sim flash, in bytes.
pub const DEFAULT_ERASE_SIZE: usize = 4096;

/// A file-backed flash of `WRITE_SIZE`-byte write granularity, `ERASE_SIZE`-byte sectors and
/// erased value `ERASED`.
#[derive(Debug)]
pub struct SimFlash<
    const WRITE_SIZE: usize = DEFAULT_WRITE_SIZE,
    const ERASE_SIZE: usize = DEFAULT_ERASE_SIZE,
    const ERASED: u8 = 0xFF,
> {
    file: File,
    capacity: usize,
    erase_counts: Vec<u64>,
    ops: u64,
    cut: Option<PowerCut>,
    powered: bool,
}

impl<const W: usize, const E: usize, const X: u8> SimFlash<W, E, X> {
    /// Create (or truncate) an image at `path` of `capacity` bytes, all erased.
    pub fn create(path: &Path, capacity: usize) -> Result<Self, SimFlashError> {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Self::format(file, capacity)
    }

    /// Open the existing image at `path`; its size is the capacity.
    pub fn open(path: &Path) -> Result<Self, SimFlashError> {
        let file = File::options().read(true).write(true).open(path)?;
        Self::from_file(file)
    }

    /// Open the image at `path`, creating an erased one of `capacity` bytes if it does not exist.
    /// An existing image of another size is refused ([`SimFlashError::BadImage`]).
    pub fn open_or_create(path: &Path, capacity: usize) -> Result<Self, SimFlashError> {
        match File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(file) => Self::format(file, capacity),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let flash = Self::open(path)?;
                if flash.capacity != capacity {
                    return Err(SimFlashError::BadImage {
                        len: flash.capacity as u64,
                        expected: capacity,
                        erase_size: E,
                    });
                }
                Ok(flash)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// An erased flash of `capacity` bytes in an anonymous memory file (memfd), for tests and for
    /// boards that do not persist state. `try_clone_file` gives a handle for another process.
    pub fn anonymous(capacity: usize) -> Result<Self, SimFlashError> {
        let fd = rustix::fs::memfd_create("sim-flash", rustix::fs::MemfdFlags::CLOEXEC)
            .map_err(std::io::Error::from)?;
        Self::format(File::from(fd), capacity)
    }

    /// Use an already open image (its size is the capacity), e.g. a descriptor handed to a
    /// component process by the monitor.
    pub fn from_file(file: File) -> Result<Self, SimFlashError> {
        let len = file.metadata()?.len();
        let capacity = usize::try_from(len).unwrap_or(usize::MAX);
        Self::check_geometry(capacity, len)?;
        Ok(Self::with_file(file, capacity))
    }

    /// A second handle on the same backing file (for handing to another process). The new
    /// handle shares the medium, not this handle's power state or fault plan.
    pub fn try_clone_file(&self) -> Result<File, SimFlashError> {
        Ok(self.file.try_clone()?)
    }

    fn format(file: File, capacity: usize) -> Result<Self, SimFlashError> {
        Self::check_geometry(capacity, capacity as u64)?;
        file.set_len(0)?;
        // Erased in blocks of whole sectors (up to 1 MiB): a 256 MiB slot flash is formatted
        // with 256 writes, not 65,536.
        let block_len = (E * (1usize << 20).div_ceil(E)).min(capacity);
        let block = vec![X; block_len];
        let mut at = 0;
        while at < capacity {
            let n = block_len.min(capacity - at);
            file.write_all_at(&block[..n], at as u64)?;
            at += n;
        }
        Ok(Self::with_file(file, capacity))
    }

    fn check_geometry(capacity: usize, len: u64) -> Result<(), SimFlashError> {
        const {
            assert!(
                W > 0 && E > 0 && E.is_multiple_of(W),
                "ERASE_SIZE must be a multiple of WRITE_SIZE"
            )
        };
        if capacity == 0 || !capacity.is_multiple_of(E) || u32::try_from(capacity).is_err() {
            return Err(SimFlashError::BadImage {
                len,
                expected: capacity,
                erase_size: E,
            });
        }
        Ok(())
    }

    fn with_file(file: File, capacity: usize) -> Self {
        SimFlash {
            file,
            capacity,
            erase_counts: vec![0; capacity / E],
            ops: 0,
            cut: None,
            powered: true,
        }
    }

    /// Device size in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of sectors.
    pub fn sectors(&self) -> usize {
        self.capacity / E
    }

    /// Erases of each sector since open (a cut erase counts for the sectors it reached).
    pub fn erase_counts(&self) -> &[u64] {
        &self.erase_counts
    }

    /// Mutating operations (writes and erases) that reached the medium since open or power cycle.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// False after an injected power cut, until [`SimFlash::power_cycle`].
    pub fn powered(&self) -> bool {
        self.powered
    }

    /// Arm a power cut (replacing any armed one). See [`fault`] for the exact torn state.
    pub fn cut_power(&mut self, cut: PowerCut) {
        self.cut = Some(cut);
    }

    /// Disarm an armed power cut.
    pub fn disarm(&mut self) {
        self.cut = None;
    }

    /// Power the device back on, as at a board reset: operations work again, the operation
    /// counter restarts at 0, any armed cut is dropped. The medium keeps whatever landed.
    pub fn power_cycle(&mut self) {
        self.powered = true;
        self.cut = None;
        self.ops = 0;
    }

    /// Flip bit `bit` (0 = least significant) of the byte at `addr`, whatever the power state:
    /// this is the medium changing under the device, as radiation does.
    pub fn flip_bit(&mut self, addr: u64, bit: u8) -> Result<(), SimFlashError> {
        if addr >= self.capacity as u64 || bit > 7 {
            return Err(SimFlashError::OutOfBounds {
                offset: addr,
                len: 1,
                capacity: self.capacity,
            });
        }
        let mut b = [0u8; 1];
        self.file.read_exact_at(&mut b, addr)?;
        b[0] ^= 1 << bit;
        self.file.write_all_at(&b, addr)?;
        Ok(())
    }

    /// Read the raw medium regardless of power state (for tests and post-mortem inspection).
    pub fn peek(&self, addr: u64, buf: &mut [u8]) -> Result<(), SimFlashError> {
        self.check_range(addr, buf.len() as u64, 1)?;
        Ok(self.file.read_exact_at(buf, addr)?)
    }

    fn check_range(&self, offset: u64, len: u64, align: usize) -> Result<(), SimFlashError> {
        let end = offset.checked_add(len);
        if end.is_none_or(|e| e > self.capacity as u64) {
            return Err(SimFlashError::OutOfBounds {
                offset,
                len,
                capacity: self.capacity,
            });
        }
        if !offset.is_multiple_of(align as u64) || !len.is_multiple_of(align as u64) {
            return Err(SimFlashError::NotAligned { offset, len, align });
        }
        Ok(())
    }

    /// Count one mutating operation; `Some(landed)` if power is cut during it.
    fn next_op(&mut self) -> Option<usize> {
        let index = self.ops;
        self.ops += 1;
        match self.cut {
            Some(c) if c.at_op == index => {
                self.powered = false;
                self.cut = None;
                Some(c.landed)
            }
            _ => None,
        }
    }

    fn do_write(&mut self, offset: u64, data: &[u8]) -> Result<(), SimFlashError> {
        if !self.powered {
            return Err(SimFlashError::PowerLost);
        }
        self.check_range(offset, data.len() as u64, W)?;
        let mut old = vec![0u8; data.len()];
        self.file.read_exact_at(&mut old, offset)?;
        if let Some((i, (&o, &n))) = first_unerased(&old, data, X).and_then(|from| {
            old.iter()
                .zip(data)
                .enumerate()
                .skip(from)
                .find(|(_, (o, n))| (**o ^ X) & !(**n ^ X) != 0)
        }) {
            return Err(SimFlashError::WriteToUnerased {
                addr: offset + i as u64,
                old: o,
                new: n,
            });
        }
        match self.next_op() {
            None => {
                self.file.write_all_at(data, offset)?;
                Ok(())
            }
            Some(landed) => {
                let k = landed.min(data.len());
                self.file
                    .write_all_at(data.get(..k).unwrap_or(&[]), offset)?;
                Err(SimFlashError::PowerLost)
            }
        }
    }

    fn do_erase(&mut self, from: u64, to: u64) -> Result<(), SimFlashError> {
        if !self.powered {
            return Err(SimFlashError::PowerLost);
        }
        let len = to.checked_sub(from).ok_or(SimFlashError::OutOfBounds {
            offset: from,
            len: 0,
            capacity: self.capacity,
        })?;
        self.check_range(from, len, E)?;
        let cut = self.next_op();
        let k = cut.map_or(len, |landed| (landed as u64).min(len));
        let ff = vec![X; E];
        let mut at = from;
        while at < from + k {
            let n = (from + k - at).min(E as u64);
            self.file
                .write_all_at(ff.get(..n as usize).unwrap_or(&[]), at)?;
            if let Some(c) = self.erase_counts.get_mut((at / E as u64) as usize) {
                *c += 1;
            }
            at += n;
        }
        match cut {
            None => Ok(()),
            Some(_) => Err(SimFlashError::PowerLost),
        }
    }
}

/// The first 8-byte word of `old` where `new` would move a bit back to its erased value
/// (`erased`), as a byte index of the word's start, compared a word at a time: megabyte writes
/// stay cheap in unoptimised builds. A bit is programmed when it differs from the erased value.
fn first_unerased(old: &[u8], new: &[u8], erased: u8) -> Option<usize> {
    let word = |b: &[u8]| {
        let mut w = [erased; 8];
        w[..b.len()].copy_from_slice(b);
        u64::from_ne_bytes(w) ^ u64::from_ne_bytes([erased; 8])
    };
    old.chunks(8)
        .zip(new.chunks(8))
        .position(|(o, n)| word(o) & !word(n) != 0)
        .map(|i| i * 8)
}

impl<const W: usize, const E: usize, const X: u8> ErrorType for SimFlash<W, E, X> {
    type Error = SimFlashError;
}

impl<const W: usize, const E: usize, const X: u8> ReadNorFlash for SimFlash<W, E, X> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimFlashError> {
        if !self.powered {
            return Err(SimFlashError::PowerLost);
        }
        self.check_range(u64::from(offset), bytes.len() as u64, 1)?;
        Ok(self.file.read_exact_at(bytes, u64::from(offset))?)
    }

    fn capacity(&self) -> usize {
        self.capacity
    }
}

impl<const W: usize, const E: usize, const X: u8> ErasedValue for SimFlash<W, E, X> {
    const ERASED: u8 = X;
}

impl<const W: usize, const E: usize, const X: u8> NorFlash for SimFlash<W, E, X> {
    const WRITE_SIZE: usize = W;
    const ERASE_SIZE: usize = E;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), SimFlashError> {
        self.do_erase(u64::from(from), u64::from(to))
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimFlashError> {
        self.do_write(u64::from(offset), bytes)
    }
}

/// Rewriting a word is allowed as long as it only programs bits (checked on every write).
impl<const W: usize, const E: usize, const X: u8> MultiwriteNorFlash for SimFlash<W, E, X> {}
