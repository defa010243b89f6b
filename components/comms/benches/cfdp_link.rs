//! 1 MiB CFDP class 2 uplink over the sim radio path: the board's `LinkEmulator` relay on
//! loopback UDP (seeded loss on both directions, 2 Mbit/s per direction, 10 ms one-way latency),
//! the node's `Receiver` writing to a sim NOR flash in its own thread, the ground's `upload`.
//!
//!     cargo bench -p comms --bench cfdp_link [-- RUNS]
//!
//! For 0 %, 10 % and 30 % loss it prints the completion time (median of RUNS, default 3, each
//! with its own seed), the goodput, and both baselines computed in the same run: the link
//! capacity, and the ideal `capacity x (1 - loss)` with its completion time `size / ideal`. The
//! target is a completion time within 1.2x of the ideal at 10 % loss. Not run by CI.

use board_sim::flash::SimFlash;
use board_sim::link::{LinkConfig, LinkEmulator};
use comms::cfdp::ground::{UploadJob, upload};
use comms::cfdp::packet::{self, MAX_PDU};
use comms::cfdp::{CfdpLayout, Receiver, ReceiverConfig, SenderConfig};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const SIZE: usize = 1024 * 1024;
const BANDWIDTH_BPS: u64 = 2_000_000;
const LATENCY: Duration = Duration::from_millis(10);
const FLASH: usize = 80 * 1024 + SIZE + 64 * 1024;

struct Outcome {
    secs: f64,
    sent: u64,
    retransmitted: u64,
    up_frames: u64,
    up_lost: u64,
}

fn node_thread(sock: UdpSocket, relay: SocketAddr, stop: Arc<AtomicBool>, done: Arc<AtomicBool>) {
    let mut flash: SimFlash = SimFlash::anonymous(FLASH).expect("sim flash");
    let cfg = ReceiverConfig {
        nak_interval: Duration::from_millis(150),
        ack_interval: Duration::from_millis(150),
        checkpoint_bytes: 64 * 1024,
        ..ReceiverConfig::default()
    };
    let mut rx = Receiver::open(&mut flash, cfg, CfdpLayout::comms(FLASH as u32)).expect("open");
    sock.set_read_timeout(Some(Duration::from_micros(300)))
        .expect("timeout");
    let start = Instant::now();
    let mut inbuf = [0u8; 4096];
    let mut out = [0u8; MAX_PDU + 16];
    let mut seq = 0u16;
    while !stop.load(Ordering::Relaxed) {
        // Drain what arrived, then run timers and answer.
        while let Ok((n, _)) = sock.recv_from(&mut inbuf) {
            if let Ok(pdu) = packet::unwrap(&inbuf[..n]) {
                let _ = rx.on_pdu(&mut flash, pdu, start.elapsed());
            }
            sock.set_nonblocking(true).expect("nonblocking");
        }
        sock.set_nonblocking(false).expect("blocking");
        rx.poll(&mut flash, start.elapsed(), |pdu| {
            if let Ok(n) = packet::wrap(pdu, seq, false, &mut out) {
                seq = seq.wrapping_add(1);
                let _ = sock.send_to(&out[..n], relay);
            }
        })
        .expect("poll");
        if rx.take_received(&mut flash).expect("take").is_some() {
            done.store(true, Ordering::Relaxed);
        }
    }
}

fn one(loss_pct: u32, seed: u64, data: &[u8]) -> Outcome {
    let node_sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let ground_sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let link = LinkEmulator::start(
        node_sock.local_addr().expect("addr"),
        ground_sock.local_addr().expect("addr"),
        LinkConfig {
            seed,
            loss_ppm: loss_pct * 10_000,
            latency: LATENCY,
            bandwidth_bps: Some(BANDWIDTH_BPS),
            queue_limit: 1024,
            mtu: 2048,
        },
    )
    .expect("link");
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let node = {
        let (stop, done, relay) = (stop.clone(), done.clone(), link.node_side());
        std::thread::spawn(move || node_thread(node_sock, relay, stop, done))
    };
    let cfg = SenderConfig {
        segment_len: 1024,
        rate_bps: Some(BANDWIDTH_BPS),
        frame_overhead: 6,
        burst: 8,
        ack_interval: Duration::from_millis(300),
        inactivity: Duration::from_millis(600),
        ack_limit: 100,
        ..SenderConfig::default()
    };
    let job = UploadJob {
        node: link.ground_side(),
        cfg,
        seq: seed as u32,
        name: "batch.bin",
        data,
        timeout: Duration::from_secs(120),
    };
    let t0 = Instant::now();
    let p = upload(&ground_sock, &job, |_| {}).expect("upload");
    let secs = t0.elapsed().as_secs_f64();
    // Wait for the node to hand the file over (it has already sent its Finished).
    let wait = Instant::now();
    while !done.load(Ordering::Relaxed) && wait.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        done.load(Ordering::Relaxed),
        "node did not deliver the file"
    );
    stop.store(true, Ordering::Relaxed);
    node.join().expect("node thread");
    Outcome {
        secs,
        sent: p.sent,
        retransmitted: p.retransmitted,
        up_frames: link.uplink().arrived.load(Ordering::Relaxed),
        up_lost: link.uplink().lost.load(Ordering::Relaxed),
    }
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3)
        .max(1);
    let mut s = 0x5EED_u64;
    let data: Vec<u8> = (0..SIZE)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect();
    let capacity = BANDWIDTH_BPS as f64;
    println!(
        "CFDP class 2, {} KiB file, link {:.1} Mbit/s per direction, {} ms one-way, median of {runs}",
        SIZE / 1024,
        capacity / 1e6,
        LATENCY.as_millis()
    );
    println!(
        "{:>5} | {:>8} | {:>9} | {:>9} | {:>8} | {:>10} | {:>8} | {:>7} | {:>9}",
        "loss",
        "time s",
        "ideal s",
        "time/ideal",
        "goodput",
        "ideal Mb/s",
        "/capacity",
        "/ideal",
        "resent KiB"
    );
    for loss in [0u32, 10, 30] {
        let mut outs: Vec<Outcome> = (0..runs)
            .map(|i| one(loss, 1000 + i as u64 * 7919 + loss as u64, &data))
            .collect();
        outs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
        let m = &outs[outs.len() / 2];
        let bits = SIZE as f64 * 8.0;
        let ideal_rate = capacity * (1.0 - loss as f64 / 100.0);
        let ideal_secs = bits / ideal_rate;
        let goodput = bits / m.secs;
        println!(
            "{:>4}% | {:>8.3} | {:>9.3} | {:>9.3}x | {:>6.3}Mb | {:>10.3} | {:>8.1}% | {:>6.1}% | {:>9}",
            loss,
            m.secs,
            ideal_secs,
            m.secs / ideal_secs,
            goodput / 1e6,
            ideal_rate / 1e6,
            100.0 * goodput / capacity,
            100.0 * goodput / ideal_rate,
            m.retransmitted / 1024,
        );
        eprintln!(
            "      loss {loss}%: runs {:?} s; median run: {} new + {} resent bytes, uplink frames {} of which {} lost",
            outs.iter()
                .map(|o| (o.secs * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>(),
            m.sent,
            m.retransmitted,
            m.up_frames,
            m.up_lost
        );
    }
}
