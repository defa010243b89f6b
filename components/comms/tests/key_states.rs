//! Key states (CCSDS 355.1: pre-activation, active, deactivated) through the node: activate
//! (130,7) and deactivate (130,8) as authenticated telecommands, what each state lets through,
//! the key-in-use rule, replay, and the sealed key set the node asks its backend to commit; and
//! OTAR (130,6): new keys wrapped under the KEK, installed in pre-activation, each refusal.

use comms::dedup::Progress;
use comms::failure::FailureCode;
use comms::ground::Ground;
use comms::link::FailoverConfig;
use comms::node::{
    Downlink, ForwardError, Forwarder, Node, NodeConfig, Now, Outbound, UnitOutcome,
};
use comms::pus::event::EV_KEY_STATE;
use comms::router::RouteTable;
use comms::sdls::otar;
use comms::sdls::{
    Kek, Key, KeyState, ManageError, MemoryPersist, OtarKey, Permissions, ProvisionedSa,
    Provisioning, SecurityEngine, UplinkReject,
};
use hal::time::Instant;
use protocol::LinkId;

const APID: u16 = 0x0A0;
/// Everything allowed, telemetry goes out under it.
const OPS: u16 = 0x0101;
/// Ping and housekeeping only.
const PING_ONLY: u16 = 0x0202;
/// A spare operator key, provisioned in pre-activation.
const SPARE: u16 = 0x0303;

fn sa(spi: u16, permissions: Permissions, telemetry: bool, state: KeyState) -> ProvisionedSa {
    ProvisionedSa {
        spi,
        permissions,
        window: 8,
        telemetry,
        master: Key::from_bytes([spi as u8; 32]),
        state,
        suite: comms::sdls::Suite::Aes256Gcm,
        key_id: 0,
    }
}

fn file() -> Vec<u8> {
    let sas = [
        sa(OPS, Permissions::ALL, true, KeyState::Active),
        sa(PING_ONLY, Permissions::TEST, false, KeyState::Active),
        sa(SPARE, Permissions::ALL, false, KeyState::PreActive),
    ];
    let mut buf = vec![0u8; Provisioning::encoded_len(3)];
    Provisioning::encode(&sas, &mut buf).unwrap();
    buf
}

fn boot(file: &[u8]) -> Node<MemoryPersist> {
    let cfg = NodeConfig {
        apid: APID,
        reserve_block: 16,
        failover: FailoverConfig::default(),
        auth_event_period_ms: 1000,
    };
    let p = Provisioning::parse(file).unwrap();
    Node::boot(cfg, &p, MemoryPersist::default(), RouteTable::build([])).unwrap()
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

struct NoChannels;
impl Forwarder for NoChannels {
    fn forward(&mut self, _: usize, _: Outbound<'_>) -> Result<(), ForwardError> {
        Err(ForwardError::Full)
    }
}

struct Link {
    node: Node<MemoryPersist>,
    ground: Ground,
}

impl Link {
    fn new(file: &[u8]) -> Link {
        let ground = Ground::new(&Provisioning::parse(file).unwrap(), None, APID).unwrap();
        Link {
            node: boot(file),
            ground,
        }
    }

    /// Send one TC; the unit, the outcome and the events' (id, aux) downlinked.
    fn tc(&mut self, spi: u16, sst: u8, app: &[u8]) -> (Vec<u8>, UnitOutcome, Vec<Vec<u8>>) {
        let st = if sst == 1 && app.is_empty() { 17 } else { 130 };
        let mut unit = [0u8; 256];
        let (len, _) = self.ground.uplink(spi, st, sst, 1, app, &mut unit).unwrap();
        let unit = unit[..len].to_vec();
        let (o, events) = self.deliver(&unit);
        (unit, o, events)
    }

    fn deliver(&mut self, unit: &[u8]) -> (UnitOutcome, Vec<Vec<u8>>) {
        let mut sink = Sink::default();
        let o = self
            .node
            .on_unit(LinkId::Primary, unit, now(), &mut NoChannels, &mut sink);
        let events = sink
            .0
            .iter()
            .filter_map(|u| {
                let d = self.ground.downlink(u).unwrap();
                (d.tm.service == 5).then(|| d.tm.source.to_vec())
            })
            .collect();
        (o, events)
    }

    fn ping(&mut self, spi: u16) -> UnitOutcome {
        self.tc(spi, 1, &[]).1
    }
}

fn completed(o: &UnitOutcome) -> bool {
    matches!(o, UnitOutcome::Ran(Progress::Completed))
}

fn failed_with(o: &UnitOutcome) -> Option<(FailureCode, u32)> {
    match o {
        UnitOutcome::Ran(Progress::CompletionFailed(f)) => Some((f.code, f.data)),
        _ => None,
    }
}

fn state_in(record: &[u8], spi: u16) -> KeyState {
    Provisioning::parse(record)
        .unwrap()
        .associations()
        .find(|s| s.spi == spi)
        .unwrap()
        .state
}

#[test]
fn activation_makes_a_pre_activation_key_usable_and_is_sealed_for_the_next_boot() {
    let mut l = Link::new(&file());
    assert_eq!(
        l.ping(SPARE),
        UnitOutcome::Refused(UplinkReject::KeyNotActive {
            spi: SPARE,
            state: KeyState::PreActive
        })
    );
    assert!(l.node.persist_mut().key_record().is_none());
    let (_, o, events) = l.tc(OPS, 7, &SPARE.to_be_bytes());
    assert!(completed(&o), "{o:?}");
    let ev: Vec<u8> = [&EV_KEY_STATE.to_be_bytes()[..], &SPARE.to_be_bytes(), &[0]].concat();
    assert!(events.iter().any(|e| e.starts_with(&ev)), "{events:?}");
    let record = l.node.persist_mut().key_record().unwrap().to_vec();
    assert_eq!(state_in(&record, SPARE), KeyState::Active);
    assert_eq!(state_in(&record, OPS), KeyState::Active);
    assert!(completed(&l.ping(SPARE)));
    // What the node asked to seal is what the next boot runs with.
    let mut rebooted = Link::new(&record);
    assert!(completed(&rebooted.ping(SPARE)));
    let (_, o, _) = rebooted.tc(OPS, 7, &SPARE.to_be_bytes());
    assert_eq!(
        failed_with(&o),
        Some((FailureCode::KeyStateRefused, 0x0000))
    );
}

#[test]
fn deactivation_retires_a_key_for_good_and_never_the_key_in_use() {
    let mut l = Link::new(&file());
    assert!(completed(&l.ping(PING_ONLY)));
    // The key that carries the command: refused, nothing written.
    let (_, o, _) = l.tc(OPS, 8, &OPS.to_be_bytes());
    assert_eq!(
        failed_with(&o),
        Some((FailureCode::KeyInUse, u32::from(OPS)))
    );
    assert!(l.node.persist_mut().key_record().is_none());
    assert!(completed(&l.tc(OPS, 7, &SPARE.to_be_bytes()).1));
    let (_, o, _) = l.tc(SPARE, 8, &SPARE.to_be_bytes());
    assert_eq!(
        failed_with(&o),
        Some((FailureCode::KeyInUse, u32::from(SPARE)))
    );
    // The telemetry key, from another key: telemetry moves to that key in the same write.
    assert_eq!(l.node.security().telemetry_spi(), OPS);
    let (_, o, _) = l.tc(SPARE, 8, &OPS.to_be_bytes());
    assert!(completed(&o), "{o:?}");
    assert_eq!(l.node.security().telemetry_spi(), SPARE);
    let record = l.node.persist_mut().key_record().unwrap().to_vec();
    let p = Provisioning::parse(&record).unwrap();
    let tele: Vec<u16> = p
        .associations()
        .filter(|s| s.telemetry)
        .map(|s| s.spi)
        .collect();
    assert_eq!(tele, vec![SPARE]);
    assert!(matches!(
        l.ping(OPS),
        UnitOutcome::Refused(UplinkReject::KeyNotActive { spi: OPS, .. })
    ));
    // Without key-management permission: refused at acceptance.
    let (_, o, _) = l.tc(PING_ONLY, 8, &PING_ONLY.to_be_bytes());
    assert!(matches!(o, UnitOutcome::Rejected(f) if f.code == FailureCode::Unauthorised));
    // Another association's key: deactivated, and from then on nothing under it passes.
    let (_, o, _) = l.tc(SPARE, 8, &PING_ONLY.to_be_bytes());
    assert!(completed(&o), "{o:?}");
    assert_eq!(
        l.ping(PING_ONLY),
        UnitOutcome::Refused(UplinkReject::KeyNotActive {
            spi: PING_ONLY,
            state: KeyState::Deactivated
        })
    );
    let record = l.node.persist_mut().key_record().unwrap().to_vec();
    assert_eq!(state_in(&record, PING_ONLY), KeyState::Deactivated);
    // Forward only: never active again, never deactivated twice.
    let (_, o, _) = l.tc(SPARE, 7, &PING_ONLY.to_be_bytes());
    assert_eq!(
        failed_with(&o),
        Some((FailureCode::KeyStateRefused, 0x0200))
    );
    let (_, o, _) = l.tc(SPARE, 8, &PING_ONLY.to_be_bytes());
    assert_eq!(
        failed_with(&o),
        Some((FailureCode::KeyStateRefused, 0x0202))
    );
    let (_, o, _) = l.tc(SPARE, 7, &0x0999u16.to_be_bytes());
    assert_eq!(failed_with(&o), Some((FailureCode::UnknownSpi, 0x0999)));
    let (_, o, _) = l.tc(SPARE, 7, &[1, 2, 3]);
    assert!(matches!(o, UnitOutcome::Rejected(f) if f.code == FailureCode::BadAppData));
    // After a reboot on the sealed set it stays deactivated.
    let mut rebooted = Link::new(&record);
    for retired in [PING_ONLY, OPS] {
        assert!(matches!(
            rebooted.ping(retired),
            UnitOutcome::Refused(UplinkReject::KeyNotActive { .. })
        ));
    }
    assert!(completed(&rebooted.ping(SPARE)));
    assert_eq!(rebooted.node.security().telemetry_spi(), SPARE);
}

/// 130,1 of the association the command came under: its reports go out under the old epoch
/// (the ground that sent it reads them: `deliver` opens every downlink), then both ends run on
/// the new one.
#[test]
fn the_carrier_rotates_itself_and_answers_under_the_old_epoch() {
    let mut l = Link::new(&file());
    let mut app = OPS.to_be_bytes().to_vec();
    app.extend_from_slice(&1u32.to_be_bytes());
    let (_, o, events) = l.tc(OPS, 1, &app);
    assert!(completed(&o), "{o:?}");
    assert_eq!(events.len(), 1, "the rotation event");
    assert_eq!(l.node.security().status(OPS).unwrap().epoch, 1);
    l.ground.rotate(OPS, 1).unwrap();
    assert!(completed(&l.ping(OPS)), "both ends at epoch 1");
}

/// CCSDS 355.1's "destroyed": only a deactivated key is destroyed (130,9); its bytes are erased
/// in the resealed record and in memory, it verifies nothing, it stays destroyed across a
/// reboot, and only an OTAR (a new key) brings the association back.
#[test]
fn a_deactivated_key_is_destroyed_and_its_bytes_erased() {
    let mut l = Link::new(&file());
    let (_, o, _) = l.tc(OPS, 9, &PING_ONLY.to_be_bytes());
    assert_eq!(
        failed_with(&o),
        Some((FailureCode::KeyStateRefused, 0x0003)),
        "an active key is deactivated first"
    );
    assert!(l.node.persist_mut().key_record().is_none());
    assert!(completed(&l.tc(OPS, 8, &PING_ONLY.to_be_bytes()).1));
    let (_, o, _) = l.tc(OPS, 9, &PING_ONLY.to_be_bytes());
    assert!(completed(&o), "{o:?}");
    let record = l.node.persist_mut().key_record().unwrap().to_vec();
    assert_eq!(state_in(&record, PING_ONLY), KeyState::Destroyed);
    let p = Provisioning::parse(&record).unwrap();
    let destroyed = p.associations().find(|s| s.spi == PING_ONLY).unwrap();
    assert_eq!(destroyed.master, Key::from_bytes([0; 32]), "erased");
    assert!(
        !record.windows(32).any(|w| w == [PING_ONLY as u8; 32]),
        "the old key's bytes are gone from the record"
    );
    assert_eq!(
        l.node.security().key_state(PING_ONLY),
        Some(KeyState::Destroyed)
    );
    // Never twice, never back, nothing to verify.
    let (_, o, _) = l.tc(OPS, 9, &PING_ONLY.to_be_bytes());
    assert_eq!(
        failed_with(&o),
        Some((FailureCode::KeyStateRefused, 0x0303))
    );
    let (_, o, _) = l.tc(OPS, 7, &PING_ONLY.to_be_bytes());
    assert_eq!(
        failed_with(&o),
        Some((FailureCode::KeyStateRefused, 0x0300))
    );
    let mut verify = PING_ONLY.to_be_bytes().to_vec();
    verify.extend_from_slice(&[7; 16]);
    let (_, o, _) = l.tc(OPS, 4, &verify);
    assert_eq!(
        failed_with(&o),
        Some((FailureCode::KeyStateRefused, 0x0300))
    );
    // After a reboot on the sealed set it stays destroyed and refuses every unit.
    let mut rebooted = Link::new(&record);
    assert_eq!(
        rebooted.ping(PING_ONLY),
        UnitOutcome::Refused(UplinkReject::KeyNotActive {
            spi: PING_ONLY,
            state: KeyState::Destroyed
        })
    );
    assert!(completed(&rebooted.ping(OPS)));
}

#[test]
fn a_replayed_activation_or_deactivation_is_refused_and_changes_nothing() {
    let mut l = Link::new(&file());
    let (activate, o, _) = l.tc(OPS, 7, &SPARE.to_be_bytes());
    assert!(completed(&o));
    let (deactivate, o, _) = l.tc(OPS, 8, &SPARE.to_be_bytes());
    assert!(completed(&o));
    let saves = l.node.persist_mut().saves;
    let record = l.node.persist_mut().key_record().unwrap().to_vec();
    for unit in [&activate, &deactivate] {
        let (o, events) = l.deliver(unit);
        assert!(
            matches!(
                o,
                UnitOutcome::Refused(UplinkReject::Replay { spi: OPS, .. })
            ),
            "{o:?}"
        );
        assert!(
            events
                .iter()
                .all(|e| !e.starts_with(&EV_KEY_STATE.to_be_bytes()))
        );
    }
    assert_eq!(l.node.persist_mut().saves, saves);
    assert_eq!(l.node.persist_mut().key_record().unwrap(), &record[..]);
    assert_eq!(
        l.node.security().key_state(SPARE),
        Some(KeyState::Deactivated)
    );
}

#[test]
fn a_key_record_that_cannot_be_written_changes_no_state() {
    let p = Provisioning::parse(&file()).unwrap();
    let mut persist = MemoryPersist::default();
    let mut e = SecurityEngine::boot(&p, &mut persist, 16).unwrap();
    persist.fail_next = 1;
    assert_eq!(
        e.set_key_state(SPARE, KeyState::Active, OPS, &mut persist),
        Err(ManageError::PersistFailed)
    );
    assert_eq!(e.key_state(SPARE), Some(KeyState::PreActive));
    assert!(persist.key_record().is_none());
    e.set_key_state(SPARE, KeyState::Active, OPS, &mut persist)
        .unwrap();
    assert_eq!(e.key_state(SPARE), Some(KeyState::Active));
}

// OTAR (TC 130,6): new master keys wrapped under the key-encryption key.

const MKID: u16 = 1;

fn kek(last_kid: u16) -> Kek {
    Kek {
        mkid: MKID,
        last_kid,
        key: Key::from_bytes([0x4B; 32]),
    }
}

/// `file()` in provisioning version 2: the same associations and a KEK.
fn file_with_kek() -> Vec<u8> {
    let p = Provisioning::parse(&file()).unwrap();
    let sas: Vec<ProvisionedSa> = p.associations().cloned().collect();
    let mut buf = vec![0u8; Provisioning::encoded_len_kek(sas.len())];
    Provisioning::encode_file(&sas, Some(&kek(0)), &mut buf).unwrap();
    buf
}

fn otar(k: &Kek, keys: &[(u16, u16, u8)]) -> Vec<u8> {
    let keys: Vec<OtarKey> = keys
        .iter()
        .map(|&(spi, kid, b)| OtarKey {
            spi,
            kid,
            key: Key::from_bytes([b; 32]),
        })
        .collect();
    let mut out = vec![0u8; otar::MAX_PDU_LEN];
    let n = otar::wrap(k, &[0x11; otar::IV_LEN], &keys, &mut out).unwrap();
    out.truncate(n);
    out
}

#[test]
fn otar_installs_a_new_key_in_pre_activation_that_works_once_activated_and_after_a_reboot() {
    let mut l = Link::new(&file_with_kek());
    let pdu = otar(&kek(0), &[(SPARE, 200, 0x77)]);
    let (_, o, events) = l.tc(OPS, 6, &pdu);
    assert!(completed(&o), "{o:?}");
    let ev: Vec<u8> = [&EV_KEY_STATE.to_be_bytes()[..], &SPARE.to_be_bytes(), &[1]].concat();
    assert!(events.iter().any(|e| e.starts_with(&ev)), "{events:?}");
    let record = l.node.persist_mut().key_record().unwrap().to_vec();
    let sealed = Provisioning::parse(&record).unwrap();
    assert_eq!(sealed.kek().unwrap().last_kid, 200);
    let spare = sealed.associations().find(|s| s.spi == SPARE).unwrap();
    assert_eq!(spare.master, Key::from_bytes([0x77; 32]));
    assert_eq!(spare.state, KeyState::PreActive);
    // Our ground still holds the old spare key: refused on the MAC, before anything else.
    assert!(matches!(
        l.ping(SPARE),
        UnitOutcome::Refused(UplinkReject::BadMac { spi: SPARE })
    ));
    // The ground follows the OTAR with the same checks, and gets the same key set.
    let ours = l.ground.install_keys(&pdu).unwrap().to_vec();
    assert_eq!(
        Provisioning::parse(&ours)
            .unwrap()
            .associations()
            .find(|s| s.spi == SPARE)
            .unwrap()
            .master,
        Key::from_bytes([0x77; 32])
    );
    // Pre-activation: nothing passes under the new key until it is activated.
    assert!(matches!(
        l.ping(SPARE),
        UnitOutcome::Refused(UplinkReject::KeyNotActive { .. })
    ));
    assert!(completed(&l.tc(OPS, 7, &SPARE.to_be_bytes()).1));
    assert!(completed(&l.ping(SPARE)));
    // What the node sealed boots the next node with the new key.
    let record = l.node.persist_mut().key_record().unwrap().to_vec();
    let mut rebooted = Link::new(&record);
    assert!(completed(&rebooted.ping(SPARE)));
    assert_eq!(
        rebooted.node.security().key_state(SPARE),
        Some(KeyState::Active)
    );
}

#[test]
fn otar_refusals_change_nothing() {
    let mut l = Link::new(&file_with_kek());
    let refused = |l: &mut Link, app: &[u8]| {
        let (_, o, _) = l.tc(OPS, 6, app);
        assert!(l.node.persist_mut().key_record().is_none(), "{o:?}");
        failed_with(&o)
    };
    // Into an active association (OPS carries the command: the key in use).
    for active in [OPS, PING_ONLY] {
        assert_eq!(
            refused(&mut l, &otar(&kek(0), &[(active, 200, 0x77)])),
            Some((FailureCode::OtarKeyActive, u32::from(active)))
        );
    }
    // Wrapped under another KEK; another MKID; damaged; too short.
    let mut wrong = kek(0);
    wrong.key = Key::from_bytes([0x4C; 32]);
    let pdu = otar(&wrong, &[(SPARE, 200, 0x77)]);
    assert_eq!(refused(&mut l, &pdu), Some((FailureCode::OtarBadWrap, 0)));
    wrong.mkid = 9;
    let pdu = otar(&wrong, &[(SPARE, 200, 0x77)]);
    assert_eq!(
        refused(&mut l, &pdu),
        Some((FailureCode::OtarWrongMkid, u32::from(MKID)))
    );
    let mut pdu = otar(&kek(0), &[(SPARE, 200, 0x77)]);
    pdu[20] ^= 1;
    assert_eq!(refused(&mut l, &pdu), Some((FailureCode::OtarBadWrap, 0)));
    // A length no OTAR has: refused at acceptance (1,2), like any malformed argument.
    let (_, o, _) = l.tc(OPS, 6, &pdu[..40]);
    assert!(
        matches!(o, UnitOutcome::Rejected(f) if f.code == FailureCode::BadAppData && f.data == 40),
        "{o:?}"
    );
    // KID 0 is never new; an unknown association.
    assert_eq!(
        refused(&mut l, &otar(&kek(0), &[(SPARE, 0, 0x77)])),
        Some((FailureCode::OtarKidNotNew, 0))
    );
    assert_eq!(
        refused(&mut l, &otar(&kek(0), &[(0x0999, 200, 0x77)])),
        Some((FailureCode::UnknownSpi, 0x0999))
    );
    // A node provisioned without a KEK (version 1) cannot take keys over the air.
    let mut v1 = Link::new(&file());
    assert_eq!(
        refused(&mut v1, &otar(&kek(0), &[(SPARE, 200, 0x77)])),
        Some((FailureCode::OtarNoKek, 0))
    );
}

#[test]
fn a_replayed_otar_is_refused_and_an_old_otar_never_puts_back_a_replaced_key() {
    let mut l = Link::new(&file_with_kek());
    let first = otar(&kek(0), &[(SPARE, 200, 0x77)]);
    let (unit, o, _) = l.tc(OPS, 6, &first);
    assert!(completed(&o), "{o:?}");
    let record = l.node.persist_mut().key_record().unwrap().to_vec();
    // The same unit again: refused by its ARSN before anything runs.
    let (o, _) = l.deliver(&unit);
    assert!(
        matches!(
            o,
            UnitOutcome::Refused(UplinkReject::Replay { spi: OPS, .. })
        ),
        "{o:?}"
    );
    // A second key, then the first OTAR again in a fresh unit (as someone holding OPS's
    // key could send it): its KID is no longer new.
    let (_, o, _) = l.tc(OPS, 6, &otar(&kek(200), &[(SPARE, 201, 0x78)]));
    assert!(completed(&o), "{o:?}");
    let (_, o, _) = l.tc(OPS, 6, &first);
    assert_eq!(failed_with(&o), Some((FailureCode::OtarKidNotNew, 201)));
    let sealed = l.node.persist_mut().key_record().unwrap().to_vec();
    assert_ne!(sealed, record);
    let spare = Provisioning::parse(&sealed)
        .unwrap()
        .associations()
        .find(|s| s.spi == SPARE)
        .cloned()
        .unwrap();
    assert_eq!(spare.master, Key::from_bytes([0x78; 32]));
    assert_eq!(
        Provisioning::parse(&sealed)
            .unwrap()
            .kek()
            .unwrap()
            .last_kid,
        201
    );
}

#[test]
fn an_otar_whose_record_cannot_be_written_changes_no_key() {
    let p = Provisioning::parse(&file_with_kek()).unwrap();
    let mut persist = MemoryPersist::default();
    let mut e = SecurityEngine::boot(&p, &mut persist, 16).unwrap();
    let pdu = otar(&kek(0), &[(SPARE, 200, 0x77)]);
    let before = e.verify_answer(SPARE, &[0; 16]).unwrap();
    persist.fail_next = 1;
    assert_eq!(
        e.install_keys(&pdu, &mut persist),
        Err(ManageError::PersistFailed)
    );
    assert_eq!(e.verify_answer(SPARE, &[0; 16]).unwrap(), before);
    assert!(persist.key_record().is_none());
    // Nothing moved: the same OTAR (same KID) is still new, and goes in now.
    e.install_keys(&pdu, &mut persist).unwrap();
    assert_ne!(e.verify_answer(SPARE, &[0; 16]).unwrap(), before);
}
