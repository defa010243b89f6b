//! The standby link with addresses other than the defaults (a description's `[standby-link]`):
//! the node's line with them and the ground's line with the defaults (as `spacenode ground
//! --link serial:` runs it) on a real pty pair. The ground's client takes the addresses the
//! node assigns in IPCP, and SDLS-sized units cross both ways in UDP between those addresses.

use board_sim::serial::PtySerial;
use comms::standby::{Endpoints, StandbyLine, StandbyLink, Step};
use std::time::{Duration, Instant};

#[test]
fn a_ground_with_the_default_addresses_takes_the_ones_the_node_assigns() {
    let node_settings = StandbyLink {
        node_ip: [192, 168, 7, 1],
        ground_ip: [192, 168, 7, 2],
        ..StandbyLink::DEFAULT
    };
    let (mut node_end, mut ground_end, _path) = PtySerial::pair().expect("pty pair");
    let node_ep = Endpoints::node(&node_settings);
    let mut node = StandbyLine::new(node_ep, node_ep.ppp_config(1, &node_settings), 0).unwrap();
    let ground_ep = Endpoints::GROUND;
    let mut ground =
        StandbyLine::new(ground_ep, ground_ep.ppp_config(2, &StandbyLink::DEFAULT), 0).unwrap();
    let start = Instant::now();
    let now = || start.elapsed().as_millis() as u64;
    while !(node.is_up() && ground.is_up()) {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "PPP did not come up"
        );
        node.poll(&mut node_end, now());
        ground.poll(&mut ground_end, now());
        node.step(&mut node_end, now());
        ground.step(&mut ground_end, now());
        std::thread::sleep(Duration::from_millis(2));
    }
    let g = ground.endpoints();
    assert_eq!(
        (g.local_ip, g.peer_ip),
        ([192, 168, 7, 2], [192, 168, 7, 1])
    );
    let unit: Vec<u8> = (0..300u16).map(|i| i as u8).collect();
    ground.send(&mut ground_end, &unit).expect("send up");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < deadline, "the unit did not reach the node");
        ground.poll(&mut ground_end, now());
        if node.step(&mut node_end, now()) == Step::Unit {
            break;
        }
    }
    assert_eq!(node.unit(), &unit[..]);
    node.send(&mut node_end, &unit[..100]).expect("send down");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(
            Instant::now() < deadline,
            "the unit did not reach the ground"
        );
        node.poll(&mut node_end, now());
        if ground.step(&mut ground_end, now()) == Step::Unit {
            break;
        }
    }
    assert_eq!(ground.unit(), &unit[..100]);
    assert_eq!(node.stats().datagrams_dropped, 0);
    assert_eq!(ground.stats().datagrams_dropped, 0);
}
