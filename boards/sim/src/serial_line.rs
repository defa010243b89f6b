//! The standby serial line as a real RS-422 line behaves: a baud rate and seeded noise (bit
//! errors and dropped bytes), between the node's UART and the ground's port.
//!
//! [`SerialLine::pair`] is a drop-in for [`PtySerial::pair`]: it returns the node's end, the
//! ground's pty path and the line itself (keep it alive as long as the node runs). Inside are
//! two raw pty pairs and a relay thread per direction that moves each byte from one to the
//! other, in this order:
//!
//! 1. **noise** ([`NoiseModel`]): byte number `i` of a direction (counted from 0) is dropped,
//!    or has some of its 8 data bits flipped, as a pure function of the seed, the direction and
//!    `i`, so the same seed damages the same bytes on every run, whatever the timing;
//! 2. **baud rate**: a byte occupies the line for 10 bit times (8N1: start, 8 data, stop) after
//!    the previous one has finished; the relay writes it on when that time has come. A byte
//!    dropped by the noise still took its time on the line.
//!
//! The monitor puts this line on the uart when [`crate::monitor::MonitorConfig::serial_line`]
//! is set (`spacenode run --serial-baud`, with `--serial-ber`, `--serial-drop`,
//! `--serial-seed`); without it comms gets a plain [`PtySerial::pair`]. The model is tested on
//! its own in `tests/serial_line.rs`.
//!
//! Avoids: blocking without a bound (the relays poll with a timeout and stop when the line is
//! dropped), and any decision about *which* bytes are damaged that depends on timing.

use crate::link::{Direction, mix};
use crate::serial::PtySerial;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The line's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineConfig {
    /// Bits per second (8N1: 10 bit times per byte); `None`: as fast as the ptys go.
    pub baud: Option<u32>,
    /// Probability that a data bit is flipped, in parts per billion (1e-5 is 10,000).
    pub bit_error_ppb: u32,
    /// Probability that a byte is lost, in parts per million.
    pub drop_ppm: u32,
    /// Seed of the noise pattern.
    pub seed: u64,
}

impl LineConfig {
    /// A clean line at `baud`.
    pub const fn clean(baud: Option<u32>) -> Self {
        LineConfig {
            baud,
            bit_error_ppb: 0,
            drop_ppm: 0,
            seed: 1,
        }
    }
}

impl std::fmt::Display for LineConfig {
    /// The settings as the boot log prints them, e.g. `115200 baud 8N1, bit error rate 1e-5,
    /// byte drop rate 0, seed 1`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.baud {
            Some(b) => write!(f, "{b} baud 8N1")?,
            None => write!(f, "unpaced")?,
        }
        let rate = |units: u32, per: f64| match units {
            0 => "0".to_string(),
            u => format!("{:e}", f64::from(u) / per),
        };
        write!(
            f,
            ", bit error rate {}, byte drop rate {}, seed {}",
            rate(self.bit_error_ppb, 1e9),
            rate(self.drop_ppm, 1e6),
            self.seed
        )
    }
}

/// Seeded, order-independent byte damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoiseModel {
    seed: u64,
    bit_error_ppb: u32,
    drop_ppm: u32,
}

impl NoiseModel {
    /// The noise of `cfg`.
    pub fn new(cfg: &LineConfig) -> Self {
        NoiseModel {
            seed: cfg.seed,
            bit_error_ppb: cfg.bit_error_ppb.min(1_000_000_000),
            drop_ppm: cfg.drop_ppm.min(1_000_000),
        }
    }

    /// Byte `i` of `dir` as it arrives: `None` if lost, else with its flipped bits.
    pub fn apply(&self, dir: Direction, i: u64, byte: u8) -> Option<u8> {
        let base = self.seed ^ dir.salt();
        if self.drop_ppm > 0
            && mix(base ^ i.wrapping_mul(0x9E37)) % 1_000_000 < u64::from(self.drop_ppm)
        {
            return None;
        }
        if self.bit_error_ppb == 0 {
            return Some(byte);
        }
        let mut out = byte;
        for bit in 0..8u64 {
            let h = mix(base.rotate_left(17) ^ (i << 3 | bit));
            if h % 1_000_000_000 < u64::from(self.bit_error_ppb) {
                out ^= 1 << bit;
            }
        }
        Some(out)
    }
}

/// Counters of one direction.
#[derive(Debug, Default)]
pub struct LineCounters {
    /// Bytes that entered the line.
    pub bytes: AtomicU64,
    /// Bytes lost.
    pub dropped: AtomicU64,
    /// Bytes delivered with at least one flipped bit.
    pub damaged: AtomicU64,
    /// Bytes lost because the receiving end's buffer was full (an overrun, as on a UART).
    pub overrun: AtomicU64,
}

/// A running line; dropping it stops the relays (both ends then see the other end go away).
#[derive(Debug)]
pub struct SerialLine {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Downlink (node to ground) counters.
    pub down: Arc<LineCounters>,
    /// Uplink (ground to node) counters.
    pub up: Arc<LineCounters>,
    // The slave end of the ground's pair, held open so the ground may close and reopen it.
    _ground_slave: PtySerial,
}

fn wait_readable(f: &impl std::os::fd::AsFd, timeout: Duration) -> io::Result<bool> {
    let mut fds = [PollFd::new(f, PollFlags::IN)];
    let ts = Timespec {
        tv_sec: 0,
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    Ok(poll(&mut fds, Some(&ts))? > 0)
}

fn relay(
    mut from: std::fs::File,
    mut to: std::fs::File,
    dir: Direction,
    cfg: LineConfig,
    counters: Arc<LineCounters>,
    stop: Arc<AtomicBool>,
) {
    let noise = NoiseModel::new(&cfg);
    let byte_time = cfg
        .baud
        .map(|b| Duration::from_nanos(10_000_000_000 / u64::from(b.max(1))));
    let mut line_free = Instant::now();
    let mut index = 0u64;
    let mut buf = [0u8; 64];
    while !stop.load(Ordering::Relaxed) {
        match wait_readable(&from, Duration::from_millis(50)) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(_) => return,
        }
        let n = match from.read(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Ok(0) | Err(_) => {
                // The other end is closed (EIO on a pty): wait for it to reopen.
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Ok(n) => n,
        };
        // Noise byte by byte, then the whole read (at most 64 bytes, 5.6 ms at 115,200 baud)
        // takes its line time in one sleep: a sleep per byte would cost far more than the
        // 87 microseconds a byte takes.
        let mut out = Vec::with_capacity(n);
        for &b in &buf[..n] {
            let o = noise.apply(dir, index, b);
            index += 1;
            match o {
                None => {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Some(o) => {
                    if o != b {
                        counters.damaged.fetch_add(1, Ordering::Relaxed);
                    }
                    out.push(o);
                }
            }
        }
        counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(t) = byte_time {
            line_free = line_free.max(Instant::now()) + t * n as u32;
            let now = Instant::now();
            if line_free > now {
                std::thread::sleep(line_free - now);
            }
        }
        // A full receive buffer or nobody at the far end: what does not fit is lost, as on a
        // real line (never a relay blocked on a reader that does not read).
        let sent: usize = to.write(&out).unwrap_or_default();
        counters
            .overrun
            .fetch_add((out.len() - sent.min(out.len())) as u64, Ordering::Relaxed);
    }
}

impl SerialLine {
    /// A line with `cfg` between a new node end and a new ground pty: `(node end, ground path,
    /// line)`.
    pub fn pair(cfg: LineConfig) -> io::Result<(PtySerial, PathBuf, SerialLine)> {
        let (node_master, node_slave, _) = PtySerial::pair()?;
        let (ground_master, ground_slave, path) = PtySerial::pair()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (down, up) = (
            Arc::new(LineCounters::default()),
            Arc::new(LineCounters::default()),
        );
        let node_side: std::fs::File = node_slave.into_fd().into();
        let ground_side: std::fs::File = ground_master.into_fd().into();
        // Non-blocking both ways (the duplicates share the flag): reads wait in `poll` with a
        // timeout, and a write the far end has no room for is an overrun, not a stuck relay.
        for f in [&node_side, &ground_side] {
            rustix::fs::fcntl_setfl(f, rustix::fs::OFlags::NONBLOCK)?;
        }
        let mut threads = Vec::new();
        for (from, to, dir, counters) in [
            (
                node_side.try_clone()?,
                ground_side.try_clone()?,
                Direction::Downlink,
                down.clone(),
            ),
            (ground_side, node_side, Direction::Uplink, up.clone()),
        ] {
            let stop = stop.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("serial-line-{dir:?}"))
                    .spawn(move || relay(from, to, dir, cfg, counters, stop))?,
            );
        }
        Ok((
            node_master,
            path,
            SerialLine {
                stop,
                threads,
                down,
                up,
                _ground_slave: ground_slave,
            },
        ))
    }
}

impl Drop for SerialLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
