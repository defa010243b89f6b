//! `spacenode ground`: the ground operator's side of the link, on the same comms crate as the
//! node (SDLS, PUS, framing).
//!
//! | command | what |
//! | --- | --- |
//! | `ping` | PUS 17,1; prints the 17,2 reply, the verification reports and the round trip |
//! | `status` | PUS 3,27 for structures 1-3, 5 and 6: health (from the watchdog: mode, resets, components), links, the standby line's PPP session (LCP/IPCP states, frame, FCS, abort and echo counters), security counters, the upgrade agent (slots, versions, transfer, last refusal); then the signer's mission clock (8,1 function 0x0006) and the last correlation each node accepted from this ground |
//! | `console` | the operations console: an interactive session whose every command is an authenticated telecommand over this same session code ([`console`]) |
//! | `leave-safe-mode` | PUS 8,1 function 0x0010: the watchdog clears the reset counter and the board reboots normally |
//! | `batch` | builds a batch file (certificate signed with the server's key, then the PSBTs) |
//! | `result` | writes the co-signed PSBTs of a result file (or says why the node refused) |
//! | `admin` | the signer's registry: verified xpub exports, M-of-N signed add/revoke/policy ([`admin`]) |
//! | `sign` | builds the batch (or takes one built by `batch`), uplinks it by CFDP, waits for the result, writes the co-signed PSBTs ([`sign`]); certificates expire after `--lifetime-s` by default ([`expiry`]) |
//! | `time` | a time correlation from the ground's UTC clock to the node's mission clock, signed by the admins ([`time`]) |
//! | `keygen` | a new P-256 secret key file, mode 0600 ([`keyfile`]); prints its public key |
//! | `resync` | SDLS "set ARSN" (PUS 130,3): moves the node's anti-replay window to the ground's sequence numbers ([`session`]) |
//! | `keys verify` | SDLS key verification (PUS 130,4, CCSDS 355.1 challenge/response): does the node hold the same key as our provisioning file ([`keys`]) |
//! | `keys activate`, `keys deactivate` | an association's key state (PUS 130,7 / 130,8) ([`keys`]) |
//! | `keys rekey` | over-the-air rekeying (PUS 130,6): a new key wrapped under the key-encryption key, then activated, the old one optionally retired; the provisioning file is replaced only once the node holds the new key ([`rekey`]) |
//! | `keys rotate` | a new key epoch for an association (PUS 130,1) ([`rekey`]) |
//! | `upgrade` | uplinks a signed bundle to the upgrade agent (only the chunks it needs), follows the trial boot, prints the outcome ([`upgrade`]) |
//!
//! Every command that talks to the node takes `--node NAME|ADDR`: a named profile of
//! `$XDG_CONFIG_HOME/spacenode/ground.toml` ([`profile`]; also selected by `SPACENODE_NODE`)
//! with the node's addresses, keys and the ground's state directory, or the address uplink goes
//! to (the node's `--radio-uplink`, default 127.0.0.1:47101). `--listen` (its `--ground`,
//! default 127.0.0.1:47100), `--state` (the ground's own state directory: SDLS sequence numbers
//! and certificate sequence numbers), `--provisioning` (the SDLS provisioning file shared with
//! the node; default the sim board's public one) and `--spi` override the profile.
//! `--link serial:PATH[,BAUD]` talks over the standby serial line instead of the radio (PPP,
//! [`serial_link`]). Each prints the node and the link it talks to (on stderr) before it starts.
//!
//! Avoids: panics on anything the node or a file sends; waits without a deadline.

pub mod admin;
pub mod batch;
pub mod console;
mod cosign;
mod exchange;
pub mod expiry;
mod explain;
pub mod fop_timer;
pub mod forge;
pub mod frame_link;
pub mod keyfile;
pub mod keys;
pub mod profile;
pub mod refusal;
mod rekey;
pub mod serial_link;
pub mod session;
pub mod sign;
pub mod status;
pub mod time;
pub mod upgrade;
pub mod upgrade_show;
pub mod uplink;
pub mod wire;

use crate::failure::Failure;
use clap::{Args, Subcommand};
use comms::pus::hk::{SID_HEALTH, SID_LINKS, SID_SECURITY};
use comms::pus::hk_ppp::SID_PPP;
use comms::pus::hk_upgrade::SID_UPGRADE;
use comms::pus::verification::Report;
use comms::pus::{ST_FUNCTION, ST_HOUSEKEEPING, ST_TEST};
use session::{Answer, Session, SessionConfig, SessionError};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Subcommand)]
pub enum GroundCommand {
    /// Ping the node (PUS 17,1) and show its verification reports and the reply.
    Ping(PingArgs),
    /// Show the node's health, link statistics and security counters (PUS 3,27).
    Status(LinkArgs),
    /// The operations console: an interactive session (line editing, history) with commands
    /// for health, links, counters, signer and upgrade status, the event log, reboot (with a
    /// confirmation) and help; each an authenticated telecommand like the commands here.
    Console(console::ConsoleArgs),
    /// Take the node out of safe mode (PUS 8,1 function 0x0010): the watchdog clears the reset
    /// counter and the board reboots into a normal boot. Refused if the node is not in safe mode.
    LeaveSafeMode(LinkArgs),
    /// Build a batch file: the batch certificate signed with the server's key, then the PSBTs.
    Batch(cosign::BatchArgs),
    /// Write the co-signed PSBTs from a result file the node sent down.
    Result(cosign::ResultArgs),
    /// Administer the signer's registry: export xpubs, add/revoke servers, change policies.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Get PSBTs co-signed: build the batch (or take one built earlier with `ground batch`),
    /// uplink it by CFDP, wait, write the co-signed PSBTs.
    Sign(cosign::SignArgs),
    /// Make a new P-256 secret key file (mode 0600; never replaces a file) for `--key` or
    /// `--admin-key`, and print its compressed public key for the registry
    Keygen(KeygenArgs),
    /// Resynchronise the SDLS anti-replay sequence numbers of --spi when the node refuses ours:
    /// an authenticated "set ARSN" (PUS 130,3) that moves the node's window to the ground's.
    Resync(LinkArgs),
    /// The node's SDLS keys: verify them by challenge/response (PUS 130,4), activate or
    /// deactivate one (PUS 130,7 / 130,8), send a fresh one over the air (PUS 130,6), rotate
    /// an epoch (PUS 130,1)
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Set the node's mission time from the ground's UTC clock: an admin-signed time
    /// correlation (needed before certificates with an expiry are accepted; after a reset it
    /// also removes the time the node could not count while it was off). Refused if it would
    /// move the node's clock backwards, or is a replay.
    Time(time::TimeArgs),
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

#[derive(Args, Clone)]
pub struct LinkArgs {
    /// The node: a profile of ground.toml ($XDG_CONFIG_HOME/spacenode/ground.toml, also
    /// selected by SPACENODE_NODE), or the address uplink goes to (the node's --radio-uplink)
    /// [default: 127.0.0.1:47101]
    #[arg(long, value_name = "NAME|ADDR")]
    node: Option<String>,
    /// Where downlink arrives (the node's --ground) [default: the profile's, else 127.0.0.1:47100]
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// The ground's state directory [default: the profile's, else $XDG_STATE_HOME/spacenode/ground, else ~/.local/state/spacenode/ground]
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// SDLS provisioning file shared with the node [default: the profile's, else the sim board's public keys]
    #[arg(long, value_name = "FILE")]
    provisioning: Option<PathBuf>,
    /// Security association to command under [default: the profile's, else 1]
    #[arg(long, value_name = "SPI")]
    spi: Option<u16>,
    /// Wait per attempt, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    timeout_ms: u64,
    /// Attempts before giving up (a retry is the same command, run at most once by the node)
    #[arg(long, value_name = "N", default_value_t = 4)]
    attempts: u32,
    /// The link: `radio` (the radio as the shipped description has it: the CCSDS space link,
    /// TC frames under FOP-1 up, TM frames down), `ccsds:SCID` (the same for a node run with
    /// that `--radio-link`; each association's SDLS suite comes from the provisioning file),
    /// `units` (comms' own secured units, for a node run with `--radio-link units`), or the
    /// standby serial line `serial:PATH[,BAUD]` (PPP; on the sim board PATH is what `spacenode
    /// run` prints as "serial line, ground side at")
    #[arg(
        long,
        value_name = "radio|ccsds:SCID|units|serial:PATH[,BAUD]",
        default_value = "radio"
    )]
    link: serial_link::LinkChoice,
}

/// Where a command's link goes, after the flags, the profile and the defaults.
pub struct Link {
    /// The profile used.
    pub selected: profile::Selected,
    /// Uplink address.
    pub uplink: std::net::SocketAddr,
    /// Downlink address.
    pub listen: std::net::SocketAddr,
    /// Ground state directory.
    pub state: PathBuf,
    /// SDLS provisioning file (`None`: the sim board's).
    pub provisioning: Option<PathBuf>,
    /// Security association.
    pub spi: u16,
}

/// `$XDG_STATE_HOME/spacenode/ground`, else `$HOME/.local/state/spacenode/ground`.
pub fn default_state_dir() -> PathBuf {
    crate::run::default_state_dir()
        .parent()
        .map_or_else(|| PathBuf::from("spacenode-state"), PathBuf::from)
        .join("ground")
}

/// What `ground status` prints first when the link runs on the sim board's public default keys.
const SIM_DEFAULT_WARNING: &str = "WARN: the node answered under the sim board's PUBLIC default SDLS keys (no --provisioning given): anyone can forge its commands; provision your own with `spacenode provision-link --generate FILE` before the first boot";

const DEFAULT_UPLINK: &str = "127.0.0.1:47101";
const DEFAULT_LISTEN: &str = "127.0.0.1:47100";

impl LinkArgs {
    /// The link after the flags (first), the selected profile, and the defaults.
    fn resolve(&self) -> Result<Link, Failure> {
        let addr = self
            .node
            .as_deref()
            .and_then(|n| n.parse::<std::net::SocketAddr>().ok());
        let name = self.node.as_deref().filter(|_| addr.is_none());
        let selected = profile::select(name)?;
        let p = &selected.profile;
        let default = |a: &str| {
            a.parse()
                .unwrap_or(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        };
        Ok(Link {
            uplink: addr.or(p.uplink).unwrap_or_else(|| default(DEFAULT_UPLINK)),
            listen: self
                .listen
                .or(p.listen)
                .unwrap_or_else(|| default(DEFAULT_LISTEN)),
            state: self
                .state
                .clone()
                .or_else(|| p.state.clone())
                .unwrap_or_else(default_state_dir),
            provisioning: self.provisioning.clone().or_else(|| p.provisioning.clone()),
            spi: self
                .spi
                .or(p.spi)
                .unwrap_or(comms::sdls::sim_default::SIM_OPS_SPI),
            selected,
        })
    }

    /// Resolves the link, says which node it is, and opens the session.
    fn session(&self) -> Result<Session, Failure> {
        Ok(self.open()?.1)
    }

    /// [`Self::session`] and the resolved link.
    fn open(&self) -> Result<(Link, Session), Failure> {
        let link = self.resolve()?;
        let session = self.connect(&link)?;
        Ok((link, session))
    }

    /// Says which node `link` is, and opens the session to it.
    fn connect(&self, link: &Link) -> Result<Session, Failure> {
        let via = match &self.link {
            serial_link::LinkChoice::Units => {
                format!("uplink {}, downlink {}", link.uplink, link.listen)
            }
            serial_link::LinkChoice::Ccsds(c) => {
                format!(
                    "uplink {}, downlink {}, CCSDS space link ({c})",
                    link.uplink, link.listen
                )
            }
            serial_link::LinkChoice::Serial { path, baud } => {
                format!(
                    "standby serial line {} at {baud} baud (PPP)",
                    path.display()
                )
            }
        };
        eprintln!("{}", link.selected.line(&via, &link.state));
        let provisioning = match &link.provisioning {
            Some(p) => std::fs::read(p)
                .map_err(|e| Failure::Usage(format!("provisioning file {}: {e}", p.display())))?,
            None => comms::sdls::sim_default::sim_default_bytes()
                .map_err(|e| Failure::Usage(format!("sim default provisioning: {e}")))?
                .to_vec(),
        };
        Session::open(SessionConfig {
            node: link.uplink,
            listen: link.listen,
            state_dir: link.state.clone(),
            provisioning,
            spi: link.spi,
            timeout: Duration::from_millis(self.timeout_ms.max(1)),
            attempts: self.attempts.max(1),
            link: self.link.clone(),
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
            "1,{} failure: {} (code {:#06x}, data {})",
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
            "the node refused the command: {} (code {:#06x}, data {})\n",
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
    let (link, mut s) = args.open()?;
    let (arsn, a) = s.resync().map_err(session_failure)?;
    print_reports(&a);
    refused(&a)?;
    println!(
        "SA {}: the node's anti-replay window now continues after ARSN {arsn}",
        link.spi
    );
    Ok(())
}

fn status(args: LinkArgs) -> Result<(), Failure> {
    let (link, mut s) = args.open()?;
    let r = print_housekeeping(
        &mut s,
        &[SID_HEALTH, SID_LINKS, SID_PPP, SID_SECURITY, SID_UPGRADE],
        link.provisioning.is_none(),
    );
    print_clock(&mut s, &link);
    r
}

/// The signer's mission clock, and the last correlation each node accepted from this ground.
fn print_clock(s: &mut Session, link: &Link) {
    let now = expiry::ground_now_ms().ok();
    print!("{}", time::node_clock_line(s, now));
    print!("{}", time::status_lines(&link.state, now));
}

/// Asks for the housekeeping structures `sids` (PUS 3,27) and prints each in words (first the
/// public-keys warning if `sim_default`). A structure with no data yet says so and is not an
/// error; any other refusal is.
fn print_housekeeping(s: &mut Session, sids: &[u8], sim_default: bool) -> Result<(), Failure> {
    let mut app = vec![sids.len() as u8];
    app.extend_from_slice(sids);
    let a = s
        .command(ST_HOUSEKEEPING, 27, &app)
        .map_err(session_failure)?;
    // A few more milliseconds for reports that raced the completion report.
    let mut tms = a.other.clone();
    tms.extend(
        s.collect(Duration::from_millis(50))
            .map_err(session_failure)?,
    );
    if sim_default {
        // The node's reports verified under the public default keys, so it runs with them.
        println!("{SIM_DEFAULT_WARNING}");
    }
    let mut seen = Vec::new();
    for t in tms
        .iter()
        .filter(|t| t.service == ST_HOUSEKEEPING && t.subservice == 25)
    {
        let Some(&sid) = t.source.first().filter(|s| sids.contains(s)) else {
            continue;
        };
        let text = match sid {
            SID_HEALTH => status::health(&t.source),
            SID_LINKS => status::links(&t.source),
            SID_SECURITY => status::security(&t.source),
            SID_UPGRADE => comms::pus::hk_upgrade::decode(&t.source).map(|u| status::upgrade(&u)),
            SID_PPP => comms::pus::hk_ppp::decode(&t.source).map(|p| status::ppp(&p)),
            _ => None,
        };
        if let Some(text) = text
            && !seen.contains(&sid)
        {
            seen.push(sid);
            print!("{text}");
        }
    }
    // Structures 1 and 5 are refused with NoData until the watchdog or the upgrade agent has
    // reported (the node answers only one failure: it names the first such structure).
    let no_data = a
        .failure()
        .filter(|f| f.code == comms::failure::FailureCode::NoData)
        .map(|f| f.data);
    for &sid in sids.iter().filter(|s| !seen.contains(s)) {
        match (sid, no_data) {
            (SID_HEALTH, Some(d)) if d == u32::from(SID_HEALTH) => {
                println!("health: no report from the watchdog yet")
            }
            (SID_UPGRADE, Some(_)) => println!("upgrade: no status from the upgrade agent yet"),
            (SID_PPP, Some(d)) if d == u32::from(SID_PPP) => {
                println!("standby PPP: no session data (the node runs no standby line)")
            }
            _ => println!(
                "{}: report lost on the downlink (run status again)",
                match sid {
                    SID_HEALTH => "health",
                    SID_LINKS => "links",
                    SID_SECURITY => "security",
                    SID_PPP => "standby PPP",
                    _ => "upgrade",
                }
            ),
        }
    }
    if no_data.is_some() {
        Ok(())
    } else {
        refused(&a)
    }
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

pub fn run(cmd: GroundCommand) -> Result<(), Failure> {
    match cmd {
        GroundCommand::Ping(a) => ping(a),
        GroundCommand::Status(a) => status(a),
        GroundCommand::Console(a) => console::run(a),
        GroundCommand::LeaveSafeMode(a) => leave_safe_mode(a),
        GroundCommand::Batch(a) => cosign::make_batch(a),
        GroundCommand::Result(a) => cosign::write_result(a),
        GroundCommand::Admin(c) => admin::run(c),
        GroundCommand::Sign(a) => cosign::sign_cmd(a),
        GroundCommand::Resync(a) => resync(a),
        GroundCommand::Keygen(a) => keygen(a),
        GroundCommand::Keys(c) => keys::run(c),
        GroundCommand::Upgrade(a) => upgrade_cmd(a),
        GroundCommand::Time(a) => time::run(a),
    }
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
