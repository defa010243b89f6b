//! Several wallets per server (issue 20): the `wallet` admin command and its refusals (unknown
//! or revoked server, a descriptor without the node's key for the account, an account another
//! wallet uses, the full table), each PSBT of a batch signed under the submitting server's
//! wallet it spends from, another server's wallet refused, and the wallets surviving a reboot.
mod support;

use signer::admin::{AdminError, build};
use signer::descriptor::ScriptType;
use signer::registry::{Command, MAX_WALLETS, RegistryErrorKind};
use signer::wallet::{Network, WalletError};
use support::*;

fn admins() -> [p256::SecretKey; 3] {
    [p256_key(1), p256_key(2), p256_key(3)]
}

/// An admin command signed by admins 0 and 1 (threshold 2).
fn cmd(node: &[u8; 33], counter: u64, body: &str) -> Vec<u8> {
    let a = admins();
    let mut b = vec![0u8; 8192];
    let n = build(&mut b, node, counter, body, &[(0, &a[0]), (1, &a[1])]).expect("build");
    b.truncate(n);
    b
}

/// The wallet of a user of `server` on the node's `account` (own ground keys from `seed`).
fn user(s: &signer::node::Signer<Flash>, server: &Ground, account: u32, seed: u8) -> Ground {
    let mut g = Ground::new(
        s,
        server.server_id,
        server.network,
        server.st,
        account,
        seed,
    );
    g.cert_key = server.cert_key.clone();
    g
}

fn wallet_line(g: &Ground) -> String {
    format!(
        "wallet server={} account={} descriptor={}",
        g.server_id, g.account, g.descriptor
    )
}

/// Server 1 (account 0) and server 2 (account 1), provisioned, both allowing everything.
fn two_servers() -> (signer::node::Signer<Flash>, std::fs::File, Ground, Ground) {
    let (flash, h) = new_flash();
    let mut s = boot(flash);
    let g1 = Ground::new(&s, 1, Network::Regtest, ScriptType::Wsh, 0, 50);
    let g2 = Ground::new(&s, 2, Network::Regtest, ScriptType::Wsh, 1, 51);
    s.provision(&provisioning(
        &admins(),
        2,
        &[(&g1, "rule allow"), (&g2, "rule allow")],
    ))
    .expect("provision");
    (s, h, g1, g2)
}

#[test]
fn each_psbt_is_signed_under_its_own_wallet_of_the_server_and_wallets_survive_a_reboot() {
    big_stack(|| {
        let (mut s, h, g1, _g2) = two_servers();
        let node = s.identity_public_key();
        let ann = user(&s, &g1, 5, 60);
        let bob = user(&s, &g1, 6, 61);
        for (counter, g) in [(1, &ann), (2, &bob)] {
            assert_eq!(
                s.admin(&cmd(&node, counter, &wallet_line(g))),
                Ok(Command::AddWallet {
                    server: 1,
                    account: g.account
                })
            );
        }
        let wallets: Vec<u32> = s.registry().wallets_of(1).map(|w| w.account).collect();
        assert_eq!(wallets, [0, 5, 6], "the server line's wallet first");
        // One batch of server 1: the server line's wallet, ann's and bob's, interleaved.
        let psbts = [
            psbt(&ann, &Spend::simple(20_000, 1_000, 100, 1)),
            psbt(&g1, &Spend::simple(20_000, 1_000, 100, 2)),
            psbt(&bob, &Spend::simple(20_000, 1_000, 100, 3)),
            psbt(&ann, &Spend::simple(20_000, 1_000, 100, 4)),
        ];
        let r = run(&mut s, &batch(&g1.cert_key, 1, 1, u64::MAX, &psbts), 0);
        assert_eq!(r.receipt.class(), 0, "signed: {:?}", r.receipt);
        assert_eq!(r.signed.len(), 4);
        for (signed, g) in r.signed.iter().zip([&ann, &g1, &bob, &ann]) {
            assert_eq!(verify_node_signatures(g, signed), 1);
        }
        // A PSBT without a derivation of the node's key (only the user's and the backup's):
        // matched by the keys it names, here bob's, the server's third wallet.
        let mut bob_keys_only = user(&s, &g1, 6, 61);
        bob_keys_only.cosigners.remove(bob_keys_only.node_index);
        let r = run(
            &mut s,
            &batch(
                &g1.cert_key,
                1,
                2,
                u64::MAX,
                &[psbt(&bob_keys_only, &Spend::simple(20_000, 1_000, 100, 5))],
            ),
            0,
        );
        assert_eq!(r.receipt.class(), 0, "signed: {:?}", r.receipt);
        assert_eq!(verify_node_signatures(&bob, &r.signed[0]), 1);
        drop(s);
        // The wallets are in the stored registry: after a reboot they still sign.
        let mut s = reboot(&h);
        let wallets: Vec<u32> = s.registry().wallets_of(1).map(|w| w.account).collect();
        assert_eq!(wallets, [0, 5, 6]);
        let b = batch(
            &g1.cert_key,
            1,
            3,
            u64::MAX,
            &[psbt(&bob, &Spend::simple(30_000, 2_000, 100, 9))],
        );
        let r = run(&mut s, &b, 0);
        assert_eq!(r.receipt.class(), 0);
        assert_eq!(verify_node_signatures(&bob, &r.signed[0]), 1);
    })
}

#[test]
fn a_psbt_of_another_servers_wallet_is_refused() {
    big_stack(|| {
        let (mut s, _h, g1, g2) = two_servers();
        let node = s.identity_public_key();
        let ann = user(&s, &g1, 5, 60);
        s.admin(&cmd(&node, 1, &wallet_line(&ann)))
            .expect("wallet added");
        // Server 2 certifies a PSBT of server 1's wallet (and one of server 1's own line).
        for (seq, foreign) in [(1, &ann), (2, &g1)] {
            let b = batch(
                &g2.cert_key,
                2,
                seq,
                u64::MAX,
                &[
                    psbt(&g2, &Spend::simple(20_000, 1_000, 100, 1)),
                    psbt(foreign, &Spend::simple(20_000, 1_000, 100, 2)),
                ],
            );
            let r = run(&mut s, &b, 0);
            assert!(r.signed.is_empty(), "nothing signed");
            assert_eq!(
                (r.receipt.class(), r.receipt.failed_psbt()),
                (4, Some(1)),
                "a wallet refusal of PSBT 1: {:?}",
                r.receipt
            );
            let words = signer::signer::Refusal::reason(r.receipt.code()).expect("words");
            assert!(
                words.contains("wallet") || words.contains("derivation"),
                "{words}"
            );
        }
        // Server 1 itself gets ann's PSBT signed.
        let b = batch(
            &g1.cert_key,
            1,
            1,
            u64::MAX,
            &[psbt(&ann, &Spend::simple(20_000, 1_000, 100, 2))],
        );
        assert_eq!(run(&mut s, &b, 0).receipt.class(), 0);
    })
}

#[test]
fn add_wallet_refusals_each_with_its_code() {
    big_stack(|| {
        let (mut s, _h, g1, g2) = two_servers();
        let node = s.identity_public_key();
        let refused = |s: &mut signer::node::Signer<Flash>, counter: u64, body: &str| match s
            .admin(&cmd(&node, counter, body))
        {
            Err(e @ AdminError::Refused(r)) => (e.code(), r.kind),
            other => panic!("expected a registry refusal, got {other:?}"),
        };
        // The account of server 2's line, and of server 1's line: code 19.
        let on_1 = user(&s, &g1, 1, 60);
        assert_eq!(
            refused(&mut s, 1, &wallet_line(&on_1)),
            (
                19,
                RegistryErrorKind::WalletAccountInUse {
                    server: 1,
                    account: 1
                }
            )
        );
        let on_0 = user(&s, &g2, 0, 61);
        assert_eq!(refused(&mut s, 2, &wallet_line(&on_0)).0, 19);
        // The descriptor holds the node's key for account 7, the line says account 8.
        let seven = user(&s, &g1, 7, 62);
        let wrong = wallet_line(&seven).replace("account=7", "account=8");
        assert_eq!(
            refused(&mut s, 3, &wrong),
            (
                8,
                RegistryErrorKind::Wallet {
                    id: 1,
                    error: WalletError::OwnKeyMissing
                }
            )
        );
        // Unknown server.
        let unknown = wallet_line(&seven).replace("server=1", "server=9");
        assert_eq!(
            refused(&mut s, 4, &unknown),
            (8, RegistryErrorKind::UnknownServer(9))
        );
        // Accepted once; the same account again (for either server) is refused.
        assert!(s.admin(&cmd(&node, 5, &wallet_line(&seven))).is_ok());
        assert_eq!(refused(&mut s, 6, &wallet_line(&seven)).0, 19);
        let seven_on_2 = user(&s, &g2, 7, 63);
        assert_eq!(refused(&mut s, 7, &wallet_line(&seven_on_2)).0, 19);
        // A revoked server takes no new wallet.
        s.admin(&cmd(&node, 8, "revoke id=2")).expect("revoke");
        let nine = user(&s, &g2, 9, 64);
        assert_eq!(
            refused(&mut s, 9, &wallet_line(&nine)),
            (8, RegistryErrorKind::Revoked(2))
        );
        // Nothing refused reached the registry.
        let accounts: Vec<u32> = s.registry().wallet_entries().map(|w| w.account).collect();
        assert_eq!(accounts, [7]);
    })
}

#[test]
fn the_wallet_table_is_bounded_and_the_next_wallet_is_refused_with_its_code() {
    big_stack(|| {
        let (mut s, h, g1, _g2) = two_servers();
        let node = s.identity_public_key();
        for i in 0..MAX_WALLETS as u32 {
            let g = user(&s, &g1, 100 + i, 60u8.wrapping_add(i as u8));
            let counter = u64::from(i) + 1;
            assert!(
                s.admin(&cmd(&node, counter, &wallet_line(&g))).is_ok(),
                "wallet {i}"
            );
        }
        let over = user(&s, &g1, 999, 7);
        let e = s
            .admin(&cmd(&node, MAX_WALLETS as u64 + 1, &wallet_line(&over)))
            .expect_err("table full");
        assert_eq!(e.code(), 18);
        assert!(matches!(
            e,
            AdminError::Refused(r) if r.kind == RegistryErrorKind::TooManyWallets
        ));
        assert_eq!(s.registry().wallet_entries().count(), MAX_WALLETS);
        drop(s);
        // The full table is on flash and loads again.
        let s = reboot(&h);
        assert_eq!(s.registry().wallet_entries().count(), MAX_WALLETS);
    })
}

#[test]
fn a_provisioning_file_holds_wallet_lines_after_the_servers_and_writes_them_back() {
    big_stack(|| {
        let (flash, h) = new_flash();
        let mut s = boot(flash);
        let g1 = Ground::new(&s, 1, Network::Regtest, ScriptType::Wsh, 0, 50);
        let ann = user(&s, &g1, 5, 60);
        let base = provisioning(&admins(), 2, &[(&g1, "rule allow")]);
        // A wallet line above a rule line (or a server line) is misplaced; above its own
        // server line, the server is unknown.
        let early = base.replace("rule allow", &format!("{}\nrule allow", wallet_line(&ann)));
        let unknown = base.replace(
            &g1.server_line(),
            &format!("{}\n{}", wallet_line(&ann), g1.server_line()),
        );
        assert!(matches!(
            s.provision(&unknown),
            Err(signer::node::ProvisionError::Registry(e))
                if e.kind == RegistryErrorKind::UnknownServer(1)
        ));
        let misplaced = s.provision(&early).expect_err("wallet line first");
        assert!(
            matches!(
                misplaced,
                signer::node::ProvisionError::Registry(e)
                    if e.kind == RegistryErrorKind::Text(signer::provision::TextErrorKind::Misplaced)
            ),
            "{misplaced:?}"
        );
        s.provision(&format!("{base}{}\n", wallet_line(&ann)))
            .expect("provision with a wallet line");
        let mut text = String::new();
        s.registry().write_text(&mut text).expect("text");
        assert!(
            text.ends_with(&format!("{}\n", wallet_line(&ann))),
            "{text}"
        );
        drop(s);
        let mut s = reboot(&h);
        let b = batch(
            &g1.cert_key,
            1,
            1,
            u64::MAX,
            &[psbt(&ann, &Spend::simple(20_000, 1_000, 100, 1))],
        );
        let r = run(&mut s, &b, 0);
        assert_eq!(r.receipt.class(), 0);
        assert_eq!(verify_node_signatures(&ann, &r.signed[0]), 1);
    })
}
