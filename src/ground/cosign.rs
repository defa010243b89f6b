//! The co-signing commands of `spacenode ground`: `batch` (certify PSBTs into a batch file),
//! `sign` (build or take a batch, uplink it, write the co-signed PSBTs; [`super::sign`]) and
//! `result` (read a result file), with their `--server`/`--key` from the flags or the node
//! profile ([`super::profile`]).
//!
//! Avoids: sending anything before the destinations are known writable; losing a received
//! result (it is kept in the state directory whatever happens to the destinations).

use super::{LinkArgs, batch, default_state_dir, expiry, keyfile, profile, sign};
use crate::escape::escape;
use crate::failure::Failure;
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args)]
pub struct SignArgs {
    #[command(flatten)]
    link: LinkArgs,
    /// The ground server's id in the signer's registry [default: the profile's `server`]
    #[arg(long, value_name = "ID")]
    server: Option<u32>,
    /// The server's P-256 certificate key: a file holding 64 hex characters (`ground keygen`)
    /// [default: the profile's `key`]
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Send a batch file built earlier with `spacenode ground batch` (it is already certified:
    /// no --server, --key or PSBTs)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["psbts", "server", "key", "lifetime_s", "expiry_ms", "no_expiry"])]
    batch: Option<PathBuf>,
    /// Where to write the co-signed PSBTs: one directory (NAME.signed.psbt for each PSBT, or
    /// BATCH-N.signed.psbt for a --batch), or one file per PSBT in batch order [default: next
    /// to each PSBT, or to the batch file]
    #[arg(long = "out", value_name = "DIR|FILE")]
    outs: Vec<PathBuf>,
    #[command(flatten)]
    expiry: expiry::ExpiryArgs,
    /// Uplink rate in kbit/s (the radio's; 0: unpaced)
    #[arg(long, value_name = "KBPS", default_value_t = 1000)]
    rate_kbps: u64,
    /// Give up after this many seconds
    #[arg(long, value_name = "S", default_value_t = sign::DEFAULT_TIMEOUT.as_secs())]
    deadline_s: u64,
    /// Use N as the certificate sequence of this batch and go on from there: the way out when
    /// the node refuses batches as replayed because this ground's record was lost or is behind.
    /// Refused if it would go backwards or more than 2^20 past the last recorded sequence
    #[arg(long, value_name = "N", conflicts_with = "batch")]
    next_sequence: Option<u64>,
    /// The PSBTs (binary BIP-174 files), in batch order
    #[arg(required_unless_present = "batch", value_name = "PSBT")]
    psbts: Vec<PathBuf>,
}

#[derive(Args)]
pub struct BatchArgs {
    /// A profile of ground.toml for --server, --key and --state (see `ground sign --node`)
    /// [default: SPACENODE_NODE, else none]
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// The ground server's id in the signer's registry [default: the profile's `server`]
    #[arg(long, value_name = "ID")]
    server: Option<u32>,
    /// The server's P-256 certificate key: a file holding 64 hex characters (`ground keygen`)
    /// [default: the profile's `key`]
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Where to write the batch file
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    expiry: expiry::ExpiryArgs,
    /// The ground's state directory (certificate sequence numbers) [default: the profile's,
    /// else as for `ground sign`]
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// The PSBTs (binary BIP-174 files), in batch order
    #[arg(required = true, value_name = "PSBT")]
    psbts: Vec<PathBuf>,
}

/// `--server` and `--key` from the flags, else from the profile.
fn server_and_key(
    server: Option<u32>,
    key: Option<&Path>,
    selected: &profile::Selected,
) -> Result<(u32, p256::SecretKey), Failure> {
    let missing = |flag: &str, field: &str| {
        Failure::Usage(match &selected.name {
            Some(n) => format!(
                "{flag}: not given, and node profile `{}` has no `{field}`",
                crate::escape::escape(n)
            ),
            None => format!("{flag}: required (or a node profile with `{field}`: --node NAME)"),
        })
    };
    let server = server
        .or(selected.profile.server)
        .ok_or_else(|| missing("--server", "server"))?;
    let path = key
        .map(Path::to_path_buf)
        .or_else(|| selected.profile.key.clone())
        .ok_or_else(|| missing("--key", "key"))?;
    let key = keyfile::read(&path).map_err(|e| Failure::Rejected(format!("{e}\n")))?;
    Ok((server, key))
}

#[derive(Args)]
pub struct ResultArgs {
    /// The result file
    result: PathBuf,
    /// Where to write the co-signed PSBTs, one per PSBT of the batch, in batch order
    #[arg(long = "out", required = true, value_name = "FILE")]
    outs: Vec<PathBuf>,
}

pub(super) fn make_batch(args: BatchArgs) -> Result<(), Failure> {
    let rejected = |e: batch::BatchError| Failure::Rejected(format!("{e}\n"));
    let selected = profile::select(args.node.as_deref())?;
    let (server, key) = server_and_key(args.server, args.key.as_deref(), &selected)?;
    let psbts = args
        .psbts
        .iter()
        .map(|p| batch::read_psbt(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(rejected)?;
    let state = args
        .state
        .or_else(|| selected.profile.state.clone())
        .unwrap_or_else(default_state_dir);
    let seq = batch::next_sequence(&state, server).map_err(|e| Failure::Usage(e.to_string()))?;
    let file = batch::build_batch(&key, server, seq, args.expiry.expiry_ms()?, &psbts)
        .map_err(rejected)?;
    std::fs::write(&args.out, &file)
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.out.display())))?;
    let id = comms_partition::intake::batch_id_of(&file).unwrap_or(0);
    println!(
        "batch {id:#x}: {} PSBTs, server {}, certificate sequence {seq}, {} bytes -> {}",
        psbts.len(),
        server,
        file.len(),
        escape(&args.out.display().to_string())
    );
    Ok(())
}

pub(super) fn write_result(args: ResultArgs) -> Result<(), Failure> {
    let bytes = std::fs::read(&args.result)
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.result.display())))?;
    let n =
        batch::write_result(&bytes, &args.outs).map_err(|e| Failure::Rejected(format!("{e}\n")))?;
    println!("{n} co-signed PSBTs written");
    Ok(())
}

/// Where each co-signed PSBT goes (see [`SignArgs::outs`]): `sources` name them (the PSBT
/// files, or one name per PSBT of a batch file).
fn sign_outputs(sources: &[PathBuf], outs: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    let signed_name = |p: &PathBuf| {
        let stem = p
            .file_stem()
            .map_or_else(|| "psbt".into(), |s| s.to_string_lossy().into_owned());
        format!("{stem}.signed.psbt")
    };
    match outs {
        [] => Ok(sources
            .iter()
            .map(|p| p.with_file_name(signed_name(p)))
            .collect()),
        [dir] if dir.is_dir() => Ok(sources.iter().map(|p| dir.join(signed_name(p))).collect()),
        outs if outs.len() == sources.len() => Ok(outs.to_vec()),
        outs => Err(Failure::Usage(format!(
            "--out: give one directory or one file per PSBT ({} PSBTs, {} --out)",
            sources.len(),
            outs.len()
        ))),
    }
}

/// What `ground sign` sends: a batch built here from PSBT files, or a batch file.
enum ToSign {
    Psbts(sign::SignJob),
    Batch(Vec<u8>, sign::Uplink),
}

/// Reads what `args` names: the PSBTs (and the server and key, from the flags or the profile)
/// or the batch file; returns it, to go up as `uplink` says, with a path naming each PSBT.
fn to_sign(
    args: &SignArgs,
    selected: &profile::Selected,
    uplink: sign::Uplink,
) -> Result<(ToSign, Vec<PathBuf>), Failure> {
    let rejected = |e: batch::BatchError| Failure::Rejected(format!("{e}\n"));
    if let Some(path) = &args.batch {
        let file = std::fs::read(path)
            .map_err(|e| Failure::Usage(format!("--batch {}: {e}", path.display())))?;
        let count = signer::batch::framing::split_certificate(&file)
            .and_then(|(c, _)| signer::cert::Certificate::parse(c).ok())
            .map(|c| c.count())
            .ok_or_else(|| {
                Failure::Rejected(format!(
                    "--batch {}: {}\n",
                    path.display(),
                    sign::SignError::NotABatch
                ))
            })?;
        let stem = path
            .file_stem()
            .map_or_else(|| "batch".into(), |s| s.to_string_lossy().into_owned());
        let sources = (0..count)
            .map(|i| path.with_file_name(format!("{stem}-{i}.psbt")))
            .collect();
        return Ok((ToSign::Batch(file, uplink), sources));
    }
    let (server, key) = server_and_key(args.server, args.key.as_deref(), selected)?;
    let psbts = args
        .psbts
        .iter()
        .map(|p| batch::read_psbt(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(rejected)?;
    let uplink = sign::Uplink {
        names: args.psbts.iter().map(|p| p.display().to_string()).collect(),
        ..uplink
    };
    let job = sign::SignJob {
        server,
        key,
        psbts,
        expiry: args.expiry.expiry()?,
        uplink,
    };
    Ok((ToSign::Psbts(job), args.psbts.clone()))
}

pub(super) fn sign_cmd(args: SignArgs) -> Result<(), Failure> {
    let link = args.link.resolve()?;
    let uplink = sign::Uplink {
        names: Vec::new(),
        timeout: Duration::from_secs(args.deadline_s.max(1)),
        rate_bps: (args.rate_kbps > 0).then(|| args.rate_kbps.saturating_mul(1000)),
    };
    let (what, sources) = to_sign(&args, &link.selected, uplink)?;
    let outs = sign_outputs(&sources, &args.outs)?;
    check_writable(&outs)?;
    if let (Some(n), ToSign::Psbts(job)) = (args.next_sequence, &what) {
        batch::set_next_sequence(&link.state, job.server, n)
            .map_err(|e| Failure::Rejected(format!("{e}\n")))?;
    }
    let mut session = args.link.connect(&link)?;
    let state = link.state;
    let mut show = |p: &sign::Progress| println!("{}", p.line());
    let outcome = match &what {
        ToSign::Psbts(job) => sign::sign(&mut session, &state, job, &mut show),
        ToSign::Batch(file, uplink) => {
            sign::sign_batch(&mut session, &state, file, uplink, &mut show)
        }
    };
    let outcome = outcome.map_err(|e| match e {
        sign::SignError::Unreachable(_) | sign::SignError::Timeout { .. } => {
            Failure::Usage(format!("{e}"))
        }
        e @ sign::SignError::Refused {
            class: 1, code: 6, ..
        } => match &what {
            ToSign::Psbts(job) => {
                Failure::Rejected(format!("{e}\n{}\n", batch::replay_hint(&state, job.server)))
            }
            ToSign::Batch(..) => Failure::Rejected(format!("{e}\n")),
        },
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
            Ok(()) => println!("co-signed PSBT -> {}", escape(&path.display().to_string())),
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
