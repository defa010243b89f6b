//! The node on the CCSDS radio, end to end through the ground's end of it: telecommand packets
//! go up in SDLS-secured TC frames under FOP-1, in CLTUs; the node's answers come down in
//! SDLS-secured TM frames behind the ASM, randomised, with FARM-1's CLCW. Both suites, a clean
//! and a lossy channel (FOP-1 retransmits), and frames the node must refuse.

mod common;
#[path = "radio_ccsds/resync.rs"]
mod resync;

use common::*;
use comms::ground::Ground;
use comms::link::FailoverConfig;
use comms::node::{Downlink, ForwardError, Forwarder, Node, NodeConfig, Now, Outbound};
use comms::pus::verification::Report;
use comms::radio_ccsds::{CcsdsConfig, CcsdsRadio, GroundRadio, GroundRadioError, MAX_CLTU};
use comms::router::RouteTable;
use comms::sdls::MemoryPersist;
use hal::time::Instant;
use protocol::LinkId;
use spacelink::fop::FopReject;
use spacelink::sdls::Suite;

const APID: u16 = 0x0A0;

fn cfg() -> CcsdsConfig {
    CcsdsConfig {
        scid: 0x1A5,
        tc_vcid: 0,
        tm_vcid: 0,
        tm_frame_len: 256,
    }
}

/// The common associations with OPS under `ops` and PING_ONLY under the other suite, so that
/// every test runs both suites on one node.
fn provisioning_with(ops: Suite) -> comms::sdls::Provisioning {
    let other = match ops {
        Suite::Aes256Gcm => Suite::HmacSha256,
        Suite::HmacSha256 => Suite::Aes256Gcm,
    };
    suites(ops, other)
}

/// The common associations with OPS under `ops` and PING_ONLY under `ping`.
fn suites(ops: Suite, ping: Suite) -> comms::sdls::Provisioning {
    let sas: Vec<_> = provisioning()
        .associations()
        .cloned()
        .map(|mut sa| {
            sa.suite = if sa.spi == OPS { ops } else { ping };
            sa
        })
        .collect();
    let mut buf = [0u8; 256];
    let n = comms::sdls::Provisioning::encode(&sas, &mut buf).unwrap();
    comms::sdls::Provisioning::parse(&buf[..n]).unwrap()
}

fn routes() -> RouteTable {
    let board = kernel_config::shipped::board("sim").unwrap();
    let sys = kernel_config::load(&kernel_config::shipped::description(), &board).unwrap();
    let comms = sys.component("comms").unwrap().id;
    let sends: Vec<_> = sys
        .sends(comms)
        .map(|c| comms::router::SendChannel {
            index: c.id,
            kind: c.message.name,
        })
        .collect();
    RouteTable::build(sends.iter().copied())
}

fn node(suite: Suite) -> Node<MemoryPersist> {
    let nc = NodeConfig {
        apid: APID,
        reserve_block: 16,
        failover: FailoverConfig::default(),
        auth_event_period_ms: 1000,
    };
    let mut n = Node::boot(
        nc,
        &provisioning_with(suite),
        MemoryPersist::default(),
        routes(),
    )
    .unwrap();
    n.use_ccsds_radio(Box::leak(Box::new(CcsdsRadio::new(cfg()).unwrap())));
    n
}

#[derive(Default)]
struct Air(Vec<(LinkId, Vec<u8>)>);
impl Downlink for Air {
    fn send(&mut self, link: LinkId, unit: &[u8]) {
        self.0.push((link, unit.to_vec()));
    }
}

#[derive(Default)]
struct NoChannels;
impl Forwarder for NoChannels {
    fn forward(&mut self, _: usize, _: Outbound<'_>) -> Result<(), ForwardError> {
        Err(ForwardError::Failed)
    }
}

/// xorshift64*: the channel's losses, from a fixed seed.
struct Rng(u64);
impl Rng {
    fn chance(&mut self, percent: u64) -> bool {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % 100 < percent
    }
}

/// (service, subservice, report) of a downlinked PUS TM.
type Seen = (u8, u8, Option<Report>);

struct Link {
    node: Node<MemoryPersist>,
    ground: Ground,
    radio: GroundRadio,
    rng: Rng,
    loss: u64,
    t: u64,
    got: Vec<Seen>,
    cltus_sent: u32,
    /// Every downlink datagram that reached the ground (ASM + randomised TM frame).
    down: Vec<Vec<u8>>,
}

impl Link {
    fn new(suite: Suite, loss: u64, seed: u64) -> Self {
        Link {
            node: node(suite),
            ground: Ground::new(&provisioning_with(suite), None, APID).unwrap(),
            radio: GroundRadio::new(cfg(), OPS).unwrap(),
            rng: Rng(seed),
            loss,
            t: 1_000_000,
            got: Vec::new(),
            cltus_sent: 0,
            down: Vec::new(),
        }
    }

    fn now(&self) -> Now {
        Now {
            mono: Instant::from_micros(self.t),
            mission_us: Some(1_700_000_000_000_000),
        }
    }

    /// Send `bytes` up as they are (no FOP-1: a forger's frame).
    fn raw_up(&mut self, bytes: &[u8]) -> Air {
        let mut air = Air::default();
        let now = self.now();
        self.node
            .on_radio_bytes(bytes, now, &mut NoChannels, &mut air, &mut |_| {});
        air
    }

    /// One round: everything FOP-1 has goes up (each CLTU maybe lost), the node's frames come
    /// down (each maybe lost) into the ground. Returns whether anything was sent up.
    fn round(&mut self) -> bool {
        let mut sent = false;
        let mut cltu = [0u8; MAX_CLTU];
        while let Some(n) = self.radio.next_cltu(&mut self.ground, &mut cltu).unwrap() {
            sent = true;
            self.cltus_sent += 1;
            if self.rng.chance(self.loss) {
                continue;
            }
            let air = self.raw_up(&cltu[..n]);
            self.hear(air);
        }
        self.t += 100_000;
        // The partition's tick (every 100 ms): a CLCW owed goes down from there (the rest of
        // what it sends, failover events, may go on the standby line).
        let mut air = Air::default();
        let now = self.now();
        self.node.tick(now, &mut air);
        air.0.retain(|(link, _)| *link == LinkId::Primary);
        self.hear(air);
        sent
    }

    /// The node's frames come down (each maybe lost) into the ground.
    fn hear(&mut self, air: Air) {
        for (link, frame) in air.0 {
            assert_eq!(link, LinkId::Primary, "answers go down on the radio");
            if self.rng.chance(self.loss) {
                continue;
            }
            self.down.push(frame.clone());
            let got = &mut self.got;
            self.radio
                .on_bytes(&mut self.ground, &frame, &mut |spi, seq, p| {
                    let d = Ground::open(spi, seq, p).unwrap();
                    got.push((d.tm.service, d.tm.subservice, d.verification.map(|v| v.1)));
                });
        }
    }

    /// Offer `packet` to FOP-1 until it takes it, and run rounds (the timer expiring after 3
    /// quiet rounds, doubled at each expiry up to 40 (4 s), as the ground's T1 backs off)
    /// until FOP-1 has nothing outstanding.
    fn deliver(&mut self, packet: &[u8]) {
        let mut queued = false;
        let mut quiet = 0;
        let mut patience = 3;
        for _ in 0..2_000 {
            if !queued {
                match self.radio.submit(packet) {
                    Ok(()) => queued = true,
                    Err(GroundRadioError::Fop(
                        FopReject::NotRunning | FopReject::WaitQueueFull,
                    )) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            if self.round() {
                quiet = 0;
            } else {
                quiet += 1;
            }
            if queued && self.radio.fop().outstanding() == 0 && !self.radio.fop().waiting() {
                return;
            }
            if quiet >= patience
                && let Some(epoch) = self.radio.timer()
            {
                self.radio.timer_expired(epoch);
                quiet = 0;
                patience = (patience * 2).min(40);
            }
        }
        panic!(
            "FOP-1 never saw {:?} acknowledged: state {:?}, alert {:?}",
            packet,
            self.radio.fop().state(),
            self.radio.fop().alert()
        );
    }

    /// A ping delivered (FOP-1 runs), then the CLTU of a second one, not yet sent.
    fn ping_once_running(&mut self) -> Vec<u8> {
        let ping = self.telecommand(17, 1, &[]);
        self.deliver(&ping);
        let ping = self.telecommand(17, 1, &[]);
        self.radio.submit(&ping).unwrap();
        let mut buf = [0u8; MAX_CLTU];
        let n = self
            .radio
            .next_cltu(&mut self.ground, &mut buf)
            .unwrap()
            .unwrap();
        buf[..n].to_vec()
    }

    fn telecommand(&mut self, service: u8, subservice: u8, app: &[u8]) -> Vec<u8> {
        let mut p = [0u8; comms::sdls::MAX_DATA_LEN];
        let (n, _) = self
            .ground
            .telecommand(service, subservice, 0x42, app, &mut p)
            .unwrap();
        p[..n].to_vec()
    }
}

const PING_REPORTS: [Seen; 4] = [
    (1, 1, Some(Report::AcceptanceSuccess)),
    (1, 3, Some(Report::StartSuccess)),
    (17, 2, None),
    (1, 7, Some(Report::CompletionSuccess)),
];

#[test]
fn ping_and_housekeeping_over_frames_under_both_suites() {
    for suite in [Suite::Aes256Gcm, Suite::HmacSha256] {
        let mut l = Link::new(suite, 0, 1);
        let ping = l.telecommand(17, 1, &[]);
        l.deliver(&ping);
        assert_eq!(l.got, PING_REPORTS, "{suite:?}");
        l.got.clear();
        // Structures 2 (links) and 3 (security): the status a ground operator reads.
        let hk = l.telecommand(3, 27, &[2, 2, 3]);
        l.deliver(&hk);
        let services: Vec<_> = l.got.iter().map(|g| (g.0, g.1)).collect();
        assert_eq!(
            services,
            [(1, 1), (1, 3), (3, 25), (3, 25), (1, 7)],
            "{suite:?}"
        );
        let radio = l.node.ccsds_radio().unwrap();
        // Set V(R) + two type-AD frames; nothing refused, nothing lost.
        assert_eq!(radio.farm().vr(), 2);
        assert_eq!(radio.stats().sdls_refused, 0);
        assert_eq!(l.node.security().counters().accepted, 3);
        assert_eq!(l.radio.stats().tm_refused, 0);
        assert_eq!(l.cltus_sent, 3, "no retransmission on a clean channel");
    }
}

#[test]
fn a_lossy_channel_is_repaired_by_fop_retransmissions() {
    for (seed, suite) in [(7, Suite::Aes256Gcm), (11, Suite::HmacSha256)] {
        let mut l = Link::new(suite, 25, seed);
        for i in 0..12 {
            let ping = l.telecommand(17, 1, &[]);
            l.deliver(&ping);
            // Every ping ran exactly once on the node, whatever was lost.
            let pongs = l.got.iter().filter(|g| (g.0, g.1) == (17, 2)).count();
            assert!(pongs <= i + 1, "a ping ran twice");
        }
        let vr = l.node.ccsds_radio().unwrap().farm().vr();
        assert_eq!(
            vr, 12,
            "FARM-1 took the 12 type-AD frames in order, once each"
        );
        assert!(
            l.cltus_sent > 13,
            "at 25 % loss some frames had to be sent again ({} CLTUs)",
            l.cltus_sent
        );
        eprintln!(
            "{suite:?} at 25 % loss: 12 pings (13 frames with Set V(R)) took {} CLTUs",
            l.cltus_sent
        );
        // Retransmissions are secured afresh: none was refused as a replay.
        assert_eq!(l.node.security().counters().replayed, 0);
    }
}

#[test]
fn forged_and_replayed_frames_are_refused_counted_and_unanswered() {
    let mut l = Link::new(Suite::Aes256Gcm, 0, 3);
    let ping = l.telecommand(17, 1, &[]);
    l.deliver(&ping);
    let ping = l.telecommand(17, 1, &[]);
    l.radio.submit(&ping).unwrap();
    let mut cltus = Vec::new();
    let mut buf = [0u8; MAX_CLTU];
    while let Some(n) = l.radio.next_cltu(&mut l.ground, &mut buf).unwrap() {
        cltus.push(buf[..n].to_vec());
    }
    assert_eq!(cltus.len(), 1, "the second ping");
    assert!(
        !l.raw_up(&cltus[0]).0.is_empty(),
        "an authentic frame is answered"
    );
    let ping_cltu = cltus[0].clone();
    // The same CLTU again: authentic, but its sequence number was taken.
    let before = l.node.security().counters();
    let air = l.raw_up(&ping_cltu);
    assert_eq!(l.node.security().counters().replayed, before.replayed + 1);
    // Its only answer is the rate-limited "sequence number refused" event (5,x, 0x0007).
    assert_eq!(air.0.len(), 1);
    l.got.clear();
    let got = &mut l.got;
    l.radio
        .on_bytes(&mut l.ground, &air.0[0].1, &mut |spi, seq, p| {
            let d = Ground::open(spi, seq, p).unwrap();
            assert_eq!(&d.tm.source[..2], &[0x00, 0x07]);
            got.push((d.tm.service, d.tm.subservice, None));
        });
    assert_eq!(l.got.len(), 1);
    assert_eq!(l.got[0].0, 5);
    assert_eq!(
        l.node.ccsds_radio().unwrap().farm().vr(),
        2,
        "FARM-1 never saw it"
    );

    // A ground with other keys: a well-formed frame whose MAC does not verify.
    let mut forger = Ground::new(&other_keys(), None, APID).unwrap();
    let mut fr = GroundRadio::new(cfg(), OPS).unwrap();
    let n = fr.next_cltu(&mut forger, &mut buf).unwrap().unwrap();
    let air = l.raw_up(&buf[..n]);
    assert!(air.0.is_empty(), "a forged frame gets no answer");
    let c = l.node.security().counters();
    assert_eq!(c.bad_mac, before.bad_mac + 1);
    assert_eq!(l.node.ccsds_radio().unwrap().stats().sdls_refused, 2);
    assert_eq!(
        l.node
            .links()
            .status(LinkId::Primary, l.now().mono)
            .auth_failures,
        1
    );
    // FARM-1 did not move for either.
    assert_eq!(l.node.ccsds_radio().unwrap().farm().vr(), 2);

    // Noise and a CLTU with two bit errors in one block are not frames; counted as framing.
    let mut damaged = ping_cltu.clone();
    damaged[4] ^= 0x81;
    assert!(l.raw_up(&damaged).0.is_empty());
    assert!(
        l.raw_up(&[0xEB, 0x90, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
            .0
            .is_empty()
    );
    assert_eq!(l.node.ccsds_radio().unwrap().stats().sdls_refused, 2);
}

/// The same associations under other master keys.
fn other_keys() -> comms::sdls::Provisioning {
    use comms::sdls::{Key, Permissions, ProvisionedSa, Provisioning};
    let sas = [ProvisionedSa {
        spi: OPS,
        permissions: Permissions::ALL,
        window: WINDOW,
        telemetry: true,
        master: Key::from_bytes([0x99; 32]),
        state: comms::sdls::KeyState::Active,
        suite: comms::sdls::Suite::Aes256Gcm,
        key_id: 0,
    }];
    let mut buf = [0u8; 64];
    let n = Provisioning::encode(&sas, &mut buf).unwrap();
    Provisioning::parse(&buf[..n]).unwrap()
}

#[test]
fn a_bit_error_in_every_code_block_is_corrected() {
    let mut l = Link::new(Suite::HmacSha256, 0, 5);
    // One flipped bit in each 8-byte code block after the 2-byte start sequence (the tail
    // left alone).
    let mut c = l.ping_once_running();
    let n = c.len();
    let blocks = (n - 2 - 8) / 8;
    for (i, block) in c[2..n - 8].chunks_mut(8).enumerate() {
        block[i % 8] ^= 1 << (i % 7);
    }
    assert!(
        !l.raw_up(&c).0.is_empty(),
        "the corrected frame is answered"
    );
    let radio = l.node.ccsds_radio().unwrap();
    assert_eq!(radio.farm().vr(), 2);
    assert!(radio.cltu_stats().corrected_bits >= blocks as u32);
}

/// The radio off the CCSDS link leaves units alone: the standby link's units still work on a
/// node whose radio speaks frames, under the same window.
#[test]
fn units_on_the_standby_link_share_the_window_with_frames() {
    let mut l = Link::new(Suite::Aes256Gcm, 0, 9);
    let ping = l.telecommand(17, 1, &[]);
    l.deliver(&ping);
    // The ground's engine took sequence numbers 1 (Set V(R)) and 2 (ping) under OPS, and the
    // frames moved the association's one window.
    assert_eq!(l.node.security().status(OPS).unwrap().rx_last, 2);
    let now = l.now();
    let mut air = Air::default();
    // A unit carrying sequence number 2 on the standby link: a replay of the frame's number.
    let replay = uplink(OPS, 2, &ping);
    let o = l
        .node
        .on_unit(LinkId::Standby, &replay, now, &mut NoChannels, &mut air);
    assert!(
        matches!(
            o,
            comms::node::UnitOutcome::Refused(comms::sdls::UplinkReject::Replay { arsn: 2, .. })
        ),
        "{o:?}"
    );
    // The ground's next number goes through on the standby link as a unit, answered there.
    let mut unit = [0u8; 128];
    let (n, _) = l.ground.uplink(OPS, 17, 1, 0x42, &[], &mut unit).unwrap();
    air.0.clear();
    let o = l
        .node
        .on_unit(LinkId::Standby, &unit[..n], now, &mut NoChannels, &mut air);
    assert!(matches!(o, comms::node::UnitOutcome::Ran(_)), "{o:?}");
    assert!(!air.0.is_empty() && air.0.iter().all(|(link, _)| *link == LinkId::Standby));
    assert_eq!(l.node.security().status(OPS).unwrap().rx_last, 3);
}

/// The frames' sequence numbers are reserved on flash before they count, in both directions
/// (the engine's shared path, whose failed-write refusal the unit tests cover): a node booted
/// again from the same state refuses a frame it never saw but whose number is below the
/// reservation, and its downlink numbers continue above every number it sent.
#[test]
fn frame_sequence_numbers_survive_a_reboot() {
    let mut l = Link::new(Suite::Aes256Gcm, 0, 13);
    let ping = l.telecommand(17, 1, &[]);
    l.deliver(&ping);
    let before = l.node.security().status(OPS).unwrap();
    assert_eq!(before.rx_last, 2);
    assert!(before.rx_reserved >= before.rx_last);
    assert!(before.tx_next > 1 && before.tx_reserved >= before.tx_next - 1);

    // A genuine frame (number 3) the node has not seen yet.
    let ping = l.telecommand(17, 1, &[]);
    l.radio.submit(&ping).unwrap();
    let mut buf = [0u8; MAX_CLTU];
    let n = l.radio.next_cltu(&mut l.ground, &mut buf).unwrap().unwrap();

    // Reboot from the same persisted state.
    let state = l.node.persist_mut().clone();
    let nc = NodeConfig {
        apid: APID,
        reserve_block: 16,
        failover: FailoverConfig::default(),
        auth_event_period_ms: 1000,
    };
    l.node = Node::boot(nc, &provisioning_with(Suite::Aes256Gcm), state, routes()).unwrap();
    l.node
        .use_ccsds_radio(Box::leak(Box::new(CcsdsRadio::new(cfg()).unwrap())));
    let after = l.node.security().status(OPS).unwrap();
    assert!(after.rx_last >= before.rx_reserved, "floor kept: {after:?}");
    assert!(
        after.tx_next > before.tx_next,
        "downlink continues above: {after:?}"
    );
    // Number 3 is below the floor now: refused as a replay (the node may have taken it before
    // the reset), answered only by the rate-limited event that tells the ground the floor.
    let replayed = l.node.security().counters().replayed;
    let air = l.raw_up(&buf[..n]);
    assert_eq!(l.node.security().counters().replayed, replayed + 1);
    assert_eq!(air.0.len(), 1, "the refusal event goes down on the radio");
}

/// A type-AD frame far outside FARM-1's window (from another association on the same virtual
/// channel) locks FARM-1 out; the ground's FOP-1 sees the Lockout flag in the next CLCW,
/// unlocks (Unlock, then Set V(R)) and its telecommand gets through.
#[test]
fn the_ground_recovers_from_a_farm_lockout_with_unlock() {
    use spacelink::tc::{FrameType, SegmentHeader, SeqFlags, TcHeader};
    let mut l = Link::new(Suite::HmacSha256, 0, 17);
    let ping = l.telecommand(17, 1, &[]);
    l.deliver(&ping);
    assert_eq!(l.node.ccsds_radio().unwrap().farm().vr(), 1);

    // The intruder frame: authentic under the ping-only association, N(S) = V(R) + 100.
    let mut other =
        comms::sdls::SecurityEngine::ground(&provisioning_with(Suite::HmacSha256), None, u64::MAX)
            .unwrap();
    let c = cfg();
    let mut sa = other
        .frame_tx_sa(PING_ONLY, c.tc_channel(), &mut MemoryPersist::default())
        .unwrap();
    let header = TcHeader {
        frame_type: FrameType::Ad,
        scid: c.scid,
        vcid: c.tc_vcid,
        seq: 101,
    };
    let seg = Some(SegmentHeader {
        flags: SeqFlags::Unsegmented,
        map_id: 0,
    });
    let mut frame = [0u8; 1024];
    let n = spacelink::sdls::apply_tc(
        &mut sa,
        &header,
        comms::radio_ccsds::TC_LAYOUT,
        seg,
        &ping,
        &mut frame,
    )
    .unwrap();
    let mut cltu = [0u8; MAX_CLTU];
    let k = spacelink::cltu::encode(&frame[..n], &mut cltu).unwrap();
    l.raw_up(&cltu[..k]);
    assert_eq!(
        l.node.ccsds_radio().unwrap().farm().state(),
        spacelink::farm::FarmState::Lockout
    );

    // The operator's next ping: FOP-1 learns of the lockout, unlocks, and the ping runs.
    l.got.clear();
    let ping = l.telecommand(17, 1, &[]);
    l.deliver(&ping);
    if !l.got.iter().any(|g| (g.0, g.1) == (17, 2)) {
        // The frame FOP-1 held when the alert came was dropped with it: offer it again, as
        // the ground session does.
        l.deliver(&ping);
    }
    assert_eq!(l.radio.stats().unlocks, 1);
    assert_eq!(
        l.node.ccsds_radio().unwrap().farm().state(),
        spacelink::farm::FarmState::Open
    );
    assert_eq!(l.got.iter().filter(|g| (g.0, g.1) == (17, 2)).count(), 1);
}

/// A telecommand longer than one TC frame goes up in segments (first, continuing, last) and is
/// joined on the node, also over a lossy channel; the node's 1,2 names the length of the
/// application data it received whole.
#[test]
fn a_long_telecommand_goes_up_in_segments() {
    for (loss, seed) in [(0, 19), (25, 23)] {
        let mut l = Link::new(Suite::Aes256Gcm, loss, seed);
        // Housekeeping with 2,500 bytes of structure ids: refused for its length, which the
        // refusal reports.
        let tc = l.telecommand(3, 27, &[7u8; 2500]);
        assert!(tc.len() > comms::radio_ccsds::MAX_TC_PACKET * 2);
        let refusal = |l: &Link| {
            l.got.iter().find_map(|g| match g.2 {
                Some(Report::AcceptanceFailure(f)) => Some(f),
                _ => None,
            })
        };
        // A lost report is recovered as the ground session does: the same TC again.
        for _ in 0..4 {
            l.deliver(&tc);
            if refusal(&l).is_some() {
                break;
            }
        }
        let f = refusal(&l).expect("the node refused the joined telecommand");
        assert_eq!(f.data, 2500, "{f:?}");
        let radio = l.node.ccsds_radio().unwrap();
        assert_eq!(radio.stats().bad_data, 0);
        // Three segments per delivery, in order (Set V(R) is not counted by V(R)).
        assert_eq!(radio.farm().vr() % 3, 0);
    }
}

/// The TM frame inside one downlink datagram: the ASM stripped, the randomiser undone.
fn tm_frame(datagram: &[u8]) -> Vec<u8> {
    assert_eq!(datagram[..4], spacelink::sync::ASM);
    let mut f = datagram[4..].to_vec();
    spacelink::randomizer::apply(&mut f);
    f
}

/// Whether the data field of a TM frame under an HMAC-SHA-256 association (6-byte primary
/// header, SPI, 8-byte ARSN) starts with a clear space packet header of this node's APID.
fn clear_packet_after_hmac_header(frame: &[u8]) -> bool {
    let at = 6 + 2 + 8;
    u16::from_be_bytes([frame[at], frame[at + 1]]) & 0x07FF == APID
}

/// Each association's suite is its own (issue 19 point 3, from the provisioning): on one node
/// OPS runs AES-256-GCM and PING_ONLY HMAC-SHA-256, and a ping under each is answered under
/// its association's suite: the answers under PING_ONLY carry the packet in clear after the
/// 10-byte HMAC security header, those under OPS do not (encrypted after a 14-byte header).
#[test]
fn two_associations_of_one_node_run_two_suites() {
    let mut l = Link::new(Suite::Aes256Gcm, 0, 29);
    let s = |l: &Link, spi| l.node.security().status(spi).unwrap().suite;
    assert_eq!(s(&l, OPS), Suite::Aes256Gcm);
    assert_eq!(s(&l, PING_ONLY), Suite::HmacSha256);
    let ping = l.telecommand(17, 1, &[]);
    l.deliver(&ping);
    assert_eq!(l.got, PING_REPORTS);
    let gcm_frames = std::mem::take(&mut l.down);
    // A second ground station on the monitor association, same virtual channel: its FOP-1
    // starts with its own Set V(R).
    l.radio = GroundRadio::new(cfg(), PING_ONLY).unwrap();
    l.got.clear();
    let ping = l.telecommand(17, 1, &[]);
    l.deliver(&ping);
    assert_eq!(l.got, PING_REPORTS);
    let hmac_frames = std::mem::take(&mut l.down);
    let spi_of = |f: &[u8]| u16::from_be_bytes([f[6], f[7]]);
    let answers = |frames: &[Vec<u8>], spi| -> Vec<Vec<u8>> {
        frames
            .iter()
            .map(|d| tm_frame(d))
            .filter(|f| spi_of(f) == spi)
            .collect()
    };
    let under_ops = answers(&gcm_frames, OPS);
    let under_ping = answers(&hmac_frames, PING_ONLY);
    assert!(!under_ops.is_empty() && !under_ping.is_empty());
    assert!(under_ping.iter().all(|f| clear_packet_after_hmac_header(f)));
    assert!(!under_ops.iter().any(|f| clear_packet_after_hmac_header(f)));
    let c = l.node.security().counters();
    assert_eq!((c.bad_mac, c.malformed), (0, 0));
    assert_eq!(l.node.ccsds_radio().unwrap().stats().tm_dropped, 0);
}

/// A ground whose provisioning names the wrong suite for an association (AES-256-GCM where
/// the node has HMAC-SHA-256): its frames fail the node's check under the association's
/// own suite, are refused, counted, and get no answer; FARM-1 does not move.
#[test]
fn a_frame_under_the_wrong_suite_for_its_association_is_refused_and_counted() {
    let mut l = Link::new(Suite::Aes256Gcm, 0, 31);
    let ping = l.telecommand(17, 1, &[]);
    l.deliver(&ping);
    let before = l.node.security().counters();
    let vr = l.node.ccsds_radio().unwrap().farm().vr();
    let mut wrong = Ground::new(&suites(Suite::Aes256Gcm, Suite::Aes256Gcm), None, APID).unwrap();
    let mut radio = GroundRadio::new(cfg(), PING_ONLY).unwrap();
    let mut buf = [0u8; MAX_CLTU];
    let mut up = |radio: &mut GroundRadio, wrong: &mut Ground, l: &mut Link| {
        let n = radio.next_cltu(wrong, &mut buf).unwrap().unwrap();
        assert!(l.raw_up(&buf[..n]).0.is_empty(), "no answer");
    };
    // Set V(R) (type BC), then twice again as FOP-1's timer expires with no CLCW confirming
    // it (each transmission secured afresh under the wrong suite).
    up(&mut radio, &mut wrong, &mut l);
    for _ in 0..2 {
        let epoch = radio.timer().expect("FOP-1 waits for the CLCW");
        radio.timer_expired(epoch);
        up(&mut radio, &mut wrong, &mut l);
    }
    let c = l.node.security().counters();
    assert_eq!(c.bad_mac, before.bad_mac + 3, "each one a MAC failure");
    assert_eq!(c.accepted, before.accepted);
    let radio_stats = l.node.ccsds_radio().unwrap().stats();
    assert_eq!(radio_stats.sdls_refused, 3);
    assert_eq!(l.node.ccsds_radio().unwrap().farm().vr(), vr);
    // The node's own ground on the right suite still gets through (besides the ping's
    // reports it may see the node's event about the authentication failures, service 5).
    l.got.clear();
    let ping = l.telecommand(17, 1, &[]);
    l.deliver(&ping);
    let reports: Vec<_> = l.got.iter().copied().filter(|g| g.0 != 5).collect();
    assert_eq!(reports, PING_REPORTS);
}

/// The expedited service (type-BD, as the CFDP benchmark sends file data): the frame goes out
/// once, FARM-1 hands it up whatever its V(R) (which it leaves alone), SDLS still checks it;
/// a packet longer than a telecommand can be is refused (segments: the test after).
#[test]
fn a_type_bd_frame_carries_a_telecommand_outside_fop_windows() {
    let mut l = Link::new(Suite::HmacSha256, 0, 37);
    let ping = l.telecommand(17, 1, &[]);
    l.radio.submit_expedited(&ping).unwrap();
    assert!(matches!(
        l.radio.submit_expedited(&ping),
        Err(GroundRadioError::Fop(FopReject::OutNotReady))
    ));
    while l.round() {}
    assert_eq!(l.got, PING_REPORTS);
    assert_eq!(l.node.ccsds_radio().unwrap().farm().vr(), 0);
    let long = vec![0u8; comms::sdls::MAX_DATA_LEN + 1];
    assert!(matches!(
        l.radio.submit_expedited(&long),
        Err(GroundRadioError::Fop(FopReject::Length(_)))
    ));
}

/// A packet longer than one frame on the expedited service (the upgrade's transfer messages):
/// its segments go in consecutive type-BD frames, nothing between them, and are joined on the
/// node without moving FARM-1's V(R); with a segment lost the node drops that packet only, and
/// the same packet sent again goes through whole.
#[test]
fn a_long_packet_goes_up_in_type_bd_segments_and_a_lost_segment_drops_only_it() {
    let mut l = Link::new(Suite::Aes256Gcm, 0, 53);
    let tc = l.telecommand(3, 27, &[7u8; 1500]);
    assert!(tc.len() > comms::radio_ccsds::MAX_TC_PACKET);
    let refused_whole = |l: &Link| {
        l.got
            .iter()
            .any(|g| matches!(g.2, Some(Report::AcceptanceFailure(f)) if f.data == 1500))
    };
    let send = |l: &mut Link, drop_first: bool| {
        l.radio.submit_expedited(&tc).unwrap();
        assert!(matches!(
            l.radio.submit_expedited(&tc),
            Err(GroundRadioError::Fop(FopReject::WaitQueueFull))
        ));
        assert!(matches!(
            l.radio.submit(&tc),
            Err(GroundRadioError::Fop(FopReject::WaitQueueFull))
        ));
        let mut buf = [0u8; MAX_CLTU];
        let mut cltus = Vec::new();
        while let Some(n) = l.radio.next_cltu(&mut l.ground, &mut buf).unwrap() {
            cltus.push(buf[..n].to_vec());
        }
        // The two segments first (a waiting BD frame goes before FOP-1's Set V(R)).
        assert!(cltus.len() >= 2, "{}", cltus.len());
        l.got.clear();
        for (i, c) in cltus.iter().enumerate() {
            if !(drop_first && i == 0) {
                let air = l.raw_up(c);
                l.hear(air);
            }
        }
    };
    send(&mut l, false);
    assert!(refused_whole(&l), "{:?}", l.got);
    assert_eq!(l.node.ccsds_radio().unwrap().farm().vr(), 0);
    let bad = l.node.ccsds_radio().unwrap().stats().bad_data;

    send(&mut l, true);
    assert!(!refused_whole(&l), "{:?}", l.got);
    assert_eq!(l.node.ccsds_radio().unwrap().stats().bad_data, bad + 1);

    send(&mut l, false);
    assert!(refused_whole(&l), "{:?}", l.got);
}

/// CFDP file data on type-BD frames, as `spacenode ground sign` sends it: the frame is
/// SDLS-secured under a new sequence number and handed to CFDP once; the same CLTU replayed is
/// refused for its sequence number (counted) and its file data never reaches CFDP again. The
/// node sends no TM frame only to carry the CLCW for a BD frame (FOP-1 waits for none), while
/// a type-BC or type-AD frame with nothing else to answer still draws one.
#[test]
fn cfdp_file_data_on_type_bd_frames_is_taken_once_and_draws_no_clcw_frame() {
    let mut l = Link::new(Suite::Aes256Gcm, 0, 41);
    let mut buf = [0u8; MAX_CLTU];
    // FOP-1's first frame is its Set V(R) (type-BC): answered with one CLCW frame.
    let n = l.radio.next_cltu(&mut l.ground, &mut buf).unwrap().unwrap();
    assert_eq!(l.raw_up(&buf[..n]).0.len(), 1, "the Set V(R) draws a CLCW");

    // A file-data PDU (its bytes are CFDP's to judge; the node hands the packet up by APID).
    let pdu = [
        0x14u8, 0x00, 0x09, 0x11, 0x01, 0x00, 0x01, 0, 0, 0, 0, 1, 2, 3, 4, 5,
    ];
    let mut packet = [0u8; 64];
    let k = comms::cfdp::packet::wrap(&pdu, 0, true, &mut packet).unwrap();
    l.radio.submit_expedited(&packet[..k]).unwrap();
    let n = l.radio.next_cltu(&mut l.ground, &mut buf).unwrap().unwrap();
    let bd = buf[..n].to_vec();
    let up = |l: &mut Link, cltu: &[u8]| {
        let (mut air, mut cfdp) = (Air::default(), 0);
        let now = l.now();
        l.node
            .on_radio_bytes(cltu, now, &mut NoChannels, &mut air, &mut |(o, _)| {
                cfdp += u32::from(matches!(o, comms::node::UnitOutcome::Cfdp { .. }));
            });
        (air, cfdp)
    };
    let (air, cfdp) = up(&mut l, &bd);
    assert_eq!(cfdp, 1, "the file data reaches CFDP");
    assert!(
        air.0.is_empty(),
        "no TM frame only for the CLCW of a BD frame"
    );

    let before = l.node.security().counters();
    let (_, cfdp) = up(&mut l, &bd);
    assert_eq!(
        cfdp, 0,
        "a replayed BD frame's file data never reaches CFDP"
    );
    assert_eq!(l.node.security().counters().replayed, before.replayed + 1);
    assert_eq!(l.node.ccsds_radio().unwrap().stats().sdls_refused, 1);

    // A type-AD frame the node answers: its reports carry the CLCW.
    let ping = l.telecommand(17, 1, &[]);
    l.got.clear();
    l.deliver(&ping);
    // Events (the replay's refusal) may come down with them.
    l.got.retain(|g| g.0 != 5);
    assert_eq!(l.got, PING_REPORTS);
}

/// A ground whose FOP-1 timer is shorter than a slow radio's round trip retransmits its
/// Set V(R) again and again: the node answers the first at once (its downlink was idle) and
/// the burst after it with one frame carrying the latest CLCW, a gap later; a TM frame sent
/// meanwhile (it carries the CLCW) pays what is owed. Without the coalescing every one of
/// these retransmissions drew its own frame.
#[test]
fn clcw_only_frames_are_coalesced_to_one_per_gap() {
    let mut l = Link::new(Suite::HmacSha256, 0, 43);
    let mut buf = [0u8; MAX_CLTU];
    let gap = comms::radio_ccsds::CLCW_GAP_US;
    let mut next = |l: &mut Link| {
        let n = l.radio.next_cltu(&mut l.ground, &mut buf).unwrap().unwrap();
        buf[..n].to_vec()
    };
    let retransmit = |l: &mut Link, next: &mut dyn FnMut(&mut Link) -> Vec<u8>| {
        let epoch = l.radio.timer().expect("the timer runs");
        l.radio.timer_expired(epoch);
        let cltu = next(l);
        l.raw_up(&cltu)
    };
    let tick = |l: &mut Link| {
        let mut air = Air::default();
        let now = l.now();
        l.node.tick(now, &mut air);
        air
    };
    // What goes down on the radio (the tick may send failover events on the standby line).
    let primary = |air: Air| air.0.iter().filter(|(k, _)| *k == LinkId::Primary).count();
    // The Set V(R) (type-BC): the downlink was idle, so its CLCW goes down at once.
    let cltu = next(&mut l);
    let first = l.raw_up(&cltu);
    assert_eq!(first.0.len(), 1, "idle downlink: the CLCW at once");
    // Retransmitted every 200 ms (the ground never heard the answer; FOP-1 gives up after
    // 10 transmissions): nothing within the gap.
    let mut within = 0;
    for _ in 0..4 {
        l.t += 200_000;
        within += retransmit(&mut l, &mut next).0.len() + primary(tick(&mut l));
    }
    assert_eq!(within, 0, "no CLCW-only frame within {gap} us of the last");
    l.t += 200_000;
    assert_eq!(
        primary(tick(&mut l)),
        1,
        "one frame, the latest CLCW, a gap later"
    );
    l.t += 5 * gap;
    assert_eq!(primary(tick(&mut l)), 0, "nothing owed any more");

    // Owed again (within the gap of the last), then paid by the reports of a ping.
    assert_eq!(retransmit(&mut l, &mut next).0.len(), 1, "idle again");
    l.t += 100_000;
    assert!(retransmit(&mut l, &mut next).0.is_empty(), "owed");
    l.hear(first);
    let ping = l.telecommand(17, 1, &[]);
    l.radio.submit(&ping).expect("FOP-1 runs after the CLCW");
    let cltu = next(&mut l);
    let reports = l.raw_up(&cltu);
    assert!(!reports.0.is_empty(), "the ping's reports");
    l.t += 5 * gap;
    assert_eq!(
        primary(tick(&mut l)),
        0,
        "the reports carried the CLCW owed"
    );
}

/// A stream of type-AD frames that cause no telemetry (the segments of a long telecommand) is
/// acknowledged every [`comms::radio_ccsds::CLCW_NEWS_FRAMES`] frames at once, however recent
/// the last TM frame: V(R) that far on is news for FOP-1, whose window would otherwise stall
/// until the gap.
#[test]
fn a_stream_of_type_ad_frames_is_acknowledged_every_few_frames() {
    let mut l = Link::new(Suite::Aes256Gcm, 0, 47);
    let ping = l.telecommand(17, 1, &[]);
    l.deliver(&ping);
    // Five segments; the joined packet is refused for its length (a 1,2 report).
    let tc = l.telecommand(3, 27, &[7u8; 4300]);
    assert!(tc.len() > comms::radio_ccsds::MAX_TC_PACKET * 4);
    l.radio.submit(&tc).unwrap();
    let mut buf = [0u8; MAX_CLTU];
    let mut answers = Vec::new();
    while let Some(n) = l.radio.next_cltu(&mut l.ground, &mut buf).unwrap() {
        let cltu = buf[..n].to_vec();
        answers.push(l.raw_up(&cltu).0.len());
    }
    assert_eq!(answers.len(), 5, "{answers:?}");
    let news = usize::from(comms::radio_ccsds::CLCW_NEWS_FRAMES);
    assert_eq!(answers[..news - 1], [0, 0, 0], "no news yet: {answers:?}");
    assert_eq!(answers[news - 1], 1, "V(R) {news} frames on: {answers:?}");
    assert!(answers[4] >= 1, "the refusal's report: {answers:?}");
}

/// The reports of one telecommand share a TM frame: the node packs what it sends while it
/// answers a radio datagram and flushes once (a 1,115-byte frame is 0.56 s of a 16 kbit/s
/// downlink; one per report made a ping's answer 2.2 s there).
#[test]
fn a_telecommand_s_reports_come_down_in_one_frame() {
    let mut l = Link::new(Suite::HmacSha256, 0, 53);
    let cltu = l.ping_once_running();
    let air = l.raw_up(&cltu);
    assert_eq!(air.0.len(), 1, "one frame for the four reports");
    l.got.clear();
    l.hear(air);
    assert_eq!(l.got, PING_REPORTS);
}

/// One radio datagram carrying a ping under each of two associations: the node answers both
/// from one hold, yet each association's reports go down in frames sealed under it alone (the
/// packets of the first are sent before the second's join the packer, never sealed with them).
#[test]
fn the_answers_under_two_associations_in_one_datagram_are_sealed_apart() {
    let mut l = Link::new(Suite::Aes256Gcm, 0, 61);
    let mut datagram = Vec::new();
    let mut requests = Vec::new();
    for spi in [PING_ONLY, OPS] {
        let mut p = [0u8; comms::sdls::MAX_DATA_LEN];
        let (n, request) = l.ground.telecommand(17, 1, 0x42, &[], &mut p).unwrap();
        requests.push((spi, request));
        l.radio.set_spi(spi);
        l.radio.submit_expedited(&p[..n]).unwrap();
        let mut cltu = [0u8; MAX_CLTU];
        let len = l
            .radio
            .next_cltu(&mut l.ground, &mut cltu)
            .unwrap()
            .unwrap();
        datagram.extend_from_slice(&cltu[..len]);
    }
    let air = l.raw_up(&datagram);
    // (association the frame was sealed under, request the report answers)
    let mut heard = Vec::new();
    for (_, frame) in air.0 {
        l.radio.on_bytes(&mut l.ground, &frame, &mut |spi, seq, p| {
            let d = Ground::open(spi, seq, p).unwrap();
            if let Some((request, _)) = d.verification {
                heard.push((spi, request));
            }
        });
    }
    for (spi, request) in requests {
        let under: Vec<u16> = heard
            .iter()
            .filter(|(_, r)| *r == request)
            .map(|(s, _)| *s)
            .collect();
        assert!(
            !under.is_empty(),
            "no report for the ping under SA {spi:#06x}"
        );
        assert!(
            under.iter().all(|s| *s == spi),
            "the ping under SA {spi:#06x} was answered under {under:#06x?}"
        );
    }
}
