//! Whole-system tests of `spacenode server`: real `spacenode run` node processes on the sim
//! board, real server processes (`spacenode server --config`), real HTTP on loopback, the
//! signer provisioned through its inbox with the test fixture's 2-of-3 wallets.
//!
//! 1. A user registers the wallet (the node key comes from the node's verified export),
//!    submits three PSBTs (one above the server's max-amount), confirms each with a TOTP code;
//!    the server is killed (SIGKILL) while a batch is on its way up and started again on the
//!    same database: the batch goes up again, the over-limit PSBT is refused with the signer's
//!    reason in words, the two others are co-signed (each carries a valid signature by the
//!    node's key), nothing is lost.
//! 2. Two servers (their own ids, keys, databases) share the ground station's link to one
//!    node: each gets its own user's request co-signed, neither sees the other's; after an
//!    admin-signed revoke of one, its next request is refused as revoked while the other's is
//!    still co-signed.
//!
//! Every wait is bounded; nothing asserts how fast anything happens.

#[path = "../components/signer/tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

mod common;
mod server_harness;

use common::{Board, free_addr, one_board, text, write_secret};
use serde_json::json;
use server_harness::{Server, WAIT, check_outcomes_after_a_kill, identity, provision, signed_psbt};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn requests_are_confirmed_batched_cosigned_and_survive_a_server_kill() {
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("node");
    let g = provision(&state, &[(7, 3)]).remove(0);
    let identity = identity(&state);
    let (uplink, listen) = (free_addr(), free_addr());
    // A slow radio (16 kbit/s: one 1,119-byte TM frame takes 0.56 s) so the batch is on its way
    // up for a while. The server is told the rate (`radio_kbps`): its CFDP is paced to it and
    // each attempt waits for five TM frames (2.8 s), longer than a ping's round trip there.
    // With a fixed 2 s attempt, unpaced CFDP and the node's EOF repeated every 500 ms, the
    // link after the restart did not keep up: the downlink queue grew faster than it drained.
    let radio = ["--radio-kbps", "16", "--radio-latency-ms", "2"];
    let _node = Board::boot(&state, uplink, listen, &radio);
    let mut server = Server::configure(
        &dir.path().join("server"),
        &g,
        &identity,
        uplink,
        listen,
        &dir.path().join("ground"),
        "server.db",
    );
    server.set_radio_kbps(16);
    server.start();
    let wallet = server.register(&g);

    // Unauthenticated and malformed calls get this API's errors.
    let mut anon = Server {
        token: "wrong".into(),
        child: None,
        log: Arc::default(),
        config: PathBuf::new(),
        api: server.api,
        secret: Vec::new(),
    };
    assert_eq!(anon.call("GET", "/v1/node", None).0, 401);
    anon.token.clear();
    let (code, v) = server.call(
        "POST",
        "/v1/requests",
        Some(&json!({"wallet_id": wallet, "psbt": "bm90IGEgcHNidA=="})),
    );
    assert_eq!((code, v["error"].as_str()), (422, Some("bad-psbt")), "{v}");

    let psbts = [
        support::psbt(&g, &support::Spend::simple(1_000_000, 400_000, 1_000, 21)),
        support::psbt(&g, &support::Spend::simple(7_000_000, 6_000_000, 1_000, 22)),
        support::psbt(&g, &support::Spend::simple(1_000_001, 400_000, 1_000, 23)),
    ];
    let ids: Vec<String> = psbts.iter().map(|p| server.submit(&wallet, p)).collect();
    // A wrong code is refused; each code confirms once.
    let (code, v) = server.call(
        "POST",
        &format!("/v1/requests/{}/confirm", ids[0]),
        Some(&json!({"code": "000000"})),
    );
    assert_eq!(code, 403, "{v}");
    // Kill the server once a batch is on its way up.
    for (i, id) in ids.iter().enumerate() {
        let (code, v) = server.confirm(id, i as i64 - 1);
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["status"], "queued");
    }
    let (code, _) = server.confirm(&ids[0], 1);
    assert_eq!(code, 409, "a confirmed request is not confirmed again");
    let deadline = Instant::now() + WAIT;
    while !ids
        .iter()
        .any(|id| server.status(id)["status"] == "uplinked")
    {
        assert!(
            Instant::now() < deadline,
            "no batch went up: {}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill();
    let before = server.log_text();
    assert!(before.contains("batch"), "{before}");
    server.start();

    check_outcomes_after_a_kill(&server, &g, &ids);
    // A request not yet confirmed can be cancelled; a body above the limit is refused.
    let late = server.submit(&wallet, &psbts[0]);
    let (code, v) = server.call("DELETE", &format!("/v1/requests/{late}"), None);
    assert_eq!(
        (code, v["status"].as_str()),
        (200, Some("cancelled")),
        "{v}"
    );
    assert_eq!(server.status(&late)["status"], "cancelled");
    let huge = json!({"wallet_id": wallet, "psbt": "A".repeat(300 * 1024)});
    let (code, v) = server.call("POST", "/v1/requests", Some(&huge));
    assert_eq!((code, v["error"].as_str()), (413, Some("too-large")), "{v}");
    let (code, v) = server.call("PUT", "/v1/wallets", None);
    assert_eq!(
        (code, v["error"].as_str()),
        (405, Some("method-not-allowed")),
        "{v}"
    );
    // Too late to cancel a co-signed one.
    assert_eq!(
        server
            .call("DELETE", &format!("/v1/requests/{}", ids[0]), None)
            .0,
        409
    );
}

fn revoke(
    server: u32,
    identity: &str,
    uplink: SocketAddr,
    listen: SocketAddr,
    ground_state: &Path,
    dir: &Path,
) {
    let admin = dir.join("admin.key");
    write_secret(
        &admin,
        &(support::hex(&support::clock_admin().to_bytes()) + "\n"),
    );
    let deadline = Instant::now() + WAIT;
    loop {
        // The servers may hold the link for a moment: the admin command then cannot bind.
        let o = common::ground_command(
            &[
                "admin",
                "revoke",
                "--server",
                &server.to_string(),
                "--identity",
                identity,
                "--admin-key",
                &format!("0={}", admin.display()),
                "--timeout-ms",
                "500",
                "--attempts",
                "8",
            ],
            uplink,
            listen,
            ground_state,
        )
        .output()
        .expect("revoke");
        if o.status.success() {
            return;
        }
        assert!(Instant::now() < deadline, "{}", text(&o));
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn two_servers_share_one_node_and_revoking_one_leaves_the_other() {
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("node");
    let grounds = provision(&state, &[(7, 3), (8, 4)]);
    let identity = identity(&state);
    let (uplink, listen) = (free_addr(), free_addr());
    let _node = Board::boot(&state, uplink, listen, &["--radio-latency-ms", "2"]);
    // One ground station: the servers share its link state (SDLS sequence numbers) and take
    // turns on it; each has its own id, key, database and certificate sequence.
    let ground_state = dir.path().join("ground");
    let mut servers: Vec<Server> = grounds
        .iter()
        .enumerate()
        .map(|(i, g)| {
            Server::configure(
                &dir.path().join(format!("server{i}")),
                g,
                &identity,
                uplink,
                listen,
                &ground_state,
                "server.db",
            )
        })
        .collect();
    for s in &mut servers {
        s.start();
    }
    let wallets: Vec<String> = servers
        .iter()
        .zip(&grounds)
        .map(|(s, g)| s.register(g))
        .collect();
    let ids: Vec<String> = (0..2)
        .map(|i| {
            let p = support::psbt(
                &grounds[i],
                &support::Spend::simple(1_000_000, 300_000, 1_000, 30 + i as u32),
            );
            let id = servers[i].submit(&wallets[i], &p);
            assert_eq!(servers[i].confirm(&id, 0).0, 200);
            id
        })
        .collect();
    for i in 0..2 {
        let v = servers[i].outcome(&ids[i]);
        assert_eq!(v["status"], "cosigned", "{v}");
        assert_eq!(
            support::verify_node_signatures(&grounds[i], &signed_psbt(&v)),
            1
        );
        // Neither sees the other's request or wallet.
        assert_eq!(
            servers[1 - i]
                .call("GET", &format!("/v1/requests/{}", ids[i]), None)
                .0,
            404
        );
        assert_eq!(
            servers[1 - i]
                .call("GET", &format!("/v1/wallets/{}", wallets[i]), None)
                .0,
            404
        );
    }
    for (i, s) in servers.iter().enumerate() {
        let seq = std::fs::read_to_string(
            ground_state.join(format!("server-{}.seq", grounds[i].server_id)),
        );
        assert!(
            seq.is_ok(),
            "server {i} keeps its own certificate sequence: {}",
            s.log_text()
        );
    }

    revoke(
        grounds[0].server_id,
        &identity,
        uplink,
        listen,
        &ground_state,
        dir.path(),
    );
    let ids: Vec<String> = (0..2)
        .map(|i| {
            let p = support::psbt(
                &grounds[i],
                &support::Spend::simple(1_000_000, 200_000, 1_000, 40 + i as u32),
            );
            let id = servers[i].submit(&wallets[i], &p);
            assert_eq!(servers[i].confirm(&id, 1).0, 200);
            id
        })
        .collect();
    let revoked = servers[0].outcome(&ids[0]);
    assert_eq!(revoked["status"], "refused", "{revoked}");
    assert!(
        revoked["reason"].as_str().unwrap_or("").contains("revoked"),
        "{revoked}"
    );
    let other = servers[1].outcome(&ids[1]);
    assert_eq!(other["status"], "cosigned", "{other}");
    assert_eq!(
        support::verify_node_signatures(&grounds[1], &signed_psbt(&other)),
        1
    );
}
