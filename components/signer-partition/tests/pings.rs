//! The signer component in process, driven by `runtime`'s `Runner` with a scripted backend: a
//! batch is signed one step per notification, and the watchdog's pings are answered between
//! the steps, while the signed stream is only partly out (so a long batch never starves the
//! watchdog). One test per process: the component's static buffers are taken once.

#[path = "../../signer/tests/support/mod.rs"]
mod support;
#[allow(dead_code)]
#[path = "partition/world.rs"]
mod world;

#[allow(dead_code)]
mod inproc;

use board_sim::flash::SimFlash;
use inproc::{Harness, SIGN_REQUESTS};
use protocol::Ping;

#[test]
fn a_batch_is_signed_one_step_per_call_with_pings_answered_in_between() {
    support::big_stack(|| {
        // Clean room: keys and provisioning in the inbox.
        let flash =
            SimFlash::anonymous(board_sim::monitor::devices::FLASH_IMAGE_SIZE).expect("memfd");
        let s = world::boot_on(flash);
        let w = world::build(&s);
        let mut flash = s.into_flash();
        signer_partition::inbox::write(&mut flash, &w.provisioning).expect("inbox");
        let mut h = Harness::start(flash);
        assert!(
            h.runner.component().signer().is_provisioned(),
            "provisioned from the inbox"
        );

        let (id, bytes, n) = &w.batches[0];
        h.send_batch(*id, bytes);
        // Deliver the requests: the notification is the request source this once.
        let (mut stream, mut done, mut iterations, mut pongs_mid_stream) =
            (Vec::new(), false, 0, 0);
        let mut seq = 0u32;
        while !done {
            iterations += 1;
            assert!(iterations < 10_000, "batch does not finish");
            seq += 1;
            h.pings
                .try_send(&Ping {
                    nonce: 1,
                    sequence: seq,
                })
                .expect("ping room");
            if iterations == 1 {
                // First call: the requests fire too.
                h.step_with(&[SIGN_REQUESTS]);
            } else {
                h.step();
            }
            let answered = h
                .pongs
                .try_recv(|p| p.sequence.to_native())
                .expect("every ping answered");
            assert_eq!(answered, seq);
            let before = stream.len();
            while let Ok(m) = h.responses.try_recv(|m| {
                (
                    m.position.count.to_native(),
                    m.data.as_slice().to_vec(),
                    matches!(m.status, protocol::signing::ArchivedSignStatus::Signed),
                )
            }) {
                let (last_count, data, signed) = m;
                if signed {
                    stream.extend_from_slice(&data);
                    done |= last_count != 0;
                }
            }
            if before > 0 && !done {
                pongs_mid_stream += 1;
            }
        }
        // Start, n checks, commit, n signs, finish: at least 2n + 3 handler calls, each
        // preceded by an answered ping.
        assert!(
            iterations >= 2 * n + 3,
            "{iterations} iterations for {n} PSBTs"
        );
        assert!(
            pongs_mid_stream >= 2,
            "pings answered while the signed stream was partly out: {pongs_mid_stream}"
        );
        assert!(stream.len() > 163);
    })
}
