//! The virtual-time channel and the driving loop shared by the transfer tests.

use crate::cfdp::layout::CfdpLayout;
use crate::cfdp::receiver::{Receiver, ReceiverConfig};
use crate::cfdp::sender::{SendState, Sender, SenderConfig};
use board_sim::flash::SimFlash;
use std::collections::VecDeque;
use std::time::Duration;

/// SplitMix64 step.
pub fn rand(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One direction: seeded loss (percent), fixed latency, optional duplication and reordering.
pub struct Channel {
    pub rng: u64,
    pub loss_pct: u64,
    pub latency: Duration,
    pub dup_pct: u64,
    pub reorder_pct: u64,
    pub q: VecDeque<(Duration, Vec<u8>)>,
    pub frames: u64,
    pub bytes: u64,
}

impl Channel {
    pub fn new(seed: u64, loss_pct: u64) -> Self {
        Channel {
            rng: seed,
            loss_pct,
            latency: Duration::from_millis(20),
            dup_pct: 0,
            reorder_pct: 0,
            q: VecDeque::new(),
            frames: 0,
            bytes: 0,
        }
    }

    pub fn send(&mut self, now: Duration, pdu: &[u8]) {
        self.frames += 1;
        self.bytes += pdu.len() as u64;
        if rand(&mut self.rng) % 100 < self.loss_pct {
            return;
        }
        let copies = if rand(&mut self.rng) % 100 < self.dup_pct {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut at = now + self.latency;
            if rand(&mut self.rng) % 100 < self.reorder_pct {
                at += Duration::from_millis(rand(&mut self.rng) % 50);
            }
            // Keep the queue sorted by delivery time (stable for equal times).
            let pos = self
                .q
                .iter()
                .rposition(|(t, _)| *t <= at)
                .map_or(0, |p| p + 1);
            self.q.insert(pos, (at, pdu.to_vec()));
        }
    }

    pub fn due(&mut self, now: Duration) -> Option<Vec<u8>> {
        if self.q.front().is_some_and(|(t, _)| *t <= now) {
            self.q.pop_front().map(|(_, p)| p)
        } else {
            None
        }
    }
}

pub type Flash = SimFlash;

/// Flash big enough for the standard layout plus `file` bytes.
pub fn flash_for(file: usize) -> (Flash, CfdpLayout) {
    let cap = (80 * 1024 + file).div_ceil(4096) * 4096 + 4096;
    let flash = SimFlash::anonymous(cap).unwrap();
    (flash, CfdpLayout::comms(cap as u32))
}

pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    (0..len).map(|_| rand(&mut s) as u8).collect()
}

pub fn rx_cfg() -> ReceiverConfig {
    ReceiverConfig {
        local_id: 1,
        nak_interval: Duration::from_millis(200),
        ack_interval: Duration::from_millis(200),
        ack_limit: 50,
        checkpoint_bytes: 16 * 1024,
        ..ReceiverConfig::default()
    }
}

pub fn tx_cfg() -> SenderConfig {
    SenderConfig {
        local_id: 2,
        remote_id: 1,
        segment_len: 512,
        ack_interval: Duration::from_millis(200),
        inactivity: Duration::from_millis(600),
        ack_limit: 200,
        ..SenderConfig::default()
    }
}

/// A running transfer: sender, node receiver on its flash, the two channel directions.
pub struct Run {
    pub now: Duration,
    pub tx: Sender,
    pub rx: Receiver,
    pub flash: Flash,
    pub layout: CfdpLayout,
    pub up: Channel,
    pub down: Channel,
    pub data: Vec<u8>,
    pub rx_errors: u64,
}

impl Run {
    pub fn new(data: Vec<u8>, loss_pct: u64, seed: u64) -> Self {
        let (mut flash, layout) = flash_for(data.len());
        let rx = Receiver::open(&mut flash, rx_cfg(), layout).unwrap();
        let tx = Sender::new(tx_cfg(), 7, b"batch.bin", &data).unwrap();
        Run {
            now: Duration::ZERO,
            tx,
            rx,
            flash,
            layout,
            up: Channel::new(seed, loss_pct),
            down: Channel::new(seed ^ 0xABCD, loss_pct),
            data,
            rx_errors: 0,
        }
    }

    /// One millisecond of virtual time. Returns false once the receiver's flash lost power.
    pub fn step(&mut self) -> bool {
        self.now += Duration::from_millis(1);
        let now = self.now;
        let up = &mut self.up;
        self.tx.poll(now, &self.data, |p| up.send(now, p)).unwrap();
        while let Some(p) = self.up.due(now) {
            if self.rx.on_pdu(&mut self.flash, &p, now).is_err() {
                self.rx_errors += 1;
                if !self.flash.powered() {
                    return false;
                }
            }
        }
        let down = &mut self.down;
        if self
            .rx
            .poll(&mut self.flash, now, |p| down.send(now, p))
            .is_err()
            && !self.flash.powered()
        {
            return false;
        }
        while let Some(p) = self.down.due(now) {
            let _ = self.tx.on_pdu(&p, now);
        }
        true
    }

    /// Run until the sender is no longer active (or `limit` of virtual time, or a power loss).
    pub fn run(&mut self, limit: Duration) -> bool {
        while self.tx.state() == SendState::Active && self.now < limit {
            if !self.step() {
                return false;
            }
        }
        // Let the last ACK of the Finished reach the receiver.
        for _ in 0..100 {
            if !self.step() {
                return false;
            }
        }
        true
    }

    /// A node reset: packets in flight to the node are lost, the flash powers back up, the
    /// receiver is rebuilt from the journal.
    pub fn reset_node(&mut self) {
        self.up.q.clear();
        self.down.q.clear();
        self.flash.power_cycle();
        self.rx = Receiver::open(&mut self.flash, rx_cfg(), self.layout).unwrap();
    }

    /// The delivered file, read back from the flash.
    pub fn take_file(&mut self) -> Vec<u8> {
        let f = self
            .rx
            .take_received(&mut self.flash)
            .unwrap()
            .expect("a complete file");
        assert_eq!(f.name(), b"batch.bin");
        let mut out = vec![0u8; f.size as usize];
        self.rx.read_received(&mut self.flash, 0, &mut out).unwrap();
        out
    }
}
