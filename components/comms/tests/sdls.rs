//! SDLS receiving and sending ends through the public API: every anti-replay window case, the
//! MAC-before-window order, counters, key rotation, reflection, persistence refusals, reboot,
//! and a forged flood that cannot starve valid units.

mod common;

use common::*;
use comms::sdls::{MemoryPersist, SecurityEngine, SeqVerdict, UplinkReject, engine::MAX_UNIT_LEN};

const PKT: &[u8] = b"\x18\x01\xc0\x00\x00\x00payload";

#[test]
fn next_is_accepted() {
    let (mut n, mut p) = node(4);
    let u1 = uplink(OPS, 1, PKT);
    let v = n.process(&u1, &mut p).unwrap();
    assert_eq!(
        (v.spi, v.arsn, v.verdict, v.data),
        (OPS, 1, SeqVerdict::Next, PKT)
    );
    let u2 = uplink(OPS, 2, PKT);
    let v = n.process(&u2, &mut p).unwrap();
    assert_eq!(v.verdict, SeqVerdict::Next);
    assert_eq!(n.status(OPS).unwrap().rx_last, 2);
}

#[test]
fn gap_inside_window_is_accepted_and_the_skipped_numbers_are_then_refused() {
    let (mut n, mut p) = node(4);
    n.process(&uplink(OPS, 1, PKT), &mut p).unwrap();
    let u = uplink(OPS, 1 + u64::from(WINDOW), PKT);
    let v = n.process(&u, &mut p).unwrap();
    assert_eq!(
        v.verdict,
        SeqVerdict::Gap {
            skipped: u64::from(WINDOW) - 1
        }
    );
    for late in 2..=u64::from(WINDOW) {
        assert_eq!(
            n.process(&uplink(OPS, late, PKT), &mut p),
            Err(UplinkReject::Replay {
                spi: OPS,
                arsn: late
            })
        );
    }
}

/// `process_resync` accepts an authenticated ARSN beyond the window (and moves the window and
/// the persisted reservation there), but never a replayed one or a forged one.
#[test]
fn resync_accepts_beyond_the_window_but_never_a_replay_or_a_forgery() {
    let (mut n, mut p) = node(4);
    n.process(&uplink(OPS, 1, PKT), &mut p).unwrap();
    let far = 1_000 + u64::from(WINDOW);
    let mut forged = uplink(OPS, far, PKT);
    forged[12] ^= 1;
    assert_eq!(
        n.process_resync(&forged, &mut p),
        Err(UplinkReject::BadMac { spi: OPS })
    );
    assert_eq!(
        n.process_resync(&uplink(OPS, 1, PKT), &mut p),
        Err(UplinkReject::Replay { spi: OPS, arsn: 1 })
    );
    let unit = uplink(OPS, far, PKT);
    let v = n.process_resync(&unit, &mut p).unwrap();
    assert_eq!((v.arsn, v.verdict), (far, SeqVerdict::OutsideWindow));
    let st = n.status(OPS).unwrap();
    assert_eq!((st.rx_last, st.rx_reserved), (far, far + 4));
    assert_eq!(
        n.process(&uplink(OPS, far, PKT), &mut p),
        Err(UplinkReject::Replay {
            spi: OPS,
            arsn: far
        })
    );
    assert_eq!(
        n.process(&uplink(OPS, far + 1, PKT), &mut p)
            .unwrap()
            .verdict,
        SeqVerdict::Next
    );
}

#[test]
fn replay_of_the_same_unit_is_refused() {
    let (mut n, mut p) = node(4);
    let u = uplink(OPS, 1, PKT);
    n.process(&u, &mut p).unwrap();
    assert_eq!(
        n.process(&u, &mut p),
        Err(UplinkReject::Replay { spi: OPS, arsn: 1 })
    );
    assert_eq!(n.counters().replayed, 1);
    assert_eq!(n.counters().bad_sequence(), 1);
}

#[test]
fn outside_window_is_refused_and_does_not_move_the_window() {
    let (mut n, mut p) = node(4);
    n.process(&uplink(OPS, 1, PKT), &mut p).unwrap();
    let far = 2 + u64::from(WINDOW);
    assert_eq!(
        n.process(&uplink(OPS, far, PKT), &mut p),
        Err(UplinkReject::OutsideWindow {
            spi: OPS,
            arsn: far
        })
    );
    assert_eq!(n.status(OPS).unwrap().rx_last, 1);
    assert_eq!(
        n.process(&uplink(OPS, 2, PKT), &mut p).unwrap().verdict,
        SeqVerdict::Next
    );
    assert_eq!(n.counters().outside_window, 1);
}

#[test]
fn the_ground_starts_at_arsn_one() {
    let (mut n, mut p) = node(4);
    let mut g = ground();
    let mut out = vec![0u8; 64];
    // Build a unit with ARSN 0 by hand-patching a valid unit is impossible (the MAC covers it),
    // so it comes from a ground engine whose counter was never started: tx_next starts at 1.
    let len = g
        .protect(OPS, PKT, &mut out, &mut MemoryPersist::default())
        .unwrap();
    assert_eq!(&out[2..10], &1u64.to_be_bytes());
    assert!(n.process(&out[..len], &mut p).is_ok());
}

#[test]
fn a_forged_unit_with_a_fresh_arsn_does_not_advance_the_window() {
    let (mut n, mut p) = node(4);
    n.process(&uplink(OPS, 1, PKT), &mut p).unwrap();
    for arsn in [2, 5, 1 + u64::from(WINDOW)] {
        let mut forged = uplink(OPS, arsn, PKT);
        let last = forged.len() - 1;
        forged[last] ^= 0x01;
        assert_eq!(
            n.process(&forged, &mut p),
            Err(UplinkReject::BadMac { spi: OPS })
        );
        // The payload changed under a valid header: also refused.
        let mut forged = uplink(OPS, arsn, PKT);
        forged[12] ^= 0x80;
        assert_eq!(
            n.process(&forged, &mut p),
            Err(UplinkReject::BadMac { spi: OPS })
        );
        // ARSN changed after MAC: refused by the MAC, never judged by the window.
        let mut forged = uplink(OPS, 2, PKT);
        forged[2..10].copy_from_slice(&arsn.to_be_bytes());
        if arsn != 2 {
            assert_eq!(
                n.process(&forged, &mut p),
                Err(UplinkReject::BadMac { spi: OPS })
            );
        }
    }
    assert_eq!(n.status(OPS).unwrap().rx_last, 1);
    assert_eq!(
        n.process(&uplink(OPS, 2, PKT), &mut p).unwrap().verdict,
        SeqVerdict::Next
    );
    assert_eq!(n.counters().bad_mac, 8);
    assert_eq!(n.counters().replayed + n.counters().outside_window, 0);
}

#[test]
fn a_unit_under_another_associations_key_is_a_bad_mac() {
    let (mut n, mut p) = node(4);
    let mut u = uplink(PING_ONLY, 1, PKT);
    u[0..2].copy_from_slice(&OPS.to_be_bytes());
    assert_eq!(
        n.process(&u, &mut p),
        Err(UplinkReject::BadMac { spi: OPS })
    );
}

#[test]
fn unknown_spi_and_malformed_units_are_counted() {
    let (mut n, mut p) = node(4);
    let mut u = uplink(OPS, 1, PKT);
    u[0..2].copy_from_slice(&0x0999u16.to_be_bytes());
    assert_eq!(n.process(&u, &mut p), Err(UplinkReject::UnknownSpi(0x0999)));
    assert_eq!(
        n.process(&[0u8; 26], &mut p),
        Err(UplinkReject::Malformed { len: 26 })
    );
    assert_eq!(
        n.process(&[], &mut p),
        Err(UplinkReject::Malformed { len: 0 })
    );
    let huge = vec![0u8; MAX_UNIT_LEN + 1];
    assert_eq!(
        n.process(&huge, &mut p),
        Err(UplinkReject::Malformed {
            len: MAX_UNIT_LEN + 1
        })
    );
    let c = n.counters();
    assert_eq!((c.unknown_spi, c.malformed, c.accepted), (1, 3, 0));
}

#[test]
fn a_downlink_unit_reflected_back_up_is_refused() {
    let (mut n, mut p) = node(4);
    let mut out = vec![0u8; 64];
    let len = n.protect(OPS, PKT, &mut out, &mut p).unwrap();
    assert_eq!(
        n.process(&out[..len], &mut p),
        Err(UplinkReject::BadMac { spi: OPS })
    );
    // The ground accepts it.
    let mut g = ground();
    let v = g
        .process(&out[..len], &mut MemoryPersist::default())
        .unwrap();
    assert_eq!((v.arsn, v.data), (1, PKT));
}

#[test]
fn when_the_reservation_cannot_be_persisted_the_unit_is_refused_and_can_be_retried() {
    let (mut n, mut p) = node(4);
    p.fail_next = 1;
    let u = uplink(OPS, 1, PKT);
    assert_eq!(
        n.process(&u, &mut p),
        Err(UplinkReject::PersistFailed { spi: OPS })
    );
    assert_eq!(n.status(OPS).unwrap().rx_last, 0);
    assert!(n.process(&u, &mut p).is_ok());
    assert_eq!(n.counters().persist_failures, 1);
}

#[test]
fn the_state_is_written_once_per_block() {
    let (mut n, mut p) = node(4);
    for arsn in 1..=12 {
        n.process(&uplink(OPS, arsn, PKT), &mut p).unwrap();
    }
    // Reservations at ARSN 1 (-> 5), 6 (-> 10), 11 (-> 15).
    assert_eq!(p.saves, 3);
    assert_eq!(n.status(OPS).unwrap().rx_reserved, 15);
}

#[test]
fn after_reboot_nothing_accepted_before_is_accepted_again_and_the_ground_continues_above_the_floor()
{
    let (mut n, mut p) = node(4);
    let units: Vec<_> = (1..=6).map(|a| uplink(OPS, a, PKT)).collect();
    for u in &units {
        n.process(u, &mut p).unwrap();
    }
    let mut out = vec![0u8; 64];
    let sent: Vec<u64> = (0..3)
        .map(|_| {
            n.protect(OPS, PKT, &mut out, &mut p).unwrap();
            u64::from_be_bytes(out[2..10].try_into().unwrap())
        })
        .collect();
    drop(n);
    let mut n = SecurityEngine::boot(&provisioning(), &mut p, 4).unwrap();
    for u in &units {
        assert!(matches!(
            n.process(u, &mut p),
            Err(UplinkReject::Replay { .. })
        ));
    }
    let floor = n.status(OPS).unwrap().rx_last;
    assert_eq!(floor, 10);
    // Units the ground had not sent yet but are below the floor are refused as well.
    assert!(n.process(&uplink(OPS, 7, PKT), &mut p).is_err());
    assert!(n.process(&uplink(OPS, floor + 1, PKT), &mut p).is_ok());
    // Downlink numbers are never reused.
    n.protect(OPS, PKT, &mut out, &mut p).unwrap();
    let next = u64::from_be_bytes(out[2..10].try_into().unwrap());
    assert!(sent.iter().all(|&s| s < next), "{sent:?} then {next}");
}

#[test]
fn key_rotation_retires_the_old_keys_in_both_directions() {
    let (mut n, mut p) = node(4);
    let mut g = ground();
    let mut gp = MemoryPersist::default();
    let mut buf = vec![0u8; 64];
    let len = g.protect(OPS, PKT, &mut buf, &mut gp).unwrap();
    n.process(&buf[..len], &mut p).unwrap();
    n.rotate_key(OPS, 1, &mut p).unwrap();
    // Old-epoch unit, fresh ARSN: refused by the MAC.
    let len = g.protect(OPS, PKT, &mut buf, &mut gp).unwrap();
    assert_eq!(
        n.process(&buf[..len], &mut p),
        Err(UplinkReject::BadMac { spi: OPS })
    );
    g.rotate_key(OPS, 1, &mut gp).unwrap();
    let len = g.protect(OPS, PKT, &mut buf, &mut gp).unwrap();
    assert!(n.process(&buf[..len], &mut p).is_ok());
    // Downlink under the new key verifies on the rotated ground.
    let len = n.protect(OPS, PKT, &mut buf, &mut p).unwrap();
    assert!(g.process(&buf[..len], &mut gp).is_ok());
    // Epoch must rise, and survives a reboot.
    assert!(n.rotate_key(OPS, 1, &mut p).is_err());
    let n2 = SecurityEngine::boot(&provisioning(), &mut p, 4).unwrap();
    assert_eq!(n2.status(OPS).unwrap().epoch, 1);
}

#[test]
fn raising_the_floor_refuses_everything_below_and_persists() {
    let (mut n, mut p) = node(4);
    let captured = uplink(OPS, 50, PKT);
    n.raise_floor(OPS, 100, &mut p).unwrap();
    assert!(matches!(
        n.process(&captured, &mut p),
        Err(UplinkReject::Replay { .. })
    ));
    assert!(n.raise_floor(OPS, 100, &mut p).is_err());
    let mut n2 = SecurityEngine::boot(&provisioning(), &mut p, 4).unwrap();
    assert!(matches!(
        n2.process(&captured, &mut p),
        Err(UplinkReject::Replay { .. })
    ));
    assert!(n2.process(&uplink(OPS, 101, PKT), &mut p).is_ok());
}

/// A flood of forged units of every kind interleaved with valid ones: every valid unit is
/// accepted, every forged one refused and counted, and the window only ever moves on valid units.
#[test]
fn a_forged_flood_cannot_starve_valid_traffic() {
    let (mut n, mut p) = node(256);
    let valid: Vec<_> = (1..=200).map(|a| uplink(OPS, a, PKT)).collect();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut expected_bad_mac = 0;
    let mut expected_unknown = 0;
    let mut expected_replay = 0;
    let mut expected_malformed = 0;
    let mut accepted = 0;
    for (i, good) in valid.iter().enumerate() {
        for _ in 0..100 {
            let r = next();
            let arsn = (i as u64 + 1) + (r % 8); // fresh, in-window numbers
            let mut forged = match r % 5 {
                0 => {
                    // Right SPI, fresh ARSN, random MAC.
                    let mut f = good.clone();
                    f[2..10].copy_from_slice(&arsn.to_be_bytes());
                    let l = f.len();
                    f[l - 16..].copy_from_slice(&r.to_be_bytes().repeat(2));
                    expected_bad_mac += 1;
                    f
                }
                1 => {
                    // A valid unit of the other association, relabelled.
                    let mut f = uplink(PING_ONLY, arsn, PKT);
                    f[0..2].copy_from_slice(&OPS.to_be_bytes());
                    expected_bad_mac += 1;
                    f
                }
                2 => {
                    let mut f = good.clone();
                    f[0..2].copy_from_slice(&(0x4000u16 + (r as u16 & 0xFF)).to_be_bytes());
                    expected_unknown += 1;
                    f
                }
                3 if i > 0 => {
                    // A replay of an accepted unit.
                    expected_replay += 1;
                    valid[(r as usize) % i].clone()
                }
                _ => {
                    expected_malformed += 1;
                    vec![0xAB; (r % 26) as usize]
                }
            };
            assert!(n.process(&forged, &mut p).is_err());
            forged.clear();
        }
        n.process(good, &mut p).unwrap();
        accepted += 1;
    }
    let c = n.counters();
    assert_eq!(c.accepted, accepted);
    assert_eq!(c.accepted, 200);
    assert_eq!(c.bad_mac, expected_bad_mac);
    assert_eq!(c.unknown_spi, expected_unknown);
    assert_eq!(c.replayed, expected_replay);
    assert_eq!(c.malformed, expected_malformed);
    assert_eq!(c.outside_window, 0);
    assert_eq!(n.status(OPS).unwrap().rx_last, 200);
}

#[test]
fn key_verification_answers_only_match_the_same_key_at_the_same_epoch() {
    let (mut n, mut p) = node(4);
    let mut g = ground();
    let challenge = [0x3C; 16];
    let ours = g.verify_answer(OPS, &challenge).unwrap();
    assert_eq!(n.verify_answer(OPS, &challenge).unwrap(), ours);
    // Another challenge, another association: another answer.
    assert_ne!(n.verify_answer(OPS, &[0x3D; 16]).unwrap(), ours);
    assert_ne!(n.verify_answer(PING_ONLY, &challenge).unwrap().1, ours.1);
    // Never the traffic MAC of the same bytes under the uplink key.
    let unit = uplink(OPS, 1, &challenge);
    assert_ne!(unit[unit.len() - 16..], ours.1);
    // After a rotation the answer changes until the ground rotates too.
    n.rotate_key(OPS, 1, &mut p).unwrap();
    let rotated = n.verify_answer(OPS, &challenge).unwrap();
    assert_eq!(rotated.0, 1);
    assert_ne!(rotated.1, ours.1);
    g.rotate_key(OPS, 1, &mut MemoryPersist::default()).unwrap();
    assert_eq!(g.verify_answer(OPS, &challenge).unwrap(), rotated);
    assert_eq!(
        n.verify_answer(0x7777, &challenge),
        Err(comms::sdls::ManageError::UnknownSpi(0x7777))
    );
}
