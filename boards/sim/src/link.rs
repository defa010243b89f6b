//! The radio channel between node and ground: seeded loss, latency and bandwidth, on loopback UDP.
//!
//! A [`LinkEmulator`] is a relay with two loopback UDP ports: frames from the node's radio that
//! arrive on its node-side port go out of its ground-side port to the ground's address, and the
//! other way round. Each direction applies, in this order:
//!
//! 1. **loss**: frame number `i` of a direction (counted from 0 as frames arrive) is dropped iff
//!    [`LossModel::drops`] says so: a pure function of the seed, the direction and `i`, so the
//!    same seed drops the same frames on every run, whatever the timing;
//! 2. **queue limit**: a frame arriving while `queue_limit` frames are already waiting is
//!    dropped (tail drop; this one does depend on timing, and is counted separately);
//! 3. **bandwidth and latency** ([`LinkScheduler`]): a frame occupies the link for
//!    `len * 8 / bandwidth` seconds after the previous one has finished, then travels for
//!    `latency`; it is sent on at that instant, in arrival order.
//!
//! Frames from any address other than the configured peer of that side are counted as foreign
//! and dropped. Frames longer than the link MTU are dropped and counted. The relay runs one
//! thread per direction and stops when dropped. It uses the host's monotonic time to schedule,
//! but nothing it decides about *which* frames get through depends on time except the queue limit.

use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Which way a frame travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Node to ground.
    Downlink,
    /// Ground to node.
    Uplink,
}

impl Direction {
    pub(crate) fn salt(self) -> u64 {
        match self {
            Direction::Downlink => 0xD0D0_D0D0_D0D0_D0D0,
            Direction::Uplink => 0x0F0F_0F0F_0F0F_0F0F,
        }
    }
}

/// SplitMix64's output function: a bijective 64-bit mixer with good avalanche.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seeded, order-independent frame loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossModel {
    seed: u64,
    loss_ppm: u32,
}

impl LossModel {
    /// Loss of `loss_ppm` parts per million (clamped to 1,000,000) under `seed`.
    pub fn new(seed: u64, loss_ppm: u32) -> Self {
        LossModel {
            seed,
            loss_ppm: loss_ppm.min(1_000_000),
        }
    }

    /// Whether frame `index` of `dir` is lost: `mix(seed ^ salt(dir) ^ mix(index)) mod 10^6 <
    /// loss_ppm` (the modulo bias is below 10^-13).
    pub fn drops(&self, dir: Direction, index: u64) -> bool {
        let r = mix(self.seed ^ dir.salt() ^ mix(index));
        (r % 1_000_000) < u64::from(self.loss_ppm)
    }
}

/// Bandwidth and latency scheduling, in microseconds on any clock the caller chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkScheduler {
    bandwidth_bps: Option<u64>,
    latency_us: u64,
    busy_until_us: u64,
}

impl LinkScheduler {
    /// A link of `bandwidth_bps` bits per second (`None`: unlimited) and fixed `latency`.
    pub fn new(bandwidth_bps: Option<u64>, latency: Duration) -> Self {
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        LinkScheduler {
            bandwidth_bps: bandwidth_bps.filter(|b| *b > 0),
            latency_us,
            busy_until_us: 0,
        }
    }

    /// A frame of `len` bytes arrives at `now_us`: when is it delivered?
    pub fn admit(&mut self, now_us: u64, len: usize) -> u64 {
        let start = self.busy_until_us.max(now_us);
        let tx_us = match self.bandwidth_bps {
            Some(bps) => ((len as u128 * 8 * 1_000_000).div_ceil(u128::from(bps))) as u64,
            None => 0,
        };
        self.busy_until_us = start.saturating_add(tx_us);
        self.busy_until_us.saturating_add(self.latency_us)
    }
}

/// Channel parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// Seed of the loss pattern.
    pub seed: u64,
    /// Frame loss in parts per million, per direction.
    pub loss_ppm: u32,
    /// One-way latency.
    pub latency: Duration,
    /// Link rate in bits per second, per direction (`None`: unlimited).
    pub bandwidth_bps: Option<u64>,
    /// Frames waiting per direction before tail drop.
    pub queue_limit: usize,
    /// Largest frame carried.
    pub mtu: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            seed: 0,
            loss_ppm: 0,
            latency: Duration::ZERO,
            bandwidth_bps: None,
            queue_limit: 1024,
            mtu: 2048,
        }
    }
}

/// Counters of one direction.
#[derive(Debug, Default)]
pub struct DirectionStats {
    /// Frames that arrived from the right peer (numbered for the loss model).
    pub arrived: AtomicU64,
    /// Dropped by the loss model.
    pub lost: AtomicU64,
    /// Dropped by the queue limit.
    pub overflow: AtomicU64,
    /// Dropped for exceeding the MTU.
    pub oversize: AtomicU64,
    /// From an address other than the peer.
    pub foreign: AtomicU64,
    /// Sent on to the other side.
    pub delivered: AtomicU64,
}

/// A running channel between a node radio and a ground radio.
#[derive(Debug)]
pub struct LinkEmulator {
    node_side: SocketAddr,
    ground_side: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    down: Arc<DirectionStats>,
    up: Arc<DirectionStats>,
}

impl LinkEmulator {
    /// Start relaying between `node` and `ground` (both loopback addresses of bound radios).
    /// Connect the node's radio to [`LinkEmulator::node_side`] and the ground's to
    /// [`LinkEmulator::ground_side`].
    pub fn start(node: SocketAddr, ground: SocketAddr, cfg: LinkConfig) -> io::Result<Self> {
        Self::start_at(node, ground, SocketAddr::new(ground.ip(), 0), cfg)
    }

    /// Like [`LinkEmulator::start`], with the ground-side port bound at `ground_side` (a fixed
    /// address the ground can be told in advance: the sim board's monitor puts the emulator on
    /// the node's radio path this way; port 0 picks one).
    pub fn start_at(
        node: SocketAddr,
        ground: SocketAddr,
        ground_side: SocketAddr,
        cfg: LinkConfig,
    ) -> io::Result<Self> {
        for a in [node, ground, ground_side] {
            if !a.ip().is_loopback() {
                return Err(io::Error::new(
                    ErrorKind::InvalidInput,
                    "link peers must be loopback",
                ));
            }
        }
        let local = SocketAddr::new(node.ip(), 0);
        let node_sock = UdpSocket::bind(local)?;
        let ground_sock = UdpSocket::bind(ground_side)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (down, up) = (
            Arc::new(DirectionStats::default()),
            Arc::new(DirectionStats::default()),
        );
        let mut link = LinkEmulator {
            node_side: node_sock.local_addr()?,
            ground_side: ground_sock.local_addr()?,
            stop: stop.clone(),
            threads: Vec::new(),
            down: down.clone(),
            up: up.clone(),
        };
        let loss = LossModel::new(cfg.seed, cfg.loss_ppm);
        let relays = [
            (
                Direction::Downlink,
                node_sock.try_clone()?,
                ground_sock.try_clone()?,
                node,
                ground,
                down,
            ),
            (Direction::Uplink, ground_sock, node_sock, ground, node, up),
        ];
        for (dir, rx, tx, from, to, stats) in relays {
            let relay = Relay {
                dir,
                rx,
                tx,
                from,
                to,
                cfg,
                loss,
                stats,
                stop: stop.clone(),
            };
            link.threads.push(
                std::thread::Builder::new()
                    .name(format!("link-{dir:?}"))
                    .spawn(move || relay.run())?,
            );
        }
        Ok(link)
    }

    /// The relay's port that the node's radio sends to.
    pub fn node_side(&self) -> SocketAddr {
        self.node_side
    }

    /// The relay's port that the ground's radio sends to.
    pub fn ground_side(&self) -> SocketAddr {
        self.ground_side
    }

    /// Node-to-ground counters.
    pub fn downlink(&self) -> &DirectionStats {
        &self.down
    }

    /// Ground-to-node counters.
    pub fn uplink(&self) -> &DirectionStats {
        &self.up
    }
}

impl Drop for LinkEmulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

struct Relay {
    dir: Direction,
    rx: UdpSocket,
    tx: UdpSocket,
    from: SocketAddr,
    to: SocketAddr,
    cfg: LinkConfig,
    loss: LossModel,
    stats: Arc<DirectionStats>,
    stop: Arc<AtomicBool>,
}

/// Longest the relay sleeps before checking for stop.
const POLL: Duration = Duration::from_millis(20);

impl Relay {
    fn run(self) {
        let t0 = Instant::now();
        let now_us = || u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut sched = LinkScheduler::new(self.cfg.bandwidth_bps, self.cfg.latency);
        let mut queue: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
        let mut index = 0u64;
        let mut buf = vec![0u8; 65_536];
        while !self.stop.load(Ordering::Relaxed) {
            let now = now_us();
            while queue.front().is_some_and(|(due, _)| *due <= now) {
                if let Some((_, frame)) = queue.pop_front() {
                    // Loopback sends only fail if the peer is gone: the frame is lost.
                    if self.tx.send_to(&frame, self.to).is_ok() {
                        self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            let wait = queue
                .front()
                .map_or(POLL, |(due, _)| {
                    Duration::from_micros(due.saturating_sub(now)).min(POLL)
                })
                .max(Duration::from_micros(100));
            if self.rx.set_read_timeout(Some(wait)).is_err() {
                return;
            }
            match self.rx.recv_from(&mut buf) {
                Ok((_, src)) if src != self.from => {
                    self.stats.foreign.fetch_add(1, Ordering::Relaxed);
                }
                Ok((n, _)) if n > self.cfg.mtu => {
                    self.stats.oversize.fetch_add(1, Ordering::Relaxed);
                }
                Ok((n, _)) => {
                    let i = index;
                    index += 1;
                    self.stats.arrived.fetch_add(1, Ordering::Relaxed);
                    if self.loss.drops(self.dir, i) {
                        self.stats.lost.fetch_add(1, Ordering::Relaxed);
                    } else if queue.len() >= self.cfg.queue_limit {
                        self.stats.overflow.fetch_add(1, Ordering::Relaxed);
                    } else {
                        let due = sched.admit(now_us(), n);
                        queue.push_back((due, buf.get(..n).unwrap_or(&[]).to_vec()));
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Interrupted | ErrorKind::ConnectionRefused
                    ) => {}
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidth_serialises_frames_and_latency_adds_on_top() {
        // 8,000 bit/s: a 100-byte frame takes 100 ms on the link; latency 50 ms.
        let mut s = LinkScheduler::new(Some(8_000), Duration::from_millis(50));
        assert_eq!(s.admit(0, 100), 150_000);
        assert_eq!(s.admit(0, 100), 250_000, "queued behind the first");
        assert_eq!(s.admit(10_000, 100), 350_000);
        // The link is idle again by 1 s: no queueing delay.
        assert_eq!(s.admit(1_000_000, 100), 1_150_000);
        // A 1-byte frame rounds up to whole microseconds.
        assert_eq!(s.admit(2_000_000, 1), 2_000_000 + 1_000 + 50_000);
        let mut unlimited = LinkScheduler::new(None, Duration::from_micros(7));
        assert_eq!(unlimited.admit(5, 60_000), 12);
        assert_eq!(unlimited.admit(5, 60_000), 12);
    }

    #[test]
    fn loss_extremes() {
        let none = LossModel::new(1, 0);
        let all = LossModel::new(1, 2_000_000);
        for i in 0..10_000 {
            assert!(!none.drops(Direction::Uplink, i));
            assert!(all.drops(Direction::Downlink, i));
        }
    }
}
