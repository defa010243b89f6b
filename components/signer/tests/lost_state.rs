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
