//! HDLC round trip and corruption (proptest), and the failover state machine's hysteresis.

use comms::hdlc::{Decoder, Feed, FrameError, encode, max_encoded_len};
use comms::link::{FailoverConfig, LinkManager, RxError, SwitchReason};
use hal::time::Instant;
use proptest::prelude::*;
use protocol::{LinkId, LinkState};

fn decode_all<const N: usize>(d: &mut Decoder<N>, bytes: &[u8]) -> (Vec<Vec<u8>>, Vec<FrameError>) {
    let mut frames = Vec::new();
    let mut errors = Vec::new();
    for &b in bytes {
        match d.feed(b) {
            Feed::Frame(n) => {
                assert_eq!(d.frame().len(), n);
                frames.push(d.frame().to_vec());
            }
            Feed::Dropped(e) => errors.push(e),
            Feed::Pending => {}
        }
    }
    (frames, errors)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip_of_any_frames_with_noise_between(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 1..6),
        idle in 0usize..4,
    ) {
        let mut line = Vec::new();
        for p in &payloads {
            let mut out = vec![0u8; max_encoded_len(p.len())];
            let n = encode(p, &mut out).unwrap();
            let body = &out[1..n - 1];
            prop_assert!(!body.contains(&0x7E));
            line.extend(std::iter::repeat_n(0x7E, idle));
            line.extend_from_slice(&out[..n]);
        }
        let mut d = Decoder::<1024>::default();
        let (frames, errors) = decode_all(&mut d, &line);
        prop_assert_eq!(frames, payloads);
        prop_assert!(errors.is_empty());
    }

    #[test]
    fn any_single_corruption_is_rejected_and_the_next_frame_still_decodes(
        payload in prop::collection::vec(any::<u8>(), 1..200),
        pos in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut out = vec![0u8; max_encoded_len(payload.len())];
        let n = encode(&payload, &mut out).unwrap();
        let mut bad = out[..n].to_vec();
        let i = 1 + pos.index(n - 2);
        bad[i] ^= flip;
        bad.extend_from_slice(&out[..n]);
        let mut d = Decoder::<512>::default();
        let (frames, _) = decode_all(&mut d, &bad);
        // The corrupted frame never comes out as the original payload with a wrong body: the
        // only frame delivered is the intact one (a flip creating a flag may split the bad frame
        // into pieces that all fail their FCS).
        prop_assert_eq!(frames.last(), Some(&payload));
        prop_assert!(frames.iter().filter(|f| **f != payload).all(|f| f.is_empty()));
        prop_assert!(frames.len() <= 2);
    }
}

#[test]
fn oversized_short_and_aborted_frames_are_dropped_and_counted() {
    let mut d = Decoder::<8>::default();
    let mut out = [0u8; 64];
    let n = encode(&[1; 20], &mut out).unwrap();
    let (f, e) = decode_all(&mut d, &out[..n]);
    assert!(f.is_empty());
    assert_eq!(e, vec![FrameError::TooLong]);
    let (f, e) = decode_all(&mut d, &[0x7E, 0x01, 0x7E]);
    assert!(f.is_empty());
    assert_eq!(e, vec![FrameError::TooShort]);
    let (f, e) = decode_all(&mut d, &[0x7E, 0x01, 0x02, 0x7D, 0x7E]);
    assert!(f.is_empty());
    assert_eq!(e, vec![FrameError::Aborted]);
    let n = encode(&[5, 6], &mut out).unwrap();
    let (f, _) = decode_all(&mut d, &out[..n]);
    assert_eq!(f, vec![vec![5, 6]]);
    assert_eq!(d.stats().frames, 1);
    assert_eq!(d.stats().framing, 3);
    // Garbage before the first flag is ignored.
    let mut d = Decoder::<8>::default();
    let (f, e) = decode_all(&mut d, &[1, 2, 3, 0x7D]);
    assert!(f.is_empty() && e.is_empty());
}

fn at(ms: u64) -> Instant {
    Instant::from_micros(ms * 1000)
}

fn cfg() -> FailoverConfig {
    FailoverConfig {
        silence_ms: 1000,
        window_ms: 500,
        min_errors: 4,
        switch_back_ms: 3000,
        min_dwell_ms: 1000,
    }
}

#[test]
fn silence_on_the_primary_switches_to_standby_and_back_only_after_the_hysteresis() {
    let mut m = LinkManager::new(cfg());
    m.on_rx_ok(LinkId::Primary, at(0));
    m.on_rx_ok(LinkId::Standby, at(0));
    assert_eq!(m.tick(at(500)), None);
    // Primary silent for 1 s.
    m.on_rx_ok(LinkId::Standby, at(900));
    let s = m.tick(at(1000)).unwrap();
    assert_eq!(
        (s.from, s.to, s.reason),
        (LinkId::Primary, LinkId::Standby, SwitchReason::Silence)
    );
    assert_eq!(m.active(), LinkId::Standby);
    // Primary comes back at 1.2 s; standby keeps working.
    for t in (1200..=5000).step_by(100) {
        m.on_rx_ok(LinkId::Primary, at(t));
        m.on_rx_ok(LinkId::Standby, at(t));
        let sw = m.tick(at(t));
        if t < 1200 + 3000 {
            assert_eq!(sw, None, "switched back too early at {t}");
        } else if let Some(sw) = sw {
            assert_eq!(sw.to, LinkId::Primary);
            assert_eq!(sw.reason, SwitchReason::PrimaryRecovered);
            assert_eq!(t, 4200);
        }
    }
    assert_eq!(m.active(), LinkId::Primary);
    assert_eq!(m.failovers(), 2);
}

#[test]
fn a_flapping_primary_does_not_bounce_the_downlink() {
    let mut m = LinkManager::new(cfg());
    let mut switches = 0;
    for t in (0..20_000).step_by(100) {
        m.on_rx_ok(LinkId::Standby, at(t));
        // Primary delivers for 800 ms, then is silent for 1.2 s, repeatedly.
        if t % 2000 < 800 {
            m.on_rx_ok(LinkId::Primary, at(t));
        }
        if m.tick(at(t)).is_some() {
            switches += 1;
        }
    }
    // It leaves the primary once and never comes back: the primary is never up for 3 s.
    assert_eq!(switches, 1);
    assert_eq!(m.active(), LinkId::Standby);
}

#[test]
fn lost_uplink_units_degrade_a_link_and_sustained_loss_switches() {
    let mut m = LinkManager::new(cfg());
    m.on_rx_ok(LinkId::Standby, at(0));
    for t in (0..1200).step_by(50) {
        // Each accepted unit on the primary skipped 3 sequence numbers: 3 of 4 units lost.
        m.on_rx_ok(LinkId::Primary, at(t));
        m.on_gap(LinkId::Primary, 3, at(t));
        m.on_rx_ok(LinkId::Standby, at(t));
        if let Some(s) = m.tick(at(t)) {
            assert_eq!(s.reason, SwitchReason::Errors);
            assert!(t >= 1000);
        }
    }
    assert_eq!(m.state(LinkId::Primary, at(1200)), LinkState::Degraded);
    assert_eq!(m.active(), LinkId::Standby);
    assert_eq!(m.gaps(LinkId::Primary), 72);
    let st = m.status(LinkId::Primary, at(1200));
    assert_eq!(st.frames_rx, 24);
    assert!(!st.active);
    assert_eq!(m.status(LinkId::Standby, at(1200)).state, LinkState::Up);
}

#[test]
fn a_forged_flood_is_counted_but_never_degrades_the_link_or_moves_the_downlink() {
    let mut m = LinkManager::new(cfg());
    for t in (0..5000).step_by(50) {
        // One authenticated unit per 50 ms, drowned in forged, replayed and garbled units.
        m.on_rx_ok(LinkId::Primary, at(t));
        m.on_rx_ok(LinkId::Standby, at(t));
        for _ in 0..100 {
            m.on_rx_error(LinkId::Primary, RxError::Auth, at(t));
            m.on_rx_error(LinkId::Primary, RxError::Duplicate, at(t));
            m.on_rx_error(LinkId::Standby, RxError::Crc, at(t));
        }
        assert_eq!(
            m.tick(at(t)),
            None,
            "switched at {t} ms under a forged flood"
        );
        assert_eq!(m.state(LinkId::Primary, at(t)), LinkState::Up);
    }
    let st = m.status(LinkId::Primary, at(5000));
    assert_eq!((st.auth_failures, st.duplicates), (10_000, 10_000));
    assert_eq!(m.status(LinkId::Standby, at(5000)).crc_errors, 10_000);
    // The flood goes on, but the real units stop: the primary is lost, and the node fails over.
    let mut switched = None;
    for t in (5000..8000).step_by(50) {
        m.on_rx_ok(LinkId::Standby, at(t));
        for _ in 0..100 {
            m.on_rx_error(LinkId::Primary, RxError::Auth, at(t));
        }
        if let Some(s) = m.tick(at(t)) {
            switched.get_or_insert((t, s));
        }
    }
    let (t, s) = switched.expect("a silent primary still fails over");
    assert_eq!((s.to, s.reason), (LinkId::Standby, SwitchReason::Silence));
    assert!(t >= 5950, "switched at {t} ms, before the silence period");
}

#[test]
fn standby_loss_returns_to_a_live_primary_at_once() {
    let mut m = LinkManager::new(cfg());
    m.on_rx_ok(LinkId::Standby, at(0));
    assert!(m.tick(at(1500)).is_some()); // primary never heard: to standby
    m.on_rx_ok(LinkId::Primary, at(2000));
    let s = m.tick(at(2600)).unwrap(); // standby silent since 0
    assert_eq!(s.to, LinkId::Primary);
    assert_eq!(m.status(LinkId::Standby, at(2600)).last_rx_age_ms, 2600);
}
