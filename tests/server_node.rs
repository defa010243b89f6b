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

use board_sim::flash::SimFlash;
use board_sim::monitor::devices::FLASH_IMAGE_SIZE;
use common::{Board, free_addr, one_board, text, write_secret};
use serde_json::{Value, json};
use signer::descriptor::ScriptType;
use signer::keys::SealKey;
use signer::node::Signer;
use signer::wallet::Network;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RULES: &str = "rule allow max-amount=5000000 max-fee=50000\nrule deny";
const WAIT: Duration = Duration::from_secs(90);

/// The signer's keys on the node's flash and its provisioning (one ground per id) in the inbox.
fn provision(state: &Path, ids: &[(u32, u32)]) -> Vec<support::Ground> {
    std::fs::create_dir_all(state).expect("state dir");
    let image = state.join("key-flash.flash");
    let ids = ids.to_vec();
    let (grounds, text) = {
        let image = image.clone();
        support::big_stack(move || {
            let flash = SimFlash::open_or_create(&image, FLASH_IMAGE_SIZE).expect("key flash");
            let s = Signer::boot(
                flash,
                signer::persist::SignerLayout::contiguous(0),
                &SealKey::new(board_sim::drivers::SIM_SEAL_SECRET),
                &mut support::TestRng(0x5eed_0001),
            )
            .expect("signer first boot")
            .0;
            let grounds: Vec<support::Ground> = ids
                .iter()
                .map(|&(id, account)| {
                    support::Ground::new(
                        &s,
                        id,
                        Network::Regtest,
                        ScriptType::Wsh,
                        account,
                        11 + id as u8,
                    )
                })
                .collect();
            let pairs: Vec<(&support::Ground, &str)> = grounds.iter().map(|g| (g, RULES)).collect();
            let text = support::provisioning(&[], 0, &pairs);
            (grounds, text)
        })
    };
    let mut flash: SimFlash = SimFlash::open_or_create(&image, FLASH_IMAGE_SIZE).expect("reopen");
    signer_partition::inbox::write(&mut flash, &text).expect("inbox");
    grounds
}

fn spacenode(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(args)
        .output()
        .expect("spacenode")
}

fn identity(state: &Path) -> String {
    let o = spacenode(&[
        "ground",
        "admin",
        "identity",
        "--state",
        &state.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn free_tcp() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("tcp port")
}

/// One configured server: its directory, API address and user.
struct Server {
    config: PathBuf,
    api: SocketAddr,
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
    token: String,
    secret: Vec<u8>,
}

impl Server {
    #[allow(clippy::too_many_arguments)]
    fn configure(
        dir: &Path,
        g: &support::Ground,
        identity: &str,
        uplink: SocketAddr,
        listen: SocketAddr,
        ground_state: &Path,
    ) -> Server {
        std::fs::create_dir_all(dir).expect("server dir");
        let key = dir.join("server.key");
        write_secret(&key, &(support::hex(&g.cert_key.to_bytes()) + "\n"));
        let api = free_tcp();
        let config = dir.join("server.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"{api}\"\ndatabase = \"server.db\"\nidentity = \"{identity}\"\nregistered = [\"{}\"]\n\n[node]\nuplink = \"{uplink}\"\nlisten = \"{listen}\"\nstate = \"{}\"\nserver = {}\nkey = \"server.key\"\n\n[batch]\npoll_ms = 100\nlifetime_s = 0\n",
                g.descriptor,
                ground_state.display(),
                g.server_id
            ),
        )
        .expect("server.toml");
        let o = spacenode(&[
            "server",
            "--config",
            &config.display().to_string(),
            "add-user",
            "ann",
        ]);
        assert!(o.status.success(), "{}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let field = |label: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(label))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| panic!("no {label} in {out}"))
        };
        let token = field("token:");
        let uri = field("totp:");
        let b32 = uri
            .split("secret=")
            .nth(1)
            .and_then(|r| r.split('&').next())
            .expect("secret in the URI");
        let secret = totp_rs::Secret::try_from_base32(b32)
            .expect("base32")
            .as_bytes()
            .to_vec();
        Server {
            config,
            api,
            child: None,
            log: Arc::default(),
            token,
            secret,
        }
    }

    fn start(&mut self) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_spacenode"))
            .args(["server", "--config"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn server");
        let err = child.stderr.take().expect("stderr");
        let log = Arc::clone(&self.log);
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                log.lock().expect("log").push(l);
            }
        });
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while self.call("GET", "/v1/health", None).0 != 200 {
            assert!(
                Instant::now() < deadline,
                "server never answered: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn log_text(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }

    /// One HTTP/1.1 call; (status, JSON body). Status 0: no connection.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let Ok(mut s) = TcpStream::connect_timeout(&self.api, Duration::from_secs(2)) else {
            return (0, Value::Null);
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
        let body = body.map(Value::to_string).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.api,
            self.token,
            body.len()
        );
        if s.write_all(req.as_bytes()).is_err() {
            return (0, Value::Null);
        }
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        let status = resp
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let json = resp
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        (status, json)
    }

    fn node_key(&self) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let (code, v) = self.call("GET", "/v1/node", None);
            if code == 200 {
                assert_eq!(v["identity_verified"], true);
                return v["node_key"].as_str().expect("node_key").to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no node key: {v}\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn register(&self, g: &support::Ground) -> String {
        let node_key = self.node_key();
        assert!(
            g.descriptor.contains(&format!("{node_key}/<0;1>/*")),
            "{node_key} in {}",
            g.descriptor
        );
        let (code, v) = self.call(
            "POST",
            "/v1/wallets",
            Some(&json!({"descriptor": g.descriptor})),
        );
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["status"], "registered", "{v}");
        v["wallet_id"].as_str().expect("wallet_id").to_string()
    }

    fn submit(&self, wallet: &str, psbt: &[u8]) -> String {
        use bitcoin::base64::Engine;
        let b64 = bitcoin::base64::engine::general_purpose::STANDARD.encode(psbt);
        let (code, v) = self.call(
            "POST",
            "/v1/requests",
            Some(&json!({"wallet_id": wallet, "psbt": b64})),
        );
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["status"], "awaiting-confirmation");
        assert_eq!(v["confirm_by"], "totp");
        v["request_id"].as_str().expect("request_id").to_string()
    }

    /// Confirms with the code of `offset` steps from now (-1, 0, 1 are accepted).
    fn confirm(&self, id: &str, offset: i64) -> (u16, Value) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let t = totp_rs::Builder::new()
            .with_secret(totp_rs::Secret::from(self.secret.clone()))
            .build()
            .expect("totp");
        let code = t.generate((now + 30 * offset) as u64).to_string();
        self.call(
            "POST",
            &format!("/v1/requests/{id}/confirm"),
            Some(&json!({"code": code})),
        )
    }

    fn status(&self, id: &str) -> Value {
        self.call("GET", &format!("/v1/requests/{id}"), None).1
    }

    /// Waits until request `id` is in a final state; returns its view.
    fn outcome(&self, id: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.status(id);
            if matches!(v["status"].as_str(), Some("cosigned" | "refused")) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "request {id} stuck at {v}\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signed_psbt(v: &Value) -> Vec<u8> {
    use bitcoin::base64::Engine;
    bitcoin::base64::engine::general_purpose::STANDARD
        .decode(v["psbt"].as_str().expect("psbt"))
        .expect("base64")
}

#[test]
fn requests_are_confirmed_batched_cosigned_and_survive_a_server_kill() {
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("node");
    let g = provision(&state, &[(7, 3)]).remove(0);
    let identity = identity(&state);
    let (uplink, listen) = (free_addr(), free_addr());
    // A slow radio (16 kbit/s) so the batch is on its way up for a while.
    let radio = ["--radio-kbps", "16", "--radio-latency-ms", "2"];
    let _node = Board::boot(&state, uplink, listen, &radio);
    let mut server = Server::configure(
        &dir.path().join("server"),
        &g,
        &identity,
        uplink,
        listen,
        &dir.path().join("ground"),
    );
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

    let outcomes: Vec<Value> = ids.iter().map(|id| server.outcome(id)).collect();
    for i in [0, 2] {
        assert_eq!(outcomes[i]["status"], "cosigned", "{}", outcomes[i]);
        assert_eq!(
            support::verify_node_signatures(&g, &signed_psbt(&outcomes[i])),
            1
        );
    }
    assert_eq!(outcomes[1]["status"], "refused", "{}", outcomes[1]);
    let reason = outcomes[1]["reason"].as_str().expect("reason");
    assert!(
        reason.contains("max-amount") && reason.contains(&ids[1]),
        "{reason}"
    );
    assert!(
        server
            .log_text()
            .contains("sending again the batch that had no outcome"),
        "{}",
        server.log_text()
    );
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
    assert_eq!(server.call("POST", "/v1/requests", Some(&huge)).0, 413);
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
