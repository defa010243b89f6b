//! The wallet user's view of the demo: the operator starts a ground server (`spacenode
//! server`'s own code, on loopback, its database in the demo's temporary directory) for the
//! demo's ground server identity and adds a user; the user fetches the node's verified key,
//! registers the 2-of-3 wallet, submits a payment signed with their key, confirms it with the
//! current TOTP code, and gets it back co-signed through the server's batch; the finalised
//! spend is verified with Bitcoin Core's script interpreter.
//!
//! Avoids: any shortcut past the API (the user speaks HTTP to the server like any client; the
//! only direct call is the operator's `add-user`), and waits without a bound.

use super::board::Node;
use super::story::{Ground, SERVER_ID};
use crate::failure::Failure;
use crate::ground::profile::Profile;
use crate::server::config::{BatchConfig, ServerConfig};
use crate::server::{Running, store::Store, totp};
use bitcoin::base64::{Engine, engine::general_purpose::STANDARD as B64};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// Longest wait for the node's key or the co-signature.
const BOUND: Duration = Duration::from_secs(60);

/// One HTTP/1.1 call to the server: (status, JSON body).
fn call(
    api: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), Failure> {
    let io = |e: std::io::Error| Failure::Usage(format!("the demo's ground server: {e}"));
    let mut s = TcpStream::connect_timeout(&api, Duration::from_secs(5)).map_err(io)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io)?;
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(io)?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).map_err(io)?;
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let json = resp
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    Ok((status, json))
}

fn expect(what: &str, want: u16, (got, v): (u16, Value)) -> Result<Value, Failure> {
    if got == want {
        Ok(v)
    } else {
        Err(Failure::Usage(format!(
            "{what}: the server answered {got}: {}",
            v["message"].as_str().unwrap_or("no message")
        )))
    }
}

/// Polls `path` until `done` holds for its body (at most [`BOUND`]).
fn wait_for(
    api: SocketAddr,
    token: &str,
    path: &str,
    what: &str,
    done: impl Fn(u16, &Value) -> bool,
) -> Result<Value, Failure> {
    let start = Instant::now();
    loop {
        let (code, v) = call(api, token, "GET", path, None)?;
        if done(code, &v) {
            return Ok(v);
        }
        if start.elapsed() > BOUND {
            return Err(Failure::Usage(format!(
                "{what}: nothing after {} s (last answer {code}: {v})",
                BOUND.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The chapter; returns its summary line.
pub fn story(
    ground: &Ground,
    node: &Node,
    ground_state: &Path,
    dir: &Path,
) -> Result<String, Failure> {
    let start = Instant::now();
    std::fs::create_dir_all(dir).map_err(|e| Failure::Usage(format!("{}: {e}", dir.display())))?;
    let key = dir.join("server.key");
    crate::ground::keyfile::write_new(&key, &ground.cert_key)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let descriptor = ground.wallet.descriptor();
    let cfg = ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        database: crate::server::store::Database::Sqlite(dir.join("server.db")),
        identity: hex_conservative::DisplayHex::to_lower_hex_string(&ground.identity[..]),
        registered: vec![descriptor.clone()],
        public_url: None,
        smtp: None,
        broadcast: None,
        request_ttl_s: 300,
        rate_per_minute: 600,
        body_limit: 256 * 1024,
        radio_kbps: crate::server::config::RADIO_KBPS,
        node: Profile {
            uplink: Some(node.uplink),
            listen: Some(node.ground),
            state: Some(ground_state.to_path_buf()),
            server: Some(SERVER_ID),
            key: Some(key),
            ..Profile::default()
        },
        batch: BatchConfig {
            poll_ms: 100,
            ..BatchConfig::default()
        },
    };
    let (token, secret) = Store::open(&cfg.database)
        .and_then(|mut s| s.add_user("ann", None, None))
        .map_err(|e| Failure::Usage(e.to_string()))?;
    println!(
        "   operator: `spacenode server add-user ann` -> a bearer token and {}",
        totp::uri("ann", &secret)
    );
    let running = Running::start(cfg)?;
    let result = user(running.addr, &token, &secret, ground, &descriptor);
    running.stop()?;
    let txid = result?;
    Ok(format!(
        "a wallet user registered, submitted, confirmed by TOTP and got a payment co-signed through the ground server in {:.1} s (txid {txid})",
        start.elapsed().as_secs_f64()
    ))
}

/// What the user does over HTTP; returns the verified spend's txid.
fn user(
    api: SocketAddr,
    token: &str,
    secret: &[u8],
    ground: &Ground,
    descriptor: &str,
) -> Result<String, Failure> {
    let node = wait_for(api, token, "/v1/node", "the node's key", |c, _| c == 200)?;
    println!(
        "   ann: GET /v1/node -> {} (verified against the node's signed export: {})",
        node["node_key"].as_str().unwrap_or("?"),
        node["identity_verified"]
    );
    let w = expect(
        "register",
        201,
        call(
            api,
            token,
            "POST",
            "/v1/wallets",
            Some(&json!({"descriptor": descriptor})),
        )?,
    )?;
    let wallet = w["wallet_id"].as_str().unwrap_or_default().to_string();
    println!(
        "   ann: POST /v1/wallets (the 2-of-3 with the node's key) -> {wallet}, {}",
        w["status"].as_str().unwrap_or("?")
    );
    let (psbt, utxo) = ground.payment(1_200_000, 800_000, 50)?;
    let r = expect(
        "submit",
        201,
        call(
            api,
            token,
            "POST",
            "/v1/requests",
            Some(&json!({"wallet_id": wallet, "psbt": B64.encode(psbt.serialize())})),
        )?,
    )?;
    let id = r["request_id"].as_str().unwrap_or_default().to_string();
    println!(
        "   ann: POST /v1/requests (0.008 BTC, signed with her key) -> {id}, {} until {}",
        r["status"].as_str().unwrap_or("?"),
        r["expires_at"].as_str().unwrap_or("?")
    );
    let now = crate::server::store::now().max(0) as u64;
    let code = totp::code(secret, now);
    let c = expect(
        "confirm",
        200,
        call(
            api,
            token,
            "POST",
            &format!("/v1/requests/{id}/confirm"),
            Some(&json!({"code": code})),
        )?,
    )?;
    println!(
        "   ann: POST /v1/requests/{id}/confirm {{\"code\": \"{code}\"}} (her authenticator app) -> {}",
        c["status"].as_str().unwrap_or("?")
    );
    let done = wait_for(
        api,
        token,
        &format!("/v1/requests/{id}"),
        "the co-signature",
        |_, v| matches!(v["status"].as_str(), Some("cosigned" | "refused")),
    )?;
    if done["status"] != "cosigned" {
        return Err(Failure::Usage(format!(
            "the node refused the demo payment: {}",
            done["reason"].as_str().unwrap_or("no reason given")
        )));
    }
    let signed = B64
        .decode(done["psbt"].as_str().unwrap_or_default())
        .map_err(|e| Failure::Usage(format!("the co-signed PSBT is not base64: {e}")))?;
    let txid = super::cosign::verify_cosigned(&signed, &utxo, 0)?;
    println!(
        "   ann: GET /v1/requests/{id} -> cosigned; finalised, Bitcoin Core's script interpreter accepts it: txid {txid}"
    );
    Ok(txid)
}
