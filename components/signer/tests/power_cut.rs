//! Power cut at every flash write and erase during a batch (and during admin commands and time
//! correlations): after the reboot the batch is either fully committed or not at all, a
//! resubmission gives the same answer as an uncut run, and no sequence number is ever accepted
//! for two different batches.
mod support;

use board_sim::flash::PowerCut;
use signer::descriptor::ScriptType;
use signer::wallet::Network;
use support::*;

/// A signer booted on a copy of `image` whose power will be cut at flash operation `at_op`.
fn boot_with_cut(image: &[u8], at_op: u64) -> (signer::node::Signer<Flash>, std::fs::File) {
    let (mut flash, h) = flash_from(image);
    flash.cut_power(PowerCut { at_op, landed: 3 });
    let (s, _) = signer::node::Signer::boot(flash, LAYOUT, &seal(), &mut TestRng(1)).expect("boot");
    (s, h)
}

#[test]
fn power_cut_at_every_flash_operation_of_a_batch() {
    big_stack(|| {
        // A provisioned node with one committed batch (sequence 1), so the cut commit replaces a
        // ledger that already exists.
        let (flash, handle) = new_flash();
        let mut s = boot(flash);
        let g = Ground::new(&s, 5, Network::Regtest, ScriptType::Wsh, 1, 31);
        s.provision(&provisioning(
            &[],
            0,
            &[(&g, "rule allow velocity=10000000/86400")],
        ))
        .expect("provision");
        let first = batch(
            &g.cert_key,
            5,
            1,
            u64::MAX,
            &[psbt(&g, &Spend::simple(1_000_000, 100_000, 1_000, 1))],
        );
        assert!(run(&mut s, &first, 1_000).receipt.is_signed());
        drop(s);
        let base_image = image(&handle);

        let psbts = vec![
            psbt(&g, &Spend::simple(900_000, 300_000, 1_000, 2)),
            psbt(&g, &Spend::simple(800_000, 200_000, 1_000, 3)),
        ];
        let b = batch(&g.cert_key, 5, 2, u64::MAX, &psbts);
        let rival = batch(
            &g.cert_key,
            5,
            2,
            u64::MAX,
            &[psbt(&g, &Spend::simple(700_000, 1_000, 1_000, 4))],
        );

        // The uncut reference run, and how many mutating flash operations it makes.
        let (flash, h) = flash_from(&base_image);
        let mut s = boot(flash);
        let reference = run(&mut s, &b, 2_000);
        assert!(reference.receipt.is_signed());
        let ops = s.into_flash().ops();
        drop(h);
        assert!(
            ops >= 4,
            "a mirrored commit erases and writes two copies ({ops} ops)"
        );

        let mut committed = 0;
        let mut not_committed = 0;
        for at_op in 0..ops {
            for landed in [0usize, 1, 7, usize::MAX] {
                let (mut flash, h) = flash_from(&base_image);
                flash.cut_power(PowerCut { at_op, landed });
                let (mut s, _) =
                    signer::node::Signer::boot(flash, LAYOUT, &seal(), &mut TestRng(1))
                        .expect("boot before the cut");
                let cut = run(&mut s, &b, 2_000);
                // A cut during the commit never releases a signature.
                assert!(
                    cut.signed.is_empty() || cut.receipt.is_signed(),
                    "op {at_op}/{landed}: signatures without a signed receipt"
                );
                if !cut.receipt.is_signed() {
                    assert!(cut.signed.is_empty());
                }
                drop(s);

                // Reboot on the torn image.
                let mut s = reboot(&h);
                let seq = s.ledger().server(5).and_then(|x| x.last_sequence);
                match seq {
                    Some(2) => {
                        committed += 1;
                        // The rival batch with the same sequence is a replay.
                        let r = run(&mut s, &rival, 3_000);
                        assert_eq!(r.receipt.code(), 6, "op {at_op}/{landed}: sequence reused");
                        assert!(r.signed.is_empty());
                    }
                    Some(1) => not_committed += 1,
                    other => panic!("op {at_op}/{landed}: ledger went to {other:?}"),
                }
                // Either way, submitting the batch (again) gives the reference answer exactly.
                let again = run(&mut s, &b, 3_000);
                assert_eq!(again.signed, reference.signed, "op {at_op}/{landed}");
                assert_eq!(again.receipt.as_bytes(), reference.receipt.as_bytes());
                assert_eq!(s.ledger().server(5).and_then(|x| x.last_sequence), Some(2));
                // Velocity counted exactly once: 100,000+1,000 + 300,000+1,000 + 200,000+1,000.
                let used = s
                    .ledger()
                    .server(5)
                    .expect("state")
                    .windows
                    .used(86_400, 3_000);
                assert_eq!(used, 603_000, "op {at_op}/{landed}");
            }
        }
        assert!(
            committed > 0 && not_committed > 0,
            "{committed} committed, {not_committed} not"
        );
    })
}

#[test]
fn power_cut_at_every_flash_operation_of_an_admin_command() {
    big_stack(|| {
        let admins = [p256_key(1), p256_key(2), p256_key(3)];
        let (flash, handle) = new_flash();
        let mut s = boot(flash);
        let g = Ground::new(&s, 5, Network::Regtest, ScriptType::Wsh, 1, 31);
        s.provision(&provisioning(&admins, 2, &[(&g, "rule allow")]))
            .expect("provision");
        let node = s.identity_public_key();
        drop(s);
        let base_image = image(&handle);
        let mut cmd = vec![0u8; 1024];
        let n = signer::admin::build(
            &mut cmd,
            &node,
            1,
            "revoke id=5",
            &[(0, &admins[0]), (2, &admins[2])],
        )
        .expect("build");
        cmd.truncate(n);

        let (flash, _h) = flash_from(&base_image);
        let mut s = boot(flash);
        s.admin(&cmd).expect("admin");
        let ops = s.into_flash().ops();
        for at_op in 0..ops {
            let (mut s, h) = boot_with_cut(&base_image, at_op);
            assert!(s.admin(&cmd).is_err(), "a cut command reports failure");
            drop(s);
            let mut s = reboot(&h);
            let revoked = s.registry().server(5).expect("server").revoked;
            assert_eq!(
                s.registry().admin_counter(),
                u64::from(revoked),
                "op {at_op}"
            );
            // Re-sending completes it exactly once; a second time is a replay.
            if !revoked {
                s.admin(&cmd).expect("re-send");
            }
            assert_eq!(s.admin(&cmd), Err(signer::admin::AdminError::Replayed));
        }
    })
}

#[test]
fn power_cut_at_every_flash_operation_of_a_time_correlation() {
    big_stack(|| {
        const T0: u64 = 1_790_000_000_000;
        let (flash, handle) = new_flash();
        let mut s = boot(flash);
        let g = Ground::new(&s, 5, Network::Regtest, ScriptType::Wsh, 1, 31);
        s.provision(&provisioning(&[], 0, &[(&g, "rule allow")]))
            .expect("provision");
        let cmd = time_command(&s, 1, T0, &[(0, &clock_admin())]);
        drop(s);
        let base_image = image(&handle);

        let (flash, _h) = flash_from(&base_image);
        let mut s = boot(flash);
        s.admin_at(&cmd, at_ms(10)).expect("correlate");
        let ops = s.into_flash().ops();
        for at_op in 0..ops {
            let (mut s, h) = boot_with_cut(&base_image, at_op);
            assert!(
                s.admin_at(&cmd, at_ms(10)).is_err(),
                "a cut correlation reports failure"
            );
            drop(s);
            // After the cut the clock is either correlated or not, never damaged: the signer
            // boots, and re-sending completes it exactly once.
            let mut s = reboot(&h);
            s.resume_clock(at_ms(1));
            match s.mission_clock().correlated_ms() {
                None => assert_eq!(s.mission_clock().mission_ms(at_ms(1)), None, "op {at_op}"),
                Some(t) => assert_eq!(t, T0, "op {at_op}"),
            }
            if s.mission_clock().correlated_ms().is_none() {
                s.admin_at(&cmd, at_ms(1)).expect("re-send");
            }
            assert_eq!(
                s.admin_at(&cmd, at_ms(2)).map_err(|e| e.code()),
                Err(13),
                "op {at_op}"
            );
        }
    })
}
