//! The sim radio and its channel: seeded loss is reproducible and has the configured rate, and
//! frames that get through arrive whole, in order, exactly as the loss model predicts.

use board_sim::link::{Direction, LinkConfig, LinkEmulator, LossModel};
use board_sim::radio::{RadioSetupError, UdpRadio};
use hal::radio::{Radio, RadioError};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn lo() -> SocketAddr {
    "127.0.0.1:0".parse().expect("addr")
}

#[test]
fn the_same_seed_gives_the_same_loss_pattern_and_other_seeds_differ() {
    let a = LossModel::new(42, 250_000);
    let b = LossModel::new(42, 250_000);
    let c = LossModel::new(43, 250_000);
    let pat = |m: &LossModel, d| (0..5_000u64).map(|i| m.drops(d, i)).collect::<Vec<_>>();
    assert_eq!(pat(&a, Direction::Uplink), pat(&b, Direction::Uplink));
    assert_eq!(pat(&a, Direction::Downlink), pat(&b, Direction::Downlink));
    assert_ne!(pat(&a, Direction::Uplink), pat(&c, Direction::Uplink));
    assert_ne!(pat(&a, Direction::Uplink), pat(&a, Direction::Downlink));
}

#[test]
fn the_loss_rate_is_within_statistical_bounds_over_many_frames() {
    const N: u64 = 200_000;
    for (seed, ppm) in [
        (1u64, 100_000u32),
        (2, 500_000),
        (3, 10_000),
        (0xFEED, 300_000),
    ] {
        let m = LossModel::new(seed, ppm);
        for dir in [Direction::Uplink, Direction::Downlink] {
            let lost = (0..N).filter(|&i| m.drops(dir, i)).count() as f64;
            let p = f64::from(ppm) / 1e6;
            let mean = N as f64 * p;
            let sd = (N as f64 * p * (1.0 - p)).sqrt();
            assert!(
                (lost - mean).abs() < 5.0 * sd,
                "seed {seed} ppm {ppm}: {lost} vs {mean}±{sd}"
            );
            // No long runs: the longest burst of losses at 10% is far below 20.
            if ppm == 100_000 {
                let mut run = 0;
                let mut longest = 0;
                for i in 0..N {
                    run = if m.drops(dir, i) { run + 1 } else { 0 };
                    longest = longest.max(run);
                }
                assert!(longest < 20, "burst of {longest}");
            }
        }
    }
}

struct Ends {
    node: UdpRadio,
    ground: UdpRadio,
    link: LinkEmulator,
}

fn ends(cfg: LinkConfig) -> Ends {
    let mut node = UdpRadio::bind(lo(), 256).expect("node radio");
    let mut ground = UdpRadio::bind(lo(), 256).expect("ground radio");
    let link = LinkEmulator::start(
        node.local_addr().expect("addr"),
        ground.local_addr().expect("addr"),
        cfg,
    )
    .expect("link");
    node.connect(link.node_side()).expect("connect");
    ground.connect(link.ground_side()).expect("connect");
    Ends { node, ground, link }
}

/// Send `n` numbered frames from `tx` to `rx` in batches, waiting for each batch's predicted
/// survivors; return the indices received, in order.
fn transfer(
    tx: &mut UdpRadio,
    rx: &mut UdpRadio,
    model: &LossModel,
    dir: Direction,
    n: u32,
) -> Vec<u32> {
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    for start in (0..n).step_by(25) {
        let end = (start + 25).min(n);
        for i in start..end {
            let mut frame = [0u8; 40];
            frame[..4].copy_from_slice(&i.to_le_bytes());
            frame[4..].fill(i as u8);
            tx.try_send(&frame).expect("send");
        }
        let expect_total = (0..end)
            .filter(|&i| !model.drops(dir, u64::from(i)))
            .count();
        // Bounded wait (a failure guard, not a timing assertion): the frames are on loopback.
        let guard = Instant::now();
        while got.len() < expect_total && guard.elapsed() < Duration::from_secs(20) {
            match rx.try_recv(&mut buf).expect("recv") {
                Some(len) => {
                    assert_eq!(len, 40, "frames arrive whole");
                    let i = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes"));
                    assert!(buf[4..40].iter().all(|&b| b == i as u8), "payload intact");
                    got.push(i);
                }
                None => std::thread::sleep(Duration::from_micros(200)),
            }
        }
    }
    got
}

#[test]
fn frames_through_the_link_follow_the_seeded_loss_model_exactly_both_ways() {
    let cfg = LinkConfig {
        seed: 7,
        loss_ppm: 200_000,
        latency: Duration::from_millis(1),
        bandwidth_bps: Some(20_000_000),
        ..LinkConfig::default()
    };
    let model = LossModel::new(cfg.seed, cfg.loss_ppm);
    let mut runs = Vec::new();
    for _ in 0..2 {
        let mut e = ends(cfg);
        let down = transfer(&mut e.node, &mut e.ground, &model, Direction::Downlink, 400);
        let up = transfer(&mut e.ground, &mut e.node, &model, Direction::Uplink, 400);
        let want_down: Vec<u32> = (0..400)
            .filter(|&i| !model.drops(Direction::Downlink, u64::from(i)))
            .collect();
        let want_up: Vec<u32> = (0..400)
            .filter(|&i| !model.drops(Direction::Uplink, u64::from(i)))
            .collect();
        assert_eq!(down, want_down);
        assert_eq!(up, want_up);
        assert_eq!(e.link.downlink().arrived.load(Ordering::Relaxed), 400);
        assert_eq!(
            e.link.downlink().lost.load(Ordering::Relaxed),
            400 - want_down.len() as u64
        );
        assert_eq!(e.link.uplink().overflow.load(Ordering::Relaxed), 0);
        runs.push((down, up));
    }
    assert_eq!(runs[0], runs[1], "same seed, same frames, every run");
    // Roughly 20% lost (320 expected survivors of 400; 5 sd is about 40).
    assert!(
        (280..=360).contains(&runs[0].0.len()),
        "{}",
        runs[0].0.len()
    );
}

#[test]
fn frames_from_strangers_are_not_relayed() {
    let mut e = ends(LinkConfig::default());
    let stranger = std::net::UdpSocket::bind(lo()).expect("bind");
    stranger
        .send_to(b"forged", e.link.ground_side())
        .expect("send");
    e.ground.try_send(b"real").expect("send");
    let mut buf = [0u8; 256];
    let guard = Instant::now();
    let mut got = None;
    while got.is_none() && guard.elapsed() < Duration::from_secs(20) {
        got = e.node.try_recv(&mut buf).expect("recv");
        if got.is_none() {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    assert_eq!(got.map(|n| &buf[..n]), Some(&b"real"[..]));
    // The forged frame was sent first; it is counted, never delivered.
    let guard = Instant::now();
    while e.link.uplink().foreign.load(Ordering::Relaxed) == 0
        && guard.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(e.link.uplink().foreign.load(Ordering::Relaxed), 1);
    assert_eq!(e.node.try_recv(&mut buf).expect("recv"), None);
}

#[test]
fn radio_refusals_are_typed() {
    let mut r = UdpRadio::bind(lo(), 64).expect("radio");
    assert!(matches!(r.try_send(&[]), Err(RadioError::EmptyFrame)));
    assert!(matches!(
        r.try_send(&[0; 65]),
        Err(RadioError::FrameTooLong { len: 65, mtu: 64 })
    ));
    assert!(matches!(
        r.try_recv(&mut [0; 63]),
        Err(RadioError::BufferTooSmall { len: 63, mtu: 64 })
    ));
    assert!(matches!(r.try_recv(&mut [0; 64]), Ok(None)));
    assert!(matches!(
        UdpRadio::bind("0.0.0.0:0".parse().expect("addr"), 64),
        Err(RadioSetupError::NotLoopback(_))
    ));
    assert!(matches!(
        r.connect("192.0.2.1:9".parse().expect("addr")),
        Err(RadioSetupError::NotLoopback(_))
    ));
    assert!(matches!(
        UdpRadio::bind(lo(), 0),
        Err(RadioSetupError::BadMtu(0))
    ));
    // Oversized frames from the peer are dropped and counted, never truncated.
    let peer = std::net::UdpSocket::bind(lo()).expect("bind");
    r.connect(peer.local_addr().expect("addr"))
        .expect("connect");
    peer.connect(r.local_addr().expect("addr"))
        .expect("connect");
    peer.send(&[1; 100]).expect("send big");
    peer.send(&[2; 10]).expect("send small");
    let mut buf = [0u8; 64];
    let guard = Instant::now();
    let mut got = None;
    while got.is_none() && guard.elapsed() < Duration::from_secs(20) {
        got = r.try_recv(&mut buf).expect("recv");
    }
    assert_eq!(got, Some(10));
    assert_eq!(r.oversize_dropped(), 1);
    // Sending with nobody listening is silent loss, not an error.
    drop(peer);
    for _ in 0..3 {
        r.try_send(b"anyone?").expect("lossy send");
    }
}
