//! Two instances of one ground server on one PostgreSQL database (Debian's, started by
//! `scripts/interop-postgres`, whose socket directory `SPACENODE_TEST_PG_HOST` names), a real
//! `spacenode run` node and real server processes on one ground station:
//!
//! A user registers through one instance and sees the wallet through the other; three PSBTs
//! (one above the signer's max-amount) are submitted and confirmed through both. The instance
//! that takes the batch is killed (SIGKILL) while it is on its way up; the other sends the same
//! batch again, the over-limit PSBT is refused in the signer's words and the two others are
//! co-signed with valid node signatures. The database then holds exactly two batches and every
//! request in exactly one of them: nothing went up twice, nothing was lost. The killed instance,
//! started again, serves the same outcomes.
//!
//! Ignored in a plain `cargo test` (no PostgreSQL there); every wait is bounded.

#[path = "../components/signer/tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

mod common;
mod server_harness;

use common::{Board, free_addr, one_board};
use server_harness::{Server, WAIT, check_outcomes_after_a_kill, identity, provision};
use std::time::{Duration, Instant};

/// A new database on the test PostgreSQL; its `postgresql://` URL and a client to read it.
fn database() -> (String, postgres::Client) {
    let host = std::env::var("SPACENODE_TEST_PG_HOST")
        .expect("SPACENODE_TEST_PG_HOST: run this through scripts/interop-postgres");
    let name = format!("sys_{}", std::process::id());
    let mut admin =
        postgres::Client::connect(&format!("host={host} user=postgres"), postgres::NoTls)
            .expect("PostgreSQL");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("CREATE DATABASE");
    let client = postgres::Client::connect(
        &format!("host={host} user=postgres dbname={name}"),
        postgres::NoTls,
    )
    .expect("PostgreSQL");
    // The socket directory as the URL's host, percent-encoded.
    let url = format!("postgresql://postgres@{}/{name}", host.replace('/', "%2F"));
    (url, client)
}

#[test]
#[ignore = "needs PostgreSQL: scripts/interop-postgres runs it"]
fn two_instances_on_one_postgres_send_each_request_once_and_survive_a_kill() {
    let (url, mut pg) = database();
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("node");
    let g = provision(&state, &[(7, 3)]).remove(0);
    let identity = identity(&state);
    let (uplink, listen) = (free_addr(), free_addr());
    // 16 kbit/s, as in server_node.rs (which says what the servers need for it).
    let radio = ["--radio-kbps", "16", "--radio-latency-ms", "2"];
    let _node = Board::boot(&state, uplink, listen, &radio);
    let ground = dir.path().join("ground");
    let mut a = Server::configure(
        &dir.path().join("a"),
        &g,
        &identity,
        uplink,
        listen,
        &ground,
        &url,
    );
    a.set_radio_kbps(16);
    // Instance b: the same server (id, key, database, ground station), its own API port.
    let b_dir = dir.path().join("b");
    std::fs::create_dir_all(&b_dir).expect("b dir");
    let b_api = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let toml = std::fs::read_to_string(&a.config).expect("a's config");
    let b_config = b_dir.join("server.toml");
    std::fs::write(
        &b_config,
        toml.replace(
            &format!("listen = \"{}\"", a.api),
            &format!("listen = \"{b_api}\""),
        ),
    )
    .expect("b's config");
    std::fs::copy(
        a.config.with_file_name("server.key"),
        b_dir.join("server.key"),
    )
    .expect("key");
    let mut b = Server {
        config: b_config,
        api: b_api,
        child: None,
        log: Default::default(),
        token: a.token.clone(),
        secret: a.secret.clone(),
    };
    a.start();
    b.start();
    let wallet = a.register(&g);
    let (code, v) = b.call("GET", &format!("/v1/wallets/{wallet}"), None);
    assert_eq!(code, 200, "b sees the wallet a registered: {v}");

    let psbts = [
        support::psbt(&g, &support::Spend::simple(1_000_000, 400_000, 1_000, 31)),
        support::psbt(&g, &support::Spend::simple(7_000_000, 6_000_000, 1_000, 32)),
        support::psbt(&g, &support::Spend::simple(1_000_001, 400_000, 1_000, 33)),
    ];
    let ids: Vec<String> = psbts
        .iter()
        .enumerate()
        .map(|(i, p)| if i % 2 == 0 { &a } else { &b }.submit(&wallet, p))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let (code, v) = if i % 2 == 0 { &b } else { &a }.confirm(id, i as i64 - 1);
        assert_eq!((code, v["status"].as_str()), (200, Some("queued")), "{v}");
    }
    // Kill the instance that took the batch while it is on its way up.
    let deadline = Instant::now() + WAIT;
    let uplinking = |s: &Server| s.log_text().contains("\"sequence\":1");
    while !(ids.iter().any(|id| a.status(id)["status"] == "uplinked")
        && (uplinking(&a) || uplinking(&b)))
    {
        assert!(
            Instant::now() < deadline,
            "no batch went up:\n{}\n{}",
            a.log_text(),
            b.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (killed, survivor) = if uplinking(&a) {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    assert!(!uplinking(survivor), "both instances sent batch 1");
    killed.kill();

    check_outcomes_after_a_kill(survivor, &g, &ids);
    // In the database: batch 1 (refused naming the over-limit PSBT), batch 2 (the two
    // others, co-signed), and each request in exactly one.
    let batches: Vec<(i64, String)> = pg
        .query(
            "SELECT sequence, status FROM batches ORDER BY sequence",
            &[],
        )
        .expect("batches")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        batches,
        [(1, "refused".to_string()), (2, "cosigned".to_string())]
    );
    for (i, id) in ids.iter().enumerate() {
        let seq: Option<i64> = pg
            .query_one("SELECT batch_sequence FROM requests WHERE id = $1", &[id])
            .expect("request")
            .get(0);
        assert_eq!(seq, Some(if i == 1 { 1 } else { 2 }), "request {i}");
    }
    // The killed instance, started again, serves the same outcomes.
    killed.start();
    assert_eq!(killed.status(&ids[0])["status"], "cosigned");
}
