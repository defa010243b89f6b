//! Mission time on the signer (issue 14 point 1): certificate expiry and velocity windows on the
//! correlated mission clock, across reboots; correlations authenticated, never backwards, never
//! replayed; a node never correlated refuses certificates that expire.
mod support;

use signer::admin::AdminError;
use signer::batch::receipt::ErrorClass;
use signer::descriptor::ScriptType;
use signer::registry::Command;
use signer::wallet::Network;
use support::*;

/// 2026-09-21, an arbitrary mission date.
const T0: u64 = 1_790_000_000_000;
const HOUR: u64 = 3_600_000;
const RULES: &str = "rule allow max-amount=2000000 velocity=3000000/3600 max-fee=50000";

fn setup(no_expiry: bool) -> (signer::node::Signer<Flash>, Ground, std::fs::File) {
    let (flash, handle) = new_flash();
    let mut s = boot(flash);
    let g = Ground::new(&s, 7, Network::Regtest, ScriptType::Wsh, 3, 11);
    let mut text = provisioning(&[], 0, &[(&g, RULES)]);
    if !no_expiry {
        text = text.replace(" no-expiry", "");
    }
    s.provision(&text).expect("provision");
    (s, g, handle)
}

fn spend(g: &Ground, salt: u32) -> Vec<u8> {
    psbt(g, &Spend::simple(2_000_000, 1_399_000, 1_000, salt))
}

/// (class, code) of a batch's receipt; (0, 0) when signed.
fn outcome(r: &Run) -> (u8, u8) {
    if r.receipt.is_signed() {
        (0, 0)
    } else {
        (r.receipt.class(), r.receipt.code())
    }
}

#[test]
fn a_node_never_correlated_refuses_expiring_certificates_and_one_without_expiry_unless_allowed() {
    big_stack(|| {
        let (mut s, g, _h) = setup(false);
        assert_eq!(s.mission_clock().mission_ms(at_ms(5)), None);
        // An expiry cannot be checked without mission time: refused, code 11. (`run` would
        // correlate first, so the job is stepped by hand here.)
        let b = batch(&g.cert_key, 7, 1, T0 + HOUR, &[spend(&g, 1)]);
        let mut job = s.begin_batch(&b, at_ms(5));
        let mut out = vec![0u8; signer::batch::MAX_SIGNED_PSBT];
        let receipt = loop {
            if let signer::batch::Step::Done(r) = job.step(&mut s, &mut out) {
                break r;
            }
        };
        assert_eq!(
            (receipt.class(), receipt.code()),
            (ErrorClass::Certificate as u8, 11)
        );
        // No expiry, and the registry entry does not say `no-expiry`: refused, code 10.
        let forever = batch(&g.cert_key, 7, 1, signer::cert::NO_EXPIRY, &[spend(&g, 1)]);
        assert_eq!(outcome(&run(&mut s, &forever, 6)), (1, 10));
        // Nothing was consumed: sequence 1 is still free.
        assert!(s.ledger().server(7).is_none());
    });
    big_stack(|| {
        // With `no-expiry` in its entry, the same certificate signs on an uncorrelated node.
        let (mut s, g, _h) = setup(true);
        let forever = batch(&g.cert_key, 7, 1, signer::cert::NO_EXPIRY, &[spend(&g, 1)]);
        assert_eq!(outcome(&run(&mut s, &forever, 6)), (0, 0));
    });
}

#[test]
fn an_expired_certificate_is_refused_after_a_reboot_that_would_have_frozen_the_old_clock() {
    big_stack(|| {
        let (mut s, g, h) = setup(false);
        assert_eq!(correlate(&mut s, T0, at_ms(0)), Ok(Command::Correlate(T0)));
        // Valid for one minute of mission time; the first batch signs 10 s in.
        let expiry = T0 + 60_000;
        let b1 = batch(&g.cert_key, 7, 1, expiry, &[spend(&g, 1)]);
        assert_eq!(outcome(&run(&mut s, &b1, 10_000)), (0, 0));
        drop(s);
        // The board resets; the signer boots 2 s into the new power cycle and gets a batch at
        // 70 s. The old rule, max(uptime, high-water mark), would read T0 + 10 s here (frozen at
        // the mark): the certificate would still be valid. Mission time now counts the new
        // uptime on top of the mark.
        let mut s = reboot(&h);
        s.resume_clock(at_ms(2_000));
        assert_eq!(
            s.mission_clock().mission_ms(at_ms(70_000)),
            Some(T0 + 80_000)
        );
        let b2 = batch(&g.cert_key, 7, 2, expiry, &[spend(&g, 2)]);
        assert_eq!(outcome(&run(&mut s, &b2, 70_000)), (1, 7));
        // One that expires later still signs.
        let b3 = batch(&g.cert_key, 7, 2, T0 + HOUR, &[spend(&g, 3)]);
        assert_eq!(outcome(&run(&mut s, &b3, 70_000)), (0, 0));
    })
}

#[test]
fn a_correlation_backwards_or_replayed_is_refused_and_survives_reboots() {
    big_stack(|| {
        let (mut s, _g, h) = setup(false);
        let first = time_command(&s, 1, T0, &[(0, &clock_admin())]);
        assert_eq!(s.admin_at(&first, at_ms(1_000)), Ok(Command::Correlate(T0)));
        // The very same command again: a replay (code 13).
        let again = s.admin_at(&first, at_ms(2_000));
        assert!(
            matches!(again, Err(AdminError::Time(_))),
            "replay accepted: {again:?}"
        );
        assert_eq!(again.map_err(|e| e.code()), Err(13));
        // A newer command whose time is below the node's clock (T0 + 5 s at board 6 s):
        // backwards (code 14); the clock is unchanged.
        let back = time_command(&s, 2, T0 + 4_000, &[(0, &clock_admin())]);
        assert_eq!(
            s.admin_at(&back, at_ms(6_000)).map_err(|e| e.code()),
            Err(14)
        );
        assert_eq!(s.mission_clock().mission_ms(at_ms(6_000)), Some(T0 + 5_000));
        // Not signed by the admins: refused before the clock looks at it (code 6).
        let forged = time_command(&s, 3, T0 + HOUR, &[(0, &p256_key(0x99))]);
        assert_eq!(
            s.admin_at(&forged, at_ms(6_000)).map_err(|e| e.code()),
            Err(6)
        );
        // Forward: accepted.
        let fwd = time_command(&s, 4, T0 + HOUR, &[(0, &clock_admin())]);
        assert_eq!(
            s.admin_at(&fwd, at_ms(7_000)),
            Ok(Command::Correlate(T0 + HOUR))
        );
        drop(s);
        // After a reset, the first command is still a replay and the clock resumed above the
        // last correlation.
        let mut s = reboot(&h);
        s.resume_clock(at_ms(500));
        assert_eq!(s.mission_clock().correlated_ms(), Some(T0 + HOUR));
        assert_eq!(
            s.mission_clock().mission_ms(at_ms(500)),
            Some(T0 + HOUR + 500)
        );
        assert_eq!(
            s.admin_at(&first, at_ms(600)).map_err(|e| e.code()),
            Err(13)
        );
        assert_eq!(s.admin_at(&fwd, at_ms(600)).map_err(|e| e.code()), Err(13));
    })
}

#[test]
fn a_velocity_window_spans_a_reset_and_reopens_on_mission_time() {
    big_stack(|| {
        let (mut s, g, h) = setup(false);
        correlate(&mut s, T0, at_ms(0)).expect("correlate");
        let exp = T0 + 10 * HOUR;
        // 1,400,000 of outflow per batch; the limit is 3,000,000 per hour.
        assert_eq!(
            outcome(&run(
                &mut s,
                &batch(&g.cert_key, 7, 1, exp, &[spend(&g, 1)]),
                1_000
            )),
            (0, 0)
        );
        assert_eq!(
            outcome(&run(
                &mut s,
                &batch(&g.cert_key, 7, 2, exp, &[spend(&g, 2)]),
                2_000
            )),
            (0, 0)
        );
        // The clock's mark is written every PERSIST_INTERVAL_MS; here at 20 minutes.
        s.persist_clock(at_ms(20 * 60_000)).expect("persist");
        drop(s);
        // Reset; back 5 minutes into the new power cycle: 25 minutes after the window opened,
        // still inside it.
        let mut s = reboot(&h);
        s.resume_clock(at_ms(5 * 60_000));
        let b3 = batch(&g.cert_key, 7, 3, exp, &[spend(&g, 3)]);
        assert_eq!(
            outcome(&run(&mut s, &b3, 5 * 60_000)),
            (ErrorClass::Policy as u8, 0x12)
        );
        // 41 minutes into the new power cycle: 61 minutes of mission time since the window
        // opened, which the new uptime alone (41 min) would not show: the window reopened.
        assert_eq!(outcome(&run(&mut s, &b3, 41 * 60_000)), (0, 0));
        drop(s);
        // A restart of the signer alone (same power cycle, later instant): the clock resumes
        // exactly where the committed batch left it, not ahead.
        let mut s = reboot(&h);
        s.resume_clock(at_ms(42 * 60_000));
        assert_eq!(
            s.mission_clock().mission_ms(at_ms(42 * 60_000)),
            Some(T0 + 20 * 60_000 + 42 * 60_000)
        );
    })
}
