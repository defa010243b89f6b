//! The harness of the ground server's whole-system tests (`server_node`, `server_postgres`):
//! provisioning a node's signer for servers, and one `spacenode server` process driven over
//! real HTTP on loopback.
//!
//! Avoids: a mock of either side; every wait is bounded by [`WAIT`].

#![allow(dead_code)]

use crate::common::text;
use crate::common::write_secret;
use crate::support;
use board_sim::flash::SimFlash;
use board_sim::monitor::devices::FLASH_IMAGE_SIZE;
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

pub const RULES: &str = "rule allow max-amount=5000000 max-fee=50000\nrule deny";
pub const WAIT: Duration = Duration::from_secs(90);

/// The signer's keys on the node's flash and its provisioning (one ground per id) in the inbox.
pub fn provision(state: &Path, ids: &[(u32, u32)]) -> Vec<support::Ground> {
    provision_with_users(state, ids, &[]).0
}

/// [`provision`], and the wallets of users of those servers, (server id, account) each, built
/// with the node's keys but not provisioned (they are added later by `add-wallet`).
pub fn provision_with_users(
    state: &Path,
    ids: &[(u32, u32)],
    users: &[(u32, u32)],
) -> (Vec<support::Ground>, Vec<support::Ground>) {
    std::fs::create_dir_all(state).expect("state dir");
    let image = state.join("key-flash.flash");
    let ids = ids.to_vec();
    let users = users.to_vec();
    let (grounds, wallets, text) = {
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
            let ground = |id: u32, account: u32, seed: u8| {
                support::Ground::new(&s, id, Network::Regtest, ScriptType::Wsh, account, seed)
            };
            let grounds: Vec<support::Ground> = ids
                .iter()
                .map(|&(id, account)| ground(id, account, 11 + id as u8))
                .collect();
            let wallets: Vec<support::Ground> = users
                .iter()
                .enumerate()
                .map(|(i, &(id, account))| ground(id, account, 111 + i as u8))
                .collect();
            let pairs: Vec<(&support::Ground, &str)> = grounds.iter().map(|g| (g, RULES)).collect();
            let text = support::provisioning(&[], 0, &pairs);
            (grounds, wallets, text)
        })
    };
    let mut flash: SimFlash = SimFlash::open_or_create(&image, FLASH_IMAGE_SIZE).expect("reopen");
    signer_partition::inbox::write(&mut flash, &text).expect("inbox");
    (grounds, wallets)
}

pub fn spacenode(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(args)
        .output()
        .expect("spacenode")
}

pub fn identity(state: &Path) -> String {
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

pub fn free_tcp() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("tcp port")
}

/// The bearer token and TOTP secret `add-user` printed.
fn credentials(out: &str) -> (String, Vec<u8>) {
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
    (token, secret)
}

/// One configured server: its directory, API address and user.
pub struct Server {
    pub config: PathBuf,
    pub api: SocketAddr,
    pub child: Option<Child>,
    pub log: Arc<Mutex<Vec<String>>>,
    pub token: String,
    pub secret: Vec<u8>,
}

impl Server {
    #[allow(clippy::too_many_arguments)]
    pub fn configure(
        dir: &Path,
        g: &support::Ground,
        identity: &str,
        uplink: SocketAddr,
        listen: SocketAddr,
        ground_state: &Path,
        database: &str,
    ) -> Server {
        std::fs::create_dir_all(dir).expect("server dir");
        let key = dir.join("server.key");
        write_secret(&key, &(support::hex(&g.cert_key.to_bytes()) + "\n"));
        let api = free_tcp();
        let config = dir.join("server.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"{api}\"\ndatabase = \"{database}\"\nidentity = \"{identity}\"\nregistered = [\"{}\"]\n\n[node]\nuplink = \"{uplink}\"\nlisten = \"{listen}\"\nstate = \"{}\"\nserver = {}\nkey = \"server.key\"\n\n[batch]\npoll_ms = 100\nlifetime_s = 0\n",
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
        let (token, secret) = credentials(&out);
        Server {
            config,
            api,
            child: None,
            log: Arc::default(),
            token,
            secret,
        }
    }

    /// Tells the server its radio's rate (`radio_kbps` in server.toml), before [`Server::start`].
    pub fn set_radio_kbps(&self, kbps: u64) {
        let text = std::fs::read_to_string(&self.config).expect("server.toml");
        std::fs::write(&self.config, format!("radio_kbps = {kbps}\n{text}")).expect("server.toml");
    }

    /// Adds user `name` with their own wallet on the node's `account`; the same server seen
    /// as that user (its calls carry their token; it does not own the process).
    pub fn user(&self, name: &str, account: u32) -> Server {
        let o = spacenode(&[
            "server",
            "--config",
            &self.config.display().to_string(),
            "add-user",
            name,
            "--account",
            &account.to_string(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let (token, secret) = credentials(&out);
        Server {
            config: self.config.clone(),
            api: self.api,
            child: None,
            log: Arc::clone(&self.log),
            token,
            secret,
        }
    }

    pub fn start(&mut self) {
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

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }

    /// One HTTP/1.1 call; (status, JSON body). Status 0: no connection.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
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

    pub fn node_key(&self) -> String {
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

    pub fn register(&self, g: &support::Ground) -> String {
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

    pub fn submit(&self, wallet: &str, psbt: &[u8]) -> String {
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
    pub fn confirm(&self, id: &str, offset: i64) -> (u16, Value) {
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

    pub fn status(&self, id: &str) -> Value {
        self.call("GET", &format!("/v1/requests/{id}"), None).1
    }

    /// Waits until request `id` is in a final state; returns its view.
    pub fn outcome(&self, id: &str) -> Value {
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

pub fn signed_psbt(v: &Value) -> Vec<u8> {
    use bitcoin::base64::Engine;
    bitcoin::base64::engine::general_purpose::STANDARD
        .decode(v["psbt"].as_str().expect("psbt"))
        .expect("base64")
}

/// Waits for the outcomes of three requests whose PSBT 1 is above the signer's max-amount and
/// whose PSBTs 0 and 2 are within it, after a kill mid-batch: 0 and 2 co-signed, each with a
/// valid signature by the node's key; 1 refused in the signer's words, naming it; and `server`
/// sent the batch left without an outcome again.
pub fn check_outcomes_after_a_kill(server: &Server, g: &support::Ground, ids: &[String]) {
    let outcomes: Vec<Value> = ids.iter().map(|id| server.outcome(id)).collect();
    for i in [0, 2] {
        assert_eq!(outcomes[i]["status"], "cosigned", "{}", outcomes[i]);
        assert_eq!(
            support::verify_node_signatures(g, &signed_psbt(&outcomes[i])),
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
}
