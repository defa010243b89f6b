//! Transfers over loss, a node reset mid-transfer, and power cuts at every flash operation.

use super::harness::{Run, data};
use crate::cfdp::journal::Phase;
use crate::cfdp::sender::SendState;
use board_sim::flash::PowerCut;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(600);

#[test]
fn lossy_transfers_complete_byte_identical() {
    for (loss, seed) in [(0u64, 1u64), (10, 2), (30, 3)] {
        let file = data(200 * 1024 + 77, seed);
        let mut run = Run::new(file.clone(), loss, seed);
        assert!(run.run(LIMIT));
        assert_eq!(run.tx.state(), SendState::Delivered, "loss {loss}%");
        assert_eq!(run.take_file(), file, "loss {loss}%");
        let p = run.tx.progress();
        assert_eq!(p.acknowledged, p.total);
        assert_eq!(p.sent, file.len() as u64);
        if loss == 0 {
            assert_eq!(p.retransmitted, 0);
        } else {
            assert!(p.retransmitted > 0, "loss {loss}%: nothing retransmitted");
            // NAK-based repair resends roughly what was lost, not the whole file.
            assert!(
                p.retransmitted < file.len() as u64 * (2 * loss) / 100 + 16 * 1024,
                "loss {loss}%: {} bytes resent",
                p.retransmitted
            );
        }
        let c = run.rx.counters();
        assert_eq!(c.completed, 1);
        assert_eq!(c.failed, 0);
        // Taken once: a second take returns nothing.
        assert!(run.rx.take_received(&mut run.flash).unwrap().is_none());
    }
}

#[test]
fn node_reset_mid_transfer_resumes() {
    let size = 512 * 1024;
    let file = data(size, 9);
    let mut run = Run::new(file.clone(), 10, 9);
    // Stream until the node holds about 60% of the file, then reset it.
    while run.rx.progress().map_or(0, |p| p.received) < (size as u64) * 6 / 10 {
        assert!(run.step());
    }
    let persisted = run.rx.progress().unwrap().persisted;
    assert!(persisted > 0);
    run.reset_node();
    let p = run.rx.progress().unwrap();
    assert_eq!(
        p.received, persisted,
        "the journal gives back what was checkpointed"
    );
    assert_eq!(p.phase, Phase::Receiving);
    assert_eq!(run.rx.counters().resumed, 1);
    assert!(run.run(LIMIT));
    assert_eq!(run.tx.state(), SendState::Delivered);
    assert_eq!(run.take_file(), file);
    let t = run.tx.progress();
    let total = t.sent + t.retransmitted;
    // Well below two full transfers: the reset cost about what was not yet checkpointed.
    assert!(
        total < size as u64 * 13 / 10,
        "sent {total} bytes for a {size}-byte file"
    );
}

#[test]
fn node_reset_after_eof_resumes_from_the_journal() {
    let size = 64 * 1024;
    let file = data(size, 11);
    let mut run = Run::new(file.clone(), 30, 11);
    // Until the first EOF went out, then long enough for it to arrive and be acknowledged.
    while run.tx.progress().eofs == 0 || run.rx.progress().is_none() {
        assert!(run.step());
    }
    for _ in 0..30 {
        assert!(run.step());
    }
    assert!(
        run.rx.progress().unwrap().received < size as u64,
        "30% loss left gaps"
    );
    run.reset_node();
    assert!(run.run(LIMIT));
    assert_eq!(run.tx.state(), SendState::Delivered);
    assert_eq!(run.take_file(), file);
}

/// Power is cut at every flash operation of a transfer in turn (landing a varying prefix of the
/// cut operation). After each cut the node reboots from the flash and the transfer goes on.
/// What a checkpoint had committed is never lost, and the delivered file is always exact.
#[test]
fn power_cut_at_every_flash_op_never_loses_or_corrupts() {
    let size = 20 * 1024 + 3;
    let file = data(size, 21);
    // Reference run: how many flash operations a clean transfer makes.
    let mut clean = Run::new(file.clone(), 0, 21);
    assert!(clean.run(LIMIT));
    let total_ops = clean.flash.ops();
    assert!(total_ops > 20, "only {total_ops} flash ops");
    let mut cuts = 0;
    for at_op in 0..total_ops {
        let mut run = Run::new(file.clone(), 0, 21);
        // Opening the receiver already read the flash; count cuts from now on.
        run.flash.power_cycle();
        let landed = (at_op as usize * 37) % 700;
        run.flash.cut_power(PowerCut { at_op, landed });
        let mut last_persisted = 0;
        let mut cut_seen = false;
        while run.tx.state() == SendState::Active && run.now < LIMIT {
            last_persisted = run.rx.progress().map_or(last_persisted, |p| p.persisted);
            if !run.step() {
                cut_seen = true;
                run.reset_node();
                let got = run.rx.progress().map_or(0, |p| p.received);
                assert!(
                    got >= last_persisted,
                    "cut at op {at_op}: {got} bytes after reboot, {last_persisted} were committed"
                );
            }
        }
        assert!(run.run(LIMIT), "cut at op {at_op}");
        assert!(
            cut_seen || at_op >= total_ops - 2,
            "cut at op {at_op} never hit"
        );
        assert_eq!(run.tx.state(), SendState::Delivered, "cut at op {at_op}");
        assert_eq!(run.take_file(), file, "cut at op {at_op}");
        cuts += u64::from(cut_seen);
    }
    eprintln!("power cuts: {cuts} of {total_ops} ops hit and recovered");
    assert!(cuts >= total_ops - 2);
}

/// A second transfer replaces a delivered one (its metadata erases the data area): power is cut
/// at every flash operation of the second transfer. The second file always arrives exact: no
/// byte of the first survives under a record of the second.
#[test]
fn power_cut_while_a_new_transfer_replaces_the_last_one() {
    use crate::cfdp::sender::Sender;
    let first = data(12 * 1024 + 1, 40);
    let second = data(16 * 1024 + 2, 41);
    let prepare = || {
        let mut run = Run::new(first.clone(), 0, 40);
        assert!(run.run(LIMIT));
        assert_eq!(run.take_file(), first);
        run.tx = Sender::new(super::harness::tx_cfg(), 8, b"batch.bin", &second).unwrap();
        run.data = second.clone();
        run.flash.power_cycle(); // restart the op counter
        run
    };
    let mut clean = prepare();
    assert!(clean.run(LIMIT));
    assert_eq!(clean.take_file(), second);
    let total_ops = clean.flash.ops();
    let mut cuts = 0;
    for at_op in 0..total_ops {
        let mut run = prepare();
        run.flash.cut_power(PowerCut {
            at_op,
            landed: (at_op as usize * 53) % 5000,
        });
        while run.tx.state() == SendState::Active && run.now < LIMIT {
            if !run.step() {
                cuts += 1;
                run.reset_node();
            }
        }
        if !run.run(LIMIT) {
            cuts += 1;
            run.reset_node();
            assert!(run.run(LIMIT), "cut at op {at_op}");
        }
        assert_eq!(run.tx.state(), SendState::Delivered, "cut at op {at_op}");
        if run.rx.take_received(&mut run.flash).is_err() {
            // The cut hit the take itself: after the reboot the file is still there to take.
            assert!(!run.flash.powered(), "cut at op {at_op}");
            cuts += 1;
            run.reset_node();
        } else {
            // Taken: put it back in the not-yet-taken state for the common check below.
            run.reset_node();
        }
        let got = match run.rx.received() {
            Some(f) => {
                let mut out = vec![0u8; f.size as usize];
                run.rx.read_received(&mut run.flash, 0, &mut out).unwrap();
                out
            }
            None => {
                // Delivered before the reboot: the bytes are still readable.
                let mut out = vec![0u8; second.len()];
                run.rx.read_received(&mut run.flash, 0, &mut out).unwrap();
                out
            }
        };
        assert_eq!(got, second, "cut at op {at_op}");
    }
    assert!(cuts >= total_ops - 2, "{cuts} of {total_ops} cuts hit");
}
