//! The flight computer's entropy source: a TPM 2.0 on I2C (Infineon SLB9673 on I2C0, see
//! `kernel-config/boards/flight.toml`), asked for random bytes with TPM2_GetRandom, as `hal`'s
//! fallible crypto RNG. Over any `embedded-hal` [`I2c`] bus (here the Cadence I2C driver).
//!
//! The ZynqMP has no TRNG of its own; the TPM's random number generator is its DRBG seeded from
//! its entropy source, which the TPM health-tests itself: a TPM that failed them answers every
//! command with TPM_RC_FAILURE until it is reset, and this driver then reports an error, never
//! bytes.
//!
//! Sources: TCG PC Client Platform TPM Profile (PTP) Specification for TPM 2.0 1.04, the I2C
//! interface (register addresses as Linux `drivers/char/tpm/tpm_tis_i2c.c` maps them:
//! `TPM_I2C_LOC_SEL` 0x00, `TPM_I2C_ACCESS` 0x04, `TPM_STS` 0x18 with the burst count in its
//! bytes 1-2, `TPM_DATA_FIFO` 0x24; a register is read by writing its address, then reading;
//! written by writing its address then the data; a NACK is retried, as
//! `tpm_tis_i2c_retry_transfer_until_ack` does, to cover the TPM's guard time); the FIFO
//! protocol of `tpm_tis_core.c` (`TPM_ACCESS_*` and `TPM_STS_*` bits: request locality 0, wait
//! for it; command ready; write the command within the burst count, EXPECT set until the last
//! byte; GO; wait for VALID and DATA_AVAIL; read the 10-byte header, then the rest; command ready
//! again); TCG TPM 2.0 Library Part 2/3 and Linux `include/linux/tpm.h` (`TPM2_ST_NO_SESSIONS`
//! 0x8001, `TPM2_CC_STARTUP` 0x0144, `TPM2_SU_CLEAR` 0, `TPM2_CC_GET_RANDOM` 0x017B,
//! `TPM2_RC_INITIALIZE` 0x0100: already started, by the boot firmware).
//! Avoids: the I2C CRC (`TPM_DATA_CSUM`), localities other than 0, interrupts, every other TPM
//! command; guard-time waits (no timer: a TPM inside its guard time NACKs and is retried).

use embedded_hal::i2c::I2c;
use hal::rng::{TryCryptoRng, TryRng};

/// The TPM's I2C address (TCG PTP default, the SLB9673's).
pub const TPM_I2C_ADDR: u8 = 0x2E;
/// Locality select (`TPM_I2C_LOC_SEL`).
pub const REG_LOC_SEL: u8 = 0x00;
/// Access (`TPM_I2C_ACCESS`).
pub const REG_ACCESS: u8 = 0x04;
/// Status and burst count (`TPM_STS`).
pub const REG_STS: u8 = 0x18;
/// Command and response FIFO (`TPM_DATA_FIFO`).
pub const REG_DATA_FIFO: u8 = 0x24;
/// Access: the register is valid (`TPM_ACCESS_VALID`).
pub const ACCESS_VALID: u8 = 0x80;
/// Access: this locality is active (`TPM_ACCESS_ACTIVE_LOCALITY`).
pub const ACCESS_ACTIVE_LOCALITY: u8 = 0x20;
/// Access: request this locality (`TPM_ACCESS_REQUEST_USE`).
pub const ACCESS_REQUEST_USE: u8 = 0x02;
/// Status: the other bits are valid (`TPM_STS_VALID`).
pub const STS_VALID: u8 = 0x80;
/// Status: ready for a command / abort and get ready (`TPM_STS_COMMAND_READY`).
pub const STS_COMMAND_READY: u8 = 0x40;
/// Status: execute the command received (`TPM_STS_GO`).
pub const STS_GO: u8 = 0x20;
/// Status: response bytes available (`TPM_STS_DATA_AVAIL`).
pub const STS_DATA_AVAIL: u8 = 0x10;
/// Status: more command bytes expected (`TPM_STS_DATA_EXPECT`).
pub const STS_DATA_EXPECT: u8 = 0x08;
/// Command tag without sessions (`TPM2_ST_NO_SESSIONS`).
pub const ST_NO_SESSIONS: u16 = 0x8001;
/// TPM2_Startup (`TPM2_CC_STARTUP`).
pub const CC_STARTUP: u32 = 0x0144;
/// TPM2_GetRandom (`TPM2_CC_GET_RANDOM`).
pub const CC_GET_RANDOM: u32 = 0x017B;
/// Success (`TPM2_RC_SUCCESS`).
pub const RC_SUCCESS: u32 = 0x0000;
/// Already initialised (`TPM2_RC_INITIALIZE`).
pub const RC_INITIALIZE: u32 = 0x0100;
/// The TPM is in failure mode (`TPM_RC_FAILURE`, TPM 2.0 Part 2 "TPM_RC").
pub const RC_FAILURE: u32 = 0x0101;
/// Bytes of a command or response header.
pub const HEADER: usize = 10;
/// Bytes asked per TPM2_GetRandom (a SHA-256 digest: every TPM 2.0 returns at least that).
pub const RANDOM_CHUNK: usize = 32;
/// Bytes per I2C transfer (the Cadence controller's 16-byte FIFO).
pub const TRANSFER: usize = 16;
/// NACKs retried per transfer (`TPM_RETRY` of Linux `drivers/char/tpm/tpm.h`).
pub const NACK_RETRIES: u32 = 50;
/// Status polls before the TPM is reported unresponsive.
pub const POLLS: u32 = 10_000;

const MAX_RESPONSE: usize = HEADER + 2 + RANDOM_CHUNK;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpmError<E> {
    /// The bus transfer failed past the retries (no TPM, or it lost power).
    Bus(E),
    /// Locality 0 was never granted.
    NoLocality,
    /// The TPM did not reach the state asked for in time (command ready, or a response).
    Timeout,
    /// The TPM broke the FIFO protocol or sent a malformed response.
    Protocol,
    /// The TPM refused the command with this response code (`RC_FAILURE`: failure mode).
    Rc(u32),
}

impl<E: core::fmt::Debug> core::fmt::Display for TpmError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TpmError::Bus(e) => write!(f, "the I2C transfer to the TPM failed: {e:?}"),
            TpmError::NoLocality => f.write_str("the TPM never granted locality 0"),
            TpmError::Timeout => f.write_str("the TPM did not answer in time"),
            TpmError::Protocol => f.write_str("the TPM broke the FIFO protocol or its response"),
            TpmError::Rc(RC_FAILURE) => f.write_str(
                "the TPM is in failure mode (a self test, e.g. of its entropy source, failed): \
                 no random bytes until it is reset",
            ),
            TpmError::Rc(rc) => write!(f, "the TPM refused the command (response code {rc:#x})"),
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for TpmError<E> {}

/// A TPM 2.0 on an I2C bus.
#[derive(Debug)]
pub struct TpmRng<I> {
    bus: I,
    addr: u8,
}

type Result<T, I> = core::result::Result<T, TpmError<<I as embedded_hal::i2c::ErrorType>::Error>>;

impl<I: I2c> TpmRng<I> {
    /// Takes locality 0 of the TPM at `addr` and starts it (TPM2_Startup(CLEAR); one the boot
    /// firmware already started answers TPM_RC_INITIALIZE, which is fine).
    pub fn new(bus: I, addr: u8) -> Result<Self, I> {
        let mut tpm = TpmRng { bus, addr };
        tpm.write_reg(REG_LOC_SEL, &[0])?;
        tpm.write_reg(REG_ACCESS, &[ACCESS_REQUEST_USE])?;
        let granted = ACCESS_VALID | ACCESS_ACTIVE_LOCALITY;
        tpm.poll(REG_ACCESS, granted, granted)
            .map_err(|e| match e {
                TpmError::Timeout => TpmError::NoLocality,
                e => e,
            })?;
        let mut resp = [0u8; MAX_RESPONSE];
        let mut cmd = [0u8; HEADER + 2];
        header(&mut cmd, CC_STARTUP);
        match tpm.command(&cmd, &mut resp) {
            Ok(_) | Err(TpmError::Rc(RC_INITIALIZE)) => Ok(tpm),
            Err(e) => Err(e),
        }
    }

    /// One transfer, retried while the TPM does not acknowledge.
    fn retry(
        &mut self,
        mut t: impl FnMut(&mut I, u8) -> core::result::Result<(), I::Error>,
    ) -> Result<(), I> {
        let mut last = None;
        for _ in 0..=NACK_RETRIES {
            match t(&mut self.bus, self.addr) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(TpmError::Bus(last.expect("at least one attempt")))
    }

    fn write_reg(&mut self, reg: u8, data: &[u8]) -> Result<(), I> {
        let mut buf = [0u8; TRANSFER];
        buf[0] = reg;
        buf[1..=data.len()].copy_from_slice(data);
        self.retry(|bus, addr| bus.write(addr, &buf[..=data.len()]))
    }

    fn read_reg(&mut self, reg: u8, out: &mut [u8]) -> Result<(), I> {
        self.retry(|bus, addr| bus.write(addr, &[reg]))?;
        self.retry(|bus, addr| bus.read(addr, out))
    }

    /// Status byte and burst count.
    fn status(&mut self) -> Result<(u8, usize), I> {
        let mut b = [0u8; 4];
        self.read_reg(REG_STS, &mut b)?;
        Ok((b[0], usize::from(u16::from_le_bytes([b[1], b[2]]))))
    }

    fn poll(&mut self, reg: u8, mask: u8, want: u8) -> Result<(), I> {
        for _ in 0..POLLS {
            let mut b = [0u8; 1];
            self.read_reg(reg, &mut b)?;
            if b[0] & mask == want {
                return Ok(());
            }
        }
        Err(TpmError::Timeout)
    }

    /// A burst count above zero, waited for.
    fn burst(&mut self) -> Result<(u8, usize), I> {
        for _ in 0..POLLS {
            let (sts, burst) = self.status()?;
            if burst > 0 {
                return Ok((sts, burst));
            }
        }
        Err(TpmError::Timeout)
    }

    /// Sends `cmd`, returns the response in `resp` (its length), having checked its code.
    fn command(&mut self, cmd: &[u8], resp: &mut [u8; MAX_RESPONSE]) -> Result<usize, I> {
        self.write_reg(REG_STS, &[STS_COMMAND_READY])?;
        self.poll(REG_STS, STS_COMMAND_READY, STS_COMMAND_READY)?;
        let mut sent = 0;
        while sent < cmd.len() {
            let (_, burst) = self.burst()?;
            let n = burst.min(TRANSFER - 1).min(cmd.len() - sent);
            self.write_reg(REG_DATA_FIFO, &cmd[sent..sent + n])?;
            sent += n;
            let (sts, _) = self.status()?;
            let expect = sts & (STS_VALID | STS_DATA_EXPECT);
            if expect
                != if sent < cmd.len() {
                    STS_VALID | STS_DATA_EXPECT
                } else {
                    STS_VALID
                }
            {
                self.abort();
                return Err(TpmError::Protocol);
            }
        }
        self.write_reg(REG_STS, &[STS_GO])?;
        let avail = STS_VALID | STS_DATA_AVAIL;
        self.poll(REG_STS, avail, avail)?;
        self.receive(&mut resp[..HEADER])?;
        let size = u32::from_be_bytes([resp[2], resp[3], resp[4], resp[5]]) as usize;
        if !(HEADER..=MAX_RESPONSE).contains(&size) {
            self.abort();
            return Err(TpmError::Protocol);
        }
        self.receive(&mut resp[HEADER..size])?;
        self.abort();
        match u32::from_be_bytes([resp[6], resp[7], resp[8], resp[9]]) {
            RC_SUCCESS => Ok(size),
            rc => Err(TpmError::Rc(rc)),
        }
    }

    /// Reads response bytes within the burst count.
    fn receive(&mut self, out: &mut [u8]) -> Result<(), I> {
        let mut got = 0;
        while got < out.len() {
            let (_, burst) = self.burst()?;
            let n = burst.min(TRANSFER).min(out.len() - got);
            self.read_reg(REG_DATA_FIFO, &mut out[got..got + n])?;
            got += n;
        }
        Ok(())
    }

    /// Command ready: ends a response or abandons a command (the TPM goes back to idle).
    fn abort(&mut self) {
        // A failure here leaves the TPM busy; the next command's command-ready wait reports it.
        let _ = self.write_reg(REG_STS, &[STS_COMMAND_READY]);
    }

    /// One TPM2_GetRandom into `out` (at most [`RANDOM_CHUNK`]); how many bytes came.
    fn get_random(&mut self, out: &mut [u8]) -> Result<usize, I> {
        let want = out.len().min(RANDOM_CHUNK);
        let mut cmd = [0u8; HEADER + 2];
        header(&mut cmd, CC_GET_RANDOM);
        cmd[HEADER..].copy_from_slice(&(want as u16).to_be_bytes());
        let mut resp = [0u8; MAX_RESPONSE];
        let len = self.command(&cmd, &mut resp)?;
        let n = usize::from(u16::from_be_bytes([resp[HEADER], resp[HEADER + 1]]));
        if len < HEADER + 2 + n || n == 0 || n > want {
            return Err(TpmError::Protocol);
        }
        out[..n].copy_from_slice(&resp[HEADER + 2..HEADER + 2 + n]);
        Ok(n)
    }
}

/// A command header with no sessions, `cc`, and (for the two commands used) a 2-byte parameter.
fn header(cmd: &mut [u8; HEADER + 2], cc: u32) {
    cmd[..2].copy_from_slice(&ST_NO_SESSIONS.to_be_bytes());
    cmd[2..6].copy_from_slice(&((HEADER + 2) as u32).to_be_bytes());
    cmd[6..10].copy_from_slice(&cc.to_be_bytes());
}

impl<I: I2c> TryRng for TpmRng<I> {
    type Error = TpmError<I::Error>;

    fn try_next_u32(&mut self) -> Result<u32, I> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, I> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Fills `dst` by TPM2_GetRandom; on an error `dst` may be partly filled and must not be used.
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), I> {
        let mut done = 0;
        while done < dst.len() {
            done += self.get_random(&mut dst[done..])?;
        }
        Ok(())
    }
}

impl<I: I2c> TryCryptoRng for TpmRng<I> {}
