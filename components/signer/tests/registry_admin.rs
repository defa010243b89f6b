//! Keys at boot, provisioning, the registry, signed xpub export, and admin commands: the
//! accepted ones and every refusal, each with its code, plus persistence across reboots.
mod support;

use signer::admin::{AdminError, build};
use signer::descriptor::ScriptType;
use signer::keys::{KeyError, KeyOrigin};
use signer::node::{BootError, ProvisionError, Signer};
use signer::provision::TextErrorKind;
use signer::registry::{Command, RegistryErrorKind};
use signer::wallet::{Network, WalletError};
use support::*;

fn admins() -> [p256::SecretKey; 3] {
    [p256_key(1), p256_key(2), p256_key(3)]
}

fn cmd(node: &[u8; 33], counter: u64, body: &str, signers: &[(u8, &p256::SecretKey)]) -> Vec<u8> {
    let mut b = vec![0u8; 8192];
    let n = build(&mut b, node, counter, body, signers).expect("build");
    b.truncate(n);
    b
}

#[test]
fn keys_are_created_once_sealed_and_never_silently_replaced() {
    big_stack(|| {
        let (flash, h) = new_flash();
        let (s, origin) = Signer::boot(flash, LAYOUT, &seal(), &mut TestRng(77)).expect("boot");
        assert_eq!(origin, KeyOrigin::Created);
        let id = s.identity_public_key();
        drop(s);
        let reopen = || Flash::from_file(h.try_clone().expect("clone")).expect("reopen");
        let (s, origin) = Signer::boot(reopen(), LAYOUT, &seal(), &mut TestRng(78)).expect("boot");
        assert_eq!((origin, s.identity_public_key()), (KeyOrigin::Loaded, id));
        drop(s);
        // The seed never appears in the clear on flash: regenerate the RNG's first 32 bytes.
        let mut seed = [0u8; 32];
        hal::rng::TryRng::try_fill_bytes(&mut TestRng(77), &mut seed).expect("rng");
        let img = image(&h);
        assert!(
            !img.windows(32).any(|w| w == seed),
            "seed in the clear on flash"
        );
        // Another seal key: refused, never replaced.
        let other = signer::keys::SealKey::new([1; 32]);
        let e = Signer::boot(reopen(), LAYOUT, &other, &mut TestRng(1)).err();
        assert_eq!(e, Some(BootError::Keys(KeyError::Corrupt)));
        // A bit flip in one copy is absorbed by the mirror; in both copies it is refused.
        let mut f = reopen();
        f.flip_bit(40, 3).expect("flip");
        let (s, origin) = Signer::boot(f, LAYOUT, &seal(), &mut TestRng(2)).expect("boot");
        assert_eq!((origin, s.identity_public_key()), (KeyOrigin::Loaded, id));
        drop(s);
        let mut f = reopen();
        f.flip_bit(4096 + 40, 3).expect("flip");
        let e = Signer::boot(f, LAYOUT, &seal(), &mut TestRng(2)).err();
        assert_eq!(e, Some(BootError::Keys(KeyError::Corrupt)));
        // The record is still there: the node did not make a new seed.
        let img2 = image(&h);
        assert_eq!(img2[41..4096], img[41..4096]);
    })
}

#[test]
fn a_failing_rng_makes_no_seed() {
    struct Broken;
    #[derive(Debug)]
    struct E;
    impl core::fmt::Display for E {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("entropy source failed")
        }
    }
    impl core::error::Error for E {}
    impl hal::rng::TryRng for Broken {
        type Error = E;
        fn try_next_u32(&mut self) -> Result<u32, E> {
            Err(E)
        }
        fn try_next_u64(&mut self) -> Result<u64, E> {
            Err(E)
        }
        fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), E> {
            Err(E)
        }
    }
    impl hal::rng::TryCryptoRng for Broken {}
    big_stack(|| {
        let (flash, h) = new_flash();
        let e = Signer::boot(flash, LAYOUT, &seal(), &mut Broken).err();
        assert_eq!(e, Some(BootError::Keys(KeyError::Rng)));
        assert!(image(&h).iter().all(|&b| b == 0xFF), "nothing written");
    })
}

#[test]
fn provisioning_export_and_reboot() {
    big_stack(|| {
        let (flash, h) = new_flash();
        let mut s = boot(flash);
        let g = Ground::new(&s, 3, Network::Testnet, ScriptType::ShWsh, 2, 40);
        let text = provisioning(&admins(), 2, &[(&g, "rule allow max-amount=5\nrule deny")]);
        // Before provisioning: nothing registered, admin commands refused.
        assert!(!s.is_provisioned());
        s.provision(&text).expect("provision");
        assert_eq!(s.provision(&text), Err(ProvisionError::AlreadyProvisioned));
        let export = s.export_server_xpub(3).expect("export");
        assert!(export.verify(&s.identity_public_key()));
        let mut forged = *export.as_bytes();
        forged[30] ^= 1;
        assert_ne!(&forged, export.as_bytes());
        assert_eq!(
            export.xpub_bytes(),
            node_cosigner(&s, Network::Testnet, ScriptType::ShWsh, 2)
                .xpub
                .serialize()
        );
        assert!(s.export_server_xpub(4).is_err());
        drop(s);
        let s = reboot(&h);
        let server = s.registry().server(3).expect("server survives reboot");
        assert_eq!(server.policy.rules().len(), 2);
        assert_eq!(server.descriptor(), g.descriptor);
        assert_eq!(s.registry().threshold(), 2);
        assert_eq!(s.registry().admins().len(), 3);
    })
}

#[test]
fn provisioning_refusals() {
    big_stack(|| {
        let (flash, _h) = new_flash();
        let mut s = boot(flash);
        let g = Ground::new(&s, 3, Network::Regtest, ScriptType::Wsh, 0, 40);
        let kind = |s: &mut Signer<Flash>, t: &str| match s.provision(t) {
            Err(ProvisionError::Registry(e)) => e.kind,
            other => panic!("expected a registry error, got {other:?}"),
        };
        assert_eq!(
            kind(&mut s, "admin-threshold 1\n"),
            RegistryErrorKind::Text(TextErrorKind::BadHeader)
        );
        let a = admins();
        assert_eq!(
            kind(&mut s, &provisioning(&a, 4, &[])),
            RegistryErrorKind::BadThreshold
        );
        assert_eq!(
            kind(&mut s, &provisioning(&a, 0, &[])),
            RegistryErrorKind::BadThreshold
        );
        let dup = [p256_key(1), p256_key(1)];
        assert_eq!(
            kind(&mut s, &provisioning(&dup, 1, &[])),
            RegistryErrorKind::DuplicateAdmin
        );
        assert_eq!(
            kind(&mut s, &provisioning(&a, 1, &[(&g, ""), (&g, "")])),
            RegistryErrorKind::DuplicateServer(3)
        );
        // A second server on the node's same account key.
        let mut g2 = Ground::new(&s, 4, Network::Regtest, ScriptType::Wsh, 0, 41);
        g2.server_id = 4;
        assert_eq!(
            kind(&mut s, &provisioning(&a, 1, &[(&g, ""), (&g2, "")])),
            RegistryErrorKind::AccountInUse(4)
        );
        // A wallet without the node's key (another node's xpub at the same path).
        let (other, _) =
            Signer::boot(new_flash().0, LAYOUT, &seal(), &mut TestRng(999)).expect("other node");
        let foreign = Ground::new(&other, 9, Network::Regtest, ScriptType::Wsh, 0, 42);
        assert_eq!(
            kind(&mut s, &provisioning(&a, 1, &[(&foreign, "")])),
            RegistryErrorKind::Wallet {
                id: 9,
                error: WalletError::OwnKeyMissing
            }
        );
        // Wrong network for the descriptor's keys.
        let mut wrong = provisioning(&a, 1, &[(&g, "")]);
        wrong = wrong.replace("network=regtest", "network=mainnet");
        assert!(matches!(
            kind(&mut s, &wrong),
            RegistryErrorKind::Wallet { .. }
        ));
        let rules: String = (0..9).map(|_| "rule deny\n").collect();
        assert_eq!(
            kind(&mut s, &provisioning(&a, 1, &[(&g, &rules)])),
            RegistryErrorKind::Policy(signer::policy::PolicyError::TooManyRules)
        );
        assert_eq!(
            kind(&mut s, "spacenode-signer-registry 1\nrule allow\n"),
            RegistryErrorKind::Text(TextErrorKind::Misplaced)
        );
        assert!(!s.is_provisioned());
    })
}

#[test]
fn admin_commands_change_the_registry_and_persist() {
    big_stack(|| {
        let a = admins();
        let (flash, h) = new_flash();
        let mut s = boot(flash);
        let node = s.identity_public_key();
        let g = Ground::new(&s, 1, Network::Regtest, ScriptType::Wsh, 0, 50);
        s.provision(&provisioning(&a, 2, &[(&g, "rule allow")]))
            .expect("provision");
        // Add a server.
        let g2 = Ground::new(&s, 2, Network::Regtest, ScriptType::Wsh, 1, 51);
        let body = format!("{}\nrule allow max-amount=1000\n", g2.server_line());
        let c = cmd(&node, 1, &body, &[(0, &a[0]), (1, &a[1])]);
        assert_eq!(s.admin(&c), Ok(Command::Add(2)));
        // Change its policy (2-of-3 with another pair).
        let c = cmd(
            &node,
            2,
            "policy id=2\nrule deny\n",
            &[(2, &a[2]), (0, &a[0])],
        );
        assert_eq!(s.admin(&c), Ok(Command::ChangePolicy(2)));
        // Revoke server 1.
        let c = cmd(&node, 5, "revoke id=1", &[(1, &a[1]), (2, &a[2])]);
        assert_eq!(s.admin(&c), Ok(Command::Revoke(1)));
        drop(s);
        let mut s = reboot(&h);
        assert!(s.registry().server(1).expect("kept").revoked);
        assert_eq!(
            s.registry().server(2).expect("added").policy.rules().len(),
            1
        );
        assert_eq!(s.registry().admin_counter(), 5);
        // A revoked server's batches are refused with certificate code 3.
        let b = batch(
            &g.cert_key,
            1,
            1,
            u64::MAX,
            &[psbt(&g, &Spend::simple(10_000, 1_000, 100, 1))],
        );
        let r = run(&mut s, &b, 0);
        assert_eq!((r.receipt.class(), r.receipt.code()), (1, 3));
        // Server 2 was added without `no-expiry`: a certificate that never expires is refused
        // (certificate code 10) before its policy is looked at.
        let forever = batch(
            &g2.cert_key,
            2,
            1,
            u64::MAX,
            &[psbt(&g2, &Spend::simple(10_000, 1_000, 100, 1))],
        );
        let r = run(&mut s, &forever, 0);
        assert_eq!((r.receipt.class(), r.receipt.code()), (1, 10));
        // With an expiry, on a correlated clock (2-of-3 admins), its policy is now "deny": the
        // decision names rule 0.
        let t = time_command(&s, 6, 1_000, &[(0, &a[0]), (2, &a[2])]);
        assert_eq!(s.admin_at(&t, at_ms(0)), Ok(Command::Correlate(1_000)));
        let b = batch(
            &g2.cert_key,
            2,
            1,
            5_000,
            &[psbt(&g2, &Spend::simple(10_000, 1_000, 100, 1))],
        );
        let r = run(&mut s, &b, 0);
        assert_eq!(
            (r.receipt.class(), r.receipt.code(), r.receipt.rule()),
            (5, 1, Some(0))
        );
    })
}

/// Rotating the admin set as TUF rotates its root: the new set and threshold take effect only
/// with the current threshold of current admins **and** the new threshold of new admins; a
/// replayed rotation is refused; afterwards (across a reboot) only the new set signs.
#[test]
fn the_admin_set_rotates_only_with_both_thresholds_and_then_only_the_new_set_signs() {
    big_stack(|| {
        let a = admins();
        let n = [p256_key(11), p256_key(12)];
        let new = |j: u8| signer::admin::NEW_SET + j;
        let (flash, h) = new_flash();
        let mut s = boot(flash);
        let node = s.identity_public_key();
        let g = Ground::new(&s, 1, Network::Regtest, ScriptType::Wsh, 0, 50);
        s.provision(&provisioning(&a, 2, &[(&g, "rule allow")]))
            .expect("provision");
        let key = |k: &p256::SecretKey| hex(&signer::p256sig::compress(&k.public_key()));
        let set = |m: u8| {
            format!(
                "admin-threshold {m}\nadmin {}\nadmin {}\n",
                key(&n[0]),
                key(&n[1])
            )
        };
        let body = set(2);
        let refusal = |s: &mut Signer<Flash>, c: &[u8]| match s.admin(c) {
            Err(AdminError::Refused(e)) => Some(e.kind),
            _ => None,
        };
        // Only the current set signed: the new set never showed it can sign.
        assert_eq!(
            s.admin(&cmd(&node, 1, &body, &[(0, &a[0]), (1, &a[1])])),
            Err(AdminError::NotEnoughNewSignatures { got: 0, needed: 2 })
        );
        assert_eq!(
            s.admin(&cmd(
                &node,
                1,
                &body,
                &[(0, &a[0]), (1, &a[1]), (new(0), &n[0])]
            )),
            Err(AdminError::NotEnoughNewSignatures { got: 1, needed: 2 })
        );
        // The whole new set but one current admin: below the current threshold.
        assert_eq!(
            s.admin(&cmd(
                &node,
                1,
                &body,
                &[(0, &a[0]), (new(0), &n[0]), (new(1), &n[1])]
            )),
            Err(AdminError::NotEnoughSignatures { got: 1, needed: 2 })
        );
        // A new-set signature on anything but a rotation names no admin.
        assert_eq!(
            s.admin(&cmd(
                &node,
                1,
                "revoke id=1",
                &[(0, &a[0]), (1, &a[1]), (new(0), &n[0])]
            )),
            Err(AdminError::UnknownAdmin(0x80))
        );
        // A threshold above the new set's size.
        let all = [(0, &a[0]), (1, &a[1]), (new(0), &n[0]), (new(1), &n[1])];
        assert_eq!(
            refusal(&mut s, &cmd(&node, 1, &set(3), &all)),
            Some(RegistryErrorKind::BadThreshold)
        );
        assert_eq!(s.registry().admins().len(), 3, "nothing changed so far");
        // Both thresholds: rotated.
        let rotation = cmd(
            &node,
            2,
            &body,
            &[(2, &a[2]), (0, &a[0]), (new(1), &n[1]), (new(0), &n[0])],
        );
        assert_eq!(
            s.admin(&rotation),
            Ok(Command::RotateAdmins {
                threshold: 2,
                admins: 2
            })
        );
        assert_eq!(s.admin(&rotation), Err(AdminError::Replayed));
        drop(s);
        let mut s = reboot(&h);
        assert_eq!(
            (s.registry().threshold(), s.registry().admins().len()),
            (2, 2)
        );
        // The old admins no longer sign anything.
        assert_eq!(
            s.admin(&cmd(&node, 3, "revoke id=1", &[(0, &a[0]), (1, &a[1])])),
            Err(AdminError::BadSignature(0))
        );
        assert_eq!(
            s.admin(&cmd(&node, 3, "revoke id=1", &[(0, &n[0]), (2, &a[2])])),
            Err(AdminError::UnknownAdmin(2))
        );
        // The new ones do.
        assert_eq!(
            s.admin(&cmd(&node, 3, "revoke id=1", &[(1, &n[1]), (0, &n[0])])),
            Ok(Command::Revoke(1))
        );
        assert_eq!(
            AdminError::NotEnoughNewSignatures { got: 0, needed: 1 }.code(),
            11
        );
    })
}

#[test]
fn every_admin_refusal_has_its_error_and_code() {
    big_stack(|| {
        let a = admins();
        let (flash, _h) = new_flash();
        let mut s = boot(flash);
        let node = s.identity_public_key();
        let g = Ground::new(&s, 1, Network::Regtest, ScriptType::Wsh, 0, 60);
        s.provision(&provisioning(&a, 2, &[(&g, "rule allow")]))
            .expect("provision");
        let two = [(0u8, &a[0]), (1u8, &a[1])];
        let ok = cmd(&node, 3, "revoke id=1", &two);

        let check = |s: &mut Signer<Flash>, bytes: &[u8], want: AdminError, code: u8| {
            let got = s.admin(bytes);
            assert_eq!(got, Err(want));
            assert_eq!(want.code(), code);
        };
        check(&mut s, &ok[..ok.len() - 1], AdminError::Malformed, 1);
        let mut bad_magic = ok.clone();
        bad_magic[0] = b'X';
        check(&mut s, &bad_magic, AdminError::Malformed, 1);
        // For another node.
        let mut elsewhere = vec![0u8; 1024];
        let n = build(
            &mut elsewhere,
            &p256_pub(&p256_key(9)),
            3,
            "revoke id=1",
            &two,
        )
        .expect("b");
        check(&mut s, &elsewhere[..n], AdminError::WrongNode, 2);
        check(
            &mut s,
            &cmd(&node, 0, "revoke id=1", &two),
            AdminError::Replayed,
            3,
        );
        // Issue 13 finding 5: counter u64::MAX with enough signatures was applied, and no admin
        // command could ever follow. A jump above MAX_COUNTER_STEP is refused.
        for jump in [u64::MAX, signer::admin::MAX_COUNTER_STEP + 1] {
            check(
                &mut s,
                &cmd(&node, jump, "revoke id=1", &two),
                AdminError::CounterJump,
                12,
            );
        }
        check(
            &mut s,
            &cmd(&node, 3, "revoke id=1", &[(0, &a[0]), (7, &a[1])]),
            AdminError::UnknownAdmin(7),
            4,
        );
        check(
            &mut s,
            &cmd(&node, 3, "revoke id=1", &[(0, &a[0]), (0, &a[0])]),
            AdminError::DuplicateSigner(0),
            5,
        );
        // Index 1 signed by the wrong key.
        check(
            &mut s,
            &cmd(&node, 3, "revoke id=1", &[(0, &a[0]), (1, &a[2])]),
            AdminError::BadSignature(1),
            6,
        );
        let mut tampered = ok.clone();
        tampered[24] ^= 1; // body byte: every signature breaks
        check(&mut s, &tampered, AdminError::BadSignature(0), 6);
        check(
            &mut s,
            &cmd(&node, 3, "revoke id=1", &[(2, &a[2])]),
            AdminError::NotEnoughSignatures { got: 1, needed: 2 },
            7,
        );
        let refused = |s: &mut Signer<Flash>, body: &str| match s.admin(&cmd(&node, 3, body, &two))
        {
            Err(AdminError::Refused(e)) => e.kind,
            other => panic!("{body}: {other:?}"),
        };
        assert_eq!(
            refused(&mut s, "revoke id=9"),
            RegistryErrorKind::UnknownServer(9)
        );
        assert_eq!(
            refused(&mut s, "policy id=9\nrule allow"),
            RegistryErrorKind::UnknownServer(9)
        );
        assert_eq!(
            refused(&mut s, &g.server_line()),
            RegistryErrorKind::DuplicateServer(1)
        );
        assert_eq!(
            refused(&mut s, "revoke id=1\nrevoke id=1"),
            RegistryErrorKind::BadCommand
        );
        assert_eq!(refused(&mut s, "rule allow"), RegistryErrorKind::BadCommand);
        // A rotation to no admin at all.
        assert_eq!(
            refused(&mut s, "admin-threshold 1"),
            RegistryErrorKind::BadThreshold
        );
        assert_eq!(refused(&mut s, "# nothing"), RegistryErrorKind::BadCommand);
        assert_eq!(
            AdminError::Refused(signer::registry::RegistryError {
                line: 0,
                col: 0,
                kind: RegistryErrorKind::BadCommand
            })
            .code(),
            8
        );
        // None of the refusals changed anything or used the counter.
        assert_eq!(s.registry().admin_counter(), 0);
        assert!(!s.registry().server(1).expect("server").revoked);
        assert_eq!(s.admin(&ok), Ok(Command::Revoke(1)));
        assert_eq!(refused_after(&mut s, &two), RegistryErrorKind::Revoked(1));
    })
}

fn refused_after(s: &mut Signer<Flash>, two: &[(u8, &p256::SecretKey)]) -> RegistryErrorKind {
    let node = s.identity_public_key();
    match s.admin(&cmd(&node, 4, "policy id=1\nrule allow", two)) {
        Err(AdminError::Refused(e)) => e.kind,
        other => panic!("{other:?}"),
    }
}
