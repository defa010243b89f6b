//! Comms' link recovery over the signer's admin channels, in process
//! (`signer_partition::link_recovery`): one harness per process, hence its own file.

#[allow(dead_code)]
mod inproc;
#[path = "../../signer/tests/support/mod.rs"]
mod support;
#[allow(dead_code)]
#[path = "partition/world.rs"]
mod world;

use board_sim::flash::SimFlash;
use inproc::{Got, Harness};
use protocol::{AdminOp, BoundedBytes};
use support::*;

/// Comms' link recovery (`signer_partition::link_recovery`): the signer reads out a challenge,
/// verifies a `recover-link` M-of-N against it without changing the registry, then moves to a
/// new challenge, so the same envelope (captured) is refused; an under-signed, a wrongly
/// challenged or a malformed one is refused with its code.
#[test]
fn a_link_recovery_is_verified_once_against_the_current_challenge_and_changes_nothing() {
    big_stack(|| {
        let admins = [p256_key(1), p256_key(2), p256_key(3)];
        let flash =
            SimFlash::anonymous(board_sim::monitor::devices::FLASH_IMAGE_SIZE).expect("memfd");
        let s = world::boot_on(flash);
        let w = world::build(&s);
        let identity = s.identity_public_key();
        let mut flash = s.into_flash();
        let text = provisioning(&admins, 2, &[(&w.ground, world::RULES)]);
        signer_partition::inbox::write(&mut flash, &text).expect("inbox");
        let mut h = Harness::start(flash);
        let verify = |counter: u64, body: &str, signers: &[(u8, &p256::SecretKey)]| {
            let mut b = vec![0u8; signer::admin::MAX_ENVELOPE];
            let n = signer::admin::build(&mut b, &identity, counter, body, signers).expect("build");
            b.truncate(n);
            AdminOp::VerifyLinkRecovery {
                envelope: BoundedBytes::new(&b).expect("fits"),
            }
        };
        let hex = |c: &[u8; 16]| hex_conservative::DisplayHex::as_hex(&c[..]).to_string();
        let body = |c: &[u8; 16]| format!("recover-link challenge={} sa=1:0:900:900", hex(c));
        let two = [(0u8, &admins[0]), (2u8, &admins[2])];
        let counter = h.runner.component().signer().registry().admin_counter();

        let Got::Challenge(c) = h.ask(1, AdminOp::LinkRecoveryChallenge) else {
            panic!("no link challenge")
        };
        assert_eq!(h.ask(2, AdminOp::LinkRecoveryChallenge), Got::Challenge(c));
        assert_eq!(
            h.ask(3, verify(counter + 1, &body(&c), &two[..1])),
            Got::Refused(7)
        );
        assert_eq!(
            h.ask(4, verify(counter + 1, &body(&[0xAB; 16]), &two)),
            Got::Refused(17)
        );
        assert_eq!(
            h.ask(5, verify(counter + 1, "revoke id=1", &two)),
            Got::Refused(1)
        );
        assert_eq!(h.ask(6, verify(counter, &body(&c), &two)), Got::Refused(3));
        let captured = verify(counter + 1, &body(&c), &two);
        assert_eq!(h.ask(7, captured.clone()), Got::LinkVerified);
        // Nothing changed on the signer; the challenge did.
        assert_eq!(
            h.runner.component().signer().registry().admin_counter(),
            counter
        );
        let Got::Challenge(c2) = h.ask(8, AdminOp::LinkRecoveryChallenge) else {
            panic!("no link challenge")
        };
        assert_ne!(c2, c);
        assert_eq!(h.ask(9, captured), Got::Refused(17));
        assert_eq!(
            h.ask(10, verify(counter + 1, &body(&c2), &two)),
            Got::LinkVerified
        );
    })
}
