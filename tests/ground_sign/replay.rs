//! Point 1 of the module docs: a batch co-signed over the lossy link, its replay refused, and
//! the certificate sequence recovered.

use super::*;

#[test]
fn a_batch_is_co_signed_over_a_lossy_link_and_its_replay_refused() {
    let _one = one_board();
    let s = setup(3);
    let (w, ground_state) = (&s.w, &s.ground_state);
    let mut node = s.boot(2000);

    let o = s.sign(&w.psbts, 2000).output().expect("ground sign");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("node reached") && t.contains("batch delivered"),
        "{t}"
    );
    assert!(t.contains("co-signed in"), "{t}");
    check_signed(w, &s.out);
    eprintln!("{t}");

    // The identical batch again (same sequence, same PSBTs) is a resubmission: the signer
    // answers with the same signatures.
    std::fs::write(ground_state.join(format!("server-{SERVER}.seq")), "0\n").expect("seq");
    s.clear_out();
    let o = s.sign(&w.psbts, 2000).output().expect("ground sign");
    assert!(o.status.success(), "{}", text(&o));
    check_signed(w, &s.out);

    // The same certificate sequence on other contents: a replay, refused with the reason.
    std::fs::write(ground_state.join(format!("server-{SERVER}.seq")), "0\n").expect("seq");
    let o = s.sign(&w.psbts[..2], 2000).output().expect("ground sign");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("replayed sequence number"), "{t}");
    assert!(
        t.contains("this ground's record of its last sequence"),
        "{t}"
    );
    assert!(t.contains("--next-sequence N"), "{t}");
    recover_the_certificate_sequence(&s);

    // A payment above the server's max-amount: refused by policy, and the tool says so.
    let big = s.dir.path().join("big.psbt");
    std::fs::write(
        &big,
        support::psbt(
            &w.ground,
            &support::Spend::simple(7_000_000, 6_000_000, 1_000, 40),
        ),
    )
    .expect("psbt");
    let o = s
        .sign(std::slice::from_ref(&big), 2000)
        .output()
        .expect("ground sign");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    // The deny rule decided; the refusal names the limit of the allow rule above it, the
    // PSBT's file and what to do.
    assert!(
        t.contains(&format!(
            "policy: rule 1 (a deny rule) decided; the nearest allow rule, rule 0, failed: the outflow (payments plus fee) is over its max-amount; PSBT 0 ({}). What to do: keep the transaction within that limit",
            big.display()
        )),
        "{t}"
    );

    // Issue 15 point 7: nothing the operator reads, from the ground or in the node's log of
    // all the above (boot, batches, a replay, a policy refusal), is Rust debug formatting.
    let mut ground_out = String::from_utf8_lossy(&o.stdout).into_owned();
    ground_out.push_str(&String::from_utf8_lossy(&o.stderr));
    for cmd in ["ping", "status"] {
        let o = common::ground_cli(cmd, s.uplink, s.listen, ground_state);
        assert!(o.status.success(), "{}", text(&o));
        ground_out.push_str(&String::from_utf8_lossy(&o.stdout));
        ground_out.push_str(&String::from_utf8_lossy(&o.stderr));
    }
    no_comms_restart(&mut node);
    common::assert_no_debug_formatting("spacenode ground", ground_out.lines());
    common::assert_no_debug_formatting("the node's log", node.log.iter().map(String::as_str));
    // One format for batch ids: hex, as the ground prints them (`batch 0x700000001`).
    let decimal_id = |l: &&String| {
        l.split("batch ")
            .skip(1)
            .any(|r| r.starts_with(|c: char| c.is_ascii_digit()) && !r.starts_with("0x"))
    };
    let decimal: Vec<&String> = node.log.iter().filter(decimal_id).collect();
    assert!(decimal.is_empty(), "decimal batch ids: {decimal:#?}");
}

/// Issue 15 point 4 and issue 13 finding 5 for certificate sequences, on the node of the first
/// test (its last accepted sequence for the server is 1, the ground's record 1):
/// `--next-sequence` going backwards or past the node's step bound is refused before anything
/// is sent; a sequence far above the node's last (a hand-edited record) is refused by the node
/// with its own reason; a ground whose state was lost is told how to recover and recovers with
/// `--next-sequence`.
fn recover_the_certificate_sequence(s: &Setup) {
    let sign = |extra: &[String]| {
        let o = s
            .sign(&s.w.psbts[..1], 2000)
            .args(extra)
            .output()
            .expect("ground sign");
        (o.status.code(), text(&o))
    };
    let next = |n: u64| vec!["--next-sequence".to_string(), n.to_string()];
    let step = signer::cert::MAX_SEQUENCE_STEP;
    let (code, t) = sign(&next(1));
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("would go backwards"), "{t}");
    assert!(!t.contains("node reached"), "nothing sent: {t}");
    let (code, t) = sign(&next(2 + step));
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("the node refuses such a step"), "{t}");
    assert!(!t.contains("node reached"), "nothing sent: {t}");
    let record = s.ground_state.join(format!("server-{SERVER}.seq"));
    assert_eq!(std::fs::read_to_string(&record).expect("record"), "1\n");

    // A hand-edited record far ahead: the node refuses the step itself.
    std::fs::write(&record, format!("{}\n", 1 + step)).expect("seq");
    let (code, t) = sign(&[]);
    assert_eq!(code, Some(1), "{t}");
    assert!(
        t.contains("more than 2^20 above the last one accepted"),
        "{t}"
    );

    // A step within the bound is taken.
    std::fs::write(&record, "1\n").expect("seq");
    let (code, t) = sign(&next(5));
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("(certificate sequence 5)"), "{t}");

    // The ground's state is lost: replayed, with the way out, which works.
    std::fs::remove_file(&record).expect("lose the record");
    let (code, t) = sign(&[]);
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("replayed sequence number"), "{t}");
    assert!(t.contains("to recover:"), "{t}");
    let (code, t) = sign(&next(6));
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("(certificate sequence 6)"), "{t}");
}
