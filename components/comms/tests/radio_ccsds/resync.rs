//! The set-ARSN resynchronisation (TC 130,3) in a TC frame, as `spacenode ground resync` sends
//! it on the CCSDS radio: a type-BD frame whose packet names that frame's own SPI and sequence
//! number. The node sees the packet only after SDLS authenticated (and, under AES-256-GCM,
//! decrypted) the frame; only then may the number be beyond the window, and only under an
//! association that may manage keys. A replay of it, a frame beyond the window carrying
//! anything else, or one under an association without that permission moves nothing.

use super::*;

/// Far beyond the node's window of [`WINDOW`]: a ground restored from an old backup.
const AHEAD: u64 = 10_000;

/// The CLTU of a type-BD frame under the radio's association `spi` carrying TC 130,3 for
/// `spi` and `named(n)`, where `n` is the frame's own sequence number, which it returns.
fn set_arsn(l: &mut Link, spi: u16, named: impl FnOnce(u64) -> u64) -> (Vec<u8>, u64) {
    let n = l.ground.next_arsn(spi).unwrap();
    let mut app = [0u8; 10];
    app[..2].copy_from_slice(&spi.to_be_bytes());
    app[2..].copy_from_slice(&named(n).to_be_bytes());
    let tc = l.telecommand(130, 3, &app);
    l.radio.submit_expedited(&tc).unwrap();
    let mut buf = [0u8; MAX_CLTU];
    // FOP-1 sends a waiting BD frame before its Set V(R): the frame takes number `n`.
    let k = l.radio.next_cltu(&mut l.ground, &mut buf).unwrap().unwrap();
    assert_eq!(l.ground.next_arsn(spi), Some(n + 1));
    (buf[..k].to_vec(), n)
}

fn rx_last(l: &Link, spi: u16) -> u64 {
    l.node.security().status(spi).unwrap().rx_last
}

#[test]
fn a_set_arsn_frame_beyond_the_window_moves_it_under_both_suites() {
    for suite in [Suite::Aes256Gcm, Suite::HmacSha256] {
        let mut l = Link::new(suite, 0, 43);
        l.ground.resume_above(OPS, AHEAD);
        let (cltu, n) = set_arsn(&mut l, OPS, |n| n);
        assert!(n > AHEAD);
        let air = l.raw_up(&cltu);
        l.hear(air);
        assert_eq!(
            rx_last(&l, OPS),
            n,
            "{suite:?}: the window moved to the frame's"
        );
        assert!(
            l.got.contains(&(1, 7, Some(Report::CompletionSuccess))),
            "{suite:?}: {:?}",
            l.got
        );

        let before = l.node.security().counters();
        l.raw_up(&cltu);
        let after = l.node.security().counters();
        assert_eq!(
            after.replayed,
            before.replayed + 1,
            "{suite:?}: replay refused"
        );
        assert_eq!(rx_last(&l, OPS), n);

        // FOP-1's Set V(R), above the new floor, is taken now: the AD service runs.
        l.got.clear();
        let ping = l.telecommand(17, 1, &[]);
        l.deliver(&ping);
        l.got.retain(|g| g.0 != 5);
        assert_eq!(l.got, PING_REPORTS, "{suite:?}");
    }
}

#[test]
fn a_frame_beyond_the_window_moves_nothing_unless_it_is_a_set_arsn_for_itself() {
    let mut l = Link::new(Suite::Aes256Gcm, 0, 47);
    l.ground.resume_above(OPS, AHEAD);
    let refused = |l: &mut Link, cltu: &[u8]| {
        let before = l.node.security().counters().outside_window;
        let air = l.raw_up(cltu);
        l.hear(air);
        l.node.security().counters().outside_window - before
    };

    // A set-ARSN naming a number other than its frame's.
    let (cltu, _) = set_arsn(&mut l, OPS, |n| n + 1);
    assert_eq!(refused(&mut l, &cltu), 1);
    // Anything else beyond the window: a ping.
    let ping = l.telecommand(17, 1, &[]);
    l.radio.submit_expedited(&ping).unwrap();
    let mut buf = [0u8; MAX_CLTU];
    let k = l.radio.next_cltu(&mut l.ground, &mut buf).unwrap().unwrap();
    assert_eq!(refused(&mut l, &buf[..k]), 1);
    assert_eq!(rx_last(&l, OPS), 0);

    // A set-ARSN for itself under an association that may not manage keys.
    l.radio.set_spi(PING_ONLY);
    l.ground.resume_above(PING_ONLY, AHEAD);
    let (cltu, _) = set_arsn(&mut l, PING_ONLY, |n| n);
    assert_eq!(refused(&mut l, &cltu), 1);
    assert_eq!(rx_last(&l, PING_ONLY), 0);
    assert!(
        !l.got.iter().any(|g| g.0 == 1),
        "no verification report for a refused frame: {:?}",
        l.got
    );
}
