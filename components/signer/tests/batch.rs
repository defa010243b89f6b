//! Batches end to end on the sim board's flash: signing with commit-before-release, exact
//! resubmission, replays, all-or-nothing refusals, velocity across batches and reboots, the
//! receipt, and a 1,000-PSBT batch processed one PSBT per step.
mod support;

use signer::batch::receipt::{Detail, ErrorClass};
use signer::descriptor::ScriptType;
use signer::wallet::Network;
use support::*;

const RULES: &str = "rule allow max-amount=2000000 velocity=3000000/3600 max-fee=50000";

fn setup(st: ScriptType) -> (signer::node::Signer<Flash>, Ground, std::fs::File) {
    let (flash, handle) = new_flash();
    let mut s = boot(flash);
    let g = Ground::new(&s, 7, Network::Regtest, st, 3, 11);
    s.provision(&provisioning(&[], 0, &[(&g, RULES)]))
        .expect("provision");
    (s, g, handle)
}

#[test]
fn signs_a_batch_and_the_signatures_verify_independently() {
    big_stack(|| {
        for st in [ScriptType::Wsh, ScriptType::ShWsh] {
            let (mut s, g, _h) = setup(st);
            let psbts = vec![
                psbt(&g, &Spend::simple(1_000_000, 600_000, 1_000, 1)),
                psbt(
                    &g,
                    &Spend {
                        inputs: vec![(3, 500_000), (4, 700_000)],
                        pays: vec![(pay_spk(2), 900_000), (pay_spk(3), 100_000)],
                        change: Some((2, 198_000)),
                        salt: 2,
                    },
                ),
            ];
            let b = batch(&g.cert_key, 7, 1, 10_000, &psbts);
            let r = run(&mut s, &b, 1_000);
            assert!(r.receipt.is_signed(), "{:?}", r.receipt);
            assert_eq!(r.signed.len(), 2);
            assert_eq!(verify_node_signatures(&g, &r.signed[0]), 1);
            assert_eq!(verify_node_signatures(&g, &r.signed[1]), 2);
            // The signer only adds partial signatures: everything else is untouched.
            let orig = bitcoin::psbt::Psbt::deserialize(&psbts[1]).expect("orig");
            let mut out = bitcoin::psbt::Psbt::deserialize(&r.signed[1]).expect("out");
            for i in &mut out.inputs {
                i.partial_sigs.clear();
            }
            assert_eq!(orig, out);
            assert_eq!(s.ledger().server(7).and_then(|x| x.last_sequence), Some(1));
            // Steps: start, 2 checks, commit, 2 signs, finish.
            assert_eq!(r.steps, 7);
        }
    })
}

#[test]
fn resubmission_gives_identical_answer_without_counting_twice() {
    big_stack(|| {
        let (mut s, g, h) = setup(ScriptType::Wsh);
        let psbts = vec![psbt(&g, &Spend::simple(2_000_000, 1_500_000, 1_000, 5))];
        let b = batch(&g.cert_key, 7, 4, 10_000, &psbts);
        let first = run(&mut s, &b, 1_000);
        assert!(first.receipt.is_signed());
        let windows = s.ledger().server(7).expect("state").windows.clone();
        // Velocity is 3,000,000 per hour and 1,501,000 is counted: an exact resubmission is
        // answered although a second count would exceed... nothing: it is not counted at all.
        let again = run(&mut s, &b, 2_000);
        assert_eq!(again.signed, first.signed);
        assert_eq!(again.receipt, first.receipt);
        assert_eq!(s.ledger().server(7).expect("state").windows, windows);
        // Also after a reboot.
        drop(s);
        let mut s = reboot(&h);
        let third = run(&mut s, &b, 3_000);
        assert_eq!(third.signed, first.signed);
        assert_eq!(third.receipt.as_bytes(), first.receipt.as_bytes());
        // The same sequence with other contents is a replay (certificate code 6), also after reboot.
        let other = batch(
            &g.cert_key,
            7,
            4,
            10_000,
            &[psbt(&g, &Spend::simple(10_000, 5_000, 100, 6))],
        );
        let r = run(&mut s, &other, 3_000);
        assert!(!r.receipt.is_signed());
        assert_eq!(
            (r.receipt.class(), r.receipt.code()),
            (ErrorClass::Certificate as u8, 6)
        );
        assert!(r.signed.is_empty());
        // And a lower sequence.
        let old = batch(
            &g.cert_key,
            7,
            3,
            10_000,
            &[psbt(&g, &Spend::simple(10_000, 5_000, 100, 6))],
        );
        assert_eq!(run(&mut s, &old, 3_000).receipt.code(), 6);
    })
}

#[test]
fn all_or_nothing_a_refused_psbt_refuses_the_batch_and_consumes_nothing() {
    big_stack(|| {
        let (mut s, g, _h) = setup(ScriptType::Wsh);
        let ok1 = psbt(&g, &Spend::simple(1_000_000, 100_000, 1_000, 1));
        let ok2 = psbt(&g, &Spend::simple(1_000_000, 200_000, 1_000, 2));
        let too_big = psbt(&g, &Spend::simple(5_000_000, 2_500_000, 1_000, 3));
        let b = batch(
            &g.cert_key,
            7,
            10,
            10_000,
            &[ok1.clone(), ok2.clone(), too_big],
        );
        let r = run(&mut s, &b, 1_000);
        assert!(r.signed.is_empty());
        assert_eq!(r.receipt.class(), ErrorClass::Policy as u8);
        assert_eq!(r.receipt.failed_psbt(), Some(2));
        assert_eq!(r.receipt.rule(), Some(0));
        assert_eq!(r.receipt.code(), 0x11, "no rule matched, miss = amount");
        assert!(s.ledger().server(7).is_none(), "nothing committed");
        // The sequence number was not consumed.
        let b = batch(&g.cert_key, 7, 10, 10_000, &[ok1, ok2]);
        assert!(run(&mut s, &b, 1_000).receipt.is_signed());
    })
}

#[test]
fn a_deny_rule_refusal_names_the_nearest_allow_rule_and_its_failed_condition() {
    big_stack(|| {
        let (flash, _h) = new_flash();
        let mut s = boot(flash);
        let g = Ground::new(&s, 7, Network::Regtest, ScriptType::Wsh, 3, 11);
        let rules = "rule allow max-fee=500\nrule allow max-amount=2000000\nrule deny";
        s.provision(&provisioning(&[], 0, &[(&g, rules)]))
            .expect("provision");
        let over = psbt(&g, &Spend::simple(5_000_000, 2_500_000, 1_000, 3));
        let r = run(&mut s, &batch(&g.cert_key, 7, 1, 10_000, &[over]), 1_000);
        assert_eq!(
            (r.receipt.class(), r.receipt.code(), r.receipt.rule()),
            (ErrorClass::Policy as u8, 1, Some(2)),
            "the deny rule decided"
        );
        assert_eq!(
            r.receipt.detail(),
            Detail::ClosestAllow { rule: 1, miss: 1 },
            "rule 1 (the nearest allow) failed on max-amount"
        );
    })
}

#[test]
fn velocity_holds_across_batches_and_reboots_and_reopens_after_the_period() {
    big_stack(|| {
        let (mut s, g, h) = setup(ScriptType::Wsh);
        let spend = |salt| psbt(&g, &Spend::simple(2_000_000, 1_399_000, 1_000, salt));
        // 1,400,000 of outflow per batch; the limit is 3,000,000 per hour.
        assert!(
            run(
                &mut s,
                &batch(&g.cert_key, 7, 1, u64::MAX, &[spend(1)]),
                1_000
            )
            .receipt
            .is_signed()
        );
        assert!(
            run(
                &mut s,
                &batch(&g.cert_key, 7, 2, u64::MAX, &[spend(2)]),
                2_000
            )
            .receipt
            .is_signed()
        );
        drop(s);
        let mut s = reboot(&h);
        let r = run(
            &mut s,
            &batch(&g.cert_key, 7, 3, u64::MAX, &[spend(3)]),
            3_000,
        );
        assert_eq!(
            (r.receipt.class(), r.receipt.code()),
            (ErrorClass::Policy as u8, 0x12)
        );
        // Setting the mission clock back does not reopen the window (the ledger's clock is
        // monotonic), but an hour after the window opened it does.
        let r = run(&mut s, &batch(&g.cert_key, 7, 3, u64::MAX, &[spend(3)]), 0);
        assert_eq!(r.receipt.code(), 0x12);
        let r = run(
            &mut s,
            &batch(&g.cert_key, 7, 3, u64::MAX, &[spend(3)]),
            1_000 + 3_600_000,
        );
        assert!(r.receipt.is_signed(), "{:?}", r.receipt);
    })
}

#[test]
fn certificate_and_framing_refusals_have_their_codes() {
    big_stack(|| {
        let (mut s, g, _h) = setup(ScriptType::Wsh);
        let p = vec![psbt(&g, &Spend::simple(100_000, 50_000, 1_000, 1))];
        let good = batch(&g.cert_key, 7, 1, 5_000, &p);
        let code = |s: &mut signer::node::Signer<Flash>, b: &[u8], now| {
            let r = run(s, b, now);
            assert!(r.signed.is_empty());
            (r.receipt.class(), r.receipt.code())
        };
        let cert = ErrorClass::Certificate as u8;
        assert_eq!(code(&mut s, &good[..50], 0), (cert, 1));
        assert_eq!(
            code(&mut s, &batch(&g.cert_key, 8, 1, 5_000, &p), 0),
            (cert, 2)
        );
        assert_eq!(
            code(&mut s, &batch(&p256_key(99), 7, 1, 5_000, &p), 0),
            (cert, 4)
        );
        let mut forged = good.clone();
        forged[26] ^= 1; // expiry byte
        assert_eq!(code(&mut s, &forged, 0), (cert, 5));
        assert_eq!(code(&mut s, &good, 5_001), (cert, 7));
        // The certificate covers one PSBT but two follow.
        let mut extra = good.clone();
        extra.extend_from_slice(&(p[0].len() as u32).to_be_bytes());
        extra.extend_from_slice(&p[0]);
        assert_eq!(code(&mut s, &extra, 0), (cert, 8));
        // A PSBT byte changed after certification.
        let mut tampered = good.clone();
        let last = tampered.len() - 3;
        tampered[last] ^= 1;
        let r = run(&mut s, &tampered, 0);
        assert_eq!(
            (r.receipt.class(), r.receipt.code(), r.receipt.failed_psbt()),
            (cert, 9, Some(0))
        );
        // Broken length prefix.
        let mut broken = good.clone();
        broken.truncate(good.len() - 1);
        assert_eq!(code(&mut s, &broken, 0), (ErrorClass::Framing as u8, 1));
        // A foreign wallet's PSBT, correctly certified: refused by the wallet checks.
        let other = Ground::new(&s, 9, Network::Regtest, ScriptType::Wsh, 4, 12);
        let foreign = vec![psbt(&other, &Spend::simple(100_000, 50_000, 1_000, 1))];
        let r = run(&mut s, &batch(&g.cert_key, 7, 1, 5_000, &foreign), 0);
        assert_eq!(r.receipt.class(), ErrorClass::Wallet as u8);
        // Nothing above consumed sequence 1.
        assert!(run(&mut s, &good, 0).receipt.is_signed());
    })
}

#[test]
fn a_thousand_psbt_batch_is_processed_one_psbt_per_step() {
    big_stack(|| {
        let (flash, _h) = new_flash();
        let mut s = boot(flash);
        let g = Ground::new(&s, 1, Network::Testnet, ScriptType::Wsh, 0, 21);
        s.provision(&provisioning(&[], 0, &[(&g, "rule allow")]))
            .expect("provision");
        let psbts: Vec<Vec<u8>> = (0..1000u32)
            .map(|i| psbt(&g, &Spend::simple(100_000 + u64::from(i), 50_000, 500, i)))
            .collect();
        let b = batch(&g.cert_key, 1, 1, u64::MAX, &psbts);
        let r = run(&mut s, &b, 0);
        assert!(r.receipt.is_signed(), "{:?}", r.receipt);
        assert_eq!(r.signed.len(), 1000);
        // start + 1000 checks + commit + 1000 signatures + finish: no step does more than one PSBT.
        assert_eq!(r.steps, 2003);
        assert_eq!(verify_node_signatures(&g, &r.signed[999]), 1);
        // The receipt's results digest covers every signed PSBT, in order.
        use sha3::Digest;
        let mut h = sha3::Sha3_256::new();
        for (i, p) in r.signed.iter().enumerate() {
            h.update(signer::batch::receipt::entry(i as u16, 1, p));
        }
        assert_eq!(r.receipt.results_digest(), <[u8; 32]>::from(h.finalize()));
    })
}
