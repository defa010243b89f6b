//! 1 MiB CFDP class 2 uplink over the CCSDS space link, as the radio carries it (issue 19):
//! the ground's `Sender` hands each PDU, in a space packet, to FOP-1 (`GroundRadio`: a TC
//! frame with the segment header, SDLS AES-256-GCM, the FECF, BCH-coded into a CLTU); the
//! node (`comms::node::Node` on the CCSDS radio: CLTU decoding, SDLS, the shared anti-replay
//! window, FARM-1) hands each CFDP packet to the `Receiver` (own thread, writing to a sim NOR
//! flash with journal checkpoints every 64 KiB), whose NAKs, ACKs and Finished go down as
//! SDLS-secured TM frames behind the ASM, randomised, each with the CLCW that drives FOP-1.
//! Between them the sim board's real `LinkEmulator` relay on loopback UDP: 2 Mbit/s per
//! direction, 10 ms one-way latency, seeded loss applied to both directions (CLTUs and TM
//! frames, so NAKs, ACKs, CLCWs and the Finished are lost too). FOP-1's timer is 300 ms of
//! wall time, the least `spacenode ground` uses (it then follows the measured round trip).
//!
//!     cargo bench -p comms --bench cfdp_link [-- RUNS]
//!
//! Two services carry the CFDP packets, measured one after the other in the same run: type-BD
//! frames (COP-1's expedited service, each frame sent once: CFDP class 2 repairs losses
//! itself; what `spacenode ground sign` sends CFDP on) and type-AD frames through FOP-1's window
//! of 7 frames (retransmitted by COP-1; what `ground sign` used before, kept as the comparison).
//!
//! For 0 %, 10 % and 30 % loss it prints the completion time (median of RUNS, default 3, each
//! with its own seed), the goodput, and the ideal computed in the same run: the uplink's
//! capacity less the loss, `capacity x (1 - loss)`, carrying every file-data PDU in its own
//! CLTU with all the bytes the link adds (space packet header, TC frame header, segment header,
//! SDLS header and MAC, FECF, the BCH code blocks' parity and fill, CLTU start and tail
//! sequences), so the ideal time is `CLTU bytes of the file / (capacity x (1 - loss))`. The
//! target is a completion time within 1.2x of the ideal at 10 % loss. Not run by CI.

use board_sim::flash::SimFlash;
use board_sim::link::{LinkConfig, LinkEmulator};
use comms::cfdp::packet::{self, MAX_PDU};
use comms::cfdp::{CfdpLayout, Receiver, ReceiverConfig, SendState, Sender, SenderConfig};
use comms::ground::Ground;
use comms::link::FailoverConfig;
use comms::node::{
    Downlink, ForwardError, Forwarder, Node, NodeConfig, Now, Outbound, UnitOutcome,
};
use comms::radio_ccsds::{CcsdsConfig, CcsdsRadio, GroundRadio, MAX_CLTU, MAX_TC_PACKET};
use comms::router::RouteTable;
use comms::sdls::MemoryPersist;
use comms::sdls::sim_default::{SIM_OPS_SPI, sim_default};
use hal::time::Instant as HalInstant;
use protocol::LinkId;
use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const SIZE: usize = 1024 * 1024;
const BANDWIDTH_BPS: u64 = 2_000_000;
const LATENCY: Duration = Duration::from_millis(10);
const FLASH: usize = 80 * 1024 + SIZE + 64 * 1024;
const APID: u16 = 0x0A0;
/// FOP-1's timer T1: the least `spacenode ground` uses (`src/ground/fop_timer.rs`, which then
/// follows the measured round trip); fixed here.
const T1: Duration = Duration::from_millis(300);
/// Bytes of a file-data PDU besides its segment (header, offset, CRC) with the entity id and
/// sequence number widths of `SenderConfig::default()`; checked against the PDUs sent.
const FILE_DATA_OVERHEAD: usize = 18;
/// The largest segment whose file-data PDU, in a space packet, fills one TC frame.
const SEGMENT: usize = MAX_TC_PACKET - 6 - FILE_DATA_OVERHEAD;

/// The link's managed parameters (the description's defaults with spacecraft 421).
fn cfg() -> CcsdsConfig {
    CcsdsConfig {
        scid: 421,
        tc_vcid: 0,
        tm_vcid: 0,
        tm_frame_len: 1115,
    }
}

/// Bytes on the uplink for one space packet of `packet` bytes: the TC frame (primary header
/// 5, segment header 1, the SDLS header and MAC of the association's suite, the packet, FECF
/// 2) coded into a CLTU.
fn cltu_len(packet: usize) -> usize {
    let suite = comms::sdls::Suite::Aes256Gcm;
    spacelink::cltu::encoded_len(5 + 1 + spacelink::sdls::overhead(suite) + packet + 2)
}

/// Which COP-1 service carries the CFDP packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    /// Sequence-controlled (type-AD through FOP-1's window, retransmitted by COP-1), as
    /// `spacenode ground sign` sent CFDP before it moved to type-BD.
    Ad,
    /// Expedited (type-BD, sent once; CFDP's NAKs repair what is lost), as `spacenode ground
    /// sign` sends CFDP.
    Bd,
}

struct Outcome {
    secs: f64,
    resent: u64,
    cltus: u32,
    unlocks: u32,
    largest_pdu: usize,
    up_bytes: u64,
}

/// The node's radio: TM frames go to the relay.
struct Radio<'a> {
    sock: &'a UdpSocket,
    relay: SocketAddr,
}

impl Downlink for Radio<'_> {
    fn send(&mut self, _: LinkId, bytes: &[u8]) {
        let _ = self.sock.send_to(bytes, self.relay);
    }
}

/// No component channels: the benchmark's node runs CFDP only.
struct NoChannels;

impl Forwarder for NoChannels {
    fn forward(&mut self, _: usize, _: Outbound<'_>) -> Result<(), ForwardError> {
        Err(ForwardError::Failed)
    }
}

fn now(start: Instant) -> Now {
    Now {
        mono: HalInstant::from_micros(start.elapsed().as_micros() as u64),
        mission_us: Some(1_700_000_000_000_000),
    }
}

fn node_thread(sock: UdpSocket, relay: SocketAddr, stop: Arc<AtomicBool>, done: Arc<AtomicBool>) {
    let mut flash: SimFlash = SimFlash::anonymous(FLASH).expect("sim flash");
    let rcfg = ReceiverConfig {
        nak_interval: Duration::from_millis(150),
        ack_interval: Duration::from_millis(150),
        checkpoint_bytes: 64 * 1024,
        ..ReceiverConfig::default()
    };
    let mut rx = Receiver::open(&mut flash, rcfg, CfdpLayout::comms(FLASH as u32)).expect("open");
    let nc = NodeConfig {
        apid: APID,
        reserve_block: 256,
        failover: FailoverConfig::default(),
        auth_event_period_ms: 1000,
    };
    let keys = sim_default().expect("sim keys");
    let routes = RouteTable::build(std::iter::empty());
    let mut node = Node::boot(nc, &keys, MemoryPersist::default(), routes).expect("node");
    node.use_ccsds_radio(Box::leak(Box::new(CcsdsRadio::new(cfg()).expect("radio"))));
    sock.set_read_timeout(Some(Duration::from_micros(300)))
        .expect("timeout");
    let start = Instant::now();
    let mut inbuf = [0u8; 4096];
    let mut out = [0u8; MAX_PDU + 16];
    let mut seq = 0u16;
    let mut pdus: Vec<Vec<u8>> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        // Drain what arrived, then run timers and answer.
        while let Ok((n, _)) = sock.recv_from(&mut inbuf) {
            let mut down = Radio { sock: &sock, relay };
            node.on_radio_bytes(
                &inbuf[..n],
                now(start),
                &mut NoChannels,
                &mut down,
                &mut |(o, buf)| {
                    if let UnitOutcome::Cfdp { start, len, .. } = o
                        && let Some(p) = buf.get(start..start + len)
                    {
                        pdus.push(p.to_vec());
                    }
                },
            );
            for p in pdus.drain(..) {
                if let Ok(pdu) = packet::unwrap(&p) {
                    let _ = rx.on_pdu(&mut flash, pdu, start.elapsed());
                }
            }
            sock.set_nonblocking(true).expect("nonblocking");
        }
        sock.set_nonblocking(false).expect("blocking");
        let mut down = Radio { sock: &sock, relay };
        rx.poll(&mut flash, start.elapsed(), |pdu| {
            if let Ok(n) = packet::wrap(pdu, seq, false, &mut out) {
                seq = seq.wrapping_add(1);
                node.send_packet(SIM_OPS_SPI, &out[..n], &mut down);
            }
        })
        .expect("poll");
        if rx.take_received(&mut flash).expect("take").is_some() {
            done.store(true, Ordering::Relaxed);
        }
    }
}

/// The ground: the CFDP sender's PDUs through FOP-1 and the CLTU coder to the relay, TM frames
/// from it through SDLS to FOP-1 (CLCW) and the sender (NAK, ACK, Finished).
fn ground(
    sock: &UdpSocket,
    relay: SocketAddr,
    service: Service,
    seed: u64,
    data: &[u8],
) -> Outcome {
    let keys = sim_default().expect("sim keys");
    let mut g = Ground::new(&keys, None, APID).expect("ground");
    let mut radio = GroundRadio::new(cfg(), SIM_OPS_SPI).expect("ground radio");
    let scfg = SenderConfig {
        segment_len: SEGMENT,
        rate_bps: Some(BANDWIDTH_BPS),
        // What the link adds around a full file-data PDU, so that the sender paces CLTUs.
        frame_overhead: cltu_len(6 + SEGMENT + FILE_DATA_OVERHEAD) - SEGMENT - FILE_DATA_OVERHEAD,
        burst: 8,
        ack_interval: Duration::from_millis(300),
        inactivity: Duration::from_millis(600),
        ack_limit: 100,
        ..SenderConfig::default()
    };
    let mut tx = Sender::new(scfg, seed as u32, b"batch.bin", data).expect("sender");
    sock.set_read_timeout(Some(Duration::from_micros(300)))
        .expect("timeout");
    let start = Instant::now();
    let (mut out, mut inbuf, mut cltu) = ([0u8; MAX_PDU + 16], [0u8; 4096], [0u8; MAX_CLTU]);
    let mut queue: VecDeque<Vec<u8>> = VecDeque::new();
    let (mut pkt_seq, mut largest_pdu, mut up_bytes) = (0u16, 0usize, 0u64);
    let mut timer: Option<(u32, Instant)> = None;
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut down_packets = 0u32;
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no delivery in 120 s"
        );
        // The sender runs only when FOP-1 took everything it gave before: FOP-1's window (and
        // the link's rate) paces it, and no PDU waits on the ground behind older ones.
        if queue.is_empty() {
            tx.poll(start.elapsed(), data, |pdu| {
                largest_pdu = largest_pdu.max(pdu.len());
                if let Ok(n) = packet::wrap(pdu, pkt_seq, true, &mut out) {
                    pkt_seq = pkt_seq.wrapping_add(1);
                    queue.push_back(out[..n].to_vec());
                }
            })
            .expect("sender");
        }
        // FOP-1 takes packets while its window (AD) or its one BD slot has room, and every
        // frame it has goes out at once; the rest wait their turn. (One frame per pass of this
        // loop would tie the rate to how fast a loaded machine wakes the thread up.)
        loop {
            let taken = queue.front().is_some_and(|p| {
                match service {
                    Service::Ad => radio.submit(p),
                    Service::Bd => radio.submit_expedited(p),
                }
                .is_ok()
            });
            if taken {
                queue.pop_front();
            }
            while let Some(n) = radio.next_cltu(&mut g, &mut cltu).expect("cltu") {
                up_bytes += n as u64;
                let _ = sock.send_to(&cltu[..n], relay);
            }
            if !taken {
                break;
            }
        }
        while let Ok(n) = sock.recv(&mut inbuf) {
            radio.on_bytes(&mut g, &inbuf[..n], &mut |_, _, p| got.push(p.to_vec()));
        }
        for p in got.drain(..) {
            down_packets += 1;
            if let Ok(pdu) = packet::unwrap(&p) {
                let _ = tx.on_pdu(pdu, start.elapsed());
            }
        }
        // FOP-1's timer in wall time; after its transmission limit, start again with Unlock
        // (the frames it held are lost; CFDP's NAKs ask for their data again).
        match (radio.timer(), timer) {
            (Some(e), Some((t, at))) if e == t => {
                if at.elapsed() >= T1 {
                    radio.timer_expired(e);
                    timer = None;
                }
            }
            (Some(e), _) => timer = Some((e, Instant::now())),
            (None, _) => timer = None,
        }
        if radio.fop().alert().is_some() {
            radio.unlock().expect("unlock");
        }
        match tx.state() {
            SendState::Delivered => break,
            SendState::Failed(c) => panic!(
                "CFDP failed: {c:?} after {:?}: {:?}, {down_packets} packets down, radio {:?}, FOP-1 {:?}",
                start.elapsed(),
                tx.progress(),
                radio.stats(),
                radio.fop().state()
            ),
            SendState::Active => {}
        }
    }
    let secs = start.elapsed().as_secs_f64();
    // The ACK of the Finished leaves.
    tx.poll(start.elapsed(), data, |_| {}).expect("sender");
    Outcome {
        secs,
        resent: tx.progress().retransmitted,
        cltus: radio.stats().tc_frames,
        unlocks: radio.stats().unlocks,
        largest_pdu,
        up_bytes,
    }
}

fn one(service: Service, loss_pct: u32, seed: u64, data: &[u8]) -> Outcome {
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
    let o = ground(&ground_sock, link.ground_side(), service, seed, data);
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
    o
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
    // Every file-data PDU in its own CLTU: the file's bytes on the uplink.
    let full = SIZE / SEGMENT;
    let last = SIZE % SEGMENT;
    let pdu_cltu = |seg: usize| cltu_len(6 + seg + FILE_DATA_OVERHEAD);
    let ideal_bytes = full * pdu_cltu(SEGMENT) + if last > 0 { pdu_cltu(last) } else { 0 };
    println!(
        "CFDP class 2 over the CCSDS link, {} KiB file in {}-byte segments, link {:.1} Mbit/s per direction, {} ms one-way, median of {runs}",
        SIZE / 1024,
        SEGMENT,
        capacity / 1e6,
        LATENCY.as_millis()
    );
    println!(
        "a full segment goes up as a {}-byte CLTU ({:.1} % of it is file data); the file as {} bytes of CLTUs",
        pdu_cltu(SEGMENT),
        100.0 * SEGMENT as f64 / pdu_cltu(SEGMENT) as f64,
        ideal_bytes
    );
    for service in [Service::Bd, Service::Ad] {
        table(service, runs, &data, ideal_bytes);
    }
}

/// One service's rows: each loss rate, the median of `runs`.
fn table(service: Service, runs: usize, data: &[u8], ideal_bytes: usize) {
    let capacity = BANDWIDTH_BPS as f64;
    println!(
        "{} frames:",
        match service {
            Service::Bd => "type-BD (expedited)",
            Service::Ad => "type-AD (FOP-1, sequence-controlled)",
        }
    );
    println!(
        "{:>5} | {:>8} | {:>9} | {:>10} | {:>8} | {:>10} | {:>9} | {:>7} | {:>10}",
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
            .map(|i| one(service, loss, 1000 + i as u64 * 7919 + loss as u64, data))
            .collect();
        outs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
        let m = &outs[outs.len() / 2];
        assert_eq!(
            m.largest_pdu,
            SEGMENT + FILE_DATA_OVERHEAD,
            "a file-data PDU is not the size the ideal counts"
        );
        let bits = SIZE as f64 * 8.0;
        let up_rate = capacity * (1.0 - loss as f64 / 100.0);
        let ideal_secs = ideal_bytes as f64 * 8.0 / up_rate;
        // The ideal's rate of file data.
        let ideal_rate = bits / ideal_secs;
        let goodput = bits / m.secs;
        println!(
            "{:>4}% | {:>8.3} | {:>9.3} | {:>9.3}x | {:>6.3}Mb | {:>10.3} | {:>8.1}% | {:>6.1}% | {:>10}",
            loss,
            m.secs,
            ideal_secs,
            m.secs / ideal_secs,
            goodput / 1e6,
            ideal_rate / 1e6,
            100.0 * goodput / capacity,
            100.0 * goodput / ideal_rate,
            m.resent / 1024,
        );
        eprintln!(
            "      loss {loss}%: runs {:?} s; median run: {} CLTUs ({} bytes) sent, {} KiB of file data resent by CFDP, {} FOP-1 restarts",
            outs.iter()
                .map(|o| (o.secs * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>(),
            m.cltus,
            m.up_bytes,
            m.resent / 1024,
            m.unlocks
        );
    }
}
