//! The seeds of this board (the signer's rng seed, every start's `runtime` seed), drawn from a
//! pool the host fills with its own RNG: `boot` writes [`POOL`] bytes from the host's
//! `/dev/urandom` into a file QEMU hands the guest through its `fw_cfg` device
//! (`-fw_cfg name=opt/spacenode/seed,file=...`, deleted when QEMU ends), and the monitor reads
//! them once at boot through its I/O port capability (selector port 0x510, data port 0x511;
//! the file directory is item 0x19). QEMU's emulated Nehalem has no RDRAND and the board has no
//! entropy device, so the host stands in for a hardware RNG: the seeds are secret from every
//! partition but their owner and from the ground, but anyone who can read that file on the
//! host while QEMU runs has them (the boot log says so, [`ORIGIN`]).
//!
//! Without the file (QEMU started by hand without the option) the monitor refuses to boot:
//! there is no weaker fallback.
//!
//! Avoids: handing the same bytes out twice; any seed not from the pool.

use sel4::*;

/// Bytes of the pool (each draw takes the next ones).
pub const POOL: usize = 2048;
/// The fw_cfg file holding the pool.
const FILE: &[u8] = b"opt/spacenode/seed";
const SELECTOR: Word = 0x510;
const DATA: Word = 0x511;
const FILE_DIR: u16 = 0x19;

/// What the boot log says about the seeds.
pub const ORIGIN: &str = "seeded from the host's /dev/urandom through QEMU's fw_cfg (no RDRAND under TCG, no entropy device): secret from the other partitions and the ground, readable on the host while QEMU runs";

/// Why the pool could not be read or drawn from.
pub enum SeedError {
    /// The fw_cfg directory has no pool file (QEMU started without `boot`).
    NoFile,
    /// The pool file is not `POOL` bytes long.
    Size(u32),
    /// Every byte of the pool has been handed out.
    Exhausted,
    Io(Error),
}

impl core::fmt::Display for SeedError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoFile => write!(
                f,
                "QEMU's fw_cfg has no opt/spacenode/seed: boot through boards/qemu-x86/boot, which passes the host's seed pool"
            ),
            Self::Size(n) => write!(f, "opt/spacenode/seed holds {n} bytes, not {POOL}"),
            Self::Exhausted => write!(f, "the seed pool ({POOL} bytes) is used up"),
            Self::Io(e) => write!(f, "reading fw_cfg failed: {}", e.name()),
        }
    }
}

/// The pool, read once.
pub struct Seeds {
    pool: [u8; POOL],
    used: usize,
}

impl Seeds {
    /// Reads the pool from fw_cfg through the I/O port capability `port`.
    pub fn read(ipc: &mut IpcBuffer, port: CPtr) -> Result<Self, SeedError> {
        let mut fw = FwCfg { ipc, port };
        fw.select(FILE_DIR)?;
        let count = u32::from_be_bytes(fw.bytes()?);
        for _ in 0..count {
            let size = u32::from_be_bytes(fw.bytes()?);
            let key = u16::from_be_bytes(fw.bytes()?);
            let _reserved: [u8; 2] = fw.bytes()?;
            let name: [u8; 56] = fw.bytes()?;
            let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            if &name[..len] != FILE {
                continue;
            }
            if size as usize != POOL {
                return Err(SeedError::Size(size));
            }
            fw.select(key)?;
            return Ok(Self {
                pool: fw.bytes()?,
                used: 0,
            });
        }
        Err(SeedError::NoFile)
    }

    /// Fills `out` with the next bytes of the pool.
    pub fn draw(&mut self, out: &mut [u8]) -> Result<(), SeedError> {
        let next = self
            .pool
            .get(self.used..self.used + out.len())
            .ok_or(SeedError::Exhausted)?;
        out.copy_from_slice(next);
        self.pool[self.used..self.used + out.len()].fill(0);
        self.used += out.len();
        Ok(())
    }
}

/// QEMU's fw_cfg device on the I/O ports.
struct FwCfg<'a> {
    ipc: &'a mut IpcBuffer,
    port: CPtr,
}

impl FwCfg<'_> {
    fn select(&mut self, key: u16) -> Result<(), SeedError> {
        self.ipc
            .io_out16(self.port, SELECTOR, key)
            .map_err(SeedError::Io)
    }

    /// The next `N` bytes of the selected item.
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], SeedError> {
        let mut out = [0u8; N];
        for b in out.iter_mut() {
            *b = self.ipc.io_in8(self.port, DATA).map_err(SeedError::Io)?;
        }
        Ok(out)
    }
}
