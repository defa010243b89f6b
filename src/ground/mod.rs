//! `spacenode ground`: the ground operator's side of the link, on the same comms crate as the
//! node (SDLS, PUS, framing).
//!
//! | command | what |
//! | --- | --- |
//! | `ping` | PUS 17,1; prints the 17,2 reply, the verification reports and the round trip |
//! | `status` | PUS 3,27 for structures 1-3 and 5: health (from the watchdog: mode, resets, components), links, security counters, the upgrade agent (slots, versions, transfer, last refusal) |
//! | `leave-safe-mode` | PUS 8,1 function 0x0010: the watchdog clears the reset counter and the board reboots normally |
//! | `batch` | builds a batch file (certificate signed with the server's key, then the PSBTs) |
//! | `result` | writes the co-signed PSBTs of a result file (or says why the node refused) |
//! | `admin` | the signer's registry: verified xpub exports, M-of-N signed add/revoke/policy ([`admin`]) |
//! | `sign` | builds the batch, uplinks it by CFDP, waits for the result, writes the co-signed PSBTs ([`sign`]) |
//! | `keygen` | a new P-256 secret key file, mode 0600 ([`keyfile`]); prints its public key |
//! | `resync` | SDLS "set ARSN" (PUS 130,3): moves the node's anti-replay window to the ground's sequence numbers ([`session`]) |
//! | `upgrade` | uplinks a signed bundle to the upgrade agent (only the chunks it needs), follows the trial boot, prints the outcome ([`upgrade`]) |
//!
//! Every command that talks to the node takes `--node` (where uplink goes: the node's
//! `--radio-uplink`, default 127.0.0.1:47101), `--listen` (its `--ground`, default
//! 127.0.0.1:47100), `--state` (the ground's own state directory: SDLS sequence numbers and
//! certificate sequence numbers), `--provisioning` (the SDLS provisioning file shared with the
//! node; default the sim board's public one) and `--spi`.
//!
//! Avoids: panics on anything the node or a file sends; waits without a deadline.

pub mod admin;
pub mod batch;
pub mod keyfile;
pub mod refusal;
pub mod session;
pub mod sign;
pub mod status;
pub mod upgrade;
pub mod upgrade_show;
pub mod uplink;

use crate::failure::Failure;
use clap::{Args, Subcommand};
use comms::pus::hk::{SID_HEALTH, SID_LINKS, SID_SECURITY};
use comms::pus::hk_upgrade::SID_UPGRADE;
use comms::pus::verification::Report;
use comms::pus::{ST_FUNCTION, ST_HOUSEKEEPING, ST_TEST};
use session::{Answer, Session, SessionConfig, SessionError};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Subcommand)]
pub enum GroundCommand {
    /// Ping the node (PUS 17,1) and show its verification reports and the reply.
    Ping(PingArgs),
    /// Show the node's health, link statistics and security counters (PUS 3,27).
    Status(LinkArgs),
    /// Take the node out of safe mode (PUS 8,1 function 0x0010): the watchdog clears the reset
    /// counter and the board reboots into a normal boot. Refused if the node is not in safe mode.
    LeaveSafeMode(LinkArgs),
    /// Build a batch file: the batch certificate signed with the server's key, then the PSBTs.
    Batch(BatchArgs),
    /// Write the co-signed PSBTs from a result file the node sent down.
    Result(ResultArgs),
    /// Administer the signer's registry: export xpubs, add/revoke servers, change policies.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Get PSBTs co-signed: build the batch, uplink it by CFDP, wait, write the co-signed PSBTs.
    Sign(SignArgs),
    /// Make a new P-256 secret key file (mode 0600; never replaces a file) for `--key` or
    /// `--admin-key`, and print its compressed public key for the registry
    Keygen(KeygenArgs),
    /// Resynchronise the SDLS anti-replay sequence numbers of --spi when the node refuses ours:
    /// an authenticated "set ARSN" (PUS 130,3) that moves the node's window to the ground's.
    Resync(LinkArgs),
    /// Upgrade the node's software with a signed bundle: uplink the chunks the node needs,
    /// follow the trial boot, print the outcome (confirmed, or rolled back and why). Run it
    /// again to resume an interrupted upgrade.
    Upgrade(UpgradeArgs),
}

#[derive(Args)]
pub struct UpgradeArgs {
    #[command(flatten)]
    link: LinkArgs,
    /// Give up after this many seconds (run again to resume)
    #[arg(long, value_name = "S", default_value_t = 600)]
    deadline_s: u64,
    /// The signed bundle (`spacenode bundle create`)
    #[arg(value_name = "BUNDLE")]
    bundle: PathBuf,
}

#[derive(Args)]
pub struct KeygenArgs {
    /// The new key file
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Args)]
pub struct PingArgs {
    #[command(flatten)]
    link: LinkArgs,
    /// Pings to send, one after the other; stops at the first that fails
    #[arg(long, value_name = "N", default_value_t = 1)]
    count: u32,
}

#[derive(Args)]
pub struct SignArgs {
    #[command(flatten)]
    link: LinkArgs,
    /// The ground server's id in the signer's registry
    #[arg(long, value_name = "ID")]
    server: u32,
    /// The server's P-256 certificate key (64 hex characters)
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Where to write the co-signed PSBTs: one directory (NAME.signed.psbt for each PSBT), or
    /// one file per PSBT in batch order [default: next to each PSBT, NAME.signed.psbt]
    #[arg(long = "out", value_name = "DIR|FILE")]
    outs: Vec<PathBuf>,
    /// Certificate expiry, mission time in ms [default: never]
    #[arg(long, value_name = "MS")]
    expiry_ms: Option<u64>,
    /// Uplink rate in kbit/s (the radio's; 0: unpaced)
    #[arg(long, value_name = "KBPS", default_value_t = 1000)]
    rate_kbps: u64,
    /// Give up after this many seconds
    #[arg(long, value_name = "S", default_value_t = sign::DEFAULT_TIMEOUT.as_secs())]
    deadline_s: u64,
    /// The PSBTs (binary BIP-174 files), in batch order
    #[arg(required = true, value_name = "PSBT")]
    psbts: Vec<PathBuf>,
}

#[derive(Args, Clone)]
pub struct LinkArgs {
    /// Where uplink goes (the node's --radio-uplink)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:47101")]
    node: std::net::SocketAddr,
    /// Where downlink arrives (the node's --ground)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:47100")]
    listen: std::net::SocketAddr,
    /// The ground's state directory [default: $XDG_STATE_HOME/spacenode/ground, else ~/.local/state/spacenode/ground]
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// SDLS provisioning file shared with the node [default: the sim board's public keys]
    #[arg(long, value_name = "FILE")]
    provisioning: Option<PathBuf>,
    /// Security association to command under
    #[arg(long, value_name = "SPI", default_value_t = comms::sdls::sim_default::SIM_OPS_SPI)]
    spi: u16,
    /// Wait per attempt, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    timeout_ms: u64,
    /// Attempts before giving up (a retry is the same command, run at most once by the node)
    #[arg(long, value_name = "N", default_value_t = 4)]
    attempts: u32,
}

#[derive(Args)]
pub struct BatchArgs {
    /// The ground server's id in the signer's registry
    #[arg(long, value_name = "ID")]
    server: u32,
    /// The server's P-256 certificate key (64 hex characters)
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Where to write the batch file
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Certificate expiry, mission time in ms [default: never]
    #[arg(long, value_name = "MS", default_value_t = u64::MAX)]
    expiry_ms: u64,
    /// The ground's state directory (certificate sequence numbers)
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// The PSBTs (binary BIP-174 files), in batch order
    #[arg(required = true, value_name = "PSBT")]
    psbts: Vec<PathBuf>,
}

#[derive(Args)]
pub struct ResultArgs {
    /// The result file
    result: PathBuf,
    /// Where to write the co-signed PSBTs, one per PSBT of the batch, in batch order
    #[arg(long = "out", required = true, value_name = "FILE")]
    outs: Vec<PathBuf>,
}

/// `$XDG_STATE_HOME/spacenode/ground`, else `$HOME/.local/state/spacenode/ground`.
pub fn default_state_dir() -> PathBuf {
    crate::run::default_state_dir()
        .parent()
        .map_or_else(|| PathBuf::from("spacenode-state"), PathBuf::from)
        .join("ground")
}

impl LinkArgs {
    fn session(&self) -> Result<Session, Failure> {
        let provisioning = match &self.provisioning {
            Some(p) => std::fs::read(p)
                .map_err(|e| Failure::Usage(format!("provisioning file {}: {e}", p.display())))?,
            None => comms::sdls::sim_default::sim_default_bytes()
                .map_err(|e| Failure::Usage(format!("sim default provisioning: {e}")))?
                .to_vec(),
        };
        Session::open(SessionConfig {
            node: self.node,
            listen: self.listen,
            state_dir: self.state.clone().unwrap_or_else(default_state_dir),
            provisioning,
            spi: self.spi,
            timeout: Duration::from_millis(self.timeout_ms.max(1)),
            attempts: self.attempts.max(1),
        })
        .map_err(session_failure)
    }
}

fn session_failure(e: SessionError) -> Failure {
    Failure::Usage(e.to_string())
}

fn report_line(r: &Report) -> String {
    match r.failure() {
        Some(f) => format!(
            "1,{} failure {:?} (code {:#06x}, data {})",
            r.subtype(),
            f.code,
            f.code.code(),
            f.data
        ),
        None => format!("1,{} ok", r.subtype()),
    }
}

/// One line with a command's verification reports, attempts and time.
fn verification_line(a: &Answer) -> String {
    let lines: Vec<String> = a.reports.iter().map(report_line).collect();
    format!(
        "verification: {} ({} attempt{}, {} ms)",
        lines.join(", "),
        a.attempts,
        if a.attempts == 1 { "" } else { "s" },
        a.elapsed.as_millis()
    )
}

fn print_reports(a: &Answer) {
    println!("{}", verification_line(a));
}

fn refused(a: &Answer) -> Result<(), Failure> {
    match a.failure() {
        Some(f) => Err(Failure::Rejected(format!(
            "the node refused the command: {:?} (code {:#06x}, data {})\n",
            f.code,
            f.code.code(),
            f.data
        ))),
        None => Ok(()),
    }
}

fn ping(args: PingArgs) -> Result<(), Failure> {
    let mut s = args.link.session()?;
    let count = args.count.max(1);
    let mut attempts = 0u64;
    for i in 1..=count {
        let a = s.command(ST_TEST, 1, &[]).map_err(|e| match count {
            1 => session_failure(e),
            _ => Failure::Usage(format!("ping {i} of {count}: {e}")),
        })?;
        attempts += u64::from(a.attempts);
        print_reports(&a);
        refused(&a)?;
        let replies = a
            .other
            .iter()
            .filter(|t| t.service == ST_TEST && t.subservice == 2)
            .count();
        if replies == 0 {
            // Completion without the reply: the reply unit was lost on the way down.
            println!("17,2 reply lost on the downlink (the command completed)");
        } else {
            println!("17,2 pong from the node");
        }
    }
    if count > 1 {
        println!("{count} of {count} pings completed in {attempts} attempts");
    }
    Ok(())
}

fn keygen(args: KeygenArgs) -> Result<(), Failure> {
    let key = keyfile::generate()
        .map_err(|e| Failure::Usage(format!("the system's random generator: {e}")))?;
    keyfile::write_new(&args.out, &key).map_err(|e| Failure::Usage(e.to_string()))?;
    println!(
        "{}",
        admin::hex(&signer::p256sig::compress(&key.public_key()))
    );
    eprintln!(
        "new key {} (mode 0600); its public key above goes in the registry's `server ... key=` or `admin` line",
        args.out.display()
    );
    Ok(())
}

fn resync(args: LinkArgs) -> Result<(), Failure> {
    let mut s = args.session()?;
    let (arsn, a) = s.resync().map_err(session_failure)?;
    print_reports(&a);
    refused(&a)?;
    println!(
        "SA {}: the node's anti-replay window now continues after ARSN {arsn}",
        args.spi
    );
    Ok(())
}

fn status(args: LinkArgs) -> Result<(), Failure> {
    let mut s = args.session()?;
    let a = s
        .command(
            ST_HOUSEKEEPING,
            27,
            &[4, SID_HEALTH, SID_LINKS, SID_SECURITY, SID_UPGRADE],
        )
        .map_err(session_failure)?;
    // A few more milliseconds for reports that raced the completion report.
    let mut tms = a.other.clone();
    tms.extend(
        s.collect(Duration::from_millis(50))
            .map_err(session_failure)?,
    );
    let mut seen = [false; 5];
    for t in tms
        .iter()
        .filter(|t| t.service == ST_HOUSEKEEPING && t.subservice == 25)
    {
        let text = match t.source.first() {
            Some(&SID_HEALTH) => status::health(&t.source),
            Some(&SID_LINKS) => status::links(&t.source),
            Some(&SID_SECURITY) => status::security(&t.source),
            Some(&SID_UPGRADE) => {
                comms::pus::hk_upgrade::decode(&t.source).map(|u| status::upgrade(&u))
            }
            _ => None,
        };
        if let Some(text) = text {
            if let Some(i) = t.source.first().map(|b| usize::from(*b).wrapping_sub(1))
                && let Some(s) = seen.get_mut(i)
            {
                *s = true;
            }
            print!("{text}");
        }
    }
    // Structures 1 and 5 are refused with NoData until the watchdog or the upgrade agent has
    // reported (the node answers only one failure: it names the first such structure).
    let no_data = a
        .failure()
        .filter(|f| f.code == comms::failure::FailureCode::NoData)
        .map(|f| f.data);
    for (i, name) in [(0, "health"), (1, "links"), (2, "security"), (4, "upgrade")] {
        if seen[i] {
            continue;
        }
        match (i, no_data) {
            (0, Some(d)) if d == u32::from(SID_HEALTH) => {
                println!("health: no report from the watchdog yet")
            }
            (4, Some(_)) => println!("upgrade: no status from the upgrade agent yet"),
            _ => println!("{name}: report lost on the downlink (run status again)"),
        }
    }
    let no_health = no_data.is_some();
    if no_health { Ok(()) } else { refused(&a) }
}

fn leave_safe_mode(args: LinkArgs) -> Result<(), Failure> {
    let mut s = args.session()?;
    let a = s
        .command(
            ST_FUNCTION,
            1,
            &comms::pus::function::FN_LEAVE_SAFE_MODE.to_be_bytes(),
        )
        .map_err(session_failure)?;
    print_reports(&a);
    if a.failure()
        .is_some_and(|f| f.code == comms::failure::FailureCode::NotInSafeMode)
    {
        return Err(Failure::Rejected(
            "the node is not in safe mode (as its watchdog last reported): nothing was done; `spacenode ground status` shows the mode\n".into(),
        ));
    }
    refused(&a)?;
    println!(
        "the watchdog leaves safe mode: it cleared the reset counter and stopped kicking; the board resets within about a second and boots normally (check with `spacenode ground status`)"
    );
    Ok(())
}

fn make_batch(args: BatchArgs) -> Result<(), Failure> {
    let rejected = |e: batch::BatchError| Failure::Rejected(format!("{e}\n"));
    let key = keyfile::read(&args.key).map_err(|e| Failure::Rejected(format!("{e}\n")))?;
    let psbts = args
        .psbts
        .iter()
        .map(|p| batch::read_psbt(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(rejected)?;
    let state = args.state.unwrap_or_else(default_state_dir);
    let seq =
        batch::next_sequence(&state, args.server).map_err(|e| Failure::Usage(e.to_string()))?;
    let file =
        batch::build_batch(&key, args.server, seq, args.expiry_ms, &psbts).map_err(rejected)?;
    std::fs::write(&args.out, &file)
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.out.display())))?;
    let id = comms_partition::intake::batch_id_of(&file).unwrap_or(0);
    println!(
        "batch {id:#x}: {} PSBTs, server {}, certificate sequence {seq}, {} bytes -> {}",
        psbts.len(),
        args.server,
        file.len(),
        args.out.display()
    );
    Ok(())
}

fn write_result(args: ResultArgs) -> Result<(), Failure> {
    let bytes = std::fs::read(&args.result)
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.result.display())))?;
    let n =
        batch::write_result(&bytes, &args.outs).map_err(|e| Failure::Rejected(format!("{e}\n")))?;
    println!("{n} co-signed PSBTs written");
    Ok(())
}

pub fn run(cmd: GroundCommand) -> Result<(), Failure> {
    match cmd {
        GroundCommand::Ping(a) => ping(a),
        GroundCommand::Status(a) => status(a),
        GroundCommand::LeaveSafeMode(a) => leave_safe_mode(a),
        GroundCommand::Batch(a) => make_batch(a),
        GroundCommand::Result(a) => write_result(a),
        GroundCommand::Admin(c) => admin::run(c),
        GroundCommand::Sign(a) => sign_cmd(a),
        GroundCommand::Resync(a) => resync(a),
        GroundCommand::Keygen(a) => keygen(a),
        GroundCommand::Upgrade(a) => upgrade_cmd(a),
    }
}

/// Where each co-signed PSBT goes (see [`SignArgs::outs`]).
fn sign_outputs(args: &SignArgs) -> Result<Vec<PathBuf>, Failure> {
    let signed_name = |p: &PathBuf| {
        let stem = p
            .file_stem()
            .map_or_else(|| "psbt".into(), |s| s.to_string_lossy().into_owned());
        format!("{stem}.signed.psbt")
    };
    match args.outs.as_slice() {
        [] => Ok(args
            .psbts
            .iter()
            .map(|p| p.with_file_name(signed_name(p)))
            .collect()),
        [dir] if dir.is_dir() => Ok(args
            .psbts
            .iter()
            .map(|p| dir.join(signed_name(p)))
            .collect()),
        outs if outs.len() == args.psbts.len() => Ok(outs.to_vec()),
        outs => Err(Failure::Usage(format!(
            "--out: give one directory or one file per PSBT ({} PSBTs, {} --out)",
            args.psbts.len(),
            outs.len()
        ))),
    }
}

fn sign_cmd(args: SignArgs) -> Result<(), Failure> {
    let rejected = |e: batch::BatchError| Failure::Rejected(format!("{e}\n"));
    let key = keyfile::read(&args.key).map_err(|e| Failure::Rejected(format!("{e}\n")))?;
    let psbts = args
        .psbts
        .iter()
        .map(|p| batch::read_psbt(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(rejected)?;
    let outs = sign_outputs(&args)?;
    check_writable(&outs)?;
    let state = args.link.state.clone().unwrap_or_else(default_state_dir);
    let mut session = args.link.session()?;
    let job = sign::SignJob {
        server: args.server,
        key,
        psbts,
        expiry_ms: args.expiry_ms,
        timeout: Duration::from_secs(args.deadline_s.max(1)),
        rate_bps: (args.rate_kbps > 0).then(|| args.rate_kbps.saturating_mul(1000)),
    };
    let mut show = |p: &sign::Progress| {
        if let Some(line) = p.line() {
            println!("{line}");
        }
    };
    let outcome = sign::sign(&mut session, &state, &job, &mut show).map_err(|e| match e {
        sign::SignError::Unreachable(_) | sign::SignError::Timeout { .. } => {
            Failure::Usage(format!("{e}"))
        }
        e => Failure::Rejected(format!("{e}\n")),
    })?;
    if outcome.signed.len() != outs.len() {
        return Err(Failure::Rejected(format!(
            "the result holds {} PSBTs for a batch of {}\n",
            outcome.signed.len(),
            outs.len()
        )));
    }
    // The result is kept whatever happens to the destinations: co-signed PSBTs cannot be had
    // again without another batch.
    let kept = keep_result(&state, &outcome);
    let mut failed = Vec::new();
    for (p, path) in outcome.signed.iter().zip(&outs) {
        match std::fs::write(path, p) {
            Ok(()) => println!("co-signed PSBT -> {}", path.display()),
            Err(e) => failed.push(format!("{}: {e}", path.display())),
        }
    }
    println!("{outcome}");
    match (failed.is_empty(), kept) {
        (true, _) => Ok(()),
        (false, Ok(dir)) => Err(Failure::Usage(format!(
            "could not write {}; the co-signed PSBTs are kept in {}",
            failed.join(", "),
            dir.display()
        ))),
        (false, Err(e)) => Err(Failure::Usage(format!(
            "could not write {}, nor keep the result in the ground's state directory ({e})",
            failed.join(", ")
        ))),
    }
}

/// Refuses, before anything is uplinked, destinations the co-signed PSBTs could not be written
/// to: a missing directory, or a path that is a directory.
fn check_writable(outs: &[PathBuf]) -> Result<(), Failure> {
    for p in outs {
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(Failure::Usage(format!(
                "--out {}: directory {} does not exist; create it first (nothing was sent)",
                p.display(),
                dir.display()
            )));
        }
        if p.is_dir() {
            return Err(Failure::Usage(format!(
                "--out {}: is a directory; give a file name, or one directory for all PSBTs (nothing was sent)",
                p.display()
            )));
        }
    }
    Ok(())
}

fn upgrade_cmd(args: UpgradeArgs) -> Result<(), Failure> {
    use std::io::IsTerminal;
    let bundle = std::fs::read(&args.bundle)
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.bundle.display())))?;
    let mut session = args.link.session()?;
    let job = upgrade::UpgradeJob {
        bundle,
        deadline: Duration::from_secs(args.deadline_s.max(1)),
    };
    let mut show = upgrade_show::Display::new(std::io::stdout().is_terminal(), job.bundle.len());
    let outcome = upgrade::upgrade(&mut session, &job, &mut |e| show.event(e));
    show.finish();
    let outcome = outcome.map_err(|e| match e {
        upgrade::UpgradeError::Unreachable(_)
        | upgrade::UpgradeError::Session(_)
        | upgrade::UpgradeError::Timeout(..) => Failure::Usage(format!("{e}")),
        e @ upgrade::UpgradeError::Refused(_) => Failure::Rejected(format!("{e}\n")),
    })?;
    println!("{}", upgrade_show::outcome_line(&outcome));
    Ok(())
}

/// Writes every co-signed PSBT of `outcome` to `STATE/results/batch-ID/N.signed.psbt`.
fn keep_result(state: &Path, outcome: &sign::SignOutcome) -> std::io::Result<PathBuf> {
    let dir = state
        .join("results")
        .join(format!("batch-{:016x}", outcome.batch_id));
    std::fs::create_dir_all(&dir)?;
    for (i, p) in outcome.signed.iter().enumerate() {
        std::fs::write(dir.join(format!("{i}.signed.psbt")), p)?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13 finding 6: `--out /missing/dir/` was found unwritable only after the node had
    /// signed, and the result was lost. Destinations are checked before anything is sent, and a
    /// received result is kept in the state directory.
    #[test]
    fn unwritable_destinations_are_refused_before_uplink_and_results_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("a.signed.psbt");
        assert!(check_writable(std::slice::from_ref(&ok)).is_ok());
        for bad in [
            PathBuf::from("/missing/dir/"),
            dir.path().join("missing").join("a.psbt"),
            dir.path().to_path_buf(),
        ] {
            let e = check_writable(std::slice::from_ref(&bad)).unwrap_err();
            assert!(format!("{e:?}").contains("nothing was sent"), "{e:?}");
        }
        let outcome = sign::SignOutcome {
            signed: vec![b"one".to_vec(), b"two".to_vec()],
            batch_id: 0xAB,
            sequence: 1,
            upload: Default::default(),
            download: Default::default(),
            elapsed: Duration::ZERO,
        };
        let kept = keep_result(dir.path(), &outcome).unwrap();
        assert!(kept.ends_with("results/batch-00000000000000ab"));
        assert_eq!(std::fs::read(kept.join("1.signed.psbt")).unwrap(), b"two");
    }
}
