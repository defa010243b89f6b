//! Model of a TPM 2.0 on I2C (the flight board's entropy source), from the TCG PC Client PTP
//! Specification 1.04 I2C interface and FIFO protocol and the TPM 2.0 Library (constants shared
//! with the driver, `board_flight::tpm_rng`):
//!
//! - a write transfer's first byte selects a register, the rest are written to it; a read
//!   transfer reads from the register selected last;
//! - ACCESS grants locality 0 on REQUEST_USE; without it, status reads 0xFF and writes do nothing;
//! - STS: writing COMMAND_READY makes the TPM ready (abandoning a command or response); FIFO
//!   writes collect a command, EXPECT staying set until the header's size has arrived; GO runs a
//!   complete command; DATA_AVAIL stays set while response bytes remain; the burst count is 8, and
//!   bytes written or read past it in one transfer are lost (written) or read 0xFF;
//! - commands: TPM2_Startup (TPM_RC_INITIALIZE if already started), TPM2_GetRandom (at most 32
//!   bytes, TPM_RC_INITIALIZE before startup), anything else TPM_RC_COMMAND_CODE; in failure mode
//!   every command gets TPM_RC_FAILURE until the TPM is reset ([`TpmPart::reset`]).
//!
//! The random bytes come from a splitmix64 sequence seeded per model: test data, not entropy.
//! Commands execute instantly; guard times are not modelled (the part always acknowledges).

use board_flight::tpm_rng::*;

/// Burst count the model reports.
pub const BURST: u16 = 8;
/// `TPM_RC_COMMAND_CODE`.
pub const RC_COMMAND_CODE: u32 = 0x0143;

#[derive(Debug, PartialEq, Eq)]
enum Fifo {
    Idle,
    Ready,
    Receiving(Vec<u8>),
    Complete(Vec<u8>),
}

/// A TPM at an I2C address.
#[derive(Debug)]
pub struct TpmPart {
    addr: u8,
    reg: u8,
    active: bool,
    fifo: Fifo,
    started: bool,
    failed: bool,
    seed: u64,
}

impl TpmPart {
    /// A TPM at `addr`, not started, whose random bytes follow `seed`.
    pub fn new(addr: u8, seed: u64) -> Self {
        TpmPart {
            addr,
            reg: 0,
            active: false,
            fifo: Fifo::Idle,
            started: false,
            failed: false,
            seed,
        }
    }

    /// A self test failed: failure mode until [`TpmPart::reset`].
    pub fn enter_failure_mode(&mut self) {
        self.failed = true;
    }

    /// A TPM reset (_TPM_Init): not started, no locality, failure mode left.
    pub fn reset(&mut self) {
        *self = TpmPart::new(self.addr, self.seed);
    }

    fn next(&mut self) -> u64 {
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn status(&self) -> u8 {
        match &self.fifo {
            Fifo::Idle => STS_VALID,
            Fifo::Ready => STS_VALID | STS_COMMAND_READY,
            Fifo::Receiving(c) if c.len() < HEADER || c.len() < declared(c) => {
                STS_VALID | STS_DATA_EXPECT
            }
            Fifo::Receiving(_) => STS_VALID,
            Fifo::Complete(r) if r.is_empty() => STS_VALID,
            Fifo::Complete(_) => STS_VALID | STS_DATA_AVAIL,
        }
    }

    fn execute(&mut self, cmd: &[u8]) -> Vec<u8> {
        let cc = u32::from_be_bytes([cmd[6], cmd[7], cmd[8], cmd[9]]);
        let (rc, body) = match cc {
            _ if self.failed => (RC_FAILURE, vec![]),
            CC_STARTUP if self.started => (RC_INITIALIZE, vec![]),
            CC_STARTUP => {
                self.started = true;
                (RC_SUCCESS, vec![])
            }
            CC_GET_RANDOM if !self.started => (RC_INITIALIZE, vec![]),
            CC_GET_RANDOM if cmd.len() >= HEADER + 2 => {
                let n = usize::from(u16::from_be_bytes([cmd[10], cmd[11]])).min(RANDOM_CHUNK);
                let mut body = (n as u16).to_be_bytes().to_vec();
                while body.len() < 2 + n {
                    body.extend(self.next().to_le_bytes());
                }
                body.truncate(2 + n);
                (RC_SUCCESS, body)
            }
            _ => (RC_COMMAND_CODE, vec![]),
        };
        let mut r = ST_NO_SESSIONS.to_be_bytes().to_vec();
        r.extend(((HEADER + body.len()) as u32).to_be_bytes());
        r.extend(rc.to_be_bytes());
        r.extend(body);
        r
    }

    fn write_register(&mut self, data: &[u8]) {
        match self.reg {
            REG_ACCESS if data.first() == Some(&ACCESS_REQUEST_USE) => self.active = true,
            _ if !self.active => {}
            REG_STS => match data.first().copied().unwrap_or(0) {
                b if b & STS_COMMAND_READY != 0 => self.fifo = Fifo::Ready,
                b if b & STS_GO != 0 => {
                    if let Fifo::Receiving(c) = &self.fifo
                        && c.len() >= HEADER
                        && c.len() == declared(c)
                    {
                        let c = c.clone();
                        self.fifo = Fifo::Complete(self.execute(&c));
                    }
                }
                _ => {}
            },
            REG_DATA_FIFO => {
                let data = &data[..data.len().min(usize::from(BURST))];
                match &mut self.fifo {
                    Fifo::Ready => self.fifo = Fifo::Receiving(data.to_vec()),
                    Fifo::Receiving(c) => c.extend(data),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn read_register(&mut self, n: usize) -> Vec<u8> {
        match self.reg {
            REG_ACCESS => {
                let a = ACCESS_VALID
                    | if self.active {
                        ACCESS_ACTIVE_LOCALITY
                    } else {
                        0
                    };
                vec![a; n.min(1)]
                    .into_iter()
                    .chain(std::iter::repeat(0))
                    .take(n)
                    .collect()
            }
            _ if !self.active => vec![0xFF; n],
            REG_STS => {
                let burst = match &self.fifo {
                    Fifo::Complete(r) => (r.len() as u16).min(BURST),
                    Fifo::Idle => 0,
                    _ => BURST,
                };
                let b = burst.to_le_bytes();
                [self.status(), b[0], b[1], 0]
                    .into_iter()
                    .chain(std::iter::repeat(0))
                    .take(n)
                    .collect()
            }
            REG_DATA_FIFO => match &mut self.fifo {
                Fifo::Complete(r) => {
                    let k = n.min(r.len()).min(usize::from(BURST));
                    let mut out: Vec<u8> = r.drain(..k).collect();
                    out.resize(n, 0xFF);
                    out
                }
                _ => vec![0xFF; n],
            },
            _ => vec![0; n],
        }
    }
}

/// The size a command header declares.
fn declared(c: &[u8]) -> usize {
    if c.len() < HEADER {
        return usize::MAX;
    }
    u32::from_be_bytes([c[2], c[3], c[4], c[5]]) as usize
}

impl crate::I2cPart for TpmPart {
    fn answers(&self, addr: u8) -> bool {
        addr == self.addr
    }

    fn write(&mut self, bytes: &[u8]) -> bool {
        if let Some((&reg, data)) = bytes.split_first() {
            self.reg = reg;
            if !data.is_empty() {
                self.write_register(data);
            }
        }
        true
    }

    fn read(&mut self, n: usize) -> Option<Vec<u8>> {
        Some(self.read_register(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::I2cPart;

    fn send(t: &mut TpmPart, reg: u8, data: &[u8]) {
        let mut b = vec![reg];
        b.extend(data);
        t.write(&b);
    }

    fn get(t: &mut TpmPart, reg: u8, n: usize) -> Vec<u8> {
        t.write(&[reg]);
        t.read(n).expect("acknowledged")
    }

    fn run(t: &mut TpmPart, cmd: &[u8]) -> Vec<u8> {
        send(t, REG_STS, &[STS_COMMAND_READY]);
        for (i, chunk) in cmd.chunks(5).enumerate() {
            send(t, REG_DATA_FIFO, chunk);
            let expect = get(t, REG_STS, 1)[0] & STS_DATA_EXPECT != 0;
            assert_eq!(
                expect,
                (i + 1) * 5 < cmd.len(),
                "EXPECT until the last byte"
            );
        }
        let burst = |t: &mut TpmPart| usize::from(get(t, REG_STS, 3)[1]);
        send(t, REG_STS, &[STS_GO]);
        assert_ne!(get(t, REG_STS, 1)[0] & STS_DATA_AVAIL, 0);
        let mut r = vec![];
        while r.len() < HEADER || r.len() < declared(&r) {
            let n = burst(t);
            assert!(n > 0 && n <= usize::from(BURST));
            r.extend(get(t, REG_DATA_FIFO, n));
        }
        assert_eq!(get(t, REG_STS, 1)[0] & STS_DATA_AVAIL, 0, "all read");
        r
    }

    fn cmd(cc: u32, param: u16) -> Vec<u8> {
        let mut c = ST_NO_SESSIONS.to_be_bytes().to_vec();
        c.extend(12u32.to_be_bytes());
        c.extend(cc.to_be_bytes());
        c.extend(param.to_be_bytes());
        c
    }

    fn rc(r: &[u8]) -> u32 {
        u32::from_be_bytes([r[6], r[7], r[8], r[9]])
    }

    #[test]
    fn locality_first_then_startup_once_then_random_bytes() {
        let mut t = TpmPart::new(0x2E, 1);
        assert_eq!(get(&mut t, REG_STS, 1), [0xFF], "no locality: nothing");
        send(&mut t, REG_ACCESS, &[ACCESS_REQUEST_USE]);
        assert_eq!(
            get(&mut t, REG_ACCESS, 1)[0],
            ACCESS_VALID | ACCESS_ACTIVE_LOCALITY
        );
        assert_eq!(rc(&run(&mut t, &cmd(CC_GET_RANDOM, 8))), RC_INITIALIZE);
        assert_eq!(rc(&run(&mut t, &cmd(CC_STARTUP, 0))), RC_SUCCESS);
        assert_eq!(rc(&run(&mut t, &cmd(CC_STARTUP, 0))), RC_INITIALIZE);
        let a = run(&mut t, &cmd(CC_GET_RANDOM, 64));
        assert_eq!(
            (rc(&a), a[10], a[11], a.len()),
            (0, 0, 32, 44),
            "at most 32 bytes"
        );
        let b = run(&mut t, &cmd(CC_GET_RANDOM, 32));
        assert_ne!(a[12..], b[12..]);
        t.enter_failure_mode();
        assert_eq!(rc(&run(&mut t, &cmd(CC_GET_RANDOM, 8))), RC_FAILURE);
        t.reset();
        assert_eq!(
            get(&mut t, REG_ACCESS, 1)[0],
            ACCESS_VALID,
            "locality lost on reset"
        );
    }

    #[test]
    fn bytes_past_the_burst_count_are_lost() {
        let mut t = TpmPart::new(0x2E, 1);
        send(&mut t, REG_ACCESS, &[ACCESS_REQUEST_USE]);
        send(&mut t, REG_STS, &[STS_COMMAND_READY]);
        send(&mut t, REG_DATA_FIFO, &cmd(CC_STARTUP, 0));
        assert_ne!(
            get(&mut t, REG_STS, 1)[0] & STS_DATA_EXPECT,
            0,
            "4 bytes were lost"
        );
    }

    #[test]
    fn go_before_the_whole_command_does_nothing() {
        let mut t = TpmPart::new(0x2E, 1);
        send(&mut t, REG_ACCESS, &[ACCESS_REQUEST_USE]);
        send(&mut t, REG_STS, &[STS_COMMAND_READY]);
        send(&mut t, REG_DATA_FIFO, &cmd(CC_STARTUP, 0)[..8]);
        send(&mut t, REG_STS, &[STS_GO]);
        assert_eq!(get(&mut t, REG_STS, 1)[0], STS_VALID | STS_DATA_EXPECT);
    }
}
