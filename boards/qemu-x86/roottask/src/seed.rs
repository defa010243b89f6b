//! The seeds of this board (the signer's rng seed, every start's `runtime` seed), drawn from a
//! pool the host fills with its own RNG: `boot` writes [`POOL`] bytes from the host's
//! `/dev/urandom` into a file QEMU hands the guest through its `fw_cfg` device
//! (`-fw_cfg name=opt/spacenode/seed,file=...`, deleted when QEMU ends), and the monitor reads
//! them once at boot ([`crate::fw_cfg`]). QEMU's emulated Nehalem has no RDRAND and the board has no
//! entropy device, so the host stands in for a hardware RNG: the seeds are secret from every
//! partition but their owner and from the ground, but anyone who can read that file on the
//! host while QEMU runs has them (the boot log says so, [`ORIGIN`]).
//!
//! Without the file (QEMU started by hand without the option) the monitor refuses to boot:
//! there is no weaker fallback.
//!
//! Avoids: handing the same bytes out twice; any seed not from the pool.

use crate::fw_cfg::{FwCfg, FwCfgError};

/// Bytes of the pool (each draw takes the next ones).
pub const POOL: usize = 2048;
/// The fw_cfg file holding the pool.
const FILE: &str = "opt/spacenode/seed";

/// What the boot log says about the seeds.
pub const ORIGIN: &str = "seeded from the host's /dev/urandom through QEMU's fw_cfg (no RDRAND under TCG, no entropy device): secret from the other partitions and the ground, readable on the host while QEMU runs";

/// Why the pool could not be read or drawn from.
pub enum SeedError {
    /// The pool file could not be read (QEMU started without `boot`, or a wrong size).
    FwCfg(FwCfgError),
    /// The pool file is not `POOL` bytes long.
    Size(usize),
    /// Every byte of the pool has been handed out.
    Exhausted,
}

impl core::fmt::Display for SeedError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::FwCfg(e) => write!(
                f,
                "{e}: boot through boards/qemu-x86/boot, which passes the host's seed pool"
            ),
            Self::Size(n) => write!(f, "{FILE} holds {n} bytes, not {POOL}"),
            Self::Exhausted => write!(f, "the seed pool ({POOL} bytes) is used up"),
        }
    }
}

/// The pool, read once.
pub struct Seeds {
    pool: [u8; POOL],
    used: usize,
}

impl Seeds {
    /// Reads the pool from fw_cfg.
    pub fn read(fw: &mut FwCfg) -> Result<Self, SeedError> {
        let mut pool = [0u8; POOL];
        match fw.read_file(FILE, &mut pool).map_err(SeedError::FwCfg)? {
            POOL => Ok(Self { pool, used: 0 }),
            n => Err(SeedError::Size(n)),
        }
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
