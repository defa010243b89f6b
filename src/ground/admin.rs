//! `spacenode ground admin`: the signer's registry administration over the link.
//!
//! | command | what goes up | what comes back |
//! | --- | --- | --- |
//! | `export-xpub --server ID` (or `--account N`) | TC 8,1 function 0x0004 (0x0005) | TM\[8,128\] with the export signed by the node's identity key, verified here against `--identity` before anything is printed |
//! | `add-server --file F`, `revoke --server ID`, `policy --server ID --rules TEXT`, `add-wallet --server ID --account N --descriptor D` | an admin envelope (`signer::admin`: node id, counter, body, M signatures) in TC 8,1 function 0x0003 chunks | 1,7 and TM\[8,128\] with the registry's admin counter, or 1,8 with the signer's refusal |
//! | `identity --state DIR` | nothing (sim board only) | the node's identity public key, read from its key flash |
//! | `recover --floor N` (`admin/recover.rs`) | reads the ledger-recovery challenge (0x0007), then a `recover-ledger` envelope as above | 1,7, or 1,8 with the signer's refusal |
//! | `recover-link` (`admin/recover_link.rs`) | reads the link-recovery challenge (0x0008), then a `recover-link` envelope as above, through a ground end at epoch 0 and floor 0 | 1,7 once comms wrote its new SDLS state, or 1,8 with the refusal |
//! | `spacenode ground time` ([`super::time`]) | an admin envelope with the body `time MS` (the ground's UTC clock), as above | 1,7, or 1,8 with the signer's refusal (a replayed or backwards correlation; a reading of the ground's clock refused as backwards is read again and resent, at most three times) |
//!
//! Admin commands are signed here with each `--admin-key` (a file holding the admin's P-256
//! secret key as 64 hex characters, the format `spacenode ground batch --key` reads). The admin
//! index a signature carries is the key's position among the `admin` lines of the node's
//! registry: written `--admin-key INDEX=FILE`, or found by matching the key's public key against
//! the `admin` lines of `--registry FILE` (the provisioning file).
//!
//! The envelope's counter must be above the last one the signer applied. The ground keeps the
//! last counter it used per node in `STATE/admin-counter-<node id>` and writes the next one there
//! **before** sending, so a counter is never used twice by this ground; `--counter N` overrides
//! it (e.g. after another ground station administered the node).
//!
//! Avoids: printing an export whose signature does not verify; panics on anything the node or a
//! file sends.

use super::session::Session;
use super::{LinkArgs, session_failure};
use crate::failure::Failure;
use clap::{Args, Subcommand};
use comms::admin::{
    self as wire, FN_ADMIN_CHUNK, FN_EXPORT_ACCOUNT, FN_EXPORT_SERVER, ResponseReport,
};
use comms::pus::ST_FUNCTION;
use comms::pus::function;
use comms::pus::verification::Report;
use hex_conservative::{DisplayHex, FromHex};
use std::path::{Path, PathBuf};

mod recover;
mod recover_link;

/// Envelope bytes per chunk: one TC of at most ~1.9 KB, well inside the radio's 2,048-byte MTU.
pub const CHUNK_DATA: usize = 1800;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Export an account xpub signed by the node's identity key, and verify it.
    ExportXpub(ExportArgs),
    /// Register a new ground server (a `server` line and its `rule` lines, registry grammar).
    AddServer(AddServerArgs),
    /// Revoke a ground server: its batches are refused from then on.
    Revoke(RevokeArgs),
    /// Replace a ground server's policy rules.
    Policy(PolicyArgs),
    /// Add a wallet to a ground server (one more wallet user of that server): its descriptor must
    /// hold the node's key for --account (`export-xpub --account N`), an account no other wallet
    /// uses.
    AddWallet(AddWalletArgs),
    /// Replace the admin set and its threshold, signed by the current threshold of current admins
    /// and by the new threshold of new admins (as TUF rotates its root keys).
    RotateAdmins(RotateArgs),
    /// Print the node's identity public key, read from the key flash file in --state (sim board
    /// only; the node may be running or stopped).
    Identity(IdentityArgs),
    /// Recover a signer whose ledger was lost: read this boot's challenge, then send
    /// `recover-ledger` with every server's new sequence floor, signed by the admin threshold.
    Recover(recover::RecoverArgs),
    /// Recover comms whose SDLS anti-replay state was lost: read the link-recovery challenge,
    /// then send `recover-link` with new floors above this ground's records, signed by the
    /// admin threshold and verified by the signer.
    RecoverLink(recover_link::RecoverLinkArgs),
}

#[derive(Args)]
pub struct RotateArgs {
    #[command(flatten)]
    signing: Signing,
    /// The new set: an `admin-threshold M` line, then one `admin KEY` line per new admin
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// A new admin's P-256 secret key file; give it once per signing new admin (its index is its
    /// `admin` line's position in --file)
    #[arg(long = "new-admin-key", value_name = "FILE", required = true)]
    new_admin_keys: Vec<PathBuf>,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    link: LinkArgs,
    /// The node's identity public key: 66 hex characters, or a file holding them
    #[arg(long, value_name = "FILE|HEX")]
    identity: String,
    /// Export the account key of this registered server
    #[arg(
        long,
        value_name = "ID",
        conflicts_with = "account",
        required_unless_present = "account"
    )]
    server: Option<u32>,
    /// Export this BIP-48 account instead (before its server is registered)
    #[arg(long, value_name = "N")]
    account: Option<u32>,
    /// Network of --account: mainnet, testnet or regtest
    #[arg(long, default_value = "regtest")]
    network: String,
    /// Script type of --account: wsh or sh-wsh
    #[arg(long, default_value = "wsh")]
    script: String,
}

#[derive(Args)]
pub struct Signing {
    #[command(flatten)]
    link: LinkArgs,
    /// The node's identity public key (the command names this node): 66 hex characters, or a file
    #[arg(long, value_name = "FILE|HEX")]
    identity: String,
    #[command(flatten)]
    pub(super) admins: AdminKeys,
}

/// The admin keys that sign an admin command (also `spacenode server add-wallet`'s).
#[derive(Args)]
pub struct AdminKeys {
    /// An admin's P-256 secret key file (64 hex); give it once per signing admin, as INDEX=FILE or FILE with --registry
    #[arg(long = "admin-key", value_name = "[INDEX=]FILE", required = true)]
    admin_keys: Vec<String>,
    /// The provisioning file: its `admin` lines give each key's admin index
    #[arg(long, value_name = "FILE")]
    registry: Option<PathBuf>,
    /// The envelope counter [default: one above the last this ground used for the node]
    #[arg(long, value_name = "N")]
    pub counter: Option<u64>,
}

impl Signing {
    /// `--identity` as given.
    pub(super) fn identity(&self) -> &str {
        &self.identity
    }

    /// The ground's state directory.
    pub(super) fn state_dir(&self) -> PathBuf {
        self.link
            .state
            .clone()
            .unwrap_or_else(super::default_state_dir)
    }
}

#[derive(Args)]
pub struct AddServerArgs {
    #[command(flatten)]
    signing: Signing,
    /// File with the `server ...` line and its `rule ...` lines
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
}

#[derive(Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    signing: Signing,
    /// The server to revoke
    #[arg(long, value_name = "ID")]
    server: u32,
}

#[derive(Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    signing: Signing,
    /// The server whose rules are replaced
    #[arg(long, value_name = "ID")]
    server: u32,
    /// The new rules, `rule ...` lines (newline- or `;`-separated)
    #[arg(long, value_name = "TEXT")]
    rules: String,
}

#[derive(Args)]
pub struct AddWalletArgs {
    #[command(flatten)]
    signing: Signing,
    /// The server the wallet is added to
    #[arg(long, value_name = "ID")]
    server: u32,
    /// The node's BIP-48 account in the wallet (below 2^31; unused by any other wallet)
    #[arg(long, value_name = "N")]
    account: u32,
    /// The wallet's descriptor: wsh(sortedmulti(...)) or sh(wsh(sortedmulti(...))) with its
    /// checksum, holding the node's key for --account on the server's network
    #[arg(long, value_name = "TEXT")]
    descriptor: String,
}

impl AddWalletArgs {
    /// The admin command body: one `wallet` line.
    fn body(&self) -> Result<String, Failure> {
        wallet_body(self.server, self.account, &self.descriptor).map_err(Failure::Usage)
    }
}

/// The admin command body adding a wallet (`wallet server=ID account=N descriptor=D`), checked
/// for what the line grammar would refuse (the node checks the rest).
pub fn wallet_body(server: u32, account: u32, descriptor: &str) -> Result<String, String> {
    let descriptor = descriptor.trim();
    if descriptor.is_empty() || descriptor.contains(char::is_whitespace) {
        return Err("the descriptor must be one word with no spaces".into());
    }
    let body = format!("wallet server={server} account={account} descriptor={descriptor}");
    signer::provision::parse_line(&body).map_err(|e| format!("{body}: {e}"))?;
    Ok(body)
}

#[derive(Args)]
pub struct IdentityArgs {
    /// Directory of the board's persistent state (as for `spacenode run`)
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
}

pub fn run(cmd: AdminCommand) -> Result<(), Failure> {
    match cmd {
        AdminCommand::ExportXpub(a) => export(a),
        AdminCommand::AddServer(a) => {
            let body = std::fs::read_to_string(&a.file)
                .map_err(|e| Failure::Usage(format!("{}: {e}", a.file.display())))?;
            command(a.signing, body.trim(), Vec::new())
        }
        AdminCommand::RotateAdmins(a) => {
            let body = std::fs::read_to_string(&a.file)
                .map_err(|e| Failure::Usage(format!("{}: {e}", a.file.display())))?;
            let new_set = new_admin_keys(&body, &a)?;
            command(a.signing, body.trim(), new_set)
        }
        AdminCommand::Revoke(a) => {
            command(a.signing, &format!("revoke id={}", a.server), Vec::new())
        }
        AdminCommand::Policy(a) => {
            let rules: Vec<&str> = a
                .rules
                .split(['\n', ';'])
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            if rules.is_empty() {
                return Err(Failure::Usage(
                    "--rules is empty: give at least one `rule ...` line (a server with no rules signs nothing; use `rule deny` to say so)".into(),
                ));
            }
            command(
                a.signing,
                &format!("policy id={}\n{}", a.server, rules.join("\n")),
                Vec::new(),
            )
        }
        AdminCommand::AddWallet(a) => {
            let body = a.body()?;
            command(a.signing, &body, Vec::new())
        }
        AdminCommand::Identity(a) => identity(a),
        AdminCommand::Recover(a) => recover::run(a),
        AdminCommand::RecoverLink(a) => recover_link::run(a),
    }
}

pub(super) fn hex(b: &[u8]) -> String {
    b.to_lower_hex_string()
}

/// Exactly `N` bytes of hex; surrounding whitespace (a key file's newline) is ignored.
fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    <[u8; N]>::from_hex(text.trim()).ok()
}

/// The identity key from `FILE|HEX`, checked to be a P-256 point.
pub fn read_identity(arg: &str) -> Result<[u8; 33], Failure> {
    let text = match unhex::<33>(arg) {
        Some(_) => arg.to_string(),
        None => std::fs::read_to_string(arg).map_err(|e| {
            Failure::Usage(format!(
                "--identity {arg}: neither 66 hex characters nor a readable file ({e})"
            ))
        })?,
    };
    let key = unhex::<33>(&text).ok_or_else(|| {
        Failure::Usage(format!(
            "--identity {arg}: expected a compressed P-256 public key, 66 hex characters"
        ))
    })?;
    // Compressed points only (0x02/0x03): the signer's identity is always given that way.
    if !matches!(key[0], 2 | 3) {
        return Err(Failure::Usage(format!(
            "--identity {arg}: not a compressed P-256 public key (it must start with 02 or 03)"
        )));
    }
    p256::PublicKey::from_sec1_bytes(&key)
        .map_err(|_| Failure::Usage(format!("--identity {arg}: not a point on P-256")))?;
    Ok(key)
}

pub(super) fn refused(f: comms::failure::Failure, what: &str) -> Failure {
    Failure::Rejected(format!(
        "the node refused the {what}: {} (code {:#06x}, data {})\n",
        f.code,
        f.code.code(),
        f.data
    ))
}

fn network_code(name: &str) -> Result<u8, Failure> {
    match name {
        "mainnet" => Ok(0),
        "testnet" => Ok(1),
        "regtest" => Ok(2),
        other => Err(Failure::Usage(format!(
            "unknown network `{other}` (mainnet, testnet or regtest)"
        ))),
    }
}

/// What a verified export says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportView {
    /// Server id (0 for an export by account).
    pub server: u32,
    /// `mainnet`, `testnet` or `regtest`.
    pub network: &'static str,
    /// `wsh` or `sh-wsh`.
    pub script: &'static str,
    /// BIP-48 account.
    pub account: u32,
    /// `[fingerprint/48h/COINh/ACCOUNTh/SCRIPTh]xpub`: the descriptor key.
    pub key: String,
}

/// Verify an export against the identity key and read it.
pub fn verify_export(bytes: &[u8; 169], identity: &[u8; 33]) -> Result<ExportView, String> {
    let e = signer::export::XpubExport::from_bytes(*bytes);
    if !e.verify(identity) {
        return Err(format!(
            "the export's identity signature does NOT verify with {}: refusing to print its key (wrong --identity, or the answer was forged)",
            hex(identity)
        ));
    }
    let b = e.as_bytes();
    if b[..5] != *b"SNXP\x01" || b[5..13] != signer::admin::node_id(identity) {
        return Err("the export is signed but not a version 1 export of this node".into());
    }
    let be4 = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let (network, coin) = match b[17] {
        0 => ("mainnet", 0),
        1 => ("testnet", 1),
        2 => ("regtest", 1),
        _ => return Err("the export names an unknown network".into()),
    };
    let (script, script_index) = match b[18] {
        0 => ("wsh", 2),
        1 => ("sh-wsh", 1),
        _ => return Err("the export names an unknown script type".into()),
    };
    let account = be4(19);
    let xpub = signer::base58::encode_check(e.xpub_bytes())
        .map_err(|e| format!("the export's xpub does not encode: {e}"))?;
    Ok(ExportView {
        server: be4(13),
        network,
        script,
        account,
        key: format!(
            "[{}/48h/{coin}h/{account}h/{script_index}h]{}",
            hex(&b[23..27]),
            xpub.as_str()
        ),
    })
}

fn export(a: ExportArgs) -> Result<(), Failure> {
    let identity = read_identity(&a.identity)?;
    let app = match (a.server, a.account) {
        (Some(id), _) => {
            let mut app = FN_EXPORT_SERVER.to_be_bytes().to_vec();
            app.extend_from_slice(&id.to_be_bytes());
            app
        }
        (None, Some(account)) => account_app(&a.network, &a.script, account)?,
        (None, None) => return Err(Failure::Usage("give --server ID or --account N".into())),
    };
    let mut s = a.link.session()?;
    let bytes = fetch_export(&mut s, &app, a.link.attempts, &mut |l| println!("{l}"))?;
    let v = verify_export(&bytes, &identity).map_err(|e| Failure::Rejected(format!("{e}\n")))?;
    if let Some(id) = a.server
        && v.server != id
    {
        return Err(Failure::Rejected(format!(
            "the node answered with the export of server {}, not {id}\n",
            v.server
        )));
    }
    println!(
        "server {}: {} {} account {} (identity signature verified)",
        v.server, v.network, v.script, v.account
    );
    println!("{}", v.key);
    Ok(())
}

/// The export the read-only function `app` (an `FN_EXPORT_*` request) answers, not yet verified.
fn fetch_export(
    s: &mut Session,
    app: &[u8],
    attempts: u32,
    log: &mut dyn FnMut(&str),
) -> Result<[u8; 169], Failure> {
    match ask_logged(s, app, attempts, "export", log)? {
        ResponseReport::Export(e) => Ok(e),
        _ => Err(Failure::Rejected(
            "the node answered the export with another kind of report\n".into(),
        )),
    }
}

/// The node's export of server `id`'s wallet key, verified against the node's `identity` and
/// checked to be that server's (what `spacenode server` hands its wallet users); the exchange's
/// lines go to `log`.
pub fn server_export(
    s: &mut Session,
    id: u32,
    identity: &[u8; 33],
    attempts: u32,
    log: &mut dyn FnMut(&str),
) -> Result<([u8; 169], ExportView), Failure> {
    let mut app = FN_EXPORT_SERVER.to_be_bytes().to_vec();
    app.extend_from_slice(&id.to_be_bytes());
    let bytes = fetch_export(s, &app, attempts, log)?;
    let v = verify_export(&bytes, identity).map_err(|e| Failure::Rejected(format!("{e}\n")))?;
    if v.server != id {
        return Err(Failure::Rejected(format!(
            "the node answered with the export of server {}, not {id}\n",
            v.server
        )));
    }
    Ok((bytes, v))
}

/// The export request of BIP-48 `account` on `network` with script type `script` (`wsh` or
/// `sh-wsh`).
fn account_app(network: &str, script: &str, account: u32) -> Result<Vec<u8>, Failure> {
    let script = match script {
        "wsh" => 0u8,
        "sh-wsh" => 1,
        other => {
            return Err(Failure::Usage(format!(
                "unknown script type `{other}` (wsh or sh-wsh)"
            )));
        }
    };
    let mut app = FN_EXPORT_ACCOUNT.to_be_bytes().to_vec();
    app.extend_from_slice(&[network_code(network)?, script]);
    app.extend_from_slice(&account.to_be_bytes());
    Ok(app)
}

/// The node's export of BIP-48 `account` (`network` and `script` as [`ExportView`] names them),
/// verified against the node's `identity` and checked to be that account's: what `spacenode
/// server` hands a wallet user with an account of their own. The exchange's lines go to `log`.
pub fn account_export(
    s: &mut Session,
    network: &str,
    script: &str,
    account: u32,
    identity: &[u8; 33],
    log: &mut dyn FnMut(&str),
) -> Result<([u8; 169], ExportView), Failure> {
    let app = account_app(network, script, account)?;
    let bytes = fetch_export(s, &app, 8, log)?;
    let v = verify_export(&bytes, identity).map_err(|e| Failure::Rejected(format!("{e}\n")))?;
    if (v.network, v.script, v.account) != (network, script, account) {
        return Err(Failure::Rejected(format!(
            "the node answered with the export of {} {} account {}, not {network} {script} account {account}\n",
            v.network, v.script, v.account
        )));
    }
    Ok((bytes, v))
}

/// Sends the read-only admin function `app` (an export, the recovery challenge: `what`) and
/// returns the signer's answer (TM\[8,128\]). The answer travels in its own TM: if that unit is
/// lost while the 1,7 arrives, it asks again, up to `attempts` times (a read changes nothing on
/// the node).
fn ask(s: &mut Session, app: &[u8], attempts: u32, what: &str) -> Result<ResponseReport, Failure> {
    ask_logged(s, app, attempts, what, &mut |l| println!("{l}"))
}

/// [`ask`], its lines (verification reports, a lost report) to `log`.
fn ask_logged(
    s: &mut Session,
    app: &[u8],
    attempts: u32,
    what: &str,
    log: &mut dyn FnMut(&str),
) -> Result<ResponseReport, Failure> {
    let attempts = attempts.max(1);
    for _ in 0..attempts {
        let ans = s.command(ST_FUNCTION, 1, app).map_err(session_failure)?;
        log(&super::verification_line(&ans));
        if let Some(f) = ans.failure() {
            return Err(refused(f, what));
        }
        let mut tms = ans.other.clone();
        if let Ok(more) = s.collect(std::time::Duration::from_millis(20)) {
            tms.extend(more);
        }
        let report = tms
            .iter()
            .filter(|t| t.service == ST_FUNCTION && t.subservice == wire::TM_ADMIN_RESPONSE)
            .find_map(|t| wire::decode_response(&t.source));
        match report {
            Some((_, r)) => return Ok(r),
            None => log(&format!("{what} report lost on the downlink; asking again")),
        }
    }
    Err(Failure::Rejected(format!(
        "the {what} completed {attempts} times but its report never came down; try again\n"
    )))
}

/// The keys of the `admin KEY` lines of a registry text, in admin-index order.
fn admin_lines(text: &str) -> Vec<[u8; 33]> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            match (w.next(), w.next()) {
                (Some("admin"), Some(k)) => unhex::<33>(k),
                _ => None,
            }
        })
        .collect()
}

impl AdminKeys {
    /// The `--admin-key` arguments resolved to (index, key): the index given, or the key's
    /// position among the `admin` lines of the `--registry` provisioning file.
    pub fn resolve(&self) -> Result<Vec<(u8, p256::SecretKey)>, Failure> {
        resolve_admin_keys(&self.admin_keys, self.registry.as_deref())
    }
}

fn resolve_admin_keys(
    args: &[String],
    registry: Option<&Path>,
) -> Result<Vec<(u8, p256::SecretKey)>, Failure> {
    let registry: Option<Vec<[u8; 33]>> = match registry {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Failure::Usage(format!("--registry {}: {e}", p.display())))?;
            Some(admin_lines(&text))
        }
    };
    let mut out = Vec::new();
    for arg in args {
        let (index, file) = match arg.split_once('=') {
            // Anything number-like before `=` is an index attempt (`-1=FILE`, `+3=FILE`), never
            // part of a file name.
            Some((i, f))
                if !i.is_empty()
                    && i.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'+') =>
            {
                (
                    Some(
                        i.bytes()
                            .all(|b| b.is_ascii_digit())
                            .then(|| i.parse::<u8>().ok())
                            .flatten()
                            .ok_or_else(|| {
                                Failure::Usage(format!(
                                    "--admin-key {arg}: the admin index must be a number from 0 to 255"
                                ))
                            })?,
                    ),
                    f,
                )
            }
            _ => (None, arg.as_str()),
        };
        let key = super::keyfile::read(Path::new(file))
            .map_err(|e| Failure::Rejected(format!("{e}\n")))?;
        let public = signer::p256sig::compress(&key.public_key());
        let index = match (index, &registry) {
            (Some(i), _) => i,
            (None, Some(admins)) => admins
                .iter()
                .position(|a| *a == public)
                .and_then(|i| u8::try_from(i).ok())
                .ok_or_else(|| {
                    Failure::Rejected(format!(
                        "--admin-key {file}: its public key {} is not an `admin` line of the registry file\n",
                        hex(&public)
                    ))
                })?,
            (None, None) => {
                return Err(Failure::Usage(format!(
                    "--admin-key {file}: give its admin index (INDEX={file}) or --registry with the node's provisioning file"
                )));
            }
        };
        out.push((index, key));
    }
    Ok(out)
}

fn counter_path(state: &Path, node: &[u8; 8]) -> PathBuf {
    state.join(format!("admin-counter-{}", hex(node)))
}

/// The counter to use: `--counter`, else one above the last used; recorded before use.
fn next_counter(state: &Path, node: &[u8; 8], given: Option<u64>) -> Result<u64, Failure> {
    let path = counter_path(state, node);
    let last = match std::fs::read_to_string(&path) {
        Ok(t) => t.trim().parse::<u64>().map_err(|_| {
            Failure::Usage(format!(
                "{}: not a counter (one decimal number); fix it or pass --counter",
                path.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(Failure::Usage(format!("{}: {e}", path.display()))),
    };
    let next = match given {
        Some(c) if c.saturating_sub(last) > signer::admin::MAX_COUNTER_STEP => {
            return Err(Failure::Usage(format!(
                "--counter {c}: more than {} above the last counter this ground used ({last}); the signer refuses such a jump (it would use up the counter space); nothing was sent",
                signer::admin::MAX_COUNTER_STEP
            )));
        }
        Some(c) => c,
        None => last.checked_add(1).ok_or_else(|| {
            Failure::Usage(format!("{}: the counter is exhausted", path.display()))
        })?,
    };
    std::fs::create_dir_all(state)
        .map_err(|e| Failure::Usage(format!("{}: {e}", state.display())))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{}\n", next.max(last)))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    Ok(next)
}

/// A transfer ID unlikely to repeat: the counter mixed with the time and the process id.
fn transfer_id(counter: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    counter.rotate_left(32) ^ nanos ^ u64::from(std::process::id())
}

/// Each `--new-admin-key` with its signature index in a rotation (`NEW_SET` + its position
/// among the `admin` lines of the new set).
fn new_admin_keys(body: &str, a: &RotateArgs) -> Result<Vec<(u8, p256::SecretKey)>, Failure> {
    let set = admin_lines(body);
    a.new_admin_keys
        .iter()
        .map(|file| {
            let key =
                super::keyfile::read(file).map_err(|e| Failure::Rejected(format!("{e}\n")))?;
            let public = signer::p256sig::compress(&key.public_key());
            let j = set
                .iter()
                .position(|k| *k == public)
                .and_then(|j| u8::try_from(j).ok())
                .ok_or_else(|| {
                    Failure::Rejected(format!(
                        "--new-admin-key {}: its public key {} is not an `admin` line of {}\n",
                        file.display(),
                        hex(&public),
                        a.file.display()
                    ))
                })?;
            Ok((signer::admin::NEW_SET + j, key))
        })
        .collect()
}

fn command(sig: Signing, body: &str, new_set: Vec<(u8, p256::SecretKey)>) -> Result<(), Failure> {
    match send(sig, body, new_set)? {
        Some(c) => println!("applied: the signer's registry is now at admin counter {c}"),
        None => println!("applied (the counter report was lost on the downlink)"),
    }
    Ok(())
}

/// Signs `body` with the `--admin-key`s (and `new_set`), sends it and waits for the signer's
/// answer: see [`apply`].
pub(super) fn send(
    sig: Signing,
    body: &str,
    new_set: Vec<(u8, p256::SecretKey)>,
) -> Result<Option<u64>, Failure> {
    Uplink::open(sig, new_set)?.send(body)?.counter()
}

/// What the signer made of an admin command that reached it.
pub(super) enum Verdict {
    /// Applied; the registry's admin counter, unless its report was lost on the downlink.
    Applied(Option<u64>),
    /// Refused (by comms or the signer), with the reason: nothing changed on the node.
    Refused(comms::failure::Failure),
}

impl Verdict {
    /// The counter when applied (`None`: its report was lost); a refusal as an error in words.
    pub(super) fn counter(self) -> Result<Option<u64>, Failure> {
        match self {
            Verdict::Applied(c) => Ok(c),
            Verdict::Refused(f) => Err(refused(f, "admin command")),
        }
    }
}

/// An open session with the signing keys, for one admin command or, when the ground writes the
/// body again after a refusal (`spacenode ground time`), several.
pub(super) struct Uplink {
    s: Session,
    state: PathBuf,
    identity: [u8; 33],
    keys: Vec<(u8, p256::SecretKey)>,
    counter: Option<u64>,
}

impl Uplink {
    /// Reads the identity and keys of `sig` (plus `new_set`) and opens its link.
    pub(super) fn open(
        sig: Signing,
        new_set: Vec<(u8, p256::SecretKey)>,
    ) -> Result<Uplink, Failure> {
        let identity = read_identity(&sig.identity)?;
        let mut keys = sig.admins.resolve()?;
        keys.extend(new_set);
        let (link, s) = sig.link.open()?;
        Ok(Uplink {
            s,
            state: link.state,
            identity,
            keys,
            counter: sig.admins.counter,
        })
    }

    /// One admin command with `body` (a new envelope each time, with the next counter unless
    /// `--counter` was given): see [`judge`].
    pub(super) fn send(&mut self, body: &str) -> Result<Verdict, Failure> {
        let signers: Vec<(u8, &p256::SecretKey)> = self.keys.iter().map(|(i, k)| (*i, k)).collect();
        judge(
            &mut self.s,
            &self.state,
            &self.identity,
            &signers,
            body,
            self.counter,
            &mut |l| println!("{l}"),
        )
    }
}

/// Builds the admin envelope for `body` (the counter one above the last this ground used for
/// the node, or `counter`), signs it with `signers` (admin index, key), uplinks it in chunks
/// through `s` and waits for the signer's answer. `Ok(Some(counter))` when applied and the
/// counter report arrived, `Ok(None)` when applied but that report was lost; a refusal is an
/// error with the signer's reason. `out` gets the verification lines.
pub fn apply(
    s: &mut Session,
    state: &Path,
    identity: &[u8; 33],
    signers: &[(u8, &p256::SecretKey)],
    body: &str,
    counter: Option<u64>,
    out: &mut dyn FnMut(String),
) -> Result<Option<u64>, Failure> {
    judge(s, state, identity, signers, body, counter, out)?.counter()
}

/// [`apply`], with the node's refusal as a [`Verdict`] (its code for the caller to act on)
/// rather than an error; an `Err` is a failure to build, send or hear the command.
pub(super) fn judge(
    s: &mut Session,
    state: &Path,
    identity: &[u8; 33],
    signers: &[(u8, &p256::SecretKey)],
    body: &str,
    counter: Option<u64>,
    out: &mut dyn FnMut(String),
) -> Result<Verdict, Failure> {
    let node = signer::admin::node_id(identity);
    // Check the envelope builds before a counter is spent on it.
    let mut env = vec![0u8; signer::admin::MAX_ENVELOPE];
    signer::admin::build(&mut env, identity, 1, body, signers).map_err(|e| {
        Failure::Rejected(format!(
            "cannot build the admin command: {e} (body of 1 to {} bytes, 1 to 8 admin keys)\n",
            signer::admin::MAX_BODY
        ))
    })?;
    let counter = next_counter(state, &node, counter)?;
    let n = signer::admin::build(&mut env, identity, counter, body, signers)
        .map_err(|e| Failure::Rejected(format!("cannot build the admin command: {e}\n")))?;
    env.truncate(n);
    out(format!(
        "admin command: counter {counter}, {} signature{}, {} bytes in {} chunk{}",
        signers.len(),
        if signers.len() == 1 { "" } else { "s" },
        env.len(),
        env.len().div_ceil(CHUNK_DATA),
        if env.len() > CHUNK_DATA { "s" } else { "" }
    ));
    // A fresh transfer ID per run: a deliberate resend of an envelope (same counter) is a new
    // command for the node, judged by the signer, not a retransmission of the last one.
    let chunks: Vec<_> = wire::chunks(transfer_id(counter), &env, CHUNK_DATA).collect();
    let mut last = None;
    for c in &chunks {
        let mut app = vec![0u8; 2 + function::CHUNK_ARGS_LEN + c.data.len()];
        app[..2].copy_from_slice(&FN_ADMIN_CHUNK.to_be_bytes());
        function::encode_chunk(c, &mut app[2..])
            .ok_or_else(|| Failure::Usage("internal: chunk does not fit".into()))?;
        let ans = s.command(ST_FUNCTION, 1, &app).map_err(session_failure)?;
        out(super::verification_line(&ans));
        if let Some(f) = ans.failure() {
            return Ok(Verdict::Refused(f));
        }
        last = Some(ans);
    }
    let ans = last.ok_or_else(|| Failure::Usage("internal: no chunk sent".into()))?;
    if !ans.reports.contains(&Report::CompletionSuccess) {
        return Err(Failure::Rejected(
            "the admin command did not complete\n".into(),
        ));
    }
    Ok(Verdict::Applied(
        ans.other
            .iter()
            .filter(|t| t.service == ST_FUNCTION && t.subservice == wire::TM_ADMIN_RESPONSE)
            .filter_map(|t| wire::decode_response(&t.source))
            .find_map(|(_, r)| match r {
                ResponseReport::Applied(c) => Some(c),
                ResponseReport::Export(_)
                | ResponseReport::Challenge(_)
                | ResponseReport::Clock { .. } => None,
            }),
    ))
}

fn identity(a: IdentityArgs) -> Result<(), Failure> {
    let state = a.state.unwrap_or_else(crate::run::default_state_dir);
    let path = state.join("key-flash.flash");
    if !path.exists() {
        return Err(Failure::Usage(format!(
            "{}: no key flash (run `spacenode node-key` or boot the node once)",
            path.display()
        )));
    }
    let k = crate::provision::with_signer(&state, path, |s, _| Ok(s.identity_public_key()))?;
    println!("{}", hex(&k));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_parse_from_hex_or_refuse_clearly() {
        let k = p256::SecretKey::from_slice(&[3u8; 32]).unwrap();
        let public = signer::p256sig::compress(&k.public_key());
        assert_eq!(read_identity(&hex(&public)).unwrap(), public);
        let mut bad = public;
        bad[0] = 0x05;
        assert!(read_identity(&hex(&bad)).is_err());
        assert!(read_identity("/nonexistent/identity").is_err());
    }

    #[test]
    fn a_wallet_body_is_one_wallet_line_and_refuses_what_the_grammar_would() {
        assert_eq!(
            wallet_body(7, 5, " wsh(sortedmulti(2,x))#abcdefgh\n").unwrap(),
            "wallet server=7 account=5 descriptor=wsh(sortedmulti(2,x))#abcdefgh"
        );
        assert!(wallet_body(7, 5, "").is_err());
        assert!(wallet_body(7, 5, "wsh(a) revoked").is_err());
        // The account must be below 2^31 (a hardened index).
        assert!(wallet_body(7, 1 << 31, "wsh(a)").is_err());
    }

    #[test]
    fn malformed_hex_is_refused() {
        let good = format!("02{}", "ab".repeat(32));
        assert_eq!(unhex::<33>(&good).map(|k| k[0]), Some(2));
        assert!(
            unhex::<33>(&format!("{good}\n")).is_some(),
            "a key file's newline"
        );
        for bad in [
            format!("+2{}", "ab".repeat(32)), // "+2" was 0x02 to `from_str_radix`
            format!("02{}a", "ab".repeat(32)), // odd length
            format!("0g{}", "ab".repeat(32)), // not hex
            format!("02 {}", "ab".repeat(32)), // whitespace inside
            format!("é{}", "ab".repeat(32)),  // not ASCII
        ] {
            assert_eq!(unhex::<33>(&bad), None, "{bad:?}");
            assert!(read_identity(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_forged_or_altered_export_is_refused() {
        let mut b = [0u8; 169];
        b[..5].copy_from_slice(b"SNXP\x01");
        let k = p256::SecretKey::from_slice(&[3u8; 32]).unwrap();
        let public = signer::p256sig::compress(&k.public_key());
        let e = verify_export(&b, &public).unwrap_err();
        assert!(e.contains("does NOT verify"), "{e}");
    }

    #[test]
    fn counters_advance_and_are_recorded_before_use() {
        let dir = tempfile::tempdir().unwrap();
        let node = [1u8; 8];
        assert_eq!(next_counter(dir.path(), &node, None).unwrap(), 1);
        assert_eq!(next_counter(dir.path(), &node, None).unwrap(), 2);
        assert_eq!(next_counter(dir.path(), &node, Some(10)).unwrap(), 10);
        assert_eq!(next_counter(dir.path(), &node, None).unwrap(), 11);
        // An explicit lower counter (a deliberate replay) does not move the record back.
        assert_eq!(next_counter(dir.path(), &node, Some(3)).unwrap(), 3);
        assert_eq!(next_counter(dir.path(), &node, None).unwrap(), 12);
        // Issue 13 finding 5: --counter u64::MAX froze this ground's counter (and, applied,
        // the node's registry). A jump the signer would refuse is refused here, before anything
        // is recorded or sent.
        for c in [u64::MAX, 12 + signer::admin::MAX_COUNTER_STEP + 1] {
            assert!(next_counter(dir.path(), &node, Some(c)).is_err(), "{c}");
        }
        assert_eq!(
            next_counter(
                dir.path(),
                &node,
                Some(12 + signer::admin::MAX_COUNTER_STEP)
            )
            .unwrap(),
            12 + signer::admin::MAX_COUNTER_STEP
        );
        std::fs::write(counter_path(dir.path(), &node), "x").unwrap();
        assert!(next_counter(dir.path(), &node, None).is_err());
    }
}
