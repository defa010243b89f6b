//! The admin functions end to end through the node and the ground end: a chunked envelope
//! reassembled and forwarded as one `admin-request`, the signer's answers turned into 1,7 with
//! TM[8,128] or 1,8 with the precise code, exports relayed byte for byte, refusals of bad
//! chunks, retransmitted chunks run once, and forged units that never reach the reassembly.

mod common;

use common::*;
use comms::admin::{self, FN_ADMIN_CHUNK, FN_EXPORT_ACCOUNT, FN_EXPORT_SERVER, ResponseReport};
use comms::failure::{Failure, FailureCode};
use comms::ground::Ground;
use comms::link::FailoverConfig;
use comms::node::{
    Downlink, ForwardError, Forwarder, Node, NodeConfig, Now, Outbound, UnitOutcome,
};
use comms::pus::function::{self, Chunk};
use comms::pus::tc::RequestId;
use comms::pus::verification::Report;
use comms::router::{RouteTable, SendChannel};
use comms::sdls::MemoryPersist;
use hal::time::Instant;
use protocol::{
    ADMIN_COMMAND_MAX, AdminOp, AdminOutcome, AdminRequest, AdminResponse, BoundedBytes, LinkId,
    XPUB_EXPORT_LEN,
};

const APID: u16 = 0x0A0;
const ADMIN_CHANNEL: usize = 3;

fn node(with_admin_channel: bool) -> Node<MemoryPersist> {
    let cfg = NodeConfig {
        apid: APID,
        reserve_block: 16,
        failover: FailoverConfig::default(),
        auth_event_period_ms: 1000,
    };
    let mut sends = vec![SendChannel {
        index: 1,
        kind: "sign-request",
    }];
    if with_admin_channel {
        sends.push(SendChannel {
            index: ADMIN_CHANNEL,
            kind: "admin-request",
        });
    }
    let routes = RouteTable::build(sends.iter().copied());
    Node::boot(cfg, &provisioning(), MemoryPersist::default(), routes).unwrap()
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

/// The admin channel with its staging buffer, as the partition holds them.
struct Channels {
    staging: Vec<u8>,
    sent: Vec<(usize, AdminRequest)>,
    full: bool,
}

impl Default for Channels {
    fn default() -> Self {
        Channels {
            staging: vec![0; ADMIN_COMMAND_MAX],
            sent: Vec::new(),
            full: false,
        }
    }
}

impl Forwarder for Channels {
    fn forward(&mut self, channel: usize, msg: Outbound<'_>) -> Result<(), ForwardError> {
        if self.full {
            return Err(ForwardError::Full);
        }
        match msg {
            Outbound::Admin(a) => self.sent.push((channel, a.clone())),
            _ => return Err(ForwardError::Failed),
        }
        Ok(())
    }
    fn admin_staging(&mut self) -> Option<&mut [u8]> {
        Some(&mut self.staging)
    }
}

/// What came down: (service, subservice, verification report, TM[8,128]).
type Down = (u8, u8, Option<Report>, Option<(RequestId, ResponseReport)>);

fn opened(g: &mut Ground, sink: &Sink) -> Vec<Down> {
    sink.0
        .iter()
        .map(|u| {
            let d = g.downlink(u).unwrap();
            let resp = (d.tm.service == 8 && d.tm.subservice == admin::TM_ADMIN_RESPONSE)
                .then(|| admin::decode_response(d.tm.source).unwrap());
            (
                d.tm.service,
                d.tm.subservice,
                d.verification.map(|v| v.1),
                resp,
            )
        })
        .collect()
}

struct Station {
    g: Ground,
}

impl Station {
    fn new() -> Self {
        Station {
            g: Ground::new(&provisioning(), None, APID).unwrap(),
        }
    }

    fn unit(&mut self, spi: u16, app: &[u8]) -> (Vec<u8>, RequestId) {
        let mut unit = vec![0u8; comms::sdls::MAX_UNIT_LEN];
        let (n, rid) = self.g.uplink(spi, 8, 1, 7, app, &mut unit).unwrap();
        unit.truncate(n);
        (unit, rid)
    }

    fn run(
        &mut self,
        n: &mut Node<MemoryPersist>,
        ch: &mut Channels,
        unit: &[u8],
    ) -> (UnitOutcome, Vec<Down>) {
        let mut sink = Sink::default();
        let o = n.on_unit(LinkId::Primary, unit, now(), ch, &mut sink);
        (o, opened(&mut self.g, &sink))
    }

    fn respond(&mut self, n: &mut Node<MemoryPersist>, r: &AdminResponse) -> Vec<Down> {
        let mut sink = Sink::default();
        n.on_admin_response(r, now(), &mut sink);
        opened(&mut self.g, &sink)
    }
}

fn chunk_app(c: &Chunk<'_>) -> Vec<u8> {
    let mut app = vec![0u8; 2 + function::CHUNK_ARGS_LEN + c.data.len()];
    app[..2].copy_from_slice(&FN_ADMIN_CHUNK.to_be_bytes());
    function::encode_chunk(c, &mut app[2..]).unwrap();
    app
}

fn reports(d: &[Down]) -> Vec<(u8, Option<Report>)> {
    d.iter().filter(|x| x.0 == 1).map(|x| (x.1, x.2)).collect()
}

fn envelope() -> Vec<u8> {
    (0..ADMIN_COMMAND_MAX).map(|i| (i % 251) as u8).collect()
}

#[test]
fn a_chunked_envelope_is_forwarded_once_whole_and_completes_with_the_signers_answer() {
    let mut n = node(true);
    let mut st = Station::new();
    let mut ch = Channels::default();
    let env = envelope();
    let chunks: Vec<_> = admin::chunks(0x77, &env, 1800).collect();
    assert_eq!(chunks.len(), 3);
    let mut last_rid = None;
    for (i, c) in chunks.iter().enumerate() {
        let (unit, rid) = st.unit(OPS, &chunk_app(c));
        let (o, down) = st.run(&mut n, &mut ch, &unit);
        assert!(matches!(o, UnitOutcome::Ran(_)), "{o:?}");
        if i < 2 {
            // Stored: the chunk's command completes at once, nothing is forwarded yet.
            assert_eq!(
                reports(&down),
                vec![
                    (1, Some(Report::AcceptanceSuccess)),
                    (3, Some(Report::StartSuccess)),
                    (7, Some(Report::CompletionSuccess))
                ]
            );
            assert!(ch.sent.is_empty());
        } else {
            assert_eq!(
                reports(&down),
                vec![
                    (1, Some(Report::AcceptanceSuccess)),
                    (3, Some(Report::StartSuccess))
                ]
            );
        }
        last_rid = Some(rid);
    }
    assert_eq!(ch.sent.len(), 1, "one admin-request for the whole envelope");
    let (channel, req) = &ch.sent[0];
    assert_eq!(*channel, ADMIN_CHANNEL);
    match &req.op {
        AdminOp::Command { envelope } => assert_eq!(envelope.as_slice(), &env[..]),
        other => panic!("{other:?}"),
    }
    // A response to another request completes nothing.
    let stray = st.respond(
        &mut n,
        &AdminResponse {
            request_id: req.request_id.wrapping_add(1),
            outcome: AdminOutcome::Applied { counter: 1 },
        },
    );
    assert!(stray.is_empty());
    let down = st.respond(
        &mut n,
        &AdminResponse {
            request_id: req.request_id,
            outcome: AdminOutcome::Applied { counter: 12 },
        },
    );
    let rid = last_rid.unwrap();
    assert_eq!(
        down,
        vec![
            (8, 128, None, Some((rid, ResponseReport::Applied(12)))),
            (1, 7, Some(Report::CompletionSuccess), None)
        ]
    );
    // Answered once: the same response again does nothing.
    assert!(
        st.respond(
            &mut n,
            &AdminResponse {
                request_id: req.request_id,
                outcome: AdminOutcome::Applied { counter: 12 },
            },
        )
        .is_empty()
    );
}

/// The same TC in a new unit (the ground session's retry after a lost report).
fn again(st: &mut Station, unit: &[u8]) -> Vec<u8> {
    let packet = &unit[comms::sdls::engine::HEADER_LEN..unit.len() - comms::sdls::mac::MAC_LEN];
    let mut out = vec![0u8; comms::sdls::MAX_UNIT_LEN];
    let k = st.g.wrap(OPS, packet, &mut out).unwrap();
    out.truncate(k);
    out
}

/// A last chunk retransmitted while the signer's answer is pending, and again after it (its
/// 1,7 and TM\[8,128\] lost on the downlink), reaches the signer once: the retries get the
/// first execution's reports, the later one its verdict (a time correlation judged twice would
/// be refused as replayed).
#[test]
fn a_retried_last_chunk_reaches_the_signer_once_and_gets_the_first_verdict() {
    for outcome in [
        AdminOutcome::Applied { counter: 5 },
        AdminOutcome::Refused { code: 14 },
    ] {
        let mut n = node(true);
        let mut st = Station::new();
        let mut ch = Channels::default();
        let env = envelope();
        let chunks: Vec<_> = admin::chunks(0x51, &env, 1800).collect();
        let mut last = Vec::new();
        for c in &chunks {
            last = st.unit(OPS, &chunk_app(c)).0;
            st.run(&mut n, &mut ch, &last);
        }
        assert_eq!(ch.sent.len(), 1);
        let retry = again(&mut st, &last);
        let (o, down) = st.run(&mut n, &mut ch, &retry);
        assert_eq!(o, UnitOutcome::Duplicate);
        assert_eq!(
            reports(&down),
            vec![
                (1, Some(Report::AcceptanceSuccess)),
                (3, Some(Report::StartSuccess))
            ]
        );
        assert_eq!(ch.sent.len(), 1, "pending: not forwarded again");
        let req = ch.sent[0].1.request_id;
        let first = st.respond(
            &mut n,
            &AdminResponse {
                request_id: req,
                outcome: outcome.clone(),
            },
        );
        let verdict = *reports(&first).last().unwrap();
        let retry = again(&mut st, &last);
        let (o, down) = st.run(&mut n, &mut ch, &retry);
        assert_eq!(o, UnitOutcome::Duplicate);
        assert_eq!(reports(&down).last(), Some(&verdict));
        assert_eq!(ch.sent.len(), 1, "answered: not forwarded again");
    }
}

#[test]
fn each_signer_refusal_completes_with_its_own_code() {
    let mut n = node(true);
    let mut st = Station::new();
    let mut ch = Channels::default();
    let expected = [
        (1u8, FailureCode::AdminMalformed),
        (2, FailureCode::AdminWrongNode),
        (3, FailureCode::AdminReplayed),
        (4, FailureCode::AdminUnknownAdmin),
        (5, FailureCode::AdminDuplicateSigner),
        (6, FailureCode::AdminBadSignature),
        (7, FailureCode::AdminNotEnoughSignatures),
        (8, FailureCode::AdminRegistryRefused),
        (9, FailureCode::AdminRegistryTooLarge),
        (10, FailureCode::AdminStorage),
        (77, FailureCode::AdminUnknownRefusal),
    ];
    for (i, (code, fc)) in expected.iter().enumerate() {
        let env = [i as u8; 300];
        let c = admin::chunks(i as u64, &env, 1800).next().unwrap();
        let (unit, _) = st.unit(OPS, &chunk_app(&c));
        st.run(&mut n, &mut ch, &unit);
        let req = ch.sent.pop().unwrap().1;
        let down = st.respond(
            &mut n,
            &AdminResponse {
                request_id: req.request_id,
                outcome: AdminOutcome::Refused { code: *code },
            },
        );
        assert_eq!(
            down,
            vec![(
                1,
                8,
                Some(Report::CompletionFailure(Failure::with(
                    *fc,
                    u32::from(*code)
                ))),
                None
            )]
        );
        assert!(!fc.text().is_empty());
    }
}

#[test]
fn exports_are_relayed_byte_for_byte_and_refused_exports_say_why() {
    let mut n = node(true);
    let mut st = Station::new();
    let mut ch = Channels::default();
    let mut app = FN_EXPORT_SERVER.to_be_bytes().to_vec();
    app.extend_from_slice(&5u32.to_be_bytes());
    let (unit, rid) = st.unit(OPS, &app);
    st.run(&mut n, &mut ch, &unit);
    let req = ch.sent.pop().unwrap().1;
    assert_eq!(req.op, AdminOp::ExportServer { server_id: 5 });
    let export = [0x5A; XPUB_EXPORT_LEN];
    let down = st.respond(
        &mut n,
        &AdminResponse {
            request_id: req.request_id,
            outcome: AdminOutcome::Export {
                export: BoundedBytes::new(&export).unwrap(),
            },
        },
    );
    assert_eq!(
        down,
        vec![
            (8, 128, None, Some((rid, ResponseReport::Export(export)))),
            (1, 7, Some(Report::CompletionSuccess), None)
        ]
    );

    let mut app = FN_EXPORT_ACCOUNT.to_be_bytes().to_vec();
    app.extend_from_slice(&[2, 0, 0, 0, 0, 9]);
    let (unit, _) = st.unit(OPS, &app);
    st.run(&mut n, &mut ch, &unit);
    let req = ch.sent.pop().unwrap().1;
    assert_eq!(
        req.op,
        AdminOp::ExportAccount {
            network: 2,
            script_type: 0,
            account: 9
        }
    );
    let down = st.respond(
        &mut n,
        &AdminResponse {
            request_id: req.request_id,
            outcome: AdminOutcome::ExportRefused { code: 1 },
        },
    );
    assert_eq!(
        down,
        vec![(
            1,
            8,
            Some(Report::CompletionFailure(Failure::with(
                FailureCode::ExportUnknownServer,
                1
            ))),
            None
        )]
    );
    // Arguments of the wrong length: 1,2, nothing forwarded.
    let mut app = FN_EXPORT_SERVER.to_be_bytes().to_vec();
    app.extend_from_slice(&[0, 1]);
    let (unit, _) = st.unit(OPS, &app);
    let (o, down) = st.run(&mut n, &mut ch, &unit);
    assert!(matches!(o, UnitOutcome::Rejected(f) if f.code == FailureCode::BadAppData));
    assert_eq!(reports(&down).len(), 1);
    assert!(ch.sent.is_empty());
}

#[test]
fn bad_chunks_are_refused_with_a_reason_and_a_retransmitted_chunk_runs_once() {
    let mut n = node(true);
    let mut st = Station::new();
    let mut ch = Channels::default();
    let env = vec![9u8; 3000];
    let chunks: Vec<_> = admin::chunks(1, &env, 1000).collect();
    let refused = |down: &[Down]| match reports(down).as_slice() {
        [(2, Some(Report::AcceptanceFailure(f)))] => *f,
        other => panic!("{other:?}"),
    };
    // Chunk 1 first: out of order.
    let (unit, _) = st.unit(OPS, &chunk_app(&chunks[1]));
    let (_, down) = st.run(&mut n, &mut ch, &unit);
    assert_eq!(
        refused(&down),
        Failure::with(FailureCode::AdminOutOfOrder, 0)
    );
    // Oversize: a total above 4,000 bytes.
    let mut big = chunks[0];
    big.position.total_len = 4001;
    let (unit, _) = st.unit(OPS, &chunk_app(&big));
    let (_, down) = st.run(&mut n, &mut ch, &unit);
    assert_eq!(
        refused(&down),
        Failure::with(FailureCode::AdminTooLarge, 4001)
    );
    // Chunk 0, then the same TC again (a retransmission): stored once, reports again.
    let (unit0, _) = st.unit(OPS, &chunk_app(&chunks[0]));
    let (o, _) = st.run(&mut n, &mut ch, &unit0);
    assert!(matches!(o, UnitOutcome::Ran(_)));
    let retry = again(&mut st, &unit0);
    let (o, down) = st.run(&mut n, &mut ch, &retry);
    assert_eq!(o, UnitOutcome::Duplicate);
    assert_eq!(
        reports(&down).last(),
        Some(&(7, Some(Report::CompletionSuccess)))
    );
    assert_eq!(n.admin_transfer(), Some(1));
    // Chunk 2 before 1: out of order, expecting 1.
    let (unit, _) = st.unit(OPS, &chunk_app(&chunks[2]));
    let (_, down) = st.run(&mut n, &mut ch, &unit);
    assert_eq!(
        refused(&down),
        Failure::with(FailureCode::AdminOutOfOrder, 1)
    );
    // Malformed chunk arguments.
    let (unit, _) = st.unit(OPS, &FN_ADMIN_CHUNK.to_be_bytes());
    let (_, down) = st.run(&mut n, &mut ch, &unit);
    assert_eq!(refused(&down).code, FailureCode::BadAppData);
    // A forged unit carrying chunk 1 never reaches the reassembly.
    let (mut forged, _) = st.unit(OPS, &chunk_app(&chunks[1]));
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let (o, down) = st.run(&mut n, &mut ch, &forged);
    assert!(matches!(o, UnitOutcome::Refused(_)));
    assert!(down.is_empty());
    // The transfer survived it all: 1 and 2 complete it, one request goes out.
    for c in &chunks[1..] {
        let (unit, _) = st.unit(OPS, &chunk_app(c));
        st.run(&mut n, &mut ch, &unit);
    }
    assert_eq!(ch.sent.len(), 1);
    match &ch.sent[0].1.op {
        AdminOp::Command { envelope } => assert_eq!(envelope.as_slice(), &env[..]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_the_admin_channel_or_permission_nothing_is_forwarded() {
    // No `admin-request` send channel held: no route.
    let mut n = node(false);
    let mut st = Station::new();
    let mut ch = Channels::default();
    let mut app = FN_EXPORT_SERVER.to_be_bytes().to_vec();
    app.extend_from_slice(&1u32.to_be_bytes());
    let (unit, _) = st.unit(OPS, &app);
    let (o, _) = st.run(&mut n, &mut ch, &unit);
    assert!(matches!(o, UnitOutcome::Rejected(f) if f.code == FailureCode::NoRoute));
    // An association without the SIGN permission: unauthorised.
    let mut n = node(true);
    let mut st = Station::new();
    let (unit, _) = st.unit(PING_ONLY, &app);
    let (o, _) = st.run(&mut n, &mut ch, &unit);
    assert!(matches!(o, UnitOutcome::Rejected(f) if f.code == FailureCode::Unauthorised));
    // A full admin ring: 1,4 ChannelFull, and the command is not pending.
    let (unit, _) = st.unit(OPS, &app);
    ch.full = true;
    let (_, down) = st.run(&mut n, &mut ch, &unit);
    assert_eq!(
        reports(&down).last(),
        Some(&(
            4,
            Some(Report::StartFailure(Failure::with(
                FailureCode::ChannelFull,
                ADMIN_CHANNEL as u32
            )))
        ))
    );
}
