//! `spacenode server`: the long-running ground server wallet users reach over HTTP.
//!
//! One server identity (its id in the signer's registry and its P-256 certificate key), the
//! node's link, and a SQLite or PostgreSQL database, all named by one `server.toml` ([`config`]). Wallet
//! clients (the Electrum plug-in) call the JSON API ([`api`]; its OpenAPI document is served at
//! `/v1/openapi.json`): they get the node's account key (verified against the node's signed
//! export), register a wallet, submit a PSBT, confirm it with a TOTP code ([`totp`]), and fetch
//! the co-signed PSBT. A user added with `--email` confirms instead by a one-time link mailed
//! for each request ([`mail`]). Confirmed requests go up as one certified batch per pass ([`batcher`])
//! through the same library as `spacenode ground sign`. Everything is stored first ([`store`]),
//! so a server killed at any point restarts with nothing lost.
//!
//! Avoids: listening off the machine by default (TLS belongs to a reverse proxy in front, see
//! the README), secrets in the database (tokens are hashed), and a second writer of the
//! certificate sequence (one batcher thread per server).

pub mod api;
pub mod batcher;
pub mod broadcast;
pub mod config;
pub mod limit;
pub mod mail;
pub mod store;
pub mod totp;
pub mod wallet_admin;

use crate::failure::Failure;
use clap::{Args, Subcommand};
use config::ServerConfig;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The server's shared state.
pub struct State {
    /// The configuration.
    pub cfg: ServerConfig,
    /// The API's database connection.
    pub store: Mutex<store::Store>,
    /// The node's verified key export, once the batcher has it.
    pub node: RwLock<Option<batcher::NodeInfo>>,
    /// Per-user rate limit.
    pub limiter: limit::Limiter,
    /// Set to stop the batcher.
    pub stop: AtomicBool,
}

#[derive(Args)]
pub struct ServerArgs {
    /// The server's configuration file (its keys: above, and the README's "Ground server
    /// operators" section)
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        default_value = "server.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<ServerCommand>,
}

#[derive(Subcommand)]
enum ServerCommand {
    /// Add a wallet user: prints their bearer token and (unless --email) their TOTP secret as
    /// an otpauth://totp/ URI (shown once; the database keeps only the token's hash)
    AddUser {
        /// The user's name (unique)
        name: String,
        /// Confirm this user's requests by a one-time link e-mailed to ADDRESS instead of a
        /// TOTP code. Needs `public_url` and an [smtp] table in server.toml: the mail goes by
        /// plain SMTP (no STARTTLS, no login) to a relay on this machine (loopback only),
        /// which carries it on
        #[arg(long, value_name = "ADDRESS")]
        email: Option<String>,
        /// The node's BIP-48 account of this user's own wallet (below 2^31, unused by any other
        /// wallet of the node). `GET /v1/node` then hands the user the node's key for it, and
        /// the user's wallet is added to the node's registry by `add-wallet`. Without it the
        /// user shares the server's own wallet (its registry line's, listed in `registered`)
        #[arg(long, value_name = "N")]
        account: Option<u32>,
    },
    /// List the wallets users registered that await `add-wallet` (id, user, account,
    /// descriptor)
    Wallets,
    /// Add a user's wallet to the node's registry: sends the admin command `wallet server=ID
    /// account=N descriptor=D`, signed with the registry admins' keys given here, over this
    /// server's link, and marks the wallet registered once the node applied it
    AddWallet {
        /// The wallet's id (`w-...`, from `spacenode server wallets`)
        wallet: String,
        #[command(flatten)]
        admins: crate::ground::admin::AdminKeys,
    },
}

/// `spacenode server ...`.
pub fn run(args: ServerArgs) -> Result<(), Failure> {
    let cfg = ServerConfig::load(&args.config)?;
    let usage = |e: store::StoreError| Failure::Usage(e.to_string());
    match args.command {
        Some(ServerCommand::Wallets) => wallet_admin::list(&cfg),
        Some(ServerCommand::AddWallet { wallet, admins }) => {
            wallet_admin::add(&cfg, &wallet, &admins)
        }
        Some(ServerCommand::AddUser {
            name,
            email,
            account,
        }) => {
            if account.is_some_and(|a| a >= signer::bip32::HARDENED) {
                return Err(Failure::Usage(
                    "--account is a BIP-48 account number below 2147483648".into(),
                ));
            }
            if name.trim().is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
                return Err(Failure::Usage(
                    "a user name is 1 to 64 characters, without control characters".into(),
                ));
            }
            if let Some(e) = &email {
                if e.parse::<lettre::Address>().is_err() {
                    return Err(Failure::Usage(format!(
                        "--email `{}` is not an e-mail address (user@host)",
                        crate::escape::escape(e)
                    )));
                }
                if cfg.smtp.is_none() || cfg.public_url.is_none() {
                    return Err(Failure::Usage(format!(
                        "{}: a user who confirms by e-mail needs `public_url` and an [smtp] table (host, port, from) in this file",
                        args.config.display()
                    )));
                }
            }
            let (token, secret) = store::Store::open(&cfg.database)
                .and_then(|mut s| s.add_user(&name, email.as_deref(), account))
                .map_err(usage)?;
            println!("user:  {name}");
            println!("token: {token}");
            if let Some(a) = account {
                println!(
                    "account: {a} (the node's key for it comes with GET /v1/node once the server has fetched it)"
                );
            }
            match &email {
                Some(e) => println!("confirm: by the link e-mailed to {e} for each request"),
                None => println!("totp:  {}", totp::uri(&name, &secret)),
            }
            Ok(())
        }
        None => serve(cfg),
    }
}

fn serve(cfg: ServerConfig) -> Result<(), Failure> {
    let level = std::env::var("SPACENODE_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .init();
    let running = Running::start(cfg)?;
    tracing::info!(listen = %running.addr, server = running.state.cfg.server_id(), "serving the API");
    running.runtime.block_on(async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {},
        }
    });
    running.stop()
}

/// A started server: the API on its runtime and the batcher thread.
pub struct Running {
    /// Where the API listens.
    pub addr: std::net::SocketAddr,
    state: Arc<State>,
    runtime: tokio::runtime::Runtime,
    api: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    batcher: std::thread::JoinHandle<()>,
}

impl Running {
    /// Opens the database, binds `cfg.listen`, starts the batcher and serves the API.
    pub fn start(cfg: ServerConfig) -> Result<Running, Failure> {
        let usage = |e: store::StoreError| Failure::Usage(e.to_string());
        let key_path = cfg.node.key.clone().unwrap_or_default();
        let key = crate::ground::keyfile::read(&key_path)
            .map_err(|e| Failure::Rejected(format!("{e}\n")))?;
        let identity = crate::ground::admin::read_identity(&cfg.identity)?;
        let api_store = store::Store::open(&cfg.database).map_err(usage)?;
        let batch_store = store::Store::open(&cfg.database).map_err(usage)?;
        let listen = cfg.listen;
        let state = Arc::new(State {
            limiter: limit::Limiter::new(cfg.rate_per_minute),
            cfg,
            store: Mutex::new(api_store),
            node: RwLock::new(None),
            stop: AtomicBool::new(false),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Failure::Usage(format!("starting the runtime: {e}")))?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(listen))
            .map_err(|e| Failure::Usage(format!("listen {listen}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::Usage(format!("listen {listen}: {e}")))?;
        let b = Arc::clone(&state);
        let batcher = std::thread::Builder::new()
            .name("batcher".into())
            .spawn(move || batcher::run(b, batch_store, key, identity))
            .map_err(|e| Failure::Usage(format!("starting the batcher: {e}")))?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = api::router(Arc::clone(&state));
        let api = runtime.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Running {
            addr,
            state,
            runtime,
            api,
            shutdown,
            batcher,
        })
    }

    /// Stops serving (requests in progress finish), then the batcher (after its pass).
    pub fn stop(self) -> Result<(), Failure> {
        let _ = self.shutdown.send(());
        let served = self.runtime.block_on(self.api);
        self.state.stop.store(true, Ordering::Relaxed);
        let _ = self.batcher.join();
        tracing::info!("stopped");
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Failure::Usage(format!("serving: {e}"))),
            Err(e) => Err(Failure::Usage(format!("serving: {e}"))),
        }
    }
}
