//! Link health through the whole node: a flood of forged and replayed units on the primary link
//! is counted but never degrades it or moves the downlink, while a real loss of the primary's
//! authenticated traffic (silence) still fails over to the standby; lost uplink units (sequence
//! gaps) are counted per link in housekeeping structure 2.

mod common;

use common::*;
use comms::ground::Ground;
use comms::link::FailoverConfig;
use comms::node::{Downlink, ForwardError, Forwarder, Node, NodeConfig, Now, Outbound};
use comms::router::RouteTable;
use comms::sdls::MemoryPersist;
use hal::time::Instant;
use protocol::{LinkId, LinkState};

const APID: u16 = 0x0A0;

struct Null;
impl Forwarder for Null {
    fn forward(&mut self, _: usize, _: Outbound<'_>) -> Result<(), ForwardError> {
        Ok(())
    }
}

#[derive(Default)]
struct Sink(Vec<(LinkId, Vec<u8>)>);
impl Downlink for Sink {
    fn send(&mut self, link: LinkId, unit: &[u8]) {
        self.0.push((link, unit.to_vec()));
    }
}

fn at(ms: u64) -> Now {
    Now {
        mono: Instant::from_micros(ms * 1000),
        mission_us: None,
    }
}

fn node() -> Node<MemoryPersist> {
    let cfg = NodeConfig {
        apid: APID,
        reserve_block: 16,
        failover: FailoverConfig::default(),
        auth_event_period_ms: 1000,
    };
    let routes = RouteTable::build(core::iter::empty());
    Node::boot(cfg, &provisioning(), MemoryPersist::default(), routes).unwrap()
}

fn ping(g: &mut Ground) -> Vec<u8> {
    let mut unit = [0u8; 128];
    let (n, _) = g.uplink(OPS, 17, 1, 0, &[], &mut unit).unwrap();
    unit[..n].to_vec()
}

#[test]
fn a_forged_flood_never_fails_over_but_a_silent_primary_does() {
    let mut n = node();
    let mut g = Ground::new(&provisioning(), None, APID).unwrap();
    let mut sink = Sink::default();
    // What the node answers to the pings on the standby line.
    let mut standby_answers = Sink::default();
    let old = ping(&mut g);
    n.on_unit(LinkId::Primary, &old, at(0), &mut Null, &mut sink);
    // 30 s: one real unit per 500 ms on each link, 40 forged and 10 replayed units per 100 ms
    // on the primary (far more refused than accepted units in every window).
    for t in (100..30_000).step_by(100) {
        if t % 500 == 0 {
            let u = ping(&mut g);
            n.on_unit(LinkId::Primary, &u, at(t), &mut Null, &mut sink);
            let u = ping(&mut g);
            n.on_unit(LinkId::Standby, &u, at(t), &mut Null, &mut standby_answers);
        }
        for i in 0..40u8 {
            let mut forged = ping(&mut Ground::new(&provisioning(), None, APID).unwrap());
            let last = forged.len() - 1;
            forged[last] ^= i | 1;
            n.on_unit(LinkId::Primary, &forged, at(t), &mut Null, &mut sink);
        }
        for _ in 0..10 {
            n.on_unit(LinkId::Primary, &old, at(t), &mut Null, &mut sink);
        }
        n.tick(at(t), &mut sink);
        assert_eq!(n.links().active(), LinkId::Primary, "moved at {t} ms");
        assert_eq!(
            n.links().state(LinkId::Primary, at(t).mono),
            LinkState::Up,
            "at {t} ms"
        );
    }
    assert_eq!(n.links().failovers(), 0);
    let st = n.links().status(LinkId::Primary, at(30_000).mono);
    assert!(st.auth_failures >= 299 * 40, "{st:?}");
    assert!(st.duplicates >= 299 * 10, "{st:?}");
    assert!(n.security().counters().bad_mac >= 299 * 40);
    // Every downlink so far went out on the primary, except the answers to the standby's
    // pings: those went back on the standby line, where they were asked.
    assert!(sink.0.iter().all(|(l, _)| *l == LinkId::Primary));
    assert!(!standby_answers.0.is_empty());
    assert!(standby_answers.0.iter().all(|(l, _)| *l == LinkId::Standby));

    // The primary's real traffic stops (the flood goes on): after the silence period the
    // downlink moves to the standby.
    let mut switched_at = None;
    for t in (30_000..45_000).step_by(100) {
        if t % 500 == 0 {
            let u = ping(&mut g);
            n.on_unit(LinkId::Standby, &u, at(t), &mut Null, &mut sink);
        }
        for _ in 0..40 {
            let mut forged = ping(&mut Ground::new(&provisioning(), None, APID).unwrap());
            forged[12] ^= 0x40;
            n.on_unit(LinkId::Primary, &forged, at(t), &mut Null, &mut sink);
        }
        n.tick(at(t), &mut sink);
        if switched_at.is_none() && n.links().active() == LinkId::Standby {
            switched_at = Some(t);
        }
    }
    let t = switched_at.expect("a silent primary fails over");
    assert!(
        t >= 29_500 + FailoverConfig::default().silence_ms,
        "failed over at {t} ms"
    );
    assert_eq!(n.links().failovers(), 1);

    // The downlink is on the standby now. A ground back on the radio whose unit is refused for
    // its sequence number (as after a reboot raised the floor) hears why on the radio, where
    // it asked: the event that tells it the floor goes back on the primary.
    let mut answer = Sink::default();
    n.on_unit(LinkId::Primary, &old, at(45_000), &mut Null, &mut answer);
    assert_eq!(n.links().active(), LinkId::Standby);
    let events: Vec<LinkId> = answer
        .0
        .iter()
        .filter(|(_, u)| g.downlink(u).is_ok_and(|d| d.tm.service == 5))
        .map(|(l, _)| *l)
        .collect();
    assert_eq!(events, vec![LinkId::Primary], "{:?}", answer.0.len());
}

#[test]
fn skipped_uplink_sequence_numbers_are_counted_as_lost_units_of_their_link() {
    let mut n = node();
    let mut g = Ground::new(&provisioning(), None, APID).unwrap();
    let mut sink = Sink::default();
    // Units 1, 3, 4, 7 arrive on the primary (2, 5, 6 lost), 8 on the standby, 10 on the standby.
    let units: Vec<Vec<u8>> = (0..10).map(|_| ping(&mut g)).collect();
    for i in [0, 2, 3, 6] {
        n.on_unit(LinkId::Primary, &units[i], at(0), &mut Null, &mut sink);
    }
    for i in [7, 9] {
        n.on_unit(LinkId::Standby, &units[i], at(0), &mut Null, &mut sink);
    }
    assert_eq!(n.links().gaps(LinkId::Primary), 3);
    assert_eq!(n.links().gaps(LinkId::Standby), 1);
    // Housekeeping structure 2 carries them.
    let mut unit = [0u8; 128];
    let (k, rid) = g.uplink(OPS, 3, 27, 0, &[1, 2], &mut unit).unwrap();
    let mut sink = Sink::default();
    n.on_unit(LinkId::Primary, &unit[..k], at(0), &mut Null, &mut sink);
    let hk = sink
        .0
        .iter()
        .map(|(_, u)| g.downlink(u).unwrap())
        .find(|d| d.tm.service == 3 && d.tm.subservice == 25)
        .map(|d| d.tm.source.to_vec())
        .unwrap_or_else(|| panic!("no structure 2 for {rid:?}"));
    let block = comms::pus::hk::LINK_BLOCK_LEN;
    let gaps = |i: usize| {
        let at = 6 + block * i + 27;
        u32::from_be_bytes(hk[at..at + 4].try_into().unwrap())
    };
    assert_eq!(hk.len(), 6 + 2 * block);
    // Ten pings came before the 3,27 and unit 11 is the 3,27 itself: no new gap.
    assert_eq!((gaps(0), gaps(1)), (3, 1));
}
