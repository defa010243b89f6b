//! Several wallets per ground server (issue 20), whole system: a real `spacenode run` node, a
//! real `spacenode server`, real HTTP on loopback, the operator's real `spacenode server
//! add-wallet` processes.
//!
//! One server (id 7, its own wallet on account 3) and two users with wallets of their own, ann
//! on the node's account 5 and bob on account 6: each gets the node's key for their own account
//! from `GET /v1/node` (verified against the node's signed export), registers a wallet holding
//! it, and is refused (409) until the operator adds it; the operator lists the pending wallets
//! and adds each with the registry admin's key; both users then submit and confirm, and the two
//! requests go up in ONE batch (the test holds the ground station's link lock while they
//! confirm, so the batcher cannot take one alone) and both come back co-signed, each with a
//! valid signature by the node's key for that user's account.
//!
//! Every wait is bounded; nothing asserts how fast anything happens.

#[path = "../components/signer/tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

mod common;
mod server_harness;

use common::{Board, free_addr, one_board, text, write_secret};
use serde_json::json;
use server_harness::{Server, identity, provision_with_users, signed_psbt, spacenode};

#[test]
fn one_server_two_users_two_wallets_cosigned_in_one_batch() {
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("node");
    let (mut grounds, users) = provision_with_users(&state, &[(7, 3)], &[(7, 5), (7, 6)]);
    let g = grounds.remove(0);
    let identity = identity(&state);
    let (uplink, listen) = (free_addr(), free_addr());
    let _node = Board::boot(&state, uplink, listen, &["--radio-latency-ms", "2"]);
    let ground_state = dir.path().join("ground");
    let mut server = Server::configure(
        &dir.path().join("server"),
        &g,
        &identity,
        uplink,
        listen,
        &ground_state,
        "server.db",
    );
    server.start();
    let clients = [server.user("carol", 5), server.user("dave", 6)];
    let config = server.config.display().to_string();

    // Each user gets the node's key for their own account and registers their wallet: pending.
    let mut wallets = Vec::new();
    for (c, u) in clients.iter().zip(&users) {
        let node_key = c.node_key();
        assert!(
            node_key.contains(&format!("/48h/1h/{}h/2h]", u.account)),
            "{node_key}"
        );
        assert!(u.descriptor.contains(&format!("{node_key}/<0;1>/*")));
        let (code, v) = c.call(
            "POST",
            "/v1/wallets",
            Some(&json!({"descriptor": u.descriptor})),
        );
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["status"], "pending-registration", "{v}");
        assert_eq!(v["account"], u.account);
        wallets.push(v["wallet_id"].as_str().expect("wallet_id").to_string());
    }
    // Carol's key is her account's, not the server's own (which ann, without an account, gets).
    assert_ne!(clients[0].node_key(), server.node_key());
    // Not yet in the node's registry: a submission is refused in words.
    let early = support::psbt(
        &users[0],
        &support::Spend::simple(500_000, 100_000, 1_000, 1),
    );
    let (code, v) = clients[0].call(
        "POST",
        "/v1/requests",
        Some(&json!({"wallet_id": wallets[0], "psbt": b64(&early)})),
    );
    assert_eq!(
        (code, v["error"].as_str()),
        (409, Some("wallet-not-registered")),
        "{v}"
    );

    // The operator lists the pending wallets and adds each, signed by the registry's admin.
    let o = spacenode(&["server", "--config", &config, "wallets"]);
    assert!(o.status.success(), "{}", text(&o));
    let listed = String::from_utf8_lossy(&o.stdout).into_owned();
    for (w, who) in wallets.iter().zip(["carol", "dave"]) {
        assert!(listed.contains(w) && listed.contains(who), "{listed}");
    }
    let admin = dir.path().join("admin.key");
    write_secret(
        &admin,
        &(support::hex(&support::clock_admin().to_bytes()) + "\n"),
    );
    for w in &wallets {
        let o = spacenode(&[
            "server",
            "--config",
            &config,
            "add-wallet",
            w,
            "--admin-key",
            &format!("0={}", admin.display()),
        ]);
        assert!(o.status.success(), "{}\n{}", text(&o), server.log_text());
        assert!(text(&o).contains("registered"), "{}", text(&o));
    }
    // Adding one again sends nothing: the server knows it is registered.
    let o = spacenode(&[
        "server",
        "--config",
        &config,
        "add-wallet",
        &wallets[0],
        "--admin-key",
        &format!("0={}", admin.display()),
    ]);
    assert!(text(&o).contains("registered already"), "{}", text(&o));
    for (c, w) in clients.iter().zip(&wallets) {
        let (code, v) = c.call("GET", &format!("/v1/wallets/{w}"), None);
        assert_eq!(
            (code, v["status"].as_str()),
            (200, Some("registered")),
            "{v}"
        );
    }

    // Both submit and confirm while the test holds the link: the next pass takes both.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(ground_state.join("link.lock"))
        .expect("link lock");
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).expect("flock");
    let ids: Vec<String> = clients
        .iter()
        .zip(&users)
        .zip(&wallets)
        .enumerate()
        .map(|(i, ((c, u), w))| {
            let p = support::psbt(
                u,
                &support::Spend::simple(1_000_000, 300_000, 1_000, 50 + i as u32),
            );
            let id = c.submit(w, &p);
            assert_eq!(c.confirm(&id, 0).0, 200);
            id
        })
        .collect();
    drop(lock);
    for ((c, u), id) in clients.iter().zip(&users).zip(&ids) {
        let v = c.outcome(id);
        assert_eq!(v["status"], "cosigned", "{v}\n{}", server.log_text());
        assert_eq!(support::verify_node_signatures(u, &signed_psbt(&v)), 1);
    }
    // One batch carried both.
    let db = rusqlite::Connection::open(dir.path().join("server").join("server.db")).expect("db");
    let batches: Vec<i64> = db
        .prepare("SELECT DISTINCT batch_sequence FROM requests WHERE status = 'cosigned'")
        .and_then(|mut st| {
            st.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<Result<Vec<i64>, _>>())
        })
        .expect("query");
    assert_eq!(batches.len(), 1, "both in one batch: {batches:?}");
    // Neither user sees the other's wallet or request.
    assert_eq!(
        clients[1]
            .call("GET", &format!("/v1/wallets/{}", wallets[0]), None)
            .0,
        404
    );
    assert_eq!(
        clients[0]
            .call("GET", &format!("/v1/requests/{}", ids[1]), None)
            .0,
        404
    );
}

fn b64(b: &[u8]) -> String {
    use bitcoin::base64::Engine;
    bitcoin::base64::engine::general_purpose::STANDARD.encode(b)
}
