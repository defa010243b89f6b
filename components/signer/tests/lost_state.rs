//! Lost state is never taken for new (issue 14 point 2, issue 13 finding 2): each persistent
//! record of a provisioned signer (keys, registry, ledger) erased in turn; the signer refuses to
//! boot on it (no new seed, no empty registry, no ledger floors at zero) and says which record
//! was lost. A never-used flash still boots and creates its keys.

mod support;

use signer::node::{BootError, Signer};
use signer::registry::Registries;
use signer::wallet::Network;
use std::os::unix::fs::FileExt;
use store::StoreLayout;
use support::*;

fn boot_after(handle: &std::fs::File, booted_before: bool) -> Result<Signer<Flash>, BootError> {
    let f = Flash::from_file(handle.try_clone().unwrap()).unwrap();
    Signer::boot_after(
        f,
        Registries::new(),
        LAYOUT,
        &seal(),
        &mut TestRng(0x1234_5678_9abc_def0),
        booted_before,
    )
    .map(|(s, _)| s)
}

fn erase(handle: &std::fs::File, l: StoreLayout) {
    let ff = vec![0xFFu8; (2 * l.copy_size()) as usize];
    handle.write_all_at(&ff, u64::from(l.base())).unwrap();
}

#[test]
fn each_erased_record_of_a_provisioned_signer_is_reported_lost_not_recreated() {
    big_stack(erased_records);
}

fn erased_records() {
    // Never used: boots and creates its keys, on a first boot and on a later one.
    let (_, fresh) = new_flash();
    assert!(boot_after(&fresh, false).is_ok());
    let (_, fresh) = new_flash();
    assert!(matches!(
        boot_after(&fresh, true),
        Err(BootError::BlankAfterUse("keys", _))
    ));

    let (f, h) = new_flash();
    let mut s = boot(f);
    let g = Ground::new(
        &s,
        5,
        Network::Regtest,
        signer::descriptor::ScriptType::Wsh,
        1,
        31,
    );
    s.provision(&provisioning(&[], 0, &[(&g, "rule allow")]))
        .expect("provision");
    drop(s);
    let provisioned = image(&h);
    assert!(boot_after(&h, true).is_ok(), "intact: boots");
    for (name, layout) in [
        ("keys", LAYOUT.keys),
        ("registry", LAYOUT.registry),
        ("ledger", LAYOUT.ledger),
    ] {
        for booted_before in [false, true] {
            let (_, h) = flash_from(&provisioned);
            erase(&h, layout);
            let got = boot_after(&h, booted_before);
            assert!(
                matches!(got, Err(BootError::BlankAfterUse(n, _)) if n == name),
                "{name} erased (booted before: {booted_before}): {:?}",
                got.err()
            );
            assert_eq!(
                image(&h)
                    [layout.base() as usize..(layout.base() + 2 * layout.copy_size()) as usize]
                    .iter()
                    .filter(|b| **b != 0xFF)
                    .count(),
                0,
                "{name}: nothing was written in place of the lost record"
            );
        }
    }
}

fn boot_recovering(handle: &std::fs::File, rng_seed: u64) -> Result<Signer<Flash>, BootError> {
    let f = Flash::from_file(handle.try_clone().unwrap()).unwrap();
    Signer::boot_recovering(
        f,
        Registries::new(),
        LAYOUT,
        &seal(),
        &mut TestRng(rng_seed),
        true,
    )
    .map(|(s, _)| s)
}

/// Issue 14 point 2: the authenticated M-of-N recovery of a lost ledger. The signer refuses
/// every batch and every other admin command until `recover-ledger` answers this boot's
/// challenge with the registry's admin threshold; the floors it sets hold (old sequences stay
/// refused); a recovery captured at one boot is refused at the next; lost keys or a lost
/// registry cannot be recovered this way.
#[test]
fn a_lost_ledger_is_recovered_only_by_the_admins_answering_this_boots_challenge() {
    big_stack(recovery);
}

fn recovery() {
    use signer::admin::{AdminError, build};
    use signer::batch::receipt::ErrorClass;
    let admins = [p256_key(1), p256_key(2), p256_key(3)];
    let (f, h) = new_flash();
    let mut s = boot(f);
    let identity = s.identity_public_key();
    let g = Ground::new(
        &s,
        5,
        Network::Regtest,
        signer::descriptor::ScriptType::Wsh,
        1,
        31,
    );
    s.provision(&provisioning(&admins, 2, &[(&g, "rule allow")]))
        .expect("provision");
    let pay = |seq: u64| {
        batch(
            &g.cert_key,
            5,
            seq,
            u64::MAX,
            &[psbt(&g, &Spend::simple(10_000, 5_000, 100, seq as u32))],
        )
    };
    assert!(run(&mut s, &pay(3), 1_000).receipt.is_signed());
    drop(s);
    let provisioned = image(&h);

    // Lost keys or registry: no recovery (nothing to check the admins against, or a new node).
    for layout in [LAYOUT.keys, LAYOUT.registry] {
        let (_, h) = flash_from(&provisioned);
        erase(&h, layout);
        assert!(matches!(
            boot_recovering(&h, 1),
            Err(BootError::BlankAfterUse(_, _))
        ));
    }
    // In order: no challenge, and a recovery is refused as such.
    let (_, h) = flash_from(&provisioned);
    let mut s = boot_recovering(&h, 1).expect("boots");
    assert_eq!(s.recovery_challenge(), None);
    let cmd = |counter: u64, body: &str, signers: &[(u8, &p256::SecretKey)]| {
        let mut b = vec![0u8; 8192];
        let n = build(&mut b, &identity, counter, body, signers).expect("build");
        b.truncate(n);
        b
    };
    let two = [(0u8, &admins[0]), (2u8, &admins[2])];
    let body = |c: &[u8; 16]| format!("recover-ledger challenge={} floor=10", hex(c));
    assert_eq!(
        s.recover(&cmd(1, &body(&[0; 16]), &two)),
        Err(AdminError::NotRecovering)
    );
    assert_eq!(
        s.admin(&cmd(1, &body(&[0; 16]), &two)),
        Err(AdminError::NotRecovering)
    );
    drop(s);

    // The ledger erased: every batch refused, only a recovery taken.
    let (_, h) = flash_from(&provisioned);
    erase(&h, LAYOUT.ledger);
    let mut s = boot_recovering(&h, 7).expect("boots to be recovered");
    let c = s.recovery_challenge().expect("a challenge");
    let r = run(&mut s, &pay(4), 1_000);
    assert!(!r.receipt.is_signed());
    assert_eq!(r.receipt.class(), ErrorClass::Internal as u8);
    assert_eq!(
        s.admin(&cmd(1, "revoke id=5", &two)),
        Err(AdminError::LedgerLost)
    );
    assert!(matches!(
        s.recover(&cmd(1, &body(&c), &two[..1])),
        Err(AdminError::NotEnoughSignatures { got: 1, needed: 2 })
    ));
    assert_eq!(
        s.recover(&cmd(1, &body(&[0xAB; 16]), &two)),
        Err(AdminError::WrongChallenge)
    );
    let captured = cmd(1, &body(&c), &two);
    assert_eq!(s.recover(&captured), Ok(10));
    assert_eq!(s.recovery_challenge(), None);
    // The floor holds: at or below it refused as replayed, above it signed.
    let r = run(&mut s, &pay(10), 3_000);
    assert_eq!(
        (r.receipt.class(), r.receipt.code()),
        (ErrorClass::Certificate as u8, 6)
    );
    assert!(run(&mut s, &pay(11), 3_000).receipt.is_signed());
    drop(s);
    // Written: the next boot is a normal one.
    assert!(boot_after(&h, true).is_ok());

    // Lost again later: the captured recovery answers the old boot's challenge and is refused.
    erase(&h, LAYOUT.ledger);
    let mut s = boot_recovering(&h, 8).expect("boots to be recovered");
    let c2 = s.recovery_challenge().expect("a challenge");
    assert_ne!(c2, c, "a new challenge at every boot");
    assert_eq!(s.recover(&captured), Err(AdminError::WrongChallenge));
}
