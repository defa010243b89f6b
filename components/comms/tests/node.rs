//! The node end to end through the ground end: verification reports, interop-grade packet
//! bytes, routing from the shipped system description, authorisation, duplicates, forged units
//! and component completions.

mod common;

use common::*;
use comms::failure::FailureCode;
use comms::ground::Ground;
use comms::link::FailoverConfig;
use comms::node::{
    Downlink, ForwardError, Forwarder, Node, NodeConfig, Now, Outbound, UnitOutcome,
};
use comms::pus::function::{self, Chunk, FN_SIGN_CHUNK, FN_UPGRADE_CHUNK};
use comms::pus::verification::Report;
use comms::router::{Forward, RouteTable};
use comms::sdls::{MemoryPersist, UplinkReject};
use hal::time::Instant;
use protocol::{
    ChunkPosition, LinkId, SignRejection, SignResponse, SignStatus, UpgradeState, UpgradeStatus,
};

const APID: u16 = 0x0A0;

fn system() -> kernel_config::System {
    let board = kernel_config::shipped::board("sim").unwrap();
    kernel_config::load(&kernel_config::shipped::description(), &board).unwrap()
}

fn routes() -> RouteTable {
    let sys = system();
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

fn node() -> Node<MemoryPersist> {
    let cfg = NodeConfig {
        apid: APID,
        reserve_block: 16,
        failover: FailoverConfig::default(),
        auth_event_period_ms: 1000,
    };
    Node::boot(cfg, &provisioning(), MemoryPersist::default(), routes()).unwrap()
}

fn now() -> Now {
    Now {
        mono: Instant::from_micros(5_000_000),
        mission_us: Some(1_700_000_000_000_000),
    }
}

#[derive(Default)]
struct Sink(Vec<Vec<u8>>);
impl Downlink for Sink {
    fn send(&mut self, _link: LinkId, unit: &[u8]) {
        self.0.push(unit.to_vec());
    }
}

#[derive(Default)]
struct Channels {
    sent: Vec<(usize, u64, u32)>,
    full: bool,
}
impl Forwarder for Channels {
    fn forward(&mut self, channel: usize, msg: Outbound<'_>) -> Result<(), ForwardError> {
        if self.full {
            return Err(ForwardError::Full);
        }
        match msg {
            Outbound::Sign(r) => self.sent.push((channel, r.batch_id, r.position.index)),
            Outbound::Upgrade(u) => self.sent.push((channel, u.bundle_id, u.position.index)),
            Outbound::Admin(a) => self.sent.push((channel, 0, a.request_id)),
            Outbound::Node(c) => self.sent.push((channel, 0, c.request_id)),
        }
        Ok(())
    }
}

fn ground() -> Ground {
    Ground::new(&provisioning(), None, APID).unwrap()
}

/// (service, subservice, verification report) of every downlinked unit.
fn opened(g: &mut Ground, sink: &Sink) -> Vec<(u8, u8, Option<Report>)> {
    sink.0
        .iter()
        .map(|u| {
            let d = g.downlink(u).unwrap();
            (d.tm.service, d.tm.subservice, d.verification.map(|v| v.1))
        })
        .collect()
}

fn send(n: &mut Node<MemoryPersist>, unit: &[u8], ch: &mut Channels) -> (UnitOutcome, Sink) {
    let mut sink = Sink::default();
    let o = n.on_unit(LinkId::Primary, unit, now(), ch, &mut sink);
    (o, sink)
}

/// Sends function-service command `app` (8,1); what came down for it.
fn uplink(
    g: &mut Ground,
    app: &[u8],
    ch: &mut Channels,
    n: &mut Node<MemoryPersist>,
) -> Vec<(u8, u8, Option<Report>)> {
    let mut unit = [0u8; 256];
    let (len, _) = g.uplink(OPS, 8, 1, 1, app, &mut unit).unwrap();
    let (_, sink) = send(n, &unit[..len], ch);
    opened(g, &sink)
}

/// Whether a completion success came down.
fn completed(g: &mut Ground, sink: &Sink) -> bool {
    opened(g, sink)
        .iter()
        .any(|r| matches!(r.2, Some(Report::CompletionSuccess)))
}

/// The completion failures' codes in what came down.
fn completion_failures(g: &mut Ground, sink: &Sink) -> Vec<FailureCode> {
    opened(g, sink)
        .into_iter()
        .filter_map(|r| match r.2 {
            Some(Report::CompletionFailure(f)) => Some(f.code),
            _ => None,
        })
        .collect()
}

#[test]
fn ping_gets_acceptance_start_reply_and_completion() {
    let mut n = node();
    let mut g = ground();
    let mut unit = [0u8; 128];
    let (len, rid) = g.uplink(OPS, 17, 1, 0x42, &[], &mut unit).unwrap();
    let (o, sink) = send(&mut n, &unit[..len], &mut Channels::default());
    assert!(matches!(o, UnitOutcome::Ran(_)));
    let got = opened(&mut g, &sink);
    assert_eq!(
        got,
        vec![
            (1, 1, Some(Report::AcceptanceSuccess)),
            (1, 3, Some(Report::StartSuccess)),
            (17, 2, None),
            (1, 7, Some(Report::CompletionSuccess)),
        ]
    );
    let d = g.downlink(&sink.0[0]);
    assert!(
        d.is_err(),
        "a downlink unit replayed to the ground is refused"
    );
    let mut g2 = ground();
    let first = g2.downlink(&sink.0[0]).unwrap();
    assert_eq!(first.verification.unwrap().0, rid);
    assert_eq!(first.tm.dest_id, 0x42);
    assert_eq!(first.tm.apid, APID);
}

/// The PUS-C byte layout of a 17,1 TC and a 1,1 / 1,2 report, field by field
/// (ECSS-E-ST-70-41C §7.4.1 TC, §7.4.3.1 TM, §6.1 service 1; CCSDS 133.0-B-2 §4.1.3).
#[test]
fn packet_bytes_follow_the_pus_c_layout() {
    let tc = comms::host::ping_tc(APID, 5, 0x0042).unwrap();
    // Primary: version 0, type 1 (TC), sec hdr 1, APID 0x0A0 -> 0x18A0; unsegmented, count 5
    // -> 0xC005; data length = 5 (sec hdr) + 0 + 2 (CRC) - 1 = 6.
    assert_eq!(&tc[..6], &[0x18, 0xA0, 0xC0, 0x05, 0x00, 0x06]);
    // Secondary: PUS version 2 | ack 0b1111 -> 0x2F; service 17, subtype 1; source ID 0x0042.
    assert_eq!(&tc[6..11], &[0x2F, 17, 1, 0x00, 0x42]);
    let crc = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740).checksum(&tc[..11]);
    assert_eq!(&tc[11..], &crc.to_be_bytes());
    assert_eq!(tc.len(), 13);

    let rid = comms::pus::tc::RequestId::from_packet(&tc).unwrap();
    let tm =
        comms::host::verification_tm(APID, rid, &Report::AcceptanceSuccess, 0x42, Some(0)).unwrap();
    // Primary: type 0 (TM), sec hdr 1 -> 0x08A0; count 0; length = 7 + 7 (time) + 4 + 2 - 1.
    assert_eq!(&tm[..6], &[0x08, 0xA0, 0xC0, 0x00, 0x00, 19]);
    // Secondary: PUS version 2, time reference status 0 -> 0x20; 1,1; message counter 0;
    // destination 0x0042; CDS time of 1970-01-01 (day 4383).
    assert_eq!(&tm[6..13], &[0x20, 1, 1, 0, 0, 0x00, 0x42]);
    assert_eq!(&tm[13..20], &[0x40, 0x11, 0x1F, 0, 0, 0, 0]);
    // Source data: the request ID = the TC's first four bytes.
    assert_eq!(&tm[20..24], &tc[..4]);
    let crc = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740).checksum(&tm[..24]);
    assert_eq!(&tm[24..], &crc.to_be_bytes());

    let f = comms::failure::Failure::with(FailureCode::CertExpired, 7);
    let tm =
        comms::host::verification_tm(APID, rid, &Report::AcceptanceFailure(f), 0, None).unwrap();
    assert_eq!(tm[8], 2); // subtype 1,2
    assert_eq!(
        &tm[20..30],
        &[0x18, 0xA0, 0xC0, 0x05, 0x11, 0x07, 0, 0, 0, 7]
    );
    assert_eq!(
        comms::host::decode_verification_tm(&tm),
        Some((rid, Report::AcceptanceFailure(f)))
    );
}

fn sign_chunk(batch: u64, index: u32, count: u32) -> Vec<u8> {
    chunk_app(FN_SIGN_CHUNK, batch, index, count)
}

/// The app data of a chunk TC (8,1) of `function`.
fn chunk_app(function: u16, batch: u64, index: u32, count: u32) -> Vec<u8> {
    let data = [0xAB; 32];
    let c = Chunk {
        id: batch,
        position: ChunkPosition {
            index,
            count,
            offset: index * 32,
            total_len: count * 32,
        },
        data: &data,
    };
    let mut app = vec![0u8; 2 + function::CHUNK_ARGS_LEN + 32];
    app[..2].copy_from_slice(&function.to_be_bytes());
    function::encode_chunk(&c, &mut app[2..]).unwrap();
    app
}

#[test]
fn a_sign_chunk_is_forwarded_to_the_one_sign_request_channel_and_completes_on_the_response() {
    let mut n = node();
    let mut g = ground();
    let mut ch = Channels::default();
    let want = routes().channel_for(Forward::SignChunk).unwrap();
    let sys = system();
    assert_eq!(sys.channels[want].name, "sign-requests");
    let mut unit = [0u8; 256];
    let (len, _) = g
        .uplink(OPS, 8, 1, 1, &sign_chunk(77, 0, 2), &mut unit)
        .unwrap();
    let (o, sink) = send(&mut n, &unit[..len], &mut ch);
    assert!(matches!(o, UnitOutcome::Ran(_)));
    assert_eq!(ch.sent, vec![(want, 77, 0)]);
    assert_eq!(
        opened(&mut g, &sink)
            .iter()
            .map(|r| r.2)
            .collect::<Vec<_>>(),
        vec![Some(Report::AcceptanceSuccess), Some(Report::StartSuccess)]
    );
    // The signer accepts the chunk: completion.
    let mut sink = Sink::default();
    let resp = SignResponse {
        batch_id: 77,
        request_id: comms::node::sign_token(77),
        position: ChunkPosition {
            index: 0,
            count: 2,
            offset: 0,
            total_len: 64,
        },
        status: SignStatus::Accepted,
        data: Default::default(),
    };
    n.on_sign_response(&resp, now(), &mut sink);
    assert_eq!(opened(&mut g, &sink)[0].2, Some(Report::CompletionSuccess));
    // Second chunk refused by the signer: 1,8 with the signer's code.
    let (len, _) = g
        .uplink(OPS, 8, 1, 1, &sign_chunk(77, 1, 2), &mut unit)
        .unwrap();
    send(&mut n, &unit[..len], &mut ch);
    let mut sink = Sink::default();
    let rej = SignResponse {
        status: SignStatus::Rejected {
            reason: SignRejection::PolicyViolation,
        },
        ..resp
    };
    n.on_sign_response(&rej, now(), &mut sink);
    let got = opened(&mut g, &sink);
    assert_eq!(got.len(), 1);
    match got[0].2 {
        Some(Report::CompletionFailure(f)) => {
            assert_eq!(f.code, FailureCode::SignerPolicyViolation)
        }
        other => panic!("{other:?}"),
    }
    // A certificate refusal carries the signer's receipt: its class (byte 60, 1 = certificate)
    // and code (byte 61, 3 = revoked server) give the precise failure code.
    let (len, _) = g
        .uplink(OPS, 8, 1, 1, &sign_chunk(78, 0, 1), &mut unit)
        .unwrap();
    send(&mut n, &unit[..len], &mut ch);
    let mut receipt = [0u8; 163];
    receipt[60] = 1;
    receipt[61] = 3;
    let cert = SignResponse {
        batch_id: 78,
        request_id: comms::node::sign_token(78),
        status: SignStatus::Rejected {
            reason: SignRejection::BadCertificate,
        },
        data: protocol::BoundedBytes::new(&receipt).unwrap(),
        ..resp
    };
    let mut sink = Sink::default();
    n.on_sign_response(&cert, now(), &mut sink);
    match opened(&mut g, &sink)[0].2 {
        Some(Report::CompletionFailure(f)) => {
            assert_eq!(f.code, FailureCode::CertRevokedServer)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_retransmitted_command_runs_once_and_gets_its_reports_again() {
    let mut n = node();
    let mut g = ground();
    let mut ch = Channels::default();
    let mut packet = vec![0u8; 256];
    let plen = comms::pus::tc::build(
        &comms::pus::tc::TcSpec {
            apid: APID,
            seq_count: 9,
            service: 8,
            subservice: 1,
            source_id: 1,
            ack: comms::pus::tc::Ack::ALL,
            app_data: &sign_chunk(5, 0, 1),
        },
        &mut packet,
    )
    .unwrap();
    packet.truncate(plen);
    let mut unit = [0u8; 256];
    let len = g.wrap(OPS, &packet, &mut unit).unwrap();
    let (_, first) = send(&mut n, &unit[..len], &mut ch);
    // The same packet in a new unit (new ARSN): a retransmission.
    let len = g.wrap(OPS, &packet, &mut unit).unwrap();
    let (o, again) = send(&mut n, &unit[..len], &mut ch);
    assert_eq!(o, UnitOutcome::Duplicate);
    assert_eq!(ch.sent.len(), 1, "forwarded once");
    assert_eq!(
        opened(&mut g, &first)
            .iter()
            .map(|r| r.2)
            .collect::<Vec<_>>(),
        opened(&mut g, &again)
            .iter()
            .map(|r| r.2)
            .collect::<Vec<_>>()
    );
    // After completion, a retransmission replays the completion too.
    let mut sink = Sink::default();
    n.on_sign_response(
        &SignResponse {
            batch_id: 5,
            request_id: comms::node::sign_token(5),
            position: ChunkPosition {
                index: 0,
                count: 1,
                offset: 0,
                total_len: 32,
            },
            status: SignStatus::Signed,
            data: Default::default(),
        },
        now(),
        &mut sink,
    );
    let len = g.wrap(OPS, &packet, &mut unit).unwrap();
    let (o, again) = send(&mut n, &unit[..len], &mut ch);
    assert_eq!(o, UnitOutcome::Duplicate);
    assert_eq!(ch.sent.len(), 1);
    assert_eq!(
        opened(&mut g, &again)
            .iter()
            .map(|r| r.2)
            .collect::<Vec<_>>(),
        vec![
            Some(Report::AcceptanceSuccess),
            Some(Report::StartSuccess),
            Some(Report::CompletionSuccess)
        ]
    );
    // A ping retransmitted: one 17,2 only.
    let ping = comms::host::ping_tc(APID, 10, 1).unwrap();
    let len = g.wrap(OPS, &ping, &mut unit).unwrap();
    let (_, first) = send(&mut n, &unit[..len], &mut ch);
    let len = g.wrap(OPS, &ping, &mut unit).unwrap();
    let (o, again) = send(&mut n, &unit[..len], &mut ch);
    assert_eq!(o, UnitOutcome::Duplicate);
    let replies = |v: Vec<(u8, u8, Option<Report>)>| v.iter().filter(|r| r.0 == 17).count();
    assert_eq!(replies(opened(&mut g, &first)), 1);
    assert_eq!(replies(opened(&mut g, &again)), 0);
}

#[test]
fn refusals_get_acceptance_failures_with_their_codes() {
    let mut n = node();
    let mut g = ground();
    let mut ch = Channels::default();
    let mut unit = [0u8; 256];
    let mut expect =
        |n: &mut Node<MemoryPersist>, g: &mut Ground, spi, st, sst, app: &[u8], code| {
            let (len, _) = g.uplink(spi, st, sst, 1, app, &mut unit).unwrap();
            let (o, sink) = send(n, &unit[..len], &mut ch);
            assert!(
                matches!(o, UnitOutcome::Rejected(f) if f.code == code),
                "{o:?}"
            );
            let got = opened(g, &sink);
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].2.unwrap().failure().unwrap().code, code);
        };
    expect(
        &mut n,
        &mut g,
        PING_ONLY,
        8,
        1,
        &sign_chunk(1, 0, 1),
        FailureCode::Unauthorised,
    );
    expect(
        &mut n,
        &mut g,
        PING_ONLY,
        130,
        1,
        &[1, 1, 0, 0, 0, 1],
        FailureCode::Unauthorised,
    );
    expect(&mut n, &mut g, OPS, 99, 1, &[], FailureCode::UnknownService);
    expect(
        &mut n,
        &mut g,
        OPS,
        8,
        1,
        &[0x12, 0x34],
        FailureCode::UnknownFunction,
    );
    expect(&mut n, &mut g, OPS, 8, 1, &[0], FailureCode::BadAppData);
    expect(
        &mut n,
        &mut g,
        OPS,
        8,
        1,
        &[0, 1, 2],
        FailureCode::BadAppData,
    );
    expect(
        &mut n,
        &mut g,
        OPS,
        3,
        27,
        &[1, 9],
        FailureCode::UnknownStructure,
    );
    expect(&mut n, &mut g, OPS, 17, 1, &[1], FailureCode::BadAppData);
    assert!(ch.sent.is_empty());
    // Bad packet CRC and wrong APID.
    let mut packet = comms::host::ping_tc(APID, 1, 1).unwrap();
    let l = packet.len();
    packet[l - 1] ^= 1;
    let len = g.wrap(OPS, &packet, &mut unit).unwrap();
    let (o, _) = send(&mut n, &unit[..len], &mut ch);
    assert!(matches!(o, UnitOutcome::BadPacket(f) if f.code == FailureCode::BadPacketCrc));
    let packet = comms::host::ping_tc(APID + 1, 1, 1).unwrap();
    let len = g.wrap(OPS, &packet, &mut unit).unwrap();
    let (o, _) = send(&mut n, &unit[..len], &mut ch);
    assert!(matches!(o, UnitOutcome::BadPacket(f) if f.code == FailureCode::WrongApid));
    // Housekeeping with no health report yet: completion failure NoData.
    let (len, _) = g.uplink(OPS, 3, 27, 1, &[1, 1], &mut unit).unwrap();
    let (o, _) = send(&mut n, &unit[..len], &mut ch);
    assert!(
        matches!(o, UnitOutcome::Ran(comms::dedup::Progress::CompletionFailed(f)) if f.code == FailureCode::NoData)
    );
}

#[test]
fn a_full_ring_is_a_start_failure() {
    let mut n = node();
    let mut g = ground();
    let mut ch = Channels {
        full: true,
        ..Default::default()
    };
    let mut unit = [0u8; 256];
    let (len, _) = g
        .uplink(OPS, 8, 1, 1, &sign_chunk(3, 0, 1), &mut unit)
        .unwrap();
    let (_, sink) = send(&mut n, &unit[..len], &mut ch);
    let got = opened(&mut g, &sink);
    assert_eq!(
        got[1].2.unwrap().failure().unwrap().code,
        FailureCode::ChannelFull
    );
}

/// Forged units get no answer at all; a replayed authentic unit gets no report and no reply,
/// only event 0x0007 (which tells the ground why), at most once per interval.
#[test]
fn forged_units_get_no_answer_and_replays_only_a_rate_limited_event() {
    let mut n = node();
    let mut g = ground();
    let mut ch = Channels::default();
    let mut unit = [0u8; 128];
    let (len, _) = g.uplink(OPS, 17, 1, 1, &[], &mut unit).unwrap();
    let good = unit[..len].to_vec();
    let (_, first) = send(&mut n, &good, &mut ch);
    opened(&mut g, &first);
    let (o, sink) = send(&mut n, &good, &mut ch);
    assert!(matches!(o, UnitOutcome::Refused(_)));
    assert_eq!(opened(&mut g, &sink), vec![(5, 2, None)]);
    let d = g.downlink(&sink.0[0]);
    assert!(d.is_err(), "already opened once");
    let (o, sink) = send(&mut n, &good, &mut ch);
    assert!(matches!(o, UnitOutcome::Refused(_)));
    assert!(sink.0.is_empty(), "within the interval: nothing");
    let mut forged = good.clone();
    forged[12] ^= 4;
    let (o, sink) = send(&mut n, &forged, &mut ch);
    assert!(matches!(o, UnitOutcome::Refused(_)));
    assert!(sink.0.is_empty());
    assert_eq!(n.security().counters().bad_mac, 1);
    assert_eq!(
        n.links().status(LinkId::Primary, now().mono).auth_failures,
        1
    );
    assert_eq!(n.links().status(LinkId::Primary, now().mono).duplicates, 2);
    // Issue 13 finding 8: a malformed unit and one under an SPI the node has no association
    // for are counted apart from failed authentication, on the link as in the security layer.
    let (o, _) = send(&mut n, &good[..5], &mut ch);
    assert!(matches!(o, UnitOutcome::Refused(_)));
    let mut other_spi = good.clone();
    other_spi[..2].copy_from_slice(&0x7777u16.to_be_bytes());
    let (o, _) = send(&mut n, &other_spi, &mut ch);
    assert!(matches!(o, UnitOutcome::Refused(_)));
    let st = n.links().status(LinkId::Primary, now().mono);
    assert_eq!((st.auth_failures, st.unauthenticated), (1, 2));
    let c = n.security().counters();
    assert_eq!((c.bad_mac, c.malformed, c.unknown_spi), (1, 1, 1));
}

/// TC 130,3's application data: SPI and ARSN.
fn set_arsn_app(spi: u16, arsn: u64) -> [u8; 10] {
    let mut app = [0u8; 10];
    app[..2].copy_from_slice(&spi.to_be_bytes());
    app[2..].copy_from_slice(&arsn.to_be_bytes());
    app
}

/// Event 0x0007's source data: SPI, refused ARSN, last accepted, window, verdict.
fn sequence_event(source: &[u8]) -> (u16, u64, u64, u64, u8) {
    assert_eq!(source[..2], [0x00, 0x07]);
    let u = |r: std::ops::Range<usize>| u64::from_be_bytes(source[r].try_into().unwrap());
    (
        u16::from_be_bytes([source[2], source[3]]),
        u(4..12),
        u(12..20),
        u(20..28),
        source[28],
    )
}

/// The operator's resynchronisation: a ground far beyond the window is refused (with event
/// 0x0007 saying so) until it sends TC 130,3 naming its own unit's SPI and ARSN; that unit is
/// accepted, the window moves there, and normal commands follow. A 130,3 that names another
/// ARSN than its unit's is refused like any unit beyond the window.
#[test]
fn set_arsn_resynchronises_a_ground_beyond_the_window() {
    let mut n = node();
    let mut g = ground();
    let mut ch = Channels::default();
    let mut unit = [0u8; 128];
    g.resume_above(OPS, 1_000);
    let (len, _) = g.uplink(OPS, 17, 1, 1, &[], &mut unit).unwrap();
    let (o, sink) = send(&mut n, &unit[..len], &mut ch);
    assert!(matches!(
        o,
        UnitOutcome::Refused(UplinkReject::OutsideWindow { arsn: 1_001, .. })
    ));
    let ev = g.downlink(&sink.0[0]).unwrap();
    assert_eq!(
        sequence_event(ev.tm.source),
        (OPS, 1_001, 0, u64::from(WINDOW), 1)
    );

    let later = Now {
        mono: Instant::from_micros(9_000_000),
        ..now()
    };
    let arsn = g.next_arsn(OPS).unwrap();
    let wrong = set_arsn_app(OPS, arsn + 1);
    let (len, _) = g.uplink(OPS, 130, 3, 1, &wrong, &mut unit).unwrap();
    let o = n.on_unit(
        LinkId::Primary,
        &unit[..len],
        later,
        &mut ch,
        &mut Sink::default(),
    );
    assert!(matches!(
        o,
        UnitOutcome::Refused(UplinkReject::OutsideWindow { .. })
    ));

    let arsn = g.next_arsn(OPS).unwrap();
    let app = set_arsn_app(OPS, arsn);
    let (len, _) = g.uplink(OPS, 130, 3, 1, &app, &mut unit).unwrap();
    let resync = unit[..len].to_vec();
    let (o, sink) = send(&mut n, &resync, &mut ch);
    assert!(matches!(o, UnitOutcome::Ran(_)), "{o:?}");
    assert!(
        opened(&mut g, &sink).contains(&(1, 7, Some(Report::CompletionSuccess))),
        "set ARSN completes"
    );
    assert_eq!(n.security().status(OPS).unwrap().rx_last, arsn);
    let (len, _) = g.uplink(OPS, 17, 1, 1, &[], &mut unit).unwrap();
    let (o, _) = send(&mut n, &unit[..len], &mut ch);
    assert!(matches!(o, UnitOutcome::Ran(_)), "{o:?}");
    // An association without key management does not get its window moved by 130,3.
    let mut p = ground();
    p.resume_above(PING_ONLY, 1_000);
    let app = set_arsn_app(PING_ONLY, p.next_arsn(PING_ONLY).unwrap());
    let (len, _) = p.uplink(PING_ONLY, 130, 3, 1, &app, &mut unit).unwrap();
    let o = n.on_unit(
        LinkId::Primary,
        &unit[..len],
        later,
        &mut ch,
        &mut Sink::default(),
    );
    assert!(
        matches!(o, UnitOutcome::Refused(UplinkReject::OutsideWindow { .. })),
        "{o:?}"
    );
    assert_eq!(n.security().status(PING_ONLY).unwrap().rx_last, 0);
    // The same resynchronisation unit again is a replay.
    let (o, _) = send(&mut n, &resync, &mut ch);
    assert!(
        matches!(o, UnitOutcome::Refused(UplinkReject::Replay { .. })),
        "{o:?}"
    );
}

#[test]
fn housekeeping_reports_security_state_the_ground_can_resume_from() {
    let mut n = node();
    let mut g = ground();
    let mut ch = Channels::default();
    let mut unit = [0u8; 128];
    let (len, _) = g.uplink(OPS, 3, 27, 1, &[2, 2, 3], &mut unit).unwrap();
    let (_, sink) = send(&mut n, &unit[..len], &mut ch);
    let mut sec = None;
    for u in &sink.0 {
        let d = g.downlink(u).unwrap();
        if (d.tm.service, d.tm.subservice) == (3, 25) && d.tm.source[0] == 3 {
            sec = comms::pus::hk::decode_security(d.tm.source);
        }
    }
    let (c, lines) = sec.unwrap();
    assert_eq!(c.accepted, 1);
    let ops = lines.iter().flatten().find(|l| l.spi == OPS).unwrap();
    assert_eq!((ops.rx_last, ops.rx_reserved), (1, 17));
}

#[test]
fn cfdp_packets_are_handed_to_the_caller_after_sdls_and_only_from_signing_associations() {
    let mut n = node();
    let mut g = ground();
    let mut packet = [0u8; 64];
    let len = comms::cfdp::packet::wrap(b"a CFDP PDU", 3, true, &mut packet).unwrap();
    let packet = &packet[..len];
    let mut unit = [0u8; 256];
    let ulen = g.wrap(OPS, packet, &mut unit).unwrap();
    let (o, sink) = send(&mut n, &unit[..ulen], &mut Channels::default());
    let UnitOutcome::Cfdp { spi, start, len } = o else {
        panic!("not handed over: {o:?}")
    };
    assert_eq!(spi, OPS);
    assert_eq!(&unit[start..start + len], packet);
    assert!(sink.0.is_empty(), "no PUS report for a CFDP packet");

    // The node's CFDP answers go down under SDLS and open as packets on the ground.
    let mut sink = Sink::default();
    n.send_packet(OPS, packet, &mut sink);
    assert_eq!(sink.0.len(), 1);
    let (spi, arsn, got) = g.downlink_packet(&sink.0[0]).unwrap();
    assert_eq!((spi, got), (OPS, packet));
    assert!(arsn > 0, "the unit's own sequence number, not a default");

    // An association without the sign permission cannot upload batches; a forged unit is
    // refused by SDLS before anything looks at it.
    let ulen = g.wrap(PING_ONLY, packet, &mut unit).unwrap();
    let (o, sink) = send(&mut n, &unit[..ulen], &mut Channels::default());
    assert!(
        matches!(o, UnitOutcome::Rejected(f) if f.code == FailureCode::Unauthorised),
        "{o:?}"
    );
    assert!(sink.0.is_empty());
    let ulen = g.wrap(OPS, packet, &mut unit).unwrap();
    unit[ulen - 1] ^= 1;
    let (o, _) = send(&mut n, &unit[..ulen], &mut Channels::default());
    assert!(matches!(o, UnitOutcome::Refused(_)), "{o:?}");
}

/// A component that never answers (it restarted and lost the command) must not hold comms'
/// pending slots for good: after `PENDING_TIMEOUT_S` the command fails with `NoAnswer`, its
/// slot is free again, and its retransmission gets the recorded failure.
#[test]
fn forwarded_commands_nobody_answers_fail_with_no_answer_and_free_their_slots() {
    let mut n = node();
    let mut g = ground();
    let mut ch = Channels::default();
    let mut unit = [0u8; 256];
    let mut first = None;
    for batch in 0..comms::node::MAX_PENDING as u64 {
        let (len, rid) = g
            .uplink(OPS, 8, 1, 1, &sign_chunk(100 + batch, 0, 2), &mut unit)
            .unwrap();
        let (o, _) = send(&mut n, &unit[..len], &mut ch);
        assert!(matches!(o, UnitOutcome::Ran(_)));
        first.get_or_insert((unit[..len].to_vec(), rid));
    }
    // Every slot taken: the next one is Busy.
    let (len, _) = g
        .uplink(OPS, 8, 1, 1, &sign_chunk(999, 0, 2), &mut unit)
        .unwrap();
    let (_, sink) = send(&mut n, &unit[..len], &mut ch);
    assert!(opened(&mut g, &sink).iter().any(|r| matches!(
        r.2,
        Some(Report::StartFailure(f)) if f.code == FailureCode::Busy
    )));
    // Just before the timeout nothing expires.
    let at = |s: u64| Now {
        mono: Instant::from_micros(now().mono.as_micros() + s * 1_000_000),
        mission_us: now().mission_us,
    };
    let mut sink = Sink::default();
    n.tick(at(comms::node::PENDING_TIMEOUT_S - 1), &mut sink);
    assert!(
        opened(&mut g, &sink)
            .iter()
            .all(|r| !matches!(r.2, Some(Report::CompletionFailure(_))))
    );
    // At the timeout every one fails with NoAnswer, its data the seconds waited.
    let mut sink = Sink::default();
    n.tick(at(comms::node::PENDING_TIMEOUT_S), &mut sink);
    let failed: Vec<_> = opened(&mut g, &sink)
        .into_iter()
        .filter_map(|r| match r.2 {
            Some(Report::CompletionFailure(f)) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), comms::node::MAX_PENDING);
    assert!(failed.iter().all(
        |f| f.code == FailureCode::NoAnswer && f.data == comms::node::PENDING_TIMEOUT_S as u32
    ));
    // The slots are free: a new command is forwarded.
    let sent = ch.sent.len();
    let (len, _) = g
        .uplink(OPS, 8, 1, 1, &sign_chunk(1000, 0, 2), &mut unit)
        .unwrap();
    let mut sink = Sink::default();
    n.on_unit(
        LinkId::Primary,
        &unit[..len],
        at(comms::node::PENDING_TIMEOUT_S),
        &mut ch,
        &mut sink,
    );
    assert_eq!(ch.sent.len(), sent + 1);
    // The first command again (the ground retransmits it): its recorded failure comes back, it
    // is not forwarded a second time.
    let (first, _) = first.unwrap();
    let packet = &first[comms::sdls::engine::HEADER_LEN..first.len() - comms::sdls::mac::MAC_LEN];
    let n_wrapped = g.wrap(OPS, packet, &mut unit).unwrap();
    let mut sink = Sink::default();
    let o = n.on_unit(
        LinkId::Primary,
        &unit[..n_wrapped],
        at(comms::node::PENDING_TIMEOUT_S),
        &mut ch,
        &mut sink,
    );
    assert!(matches!(o, UnitOutcome::Duplicate), "{o:?}");
    assert_eq!(ch.sent.len(), sent + 1);
    assert!(opened(&mut g, &sink).iter().any(|r| matches!(
        r.2,
        Some(Report::CompletionFailure(f)) if f.code == FailureCode::NoAnswer
    )));
}

/// Issue 13 finding 3: no ground command could take the node out of safe mode. 8,1 function
/// 0x0010 is refused unless the watchdog's last report says safe mode (nothing forwarded), needs
/// the node-control permission, and in safe mode goes to the one `node-command` channel (the
/// watchdog's) and completes at once.
#[test]
fn leave_safe_mode_is_checked_authorised_and_forwarded_to_the_watchdog() {
    use comms::pus::function::FN_LEAVE_SAFE_MODE;
    use protocol::{HealthReport, NodeMode};
    let mut n = node();
    let mut g = ground();
    let app = FN_LEAVE_SAFE_MODE.to_be_bytes();
    let mut unit = [0u8; 128];
    let mut up = |g: &mut Ground, spi, app: &[u8]| {
        let (len, _) = g.uplink(spi, 8, 1, 1, app, &mut unit).unwrap();
        unit[..len].to_vec()
    };
    let refused = |o: UnitOutcome, code| matches!(o, UnitOutcome::Rejected(f) if f.code == code);
    let mut ch = Channels::default();
    // No report yet, then a normal-mode report: refused, nothing forwarded.
    let u = up(&mut g, OPS, &app);
    assert!(refused(
        send(&mut n, &u, &mut ch).0,
        FailureCode::NotInSafeMode
    ));
    n.on_health(HealthReport::default());
    let u = up(&mut g, OPS, &app);
    assert!(refused(
        send(&mut n, &u, &mut ch).0,
        FailureCode::NotInSafeMode
    ));
    assert!(ch.sent.is_empty());
    n.on_health(HealthReport {
        mode: NodeMode::Safe,
        ..Default::default()
    });
    // An association without the permission, and stray arguments: refused.
    let u = up(&mut g, PING_ONLY, &app);
    assert!(refused(
        send(&mut n, &u, &mut ch).0,
        FailureCode::Unauthorised
    ));
    let u = up(&mut g, OPS, &[0x00, 0x10, 0x01]);
    assert!(refused(
        send(&mut n, &u, &mut ch).0,
        FailureCode::BadAppData
    ));
    assert!(ch.sent.is_empty());
    // In safe mode: forwarded on the node-command channel, 1,1 1,3 1,7.
    let u = up(&mut g, OPS, &app);
    let (o, sink) = send(&mut n, &u, &mut ch);
    assert!(matches!(o, UnitOutcome::Ran(_)), "{o:?}");
    let sys = system();
    let channel = sys
        .channels
        .iter()
        .find(|c| c.message.name == "node-command")
        .unwrap();
    assert_eq!(sys.components[channel.receiver].name, "watchdog");
    assert_eq!(ch.sent.len(), 1);
    assert_eq!(ch.sent[0].0, channel.id);
    assert_eq!(
        opened(&mut g, &sink),
        vec![
            (1, 1, Some(Report::AcceptanceSuccess)),
            (1, 3, Some(Report::StartSuccess)),
            (1, 7, Some(Report::CompletionSuccess)),
        ]
    );
    // A full ring: 1,4 ChannelFull, nothing lost silently.
    let mut full = Channels {
        full: true,
        ..Default::default()
    };
    let u = up(&mut g, OPS, &app);
    let (o, sink) = send(&mut n, &u, &mut full);
    assert!(matches!(o, UnitOutcome::Ran(_)), "{o:?}");
    let got = opened(&mut g, &sink);
    assert_eq!(
        got.last()
            .and_then(|r| r.2)
            .and_then(|r| r.failure())
            .map(|f| f.code),
        Some(FailureCode::ChannelFull)
    );
}

/// Issue 13 finding 4 on the PUS path: while the signer cannot sign at once (safe mode, or the
/// watchdog reports it down), a sign chunk is refused at acceptance with `SignerDown` and
/// nothing is forwarded; once it is back, chunks go to the signer again.
#[test]
fn a_sign_chunk_for_a_signer_that_is_down_is_refused_at_once() {
    let mut n = node();
    let mut g = ground();
    let mut ch = Channels::default();
    let mut unit = [0u8; 256];
    n.set_signer_down(true);
    let (len, _) = g
        .uplink(OPS, 8, 1, 1, &sign_chunk(90, 0, 1), &mut unit)
        .unwrap();
    let (o, _) = send(&mut n, &unit[..len], &mut ch);
    assert!(
        matches!(o, UnitOutcome::Rejected(f) if f.code == FailureCode::SignerDown),
        "{o:?}"
    );
    assert!(ch.sent.is_empty(), "nothing forwarded");
    n.set_signer_down(false);
    let (len, _) = g
        .uplink(OPS, 8, 1, 1, &sign_chunk(91, 0, 1), &mut unit)
        .unwrap();
    let (o, _) = send(&mut n, &unit[..len], &mut ch);
    assert!(matches!(o, UnitOutcome::Ran(_)), "{o:?}");
    assert_eq!(ch.sent.len(), 1);
}

/// The signer's restart count rising in the watchdog's report fails the sign commands its
/// earlier instance was given (1,8 `NoAnswer`) and frees their slots, as the upgrade agent's
/// `STARTED` does for its messages; an unchanged count frees nothing, and an upgrade command
/// keeps waiting for its own answer.
#[test]
fn a_restarted_signer_frees_the_slots_of_the_sign_chunks_it_lost() {
    let mut n = node();
    let mut g = ground();
    let mut ch = Channels::default();
    uplink(
        &mut g,
        &chunk_app(FN_UPGRADE_CHUNK, 9, 0, 100),
        &mut ch,
        &mut n,
    );
    for batch in 1..comms::node::MAX_PENDING as u64 {
        uplink(&mut g, &sign_chunk(batch, 0, 2), &mut ch, &mut n);
    }
    assert_eq!(ch.sent.len(), comms::node::MAX_PENDING);
    // No restart since power-on: nothing fails.
    let mut sink = Sink::default();
    n.on_signer_restarts(0, now(), &mut sink);
    assert_eq!(completion_failures(&mut g, &sink), vec![]);
    // One restart: every sign command still waiting fails with NoAnswer.
    let mut sink = Sink::default();
    n.on_signer_restarts(1, now(), &mut sink);
    assert_eq!(
        completion_failures(&mut g, &sink),
        vec![FailureCode::NoAnswer; comms::node::MAX_PENDING - 1]
    );
    // The same count again frees nothing more; the slots are free for the next chunk.
    let mut sink = Sink::default();
    n.on_signer_restarts(1, now(), &mut sink);
    assert_eq!(completion_failures(&mut g, &sink), vec![]);
    let sent = ch.sent.len();
    uplink(&mut g, &sign_chunk(40, 0, 2), &mut ch, &mut n);
    assert_eq!(ch.sent.len(), sent + 1);
    // The upgrade command still completes on its own answer.
    let mut sink = Sink::default();
    n.on_upgrade_status(
        &UpgradeStatus {
            bundle_id: 9,
            next_chunk: 1,
            answers: 0,
            state: UpgradeState::Receiving,
            ..UpgradeStatus::default()
        },
        now(),
        &mut sink,
    );
    assert!(
        completed(&mut g, &sink),
        "the upgrade command was still pending"
    );
}

/// An upgrade agent that restarts loses the messages it was given: its first status
/// (`UpgradeStatus::STARTED`) fails them at once (1,8 `NoAnswer`) and frees their slots, so
/// the next message is forwarded instead of refused as busy until `PENDING_TIMEOUT_S` (the
/// uplink benchmark's stall). Other components' commands keep waiting.
#[test]
fn a_restarted_upgrade_agent_frees_the_slots_of_the_messages_it_lost() {
    let mut n = node();
    let mut g = ground();
    let mut ch = Channels::default();
    uplink(&mut g, &sign_chunk(7, 0, 2), &mut ch, &mut n);
    for i in 1..comms::node::MAX_PENDING as u32 {
        uplink(
            &mut g,
            &chunk_app(FN_UPGRADE_CHUNK, 9, i, 100),
            &mut ch,
            &mut n,
        );
    }
    assert_eq!(ch.sent.len(), comms::node::MAX_PENDING);
    let busy = uplink(
        &mut g,
        &chunk_app(FN_UPGRADE_CHUNK, 9, 50, 100),
        &mut ch,
        &mut n,
    );
    assert!(busy.iter().any(|r| matches!(
        r.2,
        Some(Report::StartFailure(f)) if f.code == FailureCode::Busy
    )));
    // An unsolicited status (not a new instance) frees nothing it does not name.
    let status = UpgradeStatus {
        bundle_id: 9,
        next_chunk: 1,
        answers: UpgradeStatus::UNSOLICITED,
        state: UpgradeState::Idle,
        ..UpgradeStatus::default()
    };
    let mut sink = Sink::default();
    n.on_upgrade_status(&status, now(), &mut sink);
    assert!(
        opened(&mut g, &sink)
            .iter()
            .all(|r| !matches!(r.2, Some(Report::CompletionFailure(_))))
    );
    // The agent restarted: every upgrade message still waiting fails with NoAnswer.
    let mut sink = Sink::default();
    n.on_upgrade_status(
        &UpgradeStatus {
            answers: UpgradeStatus::STARTED,
            ..status
        },
        now(),
        &mut sink,
    );
    assert_eq!(
        completion_failures(&mut g, &sink),
        vec![FailureCode::NoAnswer; comms::node::MAX_PENDING - 1]
    );
    // Their slots are free: the next upgrade message is forwarded; the sign chunk still waits.
    let sent = ch.sent.len();
    let again = uplink(
        &mut g,
        &chunk_app(FN_UPGRADE_CHUNK, 9, 51, 100),
        &mut ch,
        &mut n,
    );
    assert_eq!(ch.sent.len(), sent + 1, "{again:?}");
    let mut sink = Sink::default();
    n.on_sign_response(
        &SignResponse {
            batch_id: 7,
            status: SignStatus::Accepted,
            ..SignResponse::default()
        },
        now(),
        &mut sink,
    );
    assert!(
        completed(&mut g, &sink),
        "the sign chunk's command was still pending"
    );
}

/// Issue 16's console commands on the node: the event log (5,128) answers one 5,129 per kept
/// event once the partition lent it a buffer (refused with `NoEventLog` before), and a reboot
/// (8,1 0x0011) is forwarded to the watchdog in normal mode too.
#[test]
fn the_event_log_reports_kept_events_and_a_reboot_goes_to_the_watchdog() {
    use comms::pus::event_log::{self, EventLog, TC_REPORT_LOG, TM_LOG_ENTRY};
    use comms::pus::function::FN_REBOOT;
    let mut n = node();
    let mut g = ground();
    let mut ch = Channels::default();
    let mut unit = [0u8; 128];
    let (len, _) = g.uplink(OPS, 5, TC_REPORT_LOG, 1, &[], &mut unit).unwrap();
    let (_, sink) = send(&mut n, &unit[..len], &mut ch);
    let last = opened(&mut g, &sink).last().and_then(|r| r.2);
    assert_eq!(
        last.and_then(|r| r.failure()).map(|f| f.code),
        Some(FailureCode::NoEventLog)
    );

    n.attach_event_log(Box::leak(Box::new(EventLog::new())));
    // Events: an authenticated unit beyond the window gets event 0x0007 (and is counted in
    // the authentication-failure event 0x0003).
    let mut far = ground();
    far.resume_above(OPS, 1_000);
    let (len, _) = far.uplink(OPS, 17, 1, 1, &[], &mut unit).unwrap();
    let (o, _) = send(&mut n, &unit[..len], &mut ch);
    assert!(matches!(o, UnitOutcome::Refused(_)), "{o:?}");
    let (len, _) = g.uplink(OPS, 5, TC_REPORT_LOG, 1, &[], &mut unit).unwrap();
    let (_, sink) = send(&mut n, &unit[..len], &mut ch);
    let mut entries = Vec::new();
    let mut reports = Vec::new();
    for u in &sink.0 {
        let d = g.downlink(u).unwrap();
        if (d.tm.service, d.tm.subservice) == (5, TM_LOG_ENTRY) {
            let e = event_log::decode(d.tm.source).unwrap();
            entries.push((e.seq, e.id));
        }
        if let Some((_, r)) = d.verification {
            reports.push(r);
        }
    }
    // The refused unit's two events, oldest first, numbered from comms' start.
    use comms::pus::event::{EV_AUTH_FAILURES, EV_SEQUENCE_REFUSED};
    assert_eq!(
        entries,
        vec![(0, EV_SEQUENCE_REFUSED), (1, EV_AUTH_FAILURES)]
    );
    assert_eq!(reports.last(), Some(&Report::CompletionSuccess));

    // Reboot in normal mode (no safe-mode check): forwarded on the node-command channel.
    n.on_health(protocol::HealthReport::default());
    let (len, _) = g
        .uplink(OPS, 8, 1, 1, &FN_REBOOT.to_be_bytes(), &mut unit)
        .unwrap();
    let (o, sink) = send(&mut n, &unit[..len], &mut ch);
    assert!(matches!(o, UnitOutcome::Ran(_)), "{o:?}");
    let sys = system();
    let channel = sys
        .channels
        .iter()
        .find(|c| c.message.name == "node-command")
        .unwrap();
    assert_eq!(
        ch.sent.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![channel.id]
    );
    assert_eq!(
        opened(&mut g, &sink).last().and_then(|r| r.2),
        Some(Report::CompletionSuccess)
    );
    let (len, _) = g
        .uplink(PING_ONLY, 8, 1, 1, &FN_REBOOT.to_be_bytes(), &mut unit)
        .unwrap();
    let (o, _) = send(&mut n, &unit[..len], &mut ch);
    assert!(matches!(o, UnitOutcome::Rejected(f) if f.code == FailureCode::Unauthorised));
}
