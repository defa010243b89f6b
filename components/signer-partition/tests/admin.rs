//! Registry administration over the signer's admin channels, in process: signed xpub exports,
//! an M-of-N command applied, and each kind of refusal answered with its code; admin requests
//! wait while a batch is being signed.

#[allow(dead_code)]
mod inproc;
#[path = "../../signer/tests/support/mod.rs"]
mod support;
#[allow(dead_code)]
#[path = "partition/world.rs"]
mod world;

use board_sim::flash::SimFlash;
use inproc::{ADMIN_REQUESTS, Got, Harness, SIGN_REQUESTS};
use protocol::admin::ArchivedAdminOutcome;
use protocol::{AdminOp, AdminRequest, BoundedBytes, Ping};
use signer::descriptor::ScriptType;
use signer::export::XpubExport;
use signer::wallet::Network;
use support::*;

#[test]
fn exports_and_commands_over_the_admin_channels() {
    big_stack(|| {
        let admins = [p256_key(1), p256_key(2), p256_key(3)];
        let flash =
            SimFlash::anonymous(board_sim::monitor::devices::FLASH_IMAGE_SIZE).expect("memfd");
        let s = world::boot_on(flash);
        let w = world::build(&s);
        let identity = s.identity_public_key();
        let g2 = Ground::new(&s, 8, Network::Regtest, ScriptType::Wsh, 4, 90);
        let mut flash = s.into_flash();
        let text = provisioning(&admins, 2, &[(&w.ground, world::RULES)]);
        signer_partition::inbox::write(&mut flash, &text).expect("inbox");
        let mut h = Harness::start(flash);

        // Exports: signed by the identity key, for a server and by account.
        let Got::Export(bytes) = h.ask(
            1,
            AdminOp::ExportServer {
                server_id: world::SERVER,
            },
        ) else {
            panic!("server export refused")
        };
        assert!(XpubExport::from_bytes(bytes).verify(&identity));
        let Got::Export(mut bytes) = h.ask(
            2,
            AdminOp::ExportAccount {
                network: 2,
                script_type: 0,
                account: 4,
            },
        ) else {
            panic!("account export refused")
        };
        assert!(XpubExport::from_bytes(bytes).verify(&identity));
        bytes[40] ^= 1;
        assert!(
            !XpubExport::from_bytes(bytes).verify(&identity),
            "tamper shows"
        );
        assert_eq!(
            h.ask(3, AdminOp::ExportServer { server_id: 99 }),
            Got::ExportRefused(signer_partition::admin::EXPORT_UNKNOWN_SERVER)
        );
        assert_eq!(
            h.ask(
                4,
                AdminOp::ExportAccount {
                    network: 9,
                    script_type: 0,
                    account: 0,
                },
            ),
            Got::ExportRefused(signer_partition::admin::EXPORT_BAD_ARGUMENT)
        );

        // A 2-of-3 command adds server 8; its replay, one signature short, and a tampered one
        // are refused with the signer's codes.
        let cmd = |counter: u64, body: &str, signers: &[(u8, &p256::SecretKey)]| {
            let mut b = vec![0u8; signer::admin::MAX_ENVELOPE];
            let n = signer::admin::build(&mut b, &identity, counter, body, signers).expect("build");
            b.truncate(n);
            AdminOp::Command {
                envelope: BoundedBytes::new(&b).expect("fits"),
            }
        };
        let body = format!("{}\nrule allow max-amount=1000\n", g2.server_line());
        let two = [(0u8, &admins[0]), (2u8, &admins[2])];
        assert_eq!(h.ask(5, cmd(1, &body, &two)), Got::Applied(1));
        assert!(h.runner.component().signer().registry().server(8).is_some());
        assert_eq!(h.ask(6, cmd(1, &body, &two)), Got::Refused(3));
        assert_eq!(
            h.ask(7, cmd(2, "revoke id=8", &[(1, &admins[1])])),
            Got::Refused(7)
        );
        let AdminOp::Command { envelope } = cmd(2, "revoke id=8", &two) else {
            unreachable!()
        };
        let mut forged = envelope.as_slice().to_vec();
        forged[24] ^= 1;
        let forged = AdminOp::Command {
            envelope: BoundedBytes::new(&forged).expect("fits"),
        };
        assert_eq!(h.ask(8, forged), Got::Refused(6));
        assert!(h.runner.component().signer().registry().server(8).is_some());

        // While a batch is being signed, an admin request waits for it to finish.
        let (id, batch, _) = &w.batches[0];
        h.send_batch(*id, batch);
        h.admin_requests
            .try_send(&AdminRequest {
                request_id: 9,
                op: cmd(2, "revoke id=8", &two),
            })
            .expect("room");
        h.step_with(&[SIGN_REQUESTS, ADMIN_REQUESTS]);
        let (mut signed_done, mut admin_at, mut batch_done_at) = (false, None, None);
        for i in 0..10_000u32 {
            let _ = h.pings.try_send(&Ping {
                nonce: 1,
                sequence: i,
            });
            h.step();
            while h.pongs.try_recv(|_| ()).is_ok() {}
            while let Ok(last) = h.responses.try_recv(|m| {
                matches!(m.status, protocol::signing::ArchivedSignStatus::Signed)
                    && m.position.count.to_native() != 0
            }) {
                if last && !signed_done {
                    signed_done = true;
                    batch_done_at = Some(i);
                }
            }
            if let Ok(applied) = h
                .admin_responses
                .try_recv(|m| matches!(m.outcome, ArchivedAdminOutcome::Applied { .. }))
            {
                assert!(applied, "the revocation applies once the batch is done");
                admin_at = Some(i);
                break;
            }
        }
        let (admin_at, batch_done_at) = (
            admin_at.expect("admin answered"),
            batch_done_at.expect("batch signed"),
        );
        assert!(
            admin_at >= batch_done_at,
            "admin answered at {admin_at}, batch finished at {batch_done_at}"
        );
        let revoked = h
            .runner
            .component()
            .signer()
            .registry()
            .server(8)
            .map(|s| s.revoked);
        assert_eq!(revoked, Some(true));

        // Mission time: not set until the admins correlate it; a correlation is answered like
        // any command (the admin counter stays), a replay is refused with its code, one signature
        // of two is not enough, and the clock query reports what the signer holds.
        let Got::Clock { mission_ms: 0, .. } = h.ask(10, AdminOp::Clock) else {
            panic!("a clock before any correlation")
        };
        const T0: u64 = 1_790_000_000_000;
        let time = |counter: u64, ms: u64| cmd(counter, &format!("time {ms}"), &two);
        assert_eq!(h.ask(11, time(3, T0)), Got::Applied(2));
        assert_eq!(h.ask(12, time(4, T0)), Got::Refused(13));
        assert_eq!(h.ask(13, time(5, T0 - 1)), Got::Refused(13));
        assert_eq!(
            h.ask(
                14,
                cmd(6, &format!("time {}", T0 + 60_000), &[(1, &admins[1])])
            ),
            Got::Refused(7)
        );
        let Got::Clock {
            mission_ms,
            correlated_ms: T0,
            mark_ms: T0,
        } = h.ask(15, AdminOp::Clock)
        else {
            panic!("the clock after a correlation")
        };
        assert!(mission_ms >= T0, "{mission_ms}");
        // Forward again (the harness's board clock advances a microsecond per step, so the
        // node's mission time is still T0; backwards correlations are refused in the signer's
        // `mission_time` test and the whole-system `ground_sign` test).
        assert_eq!(h.ask(16, time(7, T0 + 1)), Got::Applied(2));
    })
}
