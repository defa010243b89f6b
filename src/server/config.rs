//! `server.toml`: the one file that configures a `spacenode server` (its identity, where it
//! listens, its database, the node's link, batching and limits).
//!
//! ```toml
//! listen = "127.0.0.1:8080"            # HTTP API (loopback; TLS by a reverse proxy)
//! database = "sqlite:server.db"        # SQLite file (or a bare path), created with its schema
//! # database = "postgresql://spacenode@%2Frun%2Fpostgresql/spacenode"  # or PostgreSQL (no TLS:
//! #   a Unix socket or a private link), for several instances of this server on one database
//! identity = "03ab...66 hex"           # the node's identity key (from its clean-room export)
//! # The wallet descriptors the node's registry holds for this server (its `server` line's):
//! registered = ["wsh(sortedmulti(2,...))#checksum"]
//! request_ttl_s = 900                  # an unconfirmed request expires after this
//! rate_per_minute = 600                # API calls per user token per minute
//! body_limit = 262144                  # largest request body, bytes
//! public_url = "https://ground.example.org"  # base of the e-mailed confirmation links
//! radio_kbps = 1000                    # the radio's rate, kbit/s: paces the batch upload and
//! #   sets how long each attempt waits for the node's answer (16 for a 16 kbit/s radio)
//!
//! [smtp]                               # only for users added with --email
//! host = "127.0.0.1"                   # an SMTP relay on this machine (plain SMTP, no TLS)
//! port = 25
//! from = "spacenode <ground@example.org>"
//!
//! [node]                               # the node's link: the keys of a ground.toml [node.NAME]
//! uplink = "127.0.0.1:47101"
//! listen = "127.0.0.1:47100"
//! state = "ground-state"
//! server = 7                           # this server's id in the signer's registry (required)
//! key = "server7.key"                  # its P-256 certificate key (required)
//!
//! [broadcast]                          # optional: finalised transactions to Bitcoin Core
//! url = "http://127.0.0.1:18332"       # its JSON-RPC (plain HTTP: loopback or a private link)
//! cookie = "/var/lib/bitcoind/testnet3/.cookie"   # or user = "..." and password = "..."
//! retry_s = 60                         # a failed attempt is tried again after this
//! max_attempts = 30                    # then the hand-off is given up (`failed`)
//!
//! [batch]
//! windows = []                         # UTC "HH:MM-HH:MM" contact windows; empty: at once
//! poll_ms = 500                        # how often the queue is looked at
//! lifetime_s = 3600                    # certificate lifetime (0: never expires, needs no-expiry)
//! ```
//!
//! Relative paths are relative to the file's directory.
//!
//! Avoids: a bad file reported without its place (errors are `FILE:line:col`, as
//! `config check` does) and defaults that would make the server reachable off the machine.

use super::store::Database;
use crate::failure::Failure;
use crate::ground::profile::Profile;
use kernel_config::{Diagnostic, source::Source};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Where the HTTP API listens.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where the server stores: a SQLite file or a PostgreSQL database.
    #[serde(deserialize_with = "database")]
    pub database: Database,
    /// The node's identity public key, hex.
    pub identity: String,
    /// Descriptors the node's registry holds for this server.
    #[serde(default)]
    pub registered: Vec<String>,
    /// Seconds an unconfirmed request lives.
    #[serde(default = "default_ttl")]
    pub request_ttl_s: u64,
    /// API calls per user token per minute.
    #[serde(default = "default_rate")]
    pub rate_per_minute: u32,
    /// Largest request body in bytes.
    #[serde(default = "default_body")]
    pub body_limit: usize,
    /// The base URL wallet users reach this server at (the e-mailed links start with it).
    #[serde(default)]
    pub public_url: Option<String>,
    /// Where confirmation e-mails are handed over.
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// The radio's rate in kbit/s ([`RADIO_KBPS`] unless given): the batch upload's CFDP
    /// pacing, and the least wait of each attempt ([`super::batcher::attempt_wait`]).
    #[serde(default = "default_radio_kbps")]
    pub radio_kbps: u64,
    /// The node's link.
    pub node: Profile,
    /// Batching.
    #[serde(default)]
    pub batch: BatchConfig,
    /// The hand-off of finalised transactions to Bitcoin Core (none: not broadcast).
    #[serde(default)]
    pub broadcast: Option<super::broadcast::BroadcastConfig>,
}

/// The SMTP relay the confirmation e-mails go through: plain SMTP (no STARTTLS, no login) to
/// a relay on this machine only, which carries the mail on (with TLS) from there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The relay's address: a loopback address or `localhost`.
    pub host: String,
    /// Its port.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// The sender, `Name <address>` or `address`.
    pub from: String,
}

fn default_smtp_port() -> u16 {
    25
}

/// When and how batches go up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Contact windows, UTC `HH:MM-HH:MM` (empty: a batch goes up as soon as requests wait).
    #[serde(default)]
    pub windows: Vec<String>,
    /// Queue polling period.
    #[serde(default = "default_poll")]
    pub poll_ms: u64,
    /// Certificate lifetime in seconds (0: no expiry).
    #[serde(default = "default_lifetime")]
    pub lifetime_s: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            windows: Vec::new(),
            poll_ms: default_poll(),
            lifetime_s: default_lifetime(),
        }
    }
}

fn database<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Database, D::Error> {
    Ok(Database::parse(&String::deserialize(d)?))
}

/// The radio rate a server assumes unless told (as `ground sign --rate-kbps`).
pub const RADIO_KBPS: u64 = 1000;
/// The fastest radio rate taken, kbit/s (10 Gbit/s: anything above is a typing error).
pub const MAX_RADIO_KBPS: u64 = 10_000_000;

fn default_radio_kbps() -> u64 {
    RADIO_KBPS
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_ttl() -> u64 {
    900
}
fn default_rate() -> u32 {
    600
}
fn default_body() -> usize {
    256 * 1024
}
fn default_poll() -> u64 {
    500
}
fn default_lifetime() -> u64 {
    crate::ground::expiry::DEFAULT_LIFETIME_S
}

/// A contact window: minutes of the UTC day, `start..end` (wrapping past midnight if end < start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First minute.
    pub start: u32,
    /// Minute after the last.
    pub end: u32,
}

impl Window {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(text: &str) -> Option<Window> {
        let minute = |t: &str| {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60).then_some(h * 60 + m)
        };
        let (a, b) = text.split_once('-')?;
        let (start, end) = (minute(a)?, minute(b)?);
        (start != end).then_some(Window { start, end })
    }

    /// Whether minute-of-day `m` is inside.
    pub fn contains(&self, m: u32) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&m)
        } else {
            m >= self.start || m < self.end
        }
    }
}

impl ServerConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<ServerConfig, Failure> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::Usage(format!(
                "server configuration {}: {e} (`spacenode server --help` lists its keys)",
                path.display()
            ))
        })?;
        let name = path.display().to_string();
        let mut cfg: ServerConfig = toml::from_str(&text).map_err(|e| {
            let src = Source::new(&name, &text);
            let d = Diagnostic::at(
                &src,
                e.span().unwrap_or(0..0),
                e.message().trim().to_string(),
            )
            .help("`spacenode server --help` lists the keys of server.toml");
            Failure::Rejected(d.to_string())
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rel = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Database::Sqlite(p) = &mut cfg.database {
            rel(p);
        }
        for p in [
            &mut cfg.node.state,
            &mut cfg.node.provisioning,
            &mut cfg.node.key,
        ]
        .into_iter()
        .flatten()
        {
            rel(p);
        }
        let problem = |what: String| Failure::Usage(format!("{name}: {what}"));
        if cfg.node.server.is_none() || cfg.node.key.is_none() {
            return Err(problem(
                "[node] needs `server` (this server's id in the signer's registry) and `key` (its certificate key file)".into(),
            ));
        }
        if let Some(bad) = cfg
            .batch
            .windows
            .iter()
            .find(|w| Window::parse(w).is_none())
        {
            return Err(problem(format!(
                "[batch] window `{}` is not UTC `HH:MM-HH:MM` with two different times",
                crate::escape::escape(bad)
            )));
        }
        if cfg.rate_per_minute == 0 || cfg.body_limit < 1024 || cfg.request_ttl_s == 0 {
            return Err(problem(
                "rate_per_minute and request_ttl_s must be above 0 and body_limit at least 1024 bytes".into(),
            ));
        }
        if !(1..=MAX_RADIO_KBPS).contains(&cfg.radio_kbps) {
            return Err(problem(format!(
                "radio_kbps = {} is not a radio rate: give the radio's rate in kbit/s, 1 to {MAX_RADIO_KBPS} (e.g. 16 for a 16 kbit/s radio; unset: {RADIO_KBPS})",
                cfg.radio_kbps
            )));
        }
        if let Some(u) = &mut cfg.public_url {
            if !(u.starts_with("https://") || u.starts_with("http://"))
                || u.contains(char::is_whitespace)
            {
                return Err(problem(format!(
                    "public_url `{}` is not an http:// or https:// URL",
                    crate::escape::escape(u)
                )));
            }
            *u = u.trim_end_matches('/').to_string();
        }
        if let Some(b) = &mut cfg.broadcast {
            b.check(base).map_err(problem)?;
        }
        if let Some(m) = &cfg.smtp {
            let loopback = m.host == "localhost"
                || m.host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|a| a.is_loopback());
            if !loopback {
                return Err(problem(format!(
                    "[smtp] host `{}` is not on this machine: this server speaks plain SMTP without TLS, so it hands mail only to a relay on a loopback address (127.0.0.1, ::1 or localhost) that carries it on",
                    crate::escape::escape(&m.host)
                )));
            }
            if m.from.parse::<lettre::message::Mailbox>().is_err() {
                return Err(problem(format!(
                    "[smtp] from `{}` is not an e-mail address (`Name <user@host>` or `user@host`)",
                    crate::escape::escape(&m.from)
                )));
            }
        }
        crate::ground::admin::read_identity(&cfg.identity)?;
        Ok(cfg)
    }

    /// The contact windows.
    pub fn windows(&self) -> Vec<Window> {
        self.batch
            .windows
            .iter()
            .filter_map(|w| Window::parse(w))
            .collect()
    }

    /// This server's id.
    pub fn server_id(&self) -> u32 {
        self.node.server.unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_and_wrap_past_midnight() {
        let w = Window::parse("23:50-00:10").unwrap();
        assert!(w.contains(23 * 60 + 55) && w.contains(5) && !w.contains(12 * 60));
        let w = Window::parse("10:00-10:15").unwrap();
        assert!(w.contains(600) && !w.contains(615) && !w.contains(599));
        for bad in [
            "",
            "10:00",
            "24:00-01:00",
            "10:60-11:00",
            "10:00-10:00",
            "a-b",
        ] {
            assert_eq!(Window::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_database_is_a_sqlite_path_or_a_postgres_url() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("server.toml");
        let load = |db: &str| {
            std::fs::write(
                &p,
                format!(
                    "database = \"{db}\"\nidentity = \"{}\"\n[node]\nserver = 7\nkey = \"k\"\n",
                    "036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
                ),
            )
            .unwrap();
            ServerConfig::load(&p).map(|c| c.database)
        };
        assert_eq!(
            load("sqlite:s.db").unwrap(),
            Database::Sqlite(dir.path().join("s.db"))
        );
        assert_eq!(
            load("x.db").unwrap(),
            Database::Sqlite(dir.path().join("x.db"))
        );
        let url = "postgresql://spacenode:pw@%2Frun%2Fpostgresql/ground";
        let db = load(url).unwrap();
        assert_eq!(db, Database::Postgres(url.into()));
        // Said without its password.
        let shown = db.to_string();
        assert!(shown.contains("ground") && !shown.contains("pw"), "{shown}");
    }

    #[test]
    fn the_radio_rate_defaults_and_a_bad_one_is_refused_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("server.toml");
        let id = "036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";
        let load = |line: &str| {
            let text = format!(
                "database = \"x.db\"\nidentity = \"{id}\"\n{line}\n[node]\nserver = 7\nkey = \"k\"\n"
            );
            std::fs::write(&p, text).unwrap();
            ServerConfig::load(&p)
        };
        assert_eq!(load("").unwrap().radio_kbps, RADIO_KBPS);
        assert_eq!(load("radio_kbps = 16").unwrap().radio_kbps, 16);
        for bad in ["radio_kbps = 0", "radio_kbps = 10000001"] {
            let Err(Failure::Usage(text)) = load(bad) else {
                panic!("accepted {bad}")
            };
            assert!(
                text.contains("is not a radio rate") && text.contains("kbit/s"),
                "{text}"
            );
        }
        let Err(Failure::Rejected(text)) = load("radio_kbps = \"fast\"") else {
            panic!("accepted a string rate")
        };
        assert!(text.contains("server.toml:3:"), "{text}");
    }

    #[test]
    fn a_bad_file_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("server.toml");
        std::fs::write(&p, "database = \"x.db\"\nidentity = 3\n").unwrap();
        let Err(Failure::Rejected(text)) = ServerConfig::load(&p) else {
            panic!("accepted a bad file")
        };
        assert!(text.contains("server.toml:2:"), "{text}");
        std::fs::write(
            &p,
            "database = \"x.db\"\nidentity = \"03\"\n[node]\nserver = 7\n",
        )
        .unwrap();
        let Err(Failure::Usage(text)) = ServerConfig::load(&p) else {
            panic!("accepted a node without a key")
        };
        assert!(text.contains("`key`"), "{text}");
    }

    #[test]
    fn smtp_goes_only_to_a_loopback_relay_from_a_real_address() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("server.toml");
        let file = |host: &str, from: &str, url: &str| {
            format!(
                "database = \"x.db\"\nidentity = \"03\"\npublic_url = \"{url}\"\n[smtp]\nhost = \"{host}\"\nfrom = \"{from}\"\n[node]\nserver = 7\nkey = \"k\"\n"
            )
        };
        for (host, from, url, want) in [
            (
                "smtp.example.org",
                "a@b.org",
                "https://x",
                "not on this machine",
            ),
            ("10.0.0.1", "a@b.org", "https://x", "not on this machine"),
            ("127.0.0.1", "nobody", "https://x", "not an e-mail address"),
            ("::1", "a@b.org", "ftp://x", "not an http"),
        ] {
            std::fs::write(&p, file(host, from, url)).unwrap();
            let Err(Failure::Usage(text)) = ServerConfig::load(&p) else {
                panic!("accepted {host} {from} {url}")
            };
            assert!(text.contains(want), "{text}");
        }
        // A good [smtp] passes these checks and fails only on the (made-up) identity key.
        std::fs::write(
            &p,
            file("localhost", "spacenode <g@example.org>", "https://x/"),
        )
        .unwrap();
        let Err(e) = ServerConfig::load(&p) else {
            panic!("accepted identity 03")
        };
        assert!(!format!("{e:?}").contains("smtp"), "{e:?}");
    }
}
