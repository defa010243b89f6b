//! A batch near the node's size limit crosses while comms keeps answering; a wrong key is named.

use super::*;

#[test]
fn a_large_batch_crosses_while_comms_keeps_answering_and_a_wrong_key_is_named() {
    let _one = one_board();
    let s = setup(1);
    // The largest count a certificate takes, signed with a key the signer does not know.
    let psbts = vec![s.w.psbts[0].clone(); signer::cert::MAX_PSBTS];
    let wrong = s.dir.path().join("wrong.key");
    write_secret(&wrong, &support::hex(&support::p256_key(99).to_bytes()));
    let mut node = s.boot(2000);
    let o = sign_cmd(
        s.uplink,
        s.listen,
        &s.ground_state,
        &wrong,
        &psbts,
        &s.out,
        2000,
    )
    .output()
    .expect("ground sign");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("does not match the server's key (wrong --key?)"),
        "{t}"
    );
    let size = number_after(&t, "batch 0x700000001:");
    assert!(size > 700 * 1024, "{t}");
    eprintln!("{t}");
    no_comms_restart(&mut node);
}
