//! A batch co-signed over the radio as a CCSDS space link (`--radio-link` / `--link
//! ccsds:421`): the batch file goes up by CFDP in TC frames under FOP-1, the result file
//! comes down in TM frames, through the same lossy radio as the other tests.

use super::*;

#[test]
fn a_batch_is_co_signed_over_the_ccsds_radio() {
    let _one = one_board();
    let s = setup(3);
    let mut flags = radio(2000);
    flags.extend(["--radio-link".to_string(), "ccsds:421".to_string()]);
    let mut node = Board::boot(&s.state, s.uplink, s.listen, &flags);
    node.wait_for("radio: CCSDS space link");

    let o = s
        .sign(&s.w.psbts, 2000)
        .args(["--link", "ccsds:421"])
        .output()
        .expect("ground sign");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("co-signed in"), "{t}");
    assert!(t.contains("CCSDS space link (ccsds:421)"), "{t}");
    check_signed(&s.w, &s.out);
    eprintln!("{t}");
    no_comms_restart(&mut node);
}
