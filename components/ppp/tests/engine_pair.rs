//! Two engines on one line (both with timers and Magic-Numbers, which `ppproto` lacks): a peer
//! restart with a new Magic-Number, restart detection from an echo, a looped-back line, and a
//! configure storm with both sides retransmitting.

mod common;
use common::*;
use ppp::fsm::State;
use ppp::{DownReason, Ppp};

struct Pair {
    now: u64,
    tick: u64,
    a: Ppp,
    b: Ppp,
    ab: Pipe,
    ba: Pipe,
}

impl Pair {
    fn new(seed_a: u32, seed_b: u32, latency: u64) -> Self {
        // The far end mirrors the addresses.
        Self::with(
            config(seed_a),
            ppp::Config::new(GROUND_IP, NODE_IP, seed_b),
            latency,
        )
    }

    fn with(cfg_a: ppp::Config, cfg_b: ppp::Config, latency: u64) -> Self {
        let mut a = Ppp::new(cfg_a).unwrap();
        let mut b = Ppp::new(cfg_b).unwrap();
        for p in [&mut a, &mut b] {
            p.open(0);
            p.up(0);
        }
        Self {
            now: 0,
            tick: 10,
            a,
            b,
            ab: Pipe::new(latency),
            ba: Pipe::new(latency),
        }
    }

    fn step(&mut self) {
        self.step_with(&mut |_| {}, &mut |_| {});
    }

    /// One tick; `at_a`/`at_b` see every line octet arriving at A/B, and IPv4 goes nowhere.
    fn step_with(&mut self, at_a: &mut dyn FnMut(&[u8]), at_b: &mut dyn FnMut(&[u8])) {
        self.a.poll(self.now);
        self.b.poll(self.now);
        self.ab.send(self.now, drain(&mut self.a));
        self.ba.send(self.now, drain(&mut self.b));
        let to_b = self.ab.recv(self.now);
        let to_a = self.ba.recv(self.now);
        at_b(&to_b);
        at_a(&to_a);
        self.b.receive(&to_b, self.now, &mut |_| {});
        self.a.receive(&to_a, self.now, &mut |_| {});
        self.now += self.tick;
    }

    fn run_until(&mut self, limit: u64, done: impl Fn(&Self) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end && !done(self) {
            self.step();
        }
        done(self)
    }

    fn open(&self) -> bool {
        self.a.status().network_up && self.b.status().network_up
    }
}

#[test]
fn magic_numbers_are_exchanged() {
    let mut p = Pair::new(1, 2, 10);
    assert!(p.run_until(5_000, Pair::open));
    let (a, b) = (p.a.status(), p.b.status());
    assert_ne!(a.magic, 0);
    assert_eq!(a.peer_magic, b.magic);
    assert_eq!(b.peer_magic, a.magic);
}

#[test]
fn a_restart_with_a_new_magic_is_detected_and_renegotiated() {
    let mut p = Pair::new(1, 2, 10);
    assert!(p.run_until(5_000, Pair::open));
    let old_magic = p.b.status().magic;
    // The far end reboots: a new engine, a new Magic-Number.
    p.b = Ppp::new(ppp::Config::new(GROUND_IP, NODE_IP, 0xBEEF)).unwrap();
    p.b.open(p.now);
    p.b.up(p.now);
    assert!(p.run_until(200, |p| !p.a.status().network_up));
    assert_eq!(p.a.last_down(), Some(DownReason::PeerRestarted));
    assert_eq!(p.a.stats().peer_restarts, 1);
    assert!(p.run_until(5_000, Pair::open));
    assert_ne!(p.a.status().peer_magic, old_magic);
    assert_eq!(p.a.status().peer_magic, p.b.status().magic);
}

#[test]
fn an_echo_with_a_new_magic_means_the_peer_restarted() {
    let mut p = Pair::new(1, 2, 10);
    assert!(p.run_until(5_000, Pair::open));
    let peer_magic = p.a.status().peer_magic;
    // An Echo-Request from a peer that came back with another number and no Configure-Request.
    let mut q = ppp::frame::TxQueue::new();
    let other = peer_magic ^ 0x0101_0101;
    let mut pkt = vec![9, 42, 0, 8];
    pkt.extend(other.to_be_bytes());
    q.push(ppp::frame::SendOptions::DEFAULT, 0xC021, &[&pkt])
        .unwrap();
    let mut bytes = vec![0u8; q.len()];
    q.drain(&mut bytes);
    p.a.receive(&bytes, p.now, &mut |_| {});
    assert_eq!(p.a.last_down(), Some(DownReason::PeerRestarted));
    assert_eq!(p.a.status().lcp, State::ReqSent);
    assert!(p.run_until(5_000, Pair::open), "renegotiated");
}

#[test]
fn a_looped_back_line_is_detected() {
    let mut a = Ppp::new(config(5)).unwrap();
    a.open(0);
    a.up(0);
    let mut now = 0;
    while now < 60_000 && !a.status().looped {
        a.poll(now);
        let out = drain(&mut a);
        a.receive(&out, now, &mut |_| {});
        now += 10;
    }
    assert!(a.status().looped, "{:?}", a.status());
    assert_eq!(a.last_down(), Some(DownReason::Looped));
    eprintln!("loop detected after {now} ms");
}

#[test]
fn configure_storm_with_both_sides_retransmitting_converges() {
    // Round trip 8 s against a 3 s Restart timer on both ends.
    let mut p = Pair::new(1, 2, 4_000);
    p.tick = 50;
    assert!(
        p.run_until(300_000, Pair::open),
        "{:?} {:?}",
        p.a.status(),
        p.a.cp_stats()
    );
    let (a_lcp, _) = p.a.cp_stats();
    let (b_lcp, _) = p.b.cp_stats();
    eprintln!(
        "two-engine storm: open after {} ms, A {a_lcp:?}, B {b_lcp:?}",
        p.now
    );
    assert!(a_lcp.requests_sent <= 10 && b_lcp.requests_sent <= 10);
    p.run_until(120_000, |_| false);
    assert!(p.open(), "stays open");
}

#[test]
fn negotiated_compression_mru_and_accm_shape_the_frames() {
    // A asks for PFC/ACFC, a 296-octet MRU and XON/XOFF (0x11, 0x13) escaped.
    let mut cfg_a = config(1);
    cfg_a.request_compression = true;
    cfg_a.mru = 296;
    cfg_a.accm = (1 << 0x11) | (1 << 0x13);
    let mut p = Pair::with(cfg_a, ppp::Config::new(GROUND_IP, NODE_IP, 2), 10);
    assert!(p.run_until(5_000, Pair::open));
    // B may not send A more than 296 octets.
    assert_eq!(p.b.send_ip(&[0x45; 297]), Err(ppp::SendError::TooLong(297)));
    // A datagram full of XON/XOFF and other control octets from B to A.
    let d: Vec<u8> = [0x45, 0x11, 0x13, 0x01, 0x7E]
        .into_iter()
        .cycle()
        .take(296)
        .collect();
    p.b.send_ip(&d).unwrap();
    let mut wire = Vec::new();
    p.step_with(&mut |bytes| wire.extend_from_slice(bytes), &mut |_| {});
    p.step_with(&mut |bytes| wire.extend_from_slice(bytes), &mut |_| {});
    let ip_frame = frames(&wire)
        .into_iter()
        .find(|f| f.len() > 290)
        .expect("the datagram's frame");
    // ACFC and PFC: no FF 03, one-octet protocol 0x21.
    assert_eq!(ip_frame[0], 0x21, "{:02x?}", &ip_frame[..4]);
    assert_eq!(&ip_frame[1..297], &d[..]);
    let raw_ip = wire.split(|&b| b == 0x7E).find(|c| c.len() > 290).unwrap();
    assert!(
        !raw_ip.contains(&0x11) && !raw_ip.contains(&0x13),
        "XON/XOFF escaped"
    );
    assert!(
        raw_ip.contains(&0x01),
        "0x01 is not in A's ACCM: sent as is"
    );
    // And A, which was not asked for compression, sends full headers.
    p.a.send_ip(&d[..100]).unwrap();
    let mut wire_b = Vec::new();
    p.step_with(&mut |_| {}, &mut |bytes| wire_b.extend_from_slice(bytes));
    p.step_with(&mut |_| {}, &mut |bytes| wire_b.extend_from_slice(bytes));
    let f = frames(&wire_b)
        .into_iter()
        .find(|f| f.len() > 100)
        .expect("A's frame");
    assert_eq!(&f[..4], &[0xFF, 0x03, 0x00, 0x21]);
}

#[test]
fn next_deadline_is_the_restart_timer_then_the_echo_interval() {
    let mut p = Pair::new(1, 2, 10);
    assert_eq!(p.a.next_deadline(), Some(3_000));
    assert!(p.run_until(5_000, Pair::open));
    let d = p.a.next_deadline().expect("echo timer runs when Opened");
    assert!(d > p.now && d <= p.now + 10_000, "{d} at {}", p.now);
}

/// A passive server (pppd `silent`) sends nothing until the client speaks, then opens within a
/// few round trips however late the client comes; after an echo timeout it is passive again.
#[test]
fn a_passive_server_waits_silently_and_answers_a_late_client_at_once() {
    let mut server = config(1);
    server.passive = true;
    server.echo_interval_ms = 1_000;
    server.echo_failure = 2;
    let mut a = Ppp::new(server).unwrap();
    a.open(0);
    a.up(0);
    assert_eq!(a.status().lcp, State::Stopped);
    // 100 s alone: not one octet, no timer.
    a.poll(100_000);
    assert_eq!(a.pending_tx(), 0);
    assert_eq!(a.next_deadline(), None);
    // The client turns up at 100 s (10 ms each way): open in well under a Restart timer.
    let mut b = Ppp::new(ppp::Config::new(GROUND_IP, NODE_IP, 2)).unwrap();
    b.open(100_000);
    b.up(100_000);
    let mut p = Pair {
        now: 100_000,
        tick: 10,
        a,
        b,
        ab: Pipe::new(10),
        ba: Pipe::new(10),
    };
    assert!(p.run_until(500, Pair::open), "{:?}", p.a.status());
    // The client goes silent: echo timeout, then the server waits silently again.
    let mut quiet = Ppp::new(ppp::Config::new(GROUND_IP, NODE_IP, 3)).unwrap();
    std::mem::swap(&mut p.b, &mut quiet);
    assert!(p.run_until(10_000, |p| p.a.last_down() == Some(DownReason::EchoTimeout)));
    assert_eq!(p.a.status().lcp, State::Stopped);
    assert_eq!(p.a.next_deadline(), None);
}

/// Two ends that both ask for an MRU of `MAX_INFO` carry datagrams of that size both ways; an
/// end that asked for nothing keeps the other to the RFC default of 1500.
#[test]
fn an_mru_above_the_default_is_negotiated_and_used_both_ways() {
    let big = ppp::MAX_INFO as u16;
    let mut cfg_a = config(1);
    cfg_a.mru = big;
    let mut cfg_b = ppp::Config::new(GROUND_IP, NODE_IP, 2);
    cfg_b.mru = big;
    let mut p = Pair::with(cfg_a, cfg_b, 10);
    assert!(p.run_until(5_000, Pair::open));
    let d: Vec<u8> = (0..ppp::MAX_INFO).map(|i| i as u8).collect();
    p.a.send_ip(&d).unwrap();
    p.b.send_ip(&d).unwrap();
    let (mut at_a, mut at_b) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        p.step_with(&mut |b| at_a.extend_from_slice(b), &mut |b| {
            at_b.extend_from_slice(b)
        });
    }
    for wire in [&at_a, &at_b] {
        let f = frames(wire)
            .into_iter()
            .find(|f| f.len() > ppp::DEFAULT_MRU)
            .expect("the large datagram's frame");
        // FF 03 00 21, the datagram, the FCS.
        assert!(f.len() == 4 + d.len() + 2 && f[4..4 + d.len()] == d[..]);
    }
    // B asks for nothing: A may not send it more than 1500.
    let mut p = Pair::with(cfg_a, ppp::Config::new(GROUND_IP, NODE_IP, 3), 10);
    assert!(p.run_until(5_000, Pair::open));
    assert_eq!(p.a.send_ip(&d[..1501]), Err(ppp::SendError::TooLong(1501)));
    p.a.send_ip(&d[..1500]).unwrap();
    assert!(p.b.send_ip(&d[..1501]).is_ok(), "A receives MAX_INFO");
}

/// A client with `accept_addresses` (pppd's ipcp-accept-local/-remote) takes the addresses a
/// server configured with others assigns; without it the client keeps its own (and, once the
/// Naks run out, the two ends disagree on the addresses).
#[test]
fn a_client_that_accepts_addresses_takes_the_ones_the_server_assigns() {
    let (node, ground) = ([192, 168, 7, 1], [192, 168, 7, 2]);
    let mut server = ppp::Config::new(node, ground, 1);
    server.passive = true;
    let mut client = ppp::Config::new(GROUND_IP, NODE_IP, 2);
    client.accept_addresses = true;
    let mut p = Pair::with(server, client, 10);
    assert!(p.run_until(10_000, Pair::open));
    let (a, b) = (p.a.status(), p.b.status());
    assert_eq!((a.local_ip, a.peer_ip), (node, Some(ground)));
    assert_eq!((b.local_ip, b.peer_ip), (ground, Some(node)));
    client.accept_addresses = false;
    let mut p = Pair::with(server, client, 10);
    p.run_until(10_000, Pair::open);
    assert_eq!(p.b.status().local_ip, GROUND_IP);
}
