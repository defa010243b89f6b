//! `spacenode`: the command-line front of the space node. It is thin: every subcommand calls into
//! the workspace crates and turns their typed errors into a message that says what went wrong and
//! what to do, with exit status 1 for a rejected input and 2 for a usage or I/O problem. It never
//! panics on user input.

mod boot;
mod bundle;
mod config;
mod demo;
mod docs;
mod escape;
mod failure;
mod ground;
mod pd;
mod provision;
mod radio_link;
mod run;
mod run_qemu;
mod server;
mod verify;
mod wallet;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The software of a satellite space node: isolated components on capability-limited channels,
/// co-signing transactions for ground servers, surviving faults. `bundle` makes and checks signed
/// upgrade bundles; `ground upgrade` installs one on the node (its upgrade agent).
#[derive(Parser)]
#[command(name = "spacenode", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node on the sim board end to end and narrate what happens.
    Demo,
    /// Work with the system description: check it, show its capabilities, export it for seL4.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Power the node on, on the sim board: every component in its own restricted process.
    ///
    /// Prints the boot log (devices, each component with its pid and capabilities), then each
    /// component's log lines prefixed with its name, faults, restarts and resets. Ctrl-C or
    /// SIGTERM stops every component and exits.
    Run(run::RunArgs),
    /// The ground operator's side: ping the node, read its status, co-sign PSBTs, administer
    /// the signer's registry, upgrade the node (named node profiles in ground.toml).
    #[command(subcommand)]
    Ground(ground::GroundCommand),
    /// The ground server wallet users reach over HTTP: takes their PSBTs, has each confirmed
    /// by a TOTP code or a mailed link, sends them up to the node in certified batches, hands back the
    /// co-signed PSBTs. Listens on loopback; put a TLS reverse proxy in front (README).
    ///
    /// server.toml keys: listen (default 127.0.0.1:8080), database ("sqlite:PATH" or a path: a
    /// SQLite file; "postgres://...": PostgreSQL, no TLS, for several instances), identity
    /// (the node's identity key, hex), registered (the wallet descriptors the node's registry
    /// holds for this server already: they register at once; a user added with --account gets
    /// a wallet of their own, registered on the node by `add-wallet`), request_ttl_s (900), rate_per_minute (600), body_limit (262144),
    /// public_url (base of the mailed confirmation links), radio_kbps (1000: the radio's rate in
    /// kbit/s; paces the batch upload, and each attempt waits 5 TM frames' time, at least 2 s);
    /// [smtp] host, port (25), from: needed
    /// for users added with --email; plain SMTP (no STARTTLS, no login) to a relay on a
    /// loopback address only, which carries the mail on; [node] as a ground.toml profile: uplink, listen, state, provisioning, spi, server, key
    /// (server and key required); [batch] windows (UTC "HH:MM-HH:MM"; none: at once), poll_ms
    /// (500), lifetime_s (3600; 0: never expires); [broadcast] (optional: co-signed
    /// transactions with two signatures per input to Bitcoin Core's sendrawtransaction) url
    /// (http://), cookie or user and password, retry_s (60), max_attempts (30). Relative paths
    /// are relative to the file.
    ///
    /// TLS: the server speaks plain HTTP; keep `listen` on loopback and terminate TLS in a
    /// reverse proxy in front of it (nginx `proxy_pass http://127.0.0.1:8080;`, Caddy
    /// `reverse_proxy 127.0.0.1:8080`). Bearer tokens must never cross a network in clear.
    /// Logs: JSON lines on stderr, level from SPACENODE_LOG (error, warn, info, debug).
    Server(server::ServerArgs),
    /// Signed upgrade bundles: keys, root metadata, release manifests, create, verify, inspect.
    ///
    /// The node installs a bundle with `spacenode ground upgrade BUNDLE` (its upgrade agent).
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Print the node's BIP-48 account key (sim board) for the ground's wallet descriptors.
    NodeKey(provision::NodeKeyArgs),
    /// Check a provisioning file against the node's keys and write it into the signer's key flash
    /// (sim board), read at its first boot; `--check` only checks.
    Provision(provision::ProvisionArgs),
    /// Write the SDLS link keys into comms' provisioning inbox (sim board; comms seals them at
    /// its first boot), or make a new key file with --generate.
    ProvisionLink(provision::link::ProvisionLinkArgs),
    /// For security reviewers: run everything that establishes the node's requirements
    /// (verification/requirements.toml) and write one report (HTML, JSON, a summary here).
    ///
    /// Runs in the repository checkout: the workspace's tests, the fuzz targets, the spin
    /// checks, the campaign and interop scripts, and the description's analysis on every
    /// board. Exits 1 unless every requirement is met and every test passed.
    Verify(verify::VerifyArgs),
    /// Print a shell completion script: `spacenode completions bash > /etc/bash_completion.d/spacenode`.
    Completions(docs::CompletionsArgs),
    /// Print the manual page (`spacenode man | man -l -`), or write every page with --dir.
    Man(docs::ManArgs),
    /// (internal) Run a verified image's power cycle; only the boot stage starts this.
    #[command(hide = true)]
    Image(boot::image::ImageArgs),
    /// (internal) Run one component process; only the monitor starts this.
    #[command(hide = true)]
    Pd {
        /// The component's name in the system description.
        name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => demo::run(),
        Command::Config(c) => config::run(c),
        Command::Run(args) => run::run(args),
        Command::Ground(c) => ground::run(c),
        Command::Server(args) => server::run(args),
        Command::Bundle(c) => bundle::run(c),
        Command::Provision(args) => provision::run(args),
        Command::ProvisionLink(args) => provision::link::run(args),
        Command::NodeKey(args) => provision::node_key(args),
        Command::Verify(args) => verify::run(args),
        Command::Completions(args) => docs::completions::<Cli>(args),
        Command::Man(args) => docs::man::<Cli>(args),
        Command::Image(args) => boot::image::run(args),
        Command::Pd { name } => return pd::run(&name),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => f.report(),
    }
}
