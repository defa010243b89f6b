//! The engine against an independent PPP implementation: embassy's `ppproto` client (crates.io),
//! byte for byte over a simulated serial line with latency.

mod common;
use common::*;
use ppp::DownReason;
use ppp::fsm::State;

#[test]
fn lcp_and_ipcp_open_both_ways_and_ip_flows() {
    let mut w = World::new(config(0x1234_5678), 20);
    assert!(
        w.run_until(5_000, World::both_open),
        "not open: {:?}",
        w.node.status()
    );
    let st = w.node.status();
    assert_eq!(st.peer_ip, Some(GROUND_IP));
    let ipv4 = w.client.pppos.status().ipv4.expect("ppproto IPCP up");
    assert_eq!(
        ipv4.address.map(|a| a.octets()),
        Some(GROUND_IP),
        "ppproto took the address we assigned"
    );
    assert_eq!(ipv4.peer_address.map(|a| a.octets()), Some(NODE_IP));
    assert_eq!(ipv4.dns_servers, [None, None], "DNS options rejected");
    // ppproto rejects Magic-Number: no magic on either side.
    assert_eq!((st.magic, st.peer_magic), (0, 0));

    // Uplink: ppproto -> engine, with every octet value in the payload (escaping both ways).
    let payload: Vec<u8> = (0..=255u8).collect();
    let up = datagram(GROUND_IP, NODE_IP, &payload);
    let bytes = w.client.send_ip(&up);
    w.client_sends(bytes);
    // Downlink: engine -> ppproto.
    let down = datagram(NODE_IP, GROUND_IP, b"\x7e\x7d\x11\x13 telemetry");
    w.node.send_ip(&down).expect("network up");
    w.run_until(1_000, |w| {
        !w.node_ip_in.is_empty() && !w.client.ip_in.is_empty()
    });
    assert_eq!(w.node_ip_in, vec![up]);
    assert_eq!(w.client.ip_in, vec![down]);
    let s = w.node.stats();
    assert_eq!((s.fcs_errors, s.bad_frames, s.malformed), (0, 0, 0));
}

#[test]
fn peer_going_away_is_detected_by_echo_and_a_new_peer_is_served() {
    let mut cfg = config(7);
    cfg.echo_interval_ms = 1_000;
    cfg.echo_failure = 3;
    let mut w = World::new(cfg, 20);
    assert!(w.run_until(5_000, World::both_open));
    // While the peer is there, echoes are answered and the link stays up.
    w.run_until(10_000, |_| false);
    assert!(w.both_open());
    assert_eq!(w.node.stats().echo_failures, 0);
    let went = w.now;
    w.up.cut = true;
    w.down.cut = true;
    assert!(w.run_until(10_000, |w| w.node.last_down()
        == Some(DownReason::EchoTimeout)));
    let detected = w.now - went;
    eprintln!(
        "peer gone: detected after {detected} ms, {:?}",
        w.node.stats()
    );
    // 3 unanswered echoes at 1 s intervals, plus the interval that proves silence.
    assert!(
        (3_000..=5_000).contains(&detected),
        "detected after {detected} ms"
    );
    assert_eq!(w.node.status().lcp, State::ReqSent);
    assert!(!w.node.status().network_up);
    // Nobody answers: Max-Configure requests, then Stopped (passive, waiting for the ground).
    assert!(w.run_until(400_000, |w| w.node.status().lcp == State::Stopped));
    // A new ground station connects: served from Stopped.
    w.client = Client::new();
    w.up.cut = false;
    w.down.cut = false;
    assert!(
        w.run_until(5_000, World::both_open),
        "{:?}",
        w.node.status()
    );
}

#[test]
fn a_saturated_link_without_echo_replies_stays_up() {
    // ppp-project/ppp #323/#376: the peer's echo replies are lost, but its data keeps arriving.
    let mut cfg = config(9);
    cfg.echo_interval_ms = 500;
    cfg.echo_failure = 2;
    let mut w = World::new(cfg, 5);
    assert!(w.run_until(5_000, World::both_open));
    w.filter_up = Some(Box::new(|bytes: Vec<u8>| {
        // Drop every LCP Echo-Reply (FF 03 C0 21 0A ...) ppproto sends.
        if frames(&bytes)
            .iter()
            .any(|f| f.starts_with(&[0xFF, 0x03, 0xC0, 0x21, 0x0A]))
        {
            Vec::new()
        } else {
            bytes
        }
    }));
    for i in 0..200u32 {
        let d = datagram(GROUND_IP, NODE_IP, &i.to_be_bytes());
        let bytes = w.client.send_ip(&d);
        w.client_sends(bytes);
        w.run_until(100, |_| false);
    }
    assert_eq!(w.node_ip_in.len(), 200);
    assert!(w.both_open());
    assert_eq!(w.node.stats().echo_failures, 0);
    // Now the data stops too: the link is declared down within echo_failure + 1 intervals.
    let t = w.now;
    assert!(w.run_until(5_000, |w| w.node.last_down()
        == Some(DownReason::EchoTimeout)));
    assert!(w.now - t <= 1_600, "{} ms", w.now - t);
}

#[test]
fn peer_restarting_mid_session_renegotiates() {
    let mut w = World::new(config(11), 20);
    assert!(w.run_until(5_000, World::both_open));
    // The ground restarts its PPP client: a fresh Configure-Request reaches an Opened link.
    w.client = Client::new();
    assert!(
        w.run_until(100, |w| !w.node.status().network_up),
        "link not taken down"
    );
    assert_eq!(w.node.last_down(), Some(DownReason::PeerRenegotiated));
    assert!(
        w.run_until(5_000, World::both_open),
        "{:?}",
        w.node.status()
    );
    let d = datagram(NODE_IP, GROUND_IP, b"after restart");
    w.node.send_ip(&d).unwrap();
    w.run_until(500, |w| !w.client.ip_in.is_empty());
    assert_eq!(w.client.ip_in, vec![d]);
}

#[test]
fn configure_storm_when_latency_exceeds_the_restart_timer_converges() {
    // ppp-project/ppp #434: one-way latency 2.5 s, so the round trip (5 s) exceeds the 3 s
    // Restart timer. Fresh Identifiers drop late Acks; the backed-off timer lets one through.
    let cfg = config(13);
    let mut w = World::new(cfg, 2_500);
    w.tick = 50;
    assert!(
        w.run_until(120_000, World::both_open),
        "{:?} {:?}",
        w.node.status(),
        w.node.cp_stats()
    );
    let (lcp, ipcp) = w.node.cp_stats();
    eprintln!("storm: open after {} ms; LCP {lcp:?}; IPCP {ipcp:?}", w.now);
    assert!(
        lcp.requests_sent <= 5,
        "LCP sent {} Configure-Requests",
        lcp.requests_sent
    );
    assert!(
        ipcp.requests_sent <= 5,
        "IPCP sent {} Configure-Requests",
        ipcp.requests_sent
    );
    assert!(lcp.stale_replies >= 1, "late Acks were seen and dropped");
    // Stays open: no late packet tears it down.
    w.run_until(60_000, |_| false);
    assert!(w.both_open());
}

#[test]
fn garbage_between_frames_is_dropped_and_counted() {
    let mut w = World::new(config(17), 20);
    let mut n = 0u32;
    w.filter_up = Some(Box::new(move |bytes: Vec<u8>| {
        if bytes.is_empty() {
            return bytes;
        }
        n += 1;
        // Line noise before each chunk: bytes, a stray flag, a broken frame, an abort.
        let mut noisy = vec![
            0x00, 0x41, 0xFF, 0x7E, 0x12, 0x34, 0x56, 0x7E, 0xFF, 0x03, 0xC0, 0x7D, 0x7E,
        ];
        noisy.extend(n.to_be_bytes());
        noisy.extend(bytes);
        noisy
    }));
    assert!(
        w.run_until(5_000, World::both_open),
        "{:?}",
        w.node.status()
    );
    let d = datagram(GROUND_IP, NODE_IP, b"through the noise");
    let bytes = w.client.send_ip(&d);
    w.client_sends(bytes);
    w.run_until(500, |w| !w.node_ip_in.is_empty());
    assert_eq!(w.node_ip_in, vec![d]);
    let s = w.node.stats();
    assert!(s.fcs_errors + s.bad_frames >= 3, "{s:?}");
    assert!(s.aborted >= 3, "{s:?}");
}
