//! Test harness: a serial line with latency between the engine and a peer (the `ppproto` client
//! or a second engine), advanced in fixed ticks of simulated time.
#![allow(dead_code)]

use ppp::{Config, Ppp};
use ppproto::pppos::{PPPoS, PPPoSAction};
use std::collections::VecDeque;

pub const NODE_IP: [u8; 4] = [10, 16, 0, 1];
pub const GROUND_IP: [u8; 4] = [10, 16, 0, 2];

pub fn config(seed: u32) -> Config {
    Config::new(NODE_IP, GROUND_IP, seed)
}

/// One direction of the line: bytes arrive `latency_ms` after they were sent.
#[derive(Default)]
pub struct Pipe {
    pub latency_ms: u64,
    q: VecDeque<(u64, Vec<u8>)>,
    /// When set, bytes are lost (the far end is gone).
    pub cut: bool,
}

impl Pipe {
    pub fn new(latency_ms: u64) -> Self {
        Self {
            latency_ms,
            ..Self::default()
        }
    }
    pub fn send(&mut self, now: u64, bytes: Vec<u8>) {
        if !bytes.is_empty() && !self.cut {
            self.q.push_back((now + self.latency_ms, bytes));
        }
    }
    pub fn recv(&mut self, now: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while self.q.front().is_some_and(|(t, _)| *t <= now) {
            out.extend(self.q.pop_front().unwrap().1);
        }
        out
    }
}

/// Everything the engine has to send.
pub fn drain(p: &mut Ppp) -> Vec<u8> {
    let mut out = vec![0u8; p.pending_tx()];
    let n = p.transmit(&mut out);
    out.truncate(n);
    out
}

/// The ppproto client with its buffers; it has no timers, so it only ever reacts.
pub struct Client {
    pub pppos: PPPoS<'static>,
    rx: Vec<u8>,
    tx: Vec<u8>,
    pub ip_in: Vec<Vec<u8>>,
}

impl Client {
    pub fn new() -> Self {
        let mut pppos = PPPoS::new(ppproto::Config {
            username: b"",
            password: b"",
        });
        pppos.open().expect("ppproto opens from Dead");
        Self {
            pppos,
            rx: vec![0; 2048],
            tx: vec![0; 4096],
            ip_in: Vec::new(),
        }
    }

    /// Feeds received bytes and returns what the client sends in response.
    pub fn input(&mut self, mut data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let n = self.pppos.consume(data, &mut self.rx);
            data = &data[n..];
            loop {
                match self.pppos.poll(&mut self.tx, &mut self.rx) {
                    PPPoSAction::None => break,
                    PPPoSAction::Transmit(n) => out.extend_from_slice(&self.tx[..n]),
                    PPPoSAction::Received(r) => self.ip_in.push(self.rx[r].to_vec()),
                }
            }
            if data.is_empty() {
                return out;
            }
        }
    }

    pub fn send_ip(&mut self, datagram: &[u8]) -> Vec<u8> {
        let n = self
            .pppos
            .send(datagram, &mut self.tx)
            .expect("ppproto tx buffer");
        self.tx[..n].to_vec()
    }

    pub fn is_open(&self) -> bool {
        self.pppos.status().phase == ppproto::Phase::Open
    }
}

/// The engine, the ppproto client and the line between them.
/// Rewrites a chunk of line bytes (noise, loss).
pub type Filter = Box<dyn FnMut(Vec<u8>) -> Vec<u8>>;

pub struct World {
    pub now: u64,
    pub tick: u64,
    pub node: Ppp,
    pub node_ip_in: Vec<Vec<u8>>,
    pub client: Client,
    pub down: Pipe,
    pub up: Pipe,
    /// Called on every chunk the client sends, before the line (to inject noise or drop frames).
    pub filter_up: Option<Filter>,
}

impl World {
    pub fn new(cfg: Config, latency_ms: u64) -> Self {
        let mut node = Ppp::new(cfg).expect("valid config");
        node.open(0);
        node.up(0);
        Self {
            now: 0,
            tick: 10,
            node,
            node_ip_in: Vec::new(),
            client: Client::new(),
            down: Pipe::new(latency_ms),
            up: Pipe::new(latency_ms),
            filter_up: None,
        }
    }

    /// Bytes from the client onto the line.
    pub fn client_sends(&mut self, bytes: Vec<u8>) {
        let bytes = match self.filter_up.as_mut() {
            Some(f) => f(bytes),
            None => bytes,
        };
        self.up.send(self.now, bytes);
    }

    pub fn step(&mut self) {
        self.node.poll(self.now);
        let out = drain(&mut self.node);
        self.down.send(self.now, out);
        let to_client = self.down.recv(self.now);
        // The client reacts even to nothing (its poll starts negotiation).
        let reply = self.client.input(&to_client);
        self.client_sends(reply);
        let to_node = self.up.recv(self.now);
        let mut got = Vec::new();
        self.node
            .receive(&to_node, self.now, &mut |d| got.push(d.to_vec()));
        self.node_ip_in.extend(got);
        let out = drain(&mut self.node);
        self.down.send(self.now, out);
        self.now += self.tick;
    }

    /// Steps until `done` holds or `limit_ms` of simulated time passed; returns whether it held.
    pub fn run_until(&mut self, limit_ms: u64, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now + limit_ms;
        while self.now < end {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }

    pub fn both_open(&self) -> bool {
        self.node.status().network_up && self.client.is_open()
    }
}

/// A minimal IPv4/UDP datagram (checksums zero: the engine does not look inside).
pub fn datagram(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let total = 20 + 8 + payload.len();
    let mut d = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        17,
        0,
        0,
    ];
    d.extend_from_slice(&src);
    d.extend_from_slice(&dst);
    d.extend_from_slice(&[0x30, 0x39, 0x30, 0x39, 0, (8 + payload.len()) as u8, 0, 0]);
    d.extend_from_slice(payload);
    d
}

/// Splits a byte stream into its unescaped frame bodies (between flags, FCS included).
pub fn frames(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for chunk in stream.split(|&b| b == 0x7E) {
        if chunk.is_empty() {
            continue;
        }
        let mut body = Vec::new();
        let mut esc = false;
        for &b in chunk {
            if esc {
                body.push(b ^ 0x20);
                esc = false;
            } else if b == 0x7D {
                esc = true;
            } else {
                body.push(b);
            }
        }
        out.push(body);
    }
    out
}
