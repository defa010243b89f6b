//! The optional hand-off of finalised transactions to Bitcoin Core (`[broadcast]` in
//! server.toml): each pass, co-signed requests whose PSBT carries two signatures per input are
//! finalised, checked input by input with Bitcoin Core's script interpreter
//! (libbitcoinconsensus), and sent with its JSON-RPC `sendrawtransaction`, through the
//! `jsonrpc` crate's plain HTTP client (cookie file or user and password). Not through
//! `bitcoincore-rpc`: that crate always turns on `bitcoin/rand-std`, which makes every
//! secp256k1 context in the sim image draw from the OS RNG, a system call only the signer's
//! partition may make. What each attempt gave is stored
//! on the request and shown by the API (`broadcast`); a failed attempt is tried again after
//! `retry_s`, up to `max_attempts`. The co-signed PSBT stays as it is whatever happens.
//!
//! Tested against recorded exchanges (a loopback HTTP server answering with Bitcoin Core's
//! response bodies, error objects included), not a running Bitcoin Core: none can be
//! installed here.
//!
//! Avoids: sending what Bitcoin Core's interpreter would refuse, treating "already in the
//! chain" (-27) as a failure, and keeping a cookie read at start (Bitcoin Core writes a new one
//! each time it starts: it is read for every attempt).

use super::store::{Broadcast, BroadcastStatus, Store, StoreError, now};
use crate::wallet::GroundWallet;
use bitcoin::base64::{Engine, engine::general_purpose::STANDARD as B64};
use bitcoin::psbt::Psbt;
use bitcoin::{Transaction, TxOut};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Bitcoin Core's RPC_VERIFY_ALREADY_IN_CHAIN (src/rpc/protocol.h).
const ALREADY_IN_CHAIN: i32 = -27;
/// Requests handed off per pass at most.
const PER_PASS: i64 = 16;

/// `[broadcast]`: where finalised transactions go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BroadcastConfig {
    /// Bitcoin Core's RPC URL, `http://HOST:PORT` (8332 mainnet, 18332 testnet, 18443 regtest).
    pub url: String,
    /// Its `.cookie` file (cookie authentication, Bitcoin Core's default).
    #[serde(default)]
    pub cookie: Option<PathBuf>,
    /// `rpcuser` (with `password`; instead of `cookie`).
    #[serde(default)]
    pub user: Option<String>,
    /// `rpcpassword`.
    #[serde(default)]
    pub password: Option<String>,
    /// Seconds before a failed attempt is tried again.
    #[serde(default = "default_retry")]
    pub retry_s: u64,
    /// Attempts before a request's hand-off is given up (`failed`).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
}

fn default_retry() -> u64 {
    60
}

fn default_attempts() -> u32 {
    30
}

impl BroadcastConfig {
    /// Checks the table; makes a relative cookie path relative to `base` (the file's directory).
    pub fn check(&mut self, base: &Path) -> Result<(), String> {
        if !self.url.starts_with("http://") {
            return Err(format!(
                "[broadcast] url `{}` is not http://HOST:PORT (Bitcoin Core's RPC speaks plain HTTP: keep it on loopback or a private link)",
                crate::escape::escape(&self.url)
            ));
        }
        match (&mut self.cookie, &self.user, &self.password) {
            (Some(c), None, None) => {
                if c.is_relative() {
                    *c = base.join(&*c);
                }
            }
            (None, Some(_), Some(_)) => {}
            _ => {
                return Err(
                    "[broadcast] needs either `cookie` (Bitcoin Core's .cookie file) or both `user` and `password`".into(),
                );
            }
        }
        if self.retry_s == 0 || self.max_attempts == 0 {
            return Err("[broadcast] retry_s and max_attempts must be above 0".into());
        }
        Ok(())
    }
}

/// Why one hand-off attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Bitcoin Core answered with an error object.
    #[error("Bitcoin Core refused the transaction: {message} (RPC error {code})")]
    Rpc {
        /// Its code (src/rpc/protocol.h: -26 rejected, -25 inputs missing or spent, ...).
        code: i32,
        /// Its message.
        message: String,
    },
    /// No answer, or not one of Bitcoin Core's (down, wrong URL or credentials).
    #[error("Bitcoin Core's RPC at {url}: {why}")]
    Transport {
        /// The URL tried.
        url: String,
        /// What went wrong.
        why: String,
    },
}

/// Sends `tx` with `sendrawtransaction`; Ok: Bitcoin Core has it (taken now, or already in
/// its chain).
pub fn send(cfg: &BroadcastConfig, tx: &Transaction) -> Result<(), SendError> {
    let transport = |why: String| SendError::Transport {
        url: cfg.url.clone(),
        why,
    };
    let (user, pass) = match (&cfg.cookie, &cfg.user, &cfg.password) {
        (Some(c), _, _) => cookie_user_pass(c).map_err(|why| {
            transport(format!(
                "cannot read the cookie file {}: {why}",
                crate::escape::escape(&c.display().to_string())
            ))
        })?,
        (None, Some(u), Some(p)) => (Some(u.clone()), Some(p.clone())),
        _ => (None, None),
    };
    let client = jsonrpc::Client::simple_http(&cfg.url, user, pass)
        .map_err(|e| transport(format!("cannot set up the client: {e}")))?;
    let hex = bitcoin::consensus::encode::serialize_hex(tx);
    match client.call::<String>("sendrawtransaction", Some(&jsonrpc::arg([hex]))) {
        Ok(_txid) => Ok(()),
        Err(jsonrpc::Error::Rpc(e)) => {
            if e.code == ALREADY_IN_CHAIN {
                Ok(())
            } else {
                Err(SendError::Rpc {
                    code: e.code,
                    message: e.message,
                })
            }
        }
        Err(jsonrpc::Error::Transport(e)) if e.to_string().contains("401") => Err(transport(
            "401 unauthorized: check `cookie` (or `user` and `password`)".into(),
        )),
        Err(e) => Err(transport(e.to_string())),
    }
}

/// The user and password in Bitcoin Core's cookie file (`__cookie__:PASSWORD` on its first line).
fn cookie_user_pass(path: &std::path::Path) -> Result<(Option<String>, Option<String>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let line = text.lines().next().unwrap_or("");
    let (user, pass) = line
        .split_once(':')
        .ok_or("no `user:password` on its first line")?;
    Ok((Some(user.to_string()), Some(pass.to_string())))
}

/// What a co-signed PSBT becomes: its final transaction, checked by Bitcoin Core's script
/// interpreter; `Err((status, why))` when it cannot be sent.
fn finalise(psbt_b64: &str) -> Result<Transaction, (BroadcastStatus, String)> {
    let failed = |why: String| (BroadcastStatus::Failed, why);
    let bytes = B64
        .decode(psbt_b64)
        .map_err(|e| failed(format!("the stored PSBT is not base64: {e}")))?;
    let psbt = Psbt::deserialize(&bytes)
        .map_err(|e| failed(format!("the stored PSBT does not parse: {e}")))?;
    let tx = GroundWallet::finalize(&psbt).map_err(|e| {
        (
            BroadcastStatus::NotFinal,
            format!("{e}: the wallet adds its signature and broadcasts it"),
        )
    })?;
    let spent = spent_outputs(&psbt).map_err(failed)?;
    GroundWallet::verify(&tx, &spent).map_err(|e| {
        failed(format!(
            "Bitcoin Core's script interpreter refuses it, not sent: {e}"
        ))
    })?;
    Ok(tx)
}

/// The outputs a PSBT's inputs spend, from their witness or previous transactions.
fn spent_outputs(psbt: &Psbt) -> Result<Vec<TxOut>, String> {
    psbt.inputs
        .iter()
        .zip(&psbt.unsigned_tx.input)
        .enumerate()
        .map(|(i, (input, txin))| {
            input
                .witness_utxo
                .clone()
                .or_else(|| {
                    input
                        .non_witness_utxo
                        .as_ref()
                        .and_then(|t| t.output.get(txin.previous_output.vout as usize).cloned())
                })
                .ok_or_else(|| format!("input {i} names no output it spends"))
        })
        .collect()
}

/// One pass: hands off the co-signed requests due (at most [`PER_PASS`]; after the first
/// attempt Bitcoin Core does not answer, the rest wait for the next pass); returns how many
/// were sent.
pub fn pass(cfg: &BroadcastConfig, store: &mut Store) -> Result<usize, StoreError> {
    let mut sent = 0;
    let mut unreachable = false;
    for (id, psbt, attempts) in store.due_broadcasts(PER_PASS)? {
        let attempts = attempts + 1;
        let (status, txid, error) = match finalise(&psbt) {
            Err((status, why)) => (status, None, Some(why)),
            Ok(tx) => {
                let txid = tx.compute_txid().to_string();
                match send(cfg, &tx) {
                    Ok(()) => (BroadcastStatus::Sent, Some(txid), None),
                    Err(e) => {
                        unreachable = matches!(e, SendError::Transport { .. });
                        if attempts >= i64::from(cfg.max_attempts) {
                            let why = format!("{e}; given up after {attempts} attempts");
                            (BroadcastStatus::Failed, Some(txid), Some(why))
                        } else {
                            (BroadcastStatus::Pending, Some(txid), Some(e.to_string()))
                        }
                    }
                }
            }
        };
        match status {
            BroadcastStatus::Sent => {
                sent += 1;
                tracing::info!(request = %id, txid = txid.as_deref().unwrap_or(""), "broadcast");
            }
            _ => tracing::warn!(
                request = %id,
                status = status.as_str(),
                error = error.as_deref().unwrap_or(""),
                "broadcast"
            ),
        }
        let next = (status == BroadcastStatus::Pending)
            .then(|| now().saturating_add(cfg.retry_s.min(i64::MAX as u64) as i64));
        let b = Broadcast {
            status: status.as_str().into(),
            txid,
            error,
            attempts,
        };
        store.broadcast_tried(&id, status, &b, next)?;
        if unreachable {
            // No answer from Bitcoin Core: the others wait for the next pass rather than each
            // waiting out the client's timeout while batches wait behind them.
            break;
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::Database;
    use bitcoin::bip32::{DerivationPath, Xpriv, Xpub};
    use bitcoin::secp256k1::Secp256k1;
    use bitcoin::{Amount, NetworkKind};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::str::FromStr;
    use std::sync::{Arc, Mutex};

    /// A co-signed PSBT of a regtest 2-of-3 wallet (`two`: both signatures on it, else the
    /// wallet's only). The node's key is one whose private half the test holds: a second wallet
    /// with that seed as its own key signs for it.
    fn psbt(two: bool, salt: u32) -> (Vec<u8>, Transaction) {
        let secp = Secp256k1::new();
        let master = Xpriv::new_master(NetworkKind::Test, &[7; 32]).unwrap();
        let path = DerivationPath::from_str("m/48'/1'/0'/2'").unwrap();
        let acct = master.derive_priv(&secp, &path).unwrap();
        let text = format!(
            "[{}/48h/1h/0h/2h]{}",
            master.fingerprint(&secp),
            Xpub::from_priv(&secp, &acct)
        );
        let w = GroundWallet::regtest(&text, 0, &[1; 32], &[2; 32]).unwrap();
        let node = GroundWallet::regtest(&text, 0, &[7; 32], &[2; 32]).unwrap();
        let utxo = w.fund(Amount::from_sat(1_000_000), 0, salt).unwrap();
        let to = w.script_pubkey(0, 9).unwrap();
        let mut p = w
            .spend(
                &utxo,
                to,
                Amount::from_sat(600_000),
                Amount::from_sat(1_000),
                0,
            )
            .unwrap();
        assert_eq!(w.sign(&mut p).unwrap(), 1);
        if two {
            assert_eq!(node.sign(&mut p).unwrap(), 1, "the node's signature");
        }
        let tx = GroundWallet::finalize(&p).unwrap_or_else(|_| p.unsigned_tx.clone());
        (p.serialize(), tx)
    }

    /// One exchange as Bitcoin Core answers it: HTTP status and body (`ID` stands for the
    /// request's id, echoed as Bitcoin Core does).
    type Answer = (u16, &'static str);

    /// Bitcoin Core 28 and later answer a JSON-RPC 2.0 request (what the `jsonrpc` client sends)
    /// with HTTP 200 and either `result` or `error` (its release notes for PR 27101);
    /// earlier versions with HTTP 500 and both fields, one null. A bad password gets a 401
    /// with no body. The error codes and messages are Bitcoin Core's (src/rpc/protocol.h,
    /// src/node/transaction.cpp, src/validation.cpp).
    const ACCEPTED: Answer = (200, r#"{"jsonrpc":"2.0","result":"TXID","id":ID}"#);
    const MIN_RELAY_FEE: Answer = (
        200,
        r#"{"jsonrpc":"2.0","error":{"code":-26,"message":"min relay fee not met, 100 < 141"},"id":ID}"#,
    );
    const ALREADY_IN_CHAIN_LEGACY: Answer = (
        500,
        r#"{"result":null,"error":{"code":-27,"message":"Transaction already in block chain"},"id":ID}"#,
    );
    const MISSING_INPUTS_LEGACY: Answer = (
        500,
        r#"{"result":null,"error":{"code":-25,"message":"bad-txns-inputs-missingorspent"},"id":ID}"#,
    );
    const UNAUTHORIZED: Answer = (401, "");

    /// What the replaying server was sent: (Authorization header, JSON body) per request.
    type Seen = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

    /// A loopback HTTP server answering each connection's one request with the next answer;
    /// returns its URL and what it was sent (Authorization header, JSON body).
    fn replay(answers: Vec<Answer>, txid: String) -> (String, Seen) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for (status, body) in answers {
                let (mut s, _) = l.accept().unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                let (mut len, mut auth) = (0usize, String::new());
                loop {
                    let mut line = String::new();
                    r.read_line(&mut line).unwrap();
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    let (k, v) = line.split_once(':').unwrap_or((line, ""));
                    match k.to_ascii_lowercase().as_str() {
                        "content-length" => len = v.trim().parse().unwrap(),
                        "authorization" => auth = v.trim().to_string(),
                        _ => {}
                    }
                }
                let mut req = vec![0; len];
                r.read_exact(&mut req).unwrap();
                let req: serde_json::Value = serde_json::from_slice(&req).unwrap();
                let body = body
                    .replace("TXID", &txid)
                    .replace("ID", &req["id"].to_string());
                log.lock().unwrap().push((auth, req));
                let reason = match status {
                    200 => "OK",
                    401 => "Unauthorized",
                    _ => "Internal Server Error",
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (url, seen)
    }

    fn config(url: &str) -> BroadcastConfig {
        BroadcastConfig {
            url: url.into(),
            cookie: None,
            user: Some("rpc".into()),
            password: Some("secret".into()),
            retry_s: 1,
            max_attempts: 3,
        }
    }

    /// A store (`postgres`: on the test PostgreSQL, see scripts/interop-postgres; else a
    /// SQLite file) with one request per PSBT given, in batch 1 (to be co-signed by the test);
    /// their ids in batch order.
    fn cosigned(psbts: &[Vec<u8>], postgres: bool) -> (tempfile::TempDir, Store, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = if postgres {
            crate::server::store::tests::pg_store().1
        } else {
            Store::open(&Database::Sqlite(dir.path().join("s.db"))).unwrap()
        };
        s.add_user("ann", None, None).unwrap();
        let w = s.add_wallet("ann", "wsh(x)", "registered", None).unwrap();
        for p in psbts {
            let (r, _) = s.add_request("ann", &w.id, p, 60, false).unwrap();
            assert!(
                s.transition(
                    &r.id,
                    crate::server::store::Status::Awaiting,
                    crate::server::store::Status::Queued
                )
                .unwrap()
            );
        }
        let (seq, _) = s
            .take_batch(1 << 20, 100, |_, last| Ok((last + 1, vec![0])))
            .unwrap()
            .unwrap()
            .unwrap();
        let ids = s.batch_requests(seq).unwrap();
        (dir, s, ids)
    }

    fn view(s: &mut Store, id: &str) -> crate::server::store::Request {
        s.request("ann", id).unwrap().unwrap()
    }

    #[test]
    fn a_refused_broadcast_is_kept_and_retried_and_already_in_chain_counts_as_sent() {
        refused_kept_retried(false);
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/interop-postgres runs it"]
    fn on_postgres_a_refused_broadcast_is_kept_and_retried() {
        refused_kept_retried(true);
    }

    fn refused_kept_retried(postgres: bool) {
        let (bytes, tx) = psbt(true, 1);
        let txid = tx.compute_txid().to_string();
        let (_d, mut s, ids) = cosigned(std::slice::from_ref(&bytes), postgres);
        s.batch_cosigned(1, std::slice::from_ref(&bytes)).unwrap();
        let (url, seen) = replay(vec![MIN_RELAY_FEE, ALREADY_IN_CHAIN_LEGACY], txid.clone());
        let cfg = config(&url);
        assert_eq!(pass(&cfg, &mut s).unwrap(), 0);
        let r = view(&mut s, &ids[0]);
        let b = r.broadcast.clone().unwrap();
        assert_eq!((b.status.as_str(), b.attempts), ("pending", 1));
        let e = b.error.unwrap();
        assert!(
            e.contains("min relay fee not met") && e.contains("-26"),
            "{e}"
        );
        assert_eq!(b.txid.as_deref(), Some(txid.as_str()));
        assert_eq!(r.status, "cosigned");
        assert!(r.signed_psbt.is_some(), "the co-signed PSBT is kept");
        // Not due again before retry_s.
        assert!(s.due_broadcasts(10).unwrap().is_empty());
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert_eq!(pass(&cfg, &mut s).unwrap(), 1);
        let b = view(&mut s, &ids[0]).broadcast.unwrap();
        assert_eq!((b.status.as_str(), b.attempts, b.error), ("sent", 2, None));
        assert!(s.due_broadcasts(10).unwrap().is_empty(), "sent once");
        // What Bitcoin Core was sent: the finalised transaction, by user and password.
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        let hex = bitcoin::consensus::encode::serialize_hex(&tx);
        for (auth, req) in seen.iter() {
            assert_eq!(req["method"], "sendrawtransaction");
            assert_eq!(req["params"][0], hex.as_str());
            assert_eq!(auth, &format!("Basic {}", B64.encode("rpc:secret")));
        }
    }

    #[test]
    fn cookie_auth_success_give_up_and_what_is_never_sent() {
        let (good, tx) = psbt(true, 2);
        let (one_sig, _) = psbt(false, 3);
        let (_d, mut s, ids) = cosigned(&[good.clone(), one_sig.clone()], false);
        // The batch order decides which id holds which PSBT.
        let signed: Vec<Vec<u8>> = ids
            .iter()
            .enumerate()
            .map(|(i, _)| {
                if i == 0 {
                    good.clone()
                } else {
                    one_sig.clone()
                }
            })
            .collect();
        s.batch_cosigned(1, &signed).unwrap();
        let cookie = _d.path().join(".cookie");
        std::fs::write(&cookie, "__cookie__:c00k1e\n").unwrap();
        let (url, seen) = replay(vec![ACCEPTED], tx.compute_txid().to_string());
        let mut cfg = config(&url);
        (cfg.cookie, cfg.user, cfg.password) = (Some(cookie), None, None);
        let n = pass(&cfg, &mut s).unwrap();
        assert_eq!(n, 1, "{:?}", view(&mut s, &ids[0]).broadcast);
        assert_eq!(view(&mut s, &ids[0]).broadcast.unwrap().status, "sent");
        let b = view(&mut s, &ids[1]).broadcast.unwrap();
        assert_eq!(
            b.status, "not-final",
            "one signature: the wallet broadcasts it"
        );
        assert!(b.error.unwrap().contains("1 signature"));
        assert_eq!(seen.lock().unwrap().len(), 1, "only the final one went out");
        assert_eq!(
            seen.lock().unwrap()[0].0,
            format!("Basic {}", B64.encode("__cookie__:c00k1e"))
        );

        // A wrong password, inputs already spent, then nobody listening: given up after
        // max_attempts, each reason kept.
        let (bytes, tx) = psbt(true, 4);
        let (_d2, mut s, ids) = cosigned(std::slice::from_ref(&bytes), false);
        s.batch_cosigned(1, std::slice::from_ref(&bytes)).unwrap();
        let (url, _) = replay(
            vec![UNAUTHORIZED, MISSING_INPUTS_LEGACY],
            tx.compute_txid().to_string(),
        );
        let cfg = config(&url);
        pass(&cfg, &mut s).unwrap();
        let b = view(&mut s, &ids[0]).broadcast.unwrap();
        assert!(b.error.as_deref().unwrap().contains("401"), "{b:?}");
        std::thread::sleep(std::time::Duration::from_millis(2100));
        pass(&cfg, &mut s).unwrap();
        let b = view(&mut s, &ids[0]).broadcast.unwrap();
        assert!(b.error.as_deref().unwrap().contains("-25"), "{b:?}");
        assert_eq!(b.status, "pending");
        std::thread::sleep(std::time::Duration::from_millis(2100));
        pass(&cfg, &mut s).unwrap();
        let r = view(&mut s, &ids[0]);
        let b = r.broadcast.unwrap();
        assert_eq!((b.status.as_str(), b.attempts), ("failed", 3));
        assert!(b.error.unwrap().contains("given up after 3 attempts"));
        assert!(r.signed_psbt.is_some());
        assert!(s.due_broadcasts(10).unwrap().is_empty());
    }

    #[test]
    fn with_bitcoin_core_unreachable_one_attempt_per_pass() {
        let (a, _) = psbt(true, 5);
        let (b, _) = psbt(true, 6);
        let (_d, mut s, ids) = cosigned(&[a.clone(), b.clone()], false);
        s.batch_cosigned(1, &[a, b]).unwrap();
        // A port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg = config(&format!("http://127.0.0.1:{port}"));
        assert_eq!(pass(&cfg, &mut s).unwrap(), 0);
        let tried: Vec<Broadcast> = ids
            .iter()
            .filter_map(|id| view(&mut s, id).broadcast)
            .collect();
        assert_eq!(tried.len(), 1, "the second waits for the next pass");
        assert_eq!(
            (tried[0].status.as_str(), tried[0].attempts),
            ("pending", 1)
        );
        let e = tried[0].error.as_deref().unwrap();
        assert!(e.contains("Bitcoin Core's RPC at"), "{e}");
    }

    #[test]
    fn the_table_needs_one_way_to_log_in() {
        let mut c = config("http://127.0.0.1:8332");
        assert!(c.check(Path::new("/etc")).is_ok());
        c.cookie = Some("c".into());
        assert!(c.check(Path::new("/etc")).unwrap_err().contains("either"));
        (c.user, c.password) = (None, None);
        c.check(Path::new("/etc")).unwrap();
        assert_eq!(c.cookie.as_deref(), Some(Path::new("/etc/c")));
        c.url = "https://x".into();
        assert!(c.check(Path::new("/")).is_err());
    }
}
