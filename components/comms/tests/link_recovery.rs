//! Comms' recovery-only mode (a lost SDLS anti-replay state, `node/recovery.rs`) through the
//! node and a ground end: only the link challenge and a `recover-link` envelope are taken, the
//! floors are committed only on the signer's verdict, a refused or under-signed recovery changes
//! nothing, a failed write leaves the node recovering, and after the recovery the units below
//! the new floor (a captured recovery among them) are refused as replays. With the sealed keys
//! lost too, the same mode runs on the recovery association and installs the new keys the
//! `recover-link` carries wrapped under the link recovery key (`sdls::key_recovery`).

mod common;

use common::*;
use comms::admin::{self, FN_ADMIN_CHUNK, FN_LINK_RECOVERY_CHALLENGE, ResponseReport};
use comms::failure::{Failure, FailureCode};
use comms::ground::Ground;
use comms::link::FailoverConfig;
use comms::node::{
    Downlink, ForwardError, Forwarder, Node, NodeConfig, Now, Outbound, UnitOutcome,
};
use comms::pus::function::{self, Chunk};
use comms::pus::verification::Report;
use comms::router::{RouteTable, SendChannel};
use comms::sdls::{MemoryPersist, StatePersist, UplinkReject};
use hal::time::Instant;
use protocol::{ADMIN_COMMAND_MAX, AdminOp, AdminOutcome, AdminRequest, AdminResponse, LinkId};

const APID: u16 = 0x0A0;
const ADMIN_CHANNEL: usize = 3;
const CHALLENGE: &str = "000102030405060708090a0b0c0d0e0f";

fn config() -> (NodeConfig, RouteTable) {
    let cfg = NodeConfig {
        apid: APID,
        reserve_block: 16,
        failover: FailoverConfig::default(),
        auth_event_period_ms: 1000,
    };
    let sends = [SendChannel {
        index: ADMIN_CHANNEL,
        kind: "admin-request",
    }];
    (cfg, RouteTable::build(sends.iter().copied()))
}

fn lost_node() -> Node<MemoryPersist> {
    let (cfg, routes) = config();
    Node::boot_lost(cfg, &provisioning(), MemoryPersist::default(), routes).unwrap()
}

fn now() -> Now {
    Now {
        mono: Instant::from_micros(5_000_000),
        mission_us: None,
    }
}

#[derive(Default)]
struct Sink(Vec<Vec<u8>>);
impl Downlink for Sink {
    fn send(&mut self, _link: LinkId, unit: &[u8]) {
        self.0.push(unit.to_vec());
    }
}

struct Channels {
    staging: Vec<u8>,
    sent: Vec<AdminRequest>,
}

impl Forwarder for Channels {
    fn forward(&mut self, _channel: usize, msg: Outbound<'_>) -> Result<(), ForwardError> {
        match msg {
            Outbound::Admin(a) => self.sent.push(a.clone()),
            _ => return Err(ForwardError::Failed),
        }
        Ok(())
    }
    fn admin_staging(&mut self) -> Option<&mut [u8]> {
        Some(&mut self.staging)
    }
}

/// (service, subservice, failure of a 1,2/1,8, TM[8,128]).
type Down = (u8, u8, Option<Failure>, Option<ResponseReport>);

/// A ground end as `ground admin recover-link` runs it: epoch 0, floors 0.
struct Station {
    g: Ground,
    ch: Channels,
    spi: u16,
}

impl Station {
    fn new() -> Self {
        Self::on(&provisioning(), OPS)
    }

    fn on(p: &comms::sdls::Provisioning, spi: u16) -> Self {
        Station {
            g: Ground::new(p, None, APID).unwrap(),
            ch: Channels {
                staging: vec![0; ADMIN_COMMAND_MAX],
                sent: Vec::new(),
            },
            spi,
        }
    }

    fn unit(&mut self, service: u8, subservice: u8, app: &[u8]) -> Vec<u8> {
        let mut unit = vec![0u8; comms::sdls::MAX_UNIT_LEN];
        let (n, _) = self
            .g
            .uplink(self.spi, service, subservice, 0x0F, app, &mut unit)
            .unwrap();
        unit.truncate(n);
        unit
    }

    fn open(&mut self, sink: Sink) -> Vec<Down> {
        sink.0
            .iter()
            .map(|u| {
                let d = self.g.downlink(u).expect("authentic downlink");
                let failure = match d.verification.map(|v| v.1) {
                    Some(Report::AcceptanceFailure(f) | Report::CompletionFailure(f)) => Some(f),
                    _ => None,
                };
                let resp = (d.tm.service == 8 && d.tm.subservice == admin::TM_ADMIN_RESPONSE)
                    .then(|| admin::decode_response(d.tm.source).unwrap().1);
                (d.tm.service, d.tm.subservice, failure, resp)
            })
            .collect()
    }

    fn run(&mut self, n: &mut Node<MemoryPersist>, unit: &[u8]) -> (UnitOutcome, Vec<Down>) {
        let mut sink = Sink::default();
        let o = n.on_unit(LinkId::Primary, unit, now(), &mut self.ch, &mut sink);
        (o, self.open(sink))
    }

    fn respond(&mut self, n: &mut Node<MemoryPersist>, outcome: AdminOutcome) -> Vec<Down> {
        let request_id = self.ch.sent.last().unwrap().request_id;
        let mut sink = Sink::default();
        n.on_admin_response(
            &AdminResponse {
                request_id,
                outcome,
            },
            now(),
            &mut sink,
        );
        self.open(sink)
    }
}

/// An admin envelope in `signer::admin`'s layout (the signatures are the signer's to check;
/// here the signer's verdict is given by hand).
fn envelope(body: &str) -> Vec<u8> {
    let mut e = b"SNAD\x01".to_vec();
    e.extend_from_slice(&[0; 8]);
    e.extend_from_slice(&9u64.to_be_bytes());
    e.extend_from_slice(&(body.len() as u16).to_be_bytes());
    e.extend_from_slice(body.as_bytes());
    e.push(1);
    e.extend_from_slice(&[0; 65]);
    e
}

fn chunk_units(st: &mut Station, env: &[u8]) -> Vec<Vec<u8>> {
    admin::chunks(0x51, env, 1800)
        .map(|c: Chunk<'_>| {
            let mut app = vec![0u8; 2 + function::CHUNK_ARGS_LEN + c.data.len()];
            app[..2].copy_from_slice(&FN_ADMIN_CHUNK.to_be_bytes());
            function::encode_chunk(&c, &mut app[2..]).unwrap();
            st.unit(8, 1, &app)
        })
        .collect()
}

fn recover_body() -> String {
    format!("recover-link challenge={CHALLENGE} sa={OPS}:0:1000:2000 sa={PING_ONLY}:0:40:50")
}

/// Sends the envelope; returns the last chunk's downlink.
fn send(st: &mut Station, n: &mut Node<MemoryPersist>, body: &str) -> Vec<Down> {
    let units = chunk_units(st, &envelope(body));
    units.iter().map(|u| st.run(n, u).1).last().unwrap()
}

fn failure(d: &[Down]) -> Option<FailureCode> {
    d.iter().find_map(|x| x.2).map(|f| f.code)
}

#[test]
fn only_the_link_recovery_is_taken_and_applied_on_the_signers_ok() {
    let mut n = lost_node();
    let mut st = Station::new();
    assert!(n.recovering());
    // A ping is authenticated and refused in words.
    let ping = st.unit(17, 1, &[]);
    let (o, down) = st.run(&mut n, &ping);
    assert!(matches!(o, UnitOutcome::Rejected(_)), "{o:?}");
    assert_eq!(failure(&down), Some(FailureCode::LinkRecoveryOnly));
    // While the signer does not run, the recovery is refused at once, in words.
    n.set_signer_running(false);
    let read = st.unit(8, 1, &FN_LINK_RECOVERY_CHALLENGE.to_be_bytes());
    let (_, down) = st.run(&mut n, &read);
    assert_eq!(failure(&down), Some(FailureCode::LinkRecoverySignerDown));
    assert!(st.ch.sent.is_empty());
    n.set_signer_running(true);
    // The challenge goes to the signer and comes down.
    let read = st.unit(8, 1, &FN_LINK_RECOVERY_CHALLENGE.to_be_bytes());
    let (o, _) = st.run(&mut n, &read);
    assert!(matches!(o, UnitOutcome::Ran(_)), "{o:?}");
    assert_eq!(
        st.ch.sent.last().unwrap().op,
        AdminOp::LinkRecoveryChallenge
    );
    let down = st.respond(&mut n, AdminOutcome::Challenge { challenge: [7; 16] });
    assert!(
        down.iter()
            .any(|d| d.3 == Some(ResponseReport::Challenge([7; 16])))
    );
    // Another admin body is not forwarded.
    let down = send(&mut st, &mut n, "revoke id=1");
    assert_eq!(failure(&down), Some(FailureCode::LinkRecoveryBadBody));
    // One that leaves an association out neither.
    let partial = format!("recover-link challenge={CHALLENGE} sa={OPS}:0:1000:2000");
    let down = send(&mut st, &mut n, &partial);
    assert_eq!(failure(&down), Some(FailureCode::LinkRecoveryBadBody));
    // The recovery goes for verification; nothing is written before the verdict.
    let before = st.ch.sent.len();
    let units = chunk_units(&mut st, &envelope(&recover_body()));
    for u in &units {
        st.run(&mut n, u);
    }
    assert_eq!(st.ch.sent.len(), before + 1);
    assert!(matches!(
        st.ch.sent.last().unwrap().op,
        AdminOp::VerifyLinkRecovery { .. }
    ));
    assert_eq!(n.persist_mut().saves, 0);
    let down = st.respond(&mut n, AdminOutcome::LinkRecoveryVerified);
    assert!(down.iter().any(|d| d.0 == 1 && d.1 == 7), "{down:?}");
    assert!(!n.recovering());
    // The new record, then the completion report's downlink reservation (its ARSN is 2001).
    assert_eq!(n.persist_mut().saves, 2);
    let ops = n.security().status(OPS).unwrap();
    assert_eq!(
        (ops.rx_last, ops.rx_reserved, ops.tx_next),
        (1000, 1000, 2002)
    );
    let ping = n.security().status(PING_ONLY).unwrap();
    assert_eq!((ping.rx_last, ping.tx_reserved), (40, 50));
    // The captured recovery units are now replays; the record holds the floors.
    let (o, down) = st.run(&mut n, &units[0]);
    assert!(
        matches!(o, UnitOutcome::Refused(UplinkReject::Replay { .. })),
        "{o:?}"
    );
    // ... and the node tells the ground where its floor is (event 0x0007, 5,2).
    assert_eq!(
        down.iter().map(|d| (d.0, d.1)).collect::<Vec<_>>(),
        [(5, 2)]
    );
    assert!(matches!(
        n.persist_mut().load(),
        Ok(comms::sdls::Loaded::Record(r)) if r.get(OPS).unwrap().rx_reserved == 1000
    ));
    // Above the floor, commands run again, and the challenge is refused as not needed.
    let mut g = Ground::new(&provisioning(), None, APID).unwrap();
    let mut unit = vec![0u8; comms::sdls::MAX_UNIT_LEN];
    for _ in 0..1001 {
        // Move this ground's uplink ARSN to 1001 (the operator's ground continues above
        // the floor it signed).
        g.uplink(OPS, 17, 1, 0, &[], &mut unit).unwrap();
    }
    let (k, _) = g
        .uplink(
            OPS,
            8,
            1,
            0x0F,
            &FN_LINK_RECOVERY_CHALLENGE.to_be_bytes(),
            &mut unit,
        )
        .unwrap();
    let mut sink = Sink::default();
    let o = n.on_unit(LinkId::Primary, &unit[..k], now(), &mut st.ch, &mut sink);
    assert!(
        matches!(o, UnitOutcome::Rejected(f) if f.code == FailureCode::LinkNotRecovering),
        "{o:?}"
    );
}

#[test]
fn a_refused_or_unwritable_recovery_changes_nothing() {
    for (outcome, fails_write, code) in [
        (
            AdminOutcome::Refused { code: 7 },
            false,
            FailureCode::AdminNotEnoughSignatures,
        ),
        (
            AdminOutcome::Refused { code: 17 },
            false,
            FailureCode::LinkRecoveryWrongChallenge,
        ),
        (
            AdminOutcome::Refused { code: 3 },
            false,
            FailureCode::AdminReplayed,
        ),
        (
            AdminOutcome::LinkRecoveryVerified,
            true,
            FailureCode::PersistFailed,
        ),
    ] {
        let mut n = lost_node();
        let mut st = Station::new();
        send(&mut st, &mut n, &recover_body());
        if fails_write {
            n.persist_mut().fail_next = 1;
        }
        let down = st.respond(&mut n, outcome.clone());
        assert_eq!(failure(&down), Some(code), "{outcome:?}");
        assert!(n.recovering(), "{outcome:?}");
        assert!(matches!(
            n.persist_mut().load(),
            Ok(comms::sdls::Loaded::Fresh)
        ));
        assert_eq!(n.security().status(OPS).unwrap().rx_reserved, 0);
        // Still only the recovery is taken.
        let ping = st.unit(17, 1, &[]);
        let (_, down) = st.run(&mut n, &ping);
        assert_eq!(failure(&down), Some(FailureCode::LinkRecoveryOnly));
    }
}

#[test]
fn one_recovery_at_a_time_awaits_the_signers_verdict() {
    let mut n = lost_node();
    let mut st = Station::new();
    send(&mut st, &mut n, &recover_body());
    let other = format!("recover-link challenge={CHALLENGE} sa={OPS}:0:7:7 sa={PING_ONLY}:0:7:7");
    let down = send(&mut st, &mut n, &other);
    assert_eq!(failure(&down), Some(FailureCode::Busy));
    assert_eq!(st.ch.sent.len(), 1, "the second one is not forwarded");
    st.respond(&mut n, AdminOutcome::LinkRecoveryVerified);
    assert!(!n.recovering());
    assert_eq!(n.security().status(OPS).unwrap().rx_reserved, 1000);
}

/// The provisioning file the ground sends in a key recovery: two associations with keys
/// unlike the lost ones.
fn new_keys_file() -> Vec<u8> {
    use comms::sdls::{Key, KeyState, Permissions, ProvisionedSa, Provisioning};
    let sa = |spi, telemetry, b| ProvisionedSa {
        spi,
        permissions: Permissions::ALL,
        window: WINDOW,
        telemetry,
        master: Key::from_bytes([b; 32]),
        state: KeyState::Active,
        suite: comms::sdls::Suite::Aes256Gcm,
        key_id: 0,
    };
    let mut buf = [0u8; 256];
    let n =
        Provisioning::encode(&[sa(OPS, true, 0x77), sa(PING_ONLY, false, 0x78)], &mut buf).unwrap();
    buf[..n].to_vec()
}

fn key_recovery_body(key: &[u8; 32], challenge: [u8; 16], file: &[u8]) -> String {
    use comms::sdls::key_recovery::{MAX_WRAPPED_LEN, wrap};
    let mut w = [0u8; MAX_WRAPPED_LEN];
    let n = wrap(key, &challenge, &[9; 12], file, &mut w).unwrap();
    let hex: String = w[..n].iter().map(|b| format!("{b:02x}")).collect();
    format!("{} keys={hex}", recover_body())
}

#[test]
fn lost_keys_are_replaced_only_by_keys_wrapped_under_the_recovery_key_and_the_challenge() {
    use comms::sdls::Provisioning;
    use comms::sdls::key_recovery::{RECOVERY_SPI, recovery_provisioning};
    let rk = [0x5a; 32];
    let (cfg, routes) = config();
    let mut n = Node::boot_lost_keys(cfg, &rk, MemoryPersist::default(), routes).unwrap();
    assert!(n.recovering() && n.recovering_keys());
    assert_eq!(n.security().telemetry_spi(), RECOVERY_SPI);
    // A ground with the lost keys authenticates nothing: not even the challenge runs.
    let mut old = Station::new();
    let read = old.unit(8, 1, &FN_LINK_RECOVERY_CHALLENGE.to_be_bytes());
    let (o, _) = old.run(&mut n, &read);
    assert!(matches!(o, UnitOutcome::Refused(_)), "{o:?}");
    // Under the recovery key: a ping is refused in words, the challenge is read.
    let mut st = Station::on(&recovery_provisioning(&rk).unwrap(), RECOVERY_SPI);
    let ping = st.unit(17, 1, &[]);
    let (_, down) = st.run(&mut n, &ping);
    assert_eq!(failure(&down), Some(FailureCode::LinkRecoveryOnly));
    let challenge = <[u8; 16]>::try_from(hex_bytes(CHALLENGE).as_slice()).unwrap();
    let file = new_keys_file();
    // Without keys, with keys under another recovery key or for another challenge, or with the
    // sa= entries not matching the new file: refused before the signer sees it.
    let before = st.ch.sent.len();
    let down = send(&mut st, &mut n, &recover_body());
    assert_eq!(failure(&down), Some(FailureCode::KeyRecoveryBadKeys));
    let down = send(
        &mut st,
        &mut n,
        &key_recovery_body(&[0x5b; 32], challenge, &file),
    );
    assert_eq!(failure(&down), Some(FailureCode::KeyRecoveryBadKeys));
    let down = send(&mut st, &mut n, &key_recovery_body(&rk, [0; 16], &file));
    assert_eq!(failure(&down), Some(FailureCode::KeyRecoveryBadKeys));
    let down = send(
        &mut st,
        &mut n,
        &key_recovery_body(&rk, challenge, b"garbage"),
    );
    assert_eq!(failure(&down), Some(FailureCode::KeyRecoveryBadKeys));
    assert_eq!(st.ch.sent.len(), before, "nothing forwarded");
    // The right one goes to the signer; nothing is written before the verdict.
    let down = send(&mut st, &mut n, &key_recovery_body(&rk, challenge, &file));
    assert_eq!(failure(&down), None, "{down:?}");
    assert!(matches!(
        st.ch.sent.last().unwrap().op,
        AdminOp::VerifyLinkRecovery { .. }
    ));
    assert_eq!(n.persist_mut().saves, 0);
    assert!(n.persist_mut().key_record().is_none());
    // A refusal (a captured recovery: the signer's challenge moved on) changes nothing.
    let down = st.respond(&mut n, AdminOutcome::Refused { code: 17 });
    assert_eq!(
        failure(&down),
        Some(FailureCode::LinkRecoveryWrongChallenge)
    );
    assert!(n.recovering_keys());
    assert!(n.persist_mut().key_record().is_none());
    // Verified: floors, then the new keys, committed; the node runs on them.
    send(&mut st, &mut n, &key_recovery_body(&rk, challenge, &file));
    let down = st.respond(&mut n, AdminOutcome::LinkRecoveryVerified);
    // The completion report still goes out under the recovery association (the ground that
    // sent the recovery reads it), then the node runs on the new keys.
    assert!(down.iter().any(|d| d.0 == 1 && d.1 == 7), "{down:?}");
    assert!(!n.recovering());
    assert_eq!(n.persist_mut().key_record(), Some(file.as_slice()));
    assert_eq!(n.security().telemetry_spi(), OPS);
    assert!(n.security().status(RECOVERY_SPI).is_none());
    assert_eq!(n.security().status(OPS).unwrap().rx_reserved, 1000);
    // A ground holding the new file, above the floor, is served.
    let new = Provisioning::parse(&file).unwrap();
    let mut g = Station::on(&new, OPS);
    let mut unit = vec![0u8; comms::sdls::MAX_UNIT_LEN];
    for _ in 0..1001 {
        g.g.uplink(OPS, 17, 1, 0, &[], &mut unit).unwrap();
    }
    let ping = g.unit(17, 1, &[]);
    let (o, _) = g.run(&mut n, &ping);
    assert!(matches!(o, UnitOutcome::Ran(_)), "{o:?}");
    // The recovery key no longer authenticates anything.
    let read = st.unit(8, 1, &FN_LINK_RECOVERY_CHALLENGE.to_be_bytes());
    let (o, _) = st.run(&mut n, &read);
    assert!(matches!(o, UnitOutcome::Refused(_)), "{o:?}");
}

#[test]
fn a_key_recovery_that_cannot_be_written_leaves_the_keys_lost() {
    use comms::sdls::key_recovery::{RECOVERY_SPI, recovery_provisioning};
    let rk = [0x5a; 32];
    let challenge = <[u8; 16]>::try_from(hex_bytes(CHALLENGE).as_slice()).unwrap();
    // The first write (the floors) fails: nothing changes, the recovery can be sent again.
    let (cfg, routes) = config();
    let mut n = Node::boot_lost_keys(cfg, &rk, MemoryPersist::default(), routes).unwrap();
    let mut st = Station::on(&recovery_provisioning(&rk).unwrap(), RECOVERY_SPI);
    let body = key_recovery_body(&rk, challenge, &new_keys_file());
    send(&mut st, &mut n, &body);
    n.persist_mut().fail_next = 1;
    let down = st.respond(&mut n, AdminOutcome::LinkRecoveryVerified);
    assert_eq!(failure(&down), Some(FailureCode::PersistFailed));
    assert!(n.recovering_keys());
    assert!(n.persist_mut().key_record().is_none());
    assert_eq!(n.security().telemetry_spi(), RECOVERY_SPI);
    // Sent again (the signer verified a fresh challenge): it lands.
    send(&mut st, &mut n, &body);
    let down = st.respond(&mut n, AdminOutcome::LinkRecoveryVerified);
    assert!(down.iter().any(|d| d.0 == 1 && d.1 == 7), "{down:?}");
    assert!(!n.recovering());
    assert_eq!(
        n.persist_mut().key_record(),
        Some(new_keys_file().as_slice())
    );
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
