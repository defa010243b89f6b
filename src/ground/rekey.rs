//! `spacenode ground keys rekey` and `keys rotate`: new SDLS keys from the ground.
//!
//! `keys rekey --target SPI [--retire SPI]` (over-the-air rekeying, CCSDS 355.1; the node side
//! is `comms::sdls::otar`), under `--spi` (the carrier, an active association with key
//! management) and with `--provisioning FILE` (version 2: it holds the key-encryption key):
//!
//! 1. makes a fresh random master key for `--target` and a fresh random IV, takes the next key
//!    id (the file's last KID + 1), and wraps the key under the KEK (TC 130,6);
//! 2. writes the key set the ground will hold afterwards to `FILE.next` (mode 0600, never over
//!    an existing one) **before** sending: whatever happens to the answer, the new key is on
//!    disk and `FILE`, with the old keys, is untouched;
//! 3. sends 130,6. Refused: `FILE.next` is removed and the refusal said in words. No answer:
//!    `FILE.next` stays, and the tool says how to find out which key the node holds
//!    (`keys verify --target SPI --provisioning FILE.next`). Completed: `FILE.next` is renamed
//!    over `FILE` (the node confirmed it holds the new key, in pre-activation);
//! 4. activates the new key (130,7 under `--spi`);
//! 5. with `--retire`, deactivates that association's key (130,8) **under the new key**: the
//!    documented way to replace a compromised SPI 1 is `rekey --target 3 --retire 1 --spi 1`
//!    on a file with a spare SPI 3 (pre-activation or deactivated). Then command under 3.
//!
//! The key being replaced is never active (the node refuses an OTAR into an active key), so the
//! key that carries the commands, and the file's copy of it, never changes.
//!
//! `keys rotate --target SPI --epoch E` (TC 130,1): the association's session keys move to
//! epoch `E` (derived again from the same master key, `comms::sdls::mac`); the ground's engine
//! follows when the node completes, and keeps the epoch in its state directory. `--target` may
//! be `--spi` itself: the node answers that command under the old epoch
//! (`comms::sdls::SecurityEngine::rotate_carrier`), then both ends run on `E`. If the node
//! already is at `E` (an earlier rotation whose answer was lost), the ground follows.
//!
//! Avoids: losing a key the node may still hold (the old file stays until the node confirms),
//! and leaving key bytes in memory (`Zeroizing`).

use super::keys::{change_state, refusal};
use super::session::{Session, SessionError};
use super::{LinkArgs, print_reports, session_failure};
use crate::failure::Failure;
use crate::provision::link::write_new_file;
use clap::Args;
use comms::failure::FailureCode;
use comms::ground::GroundError;
use comms::pus::ST_SECURITY;
use comms::sdls::ManageError;
use comms::sdls::otar::{self, IV_LEN, OtarKey};
use comms::sdls::{Key, KeyState, Provisioning};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

#[derive(Args)]
pub struct RekeyArgs {
    #[command(flatten)]
    link: LinkArgs,
    /// The association that gets a new master key (its key must not be active on the node)
    #[arg(long, value_name = "SPI")]
    target: u16,
    /// After the new key is active, deactivate this association's key under it (the
    /// compromised one)
    #[arg(long, value_name = "SPI")]
    retire: Option<u16>,
}

#[derive(Args)]
pub struct RotateArgs {
    #[command(flatten)]
    link: LinkArgs,
    /// The association whose session keys rotate (--spi itself too: the node then answers under
    /// the old epoch, and both ends move to the new one)
    #[arg(long, value_name = "SPI")]
    target: u16,
    /// The new key epoch, above the current one
    #[arg(long, value_name = "E")]
    epoch: u32,
}

fn next_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".next");
    PathBuf::from(s)
}

/// The OTAR for `target`: (application data, the next key id).
fn wrap_new_key(p: &Provisioning, file: &Path, target: u16) -> Result<(Vec<u8>, u16), Failure> {
    let kek = p.kek().ok_or_else(|| {
        Failure::Usage(format!(
            "{} has no key-encryption key (a version 1 provisioning file): a node provisioned \
             with it cannot take keys over the air",
            file.display()
        ))
    })?;
    // Above the KEK's last KID and every key id the file names (version 3 key ids are
    // unique, and the node refuses a KID another association's key keeps).
    let in_use = p.associations().map(|sa| sa.key_id).max().unwrap_or(0);
    let kid = kek.last_kid.max(in_use).checked_add(1).ok_or_else(|| {
        Failure::Usage("every key id (1..=65535) is used up under this key-encryption key".into())
    })?;
    let rng = |b: &mut [u8]| {
        getrandom::fill(b)
            .map_err(|e| Failure::Usage(format!("the operating system's RNG failed: {e}")))
    };
    let mut key = Zeroizing::new([0u8; 32]);
    rng(key.as_mut_slice())?;
    let mut iv = [0u8; IV_LEN];
    rng(&mut iv)?;
    let new = OtarKey {
        spi: target,
        kid,
        key: Key::from_bytes(*key),
    };
    let mut pdu = vec![0u8; otar::pdu_len(1)];
    let n = otar::wrap(kek, &iv, &[new], &mut pdu)
        .map_err(|e| Failure::Usage(format!("wrapping the new key: {e}")))?;
    pdu.truncate(n);
    Ok((pdu, kid))
}

pub fn rekey(args: RekeyArgs) -> Result<(), Failure> {
    let target = args.target;
    let link = args.link.resolve()?;
    let file = link.provisioning.clone().ok_or_else(|| {
        Failure::Usage(
            "rekey needs --provisioning FILE (a version 2 file with the key-encryption key, \
             from `spacenode provision-link --generate`); the sim board's public keys have none"
                .into(),
        )
    })?;
    let next = next_path(&file);
    if next.exists() {
        return Err(Failure::Rejected(format!(
            "{} exists: an earlier rekey got no answer. Find out which key the node holds with \
             `spacenode ground keys verify --target SPI --provisioning {}`: if it matches, move \
             it over {}; if not, delete it. Then rekey again\n",
            next.display(),
            next.display(),
            file.display()
        )));
    }
    let bytes = Zeroizing::new(
        std::fs::read(&file)
            .map_err(|e| Failure::Usage(format!("provisioning file {}: {e}", file.display())))?,
    );
    let p = Provisioning::parse(&bytes)
        .map_err(|e| Failure::Usage(format!("provisioning file {}: {e}", file.display())))?;
    let (pdu, kid) = wrap_new_key(&p, &file, target)?;
    let mut s = args.link.connect(&link)?;
    // The key set we hold once the node confirms: on disk before anything is sent.
    let after = s.keys_after(&pdu).map_err(|e| match e {
        SessionError::Build(GroundError::Manage(ManageError::KeyActive(_))) => {
            Failure::Rejected(format!("{}\n", key_active(target, &file)))
        }
        e => Failure::Usage(format!(
            "{} cannot take this new key of SA {target}: {e}",
            file.display()
        )),
    })?;
    write_new_file(&next, &after)?;
    let a = match s.command(ST_SECURITY, 6, &pdu) {
        Ok(a) => a,
        Err(e) => {
            return Err(Failure::Rejected(format!(
                "{e}\nthe node may or may not hold the new key of SA {target}: {} holds it. \
                 `spacenode ground keys verify --target {target} --provisioning {}` tells; if \
                 it matches, move it over {}, otherwise delete it\n",
                next.display(),
                next.display(),
                file.display()
            )));
        }
    };
    print_reports(&a);
    if let Some(f) = a.failure() {
        let _ = std::fs::remove_file(&next);
        return Err(Failure::Rejected(format!(
            "the node refused the new key of SA {target}: {} (code {:#06x}, data {}); {} is \
             unchanged\n",
            otar_refusal(f, target),
            f.code.code(),
            f.data,
            file.display()
        )));
    }
    std::fs::rename(&next, &file)
        .map_err(|e| Failure::Usage(format!("{} -> {}: {e}", next.display(), file.display())))?;
    s.install_keys(&pdu).map_err(session_failure)?;
    println!(
        "SA {target}: the node holds a new master key (key id {kid}, in pre-activation); {} \
         now holds it",
        file.display()
    );
    walk(&mut s, &file, target, args.retire)
}

/// Activate the new key under the session's association, then retire `retire` under the new
/// key; `file` follows each step.
fn walk(s: &mut Session, file: &Path, target: u16, retire: Option<u16>) -> Result<(), Failure> {
    let installed = |e: Failure| match e {
        Failure::Rejected(m) => Failure::Rejected(format!(
            "the new key of SA {target} is installed and {} holds it, but {m}",
            file.display()
        )),
        other => other,
    };
    change_state(s, Some(file), target, KeyState::Active).map_err(installed)?;
    if let Some(old) = retire {
        s.use_spi(target);
        change_state(s, Some(file), old, KeyState::Deactivated).map_err(installed)?;
        println!("command under --spi {target} from now on (SA {old} is retired)");
    }
    Ok(())
}

/// Refused before sending: our file (which follows the node's states) says the key is active.
fn key_active(target: u16, file: &Path) -> String {
    format!(
        "the key of SA {target} is active ({} follows the node's key states); the node takes a \
         new key only into one in pre-activation or deactivated: deactivate it first under \
         another association (`spacenode ground keys deactivate --target {target} --spi OTHER`)",
        file.display()
    )
}

fn otar_refusal(f: comms::failure::Failure, target: u16) -> String {
    match f.code {
        FailureCode::OtarKeyActive => format!(
            "the key of SA {target} is active on the node; deactivate it first under another \
             association (`spacenode ground keys deactivate --target {target} --spi OTHER`)"
        ),
        FailureCode::OtarKidNotNew => format!(
            "the node has installed key ids up to {}, our file says less: it is older than \
             the node's keys (restore the newest copy)",
            f.data
        ),
        _ => refusal(f, target),
    }
}

pub fn rotate(args: RotateArgs) -> Result<(), Failure> {
    let (target, epoch) = (args.target, args.epoch);
    let (link, mut s) = args.link.open()?;
    let mut app = [0u8; 6];
    app[..2].copy_from_slice(&target.to_be_bytes());
    app[2..].copy_from_slice(&epoch.to_be_bytes());
    // Rotating the association the command goes under: the node answers under the old epoch
    // (`SecurityEngine::rotate_carrier`), then expects the new one. If that answer is lost, our
    // old-epoch units no longer authenticate: say how to find out and follow.
    let a = s.command(ST_SECURITY, 1, &app).map_err(|e| match session_failure(e) {
        Failure::Usage(m) if target == link.spi => Failure::Usage(format!(
            "{m}\n(if the node did rotate SA {target} and only its answer was lost, SA {target} \
             now needs epoch {epoch}: `spacenode ground keys rotate --target {target} --epoch \
             {epoch} --spi OTHER` under another association follows it)"
        )),
        f => f,
    })?;
    print_reports(&a);
    match a.failure() {
        None => {}
        // An earlier rotation to this epoch whose answer we lost: follow it.
        Some(f) if f.code == FailureCode::EpochNotIncreasing && f.data == epoch => {
            println!("SA {target}: the node already was at epoch {epoch}");
        }
        Some(f) => {
            return Err(Failure::Rejected(format!(
                "the node refused to rotate SA {target} to epoch {epoch}: {} (code {:#06x}, \
                 data {})\n",
                match f.code {
                    FailureCode::EpochNotIncreasing =>
                        format!("its epoch is {}; give a higher one", f.data),
                    _ => refusal(f, target),
                },
                f.code.code(),
                f.data
            )));
        }
    }
    if s.security().status(target).map(|x| x.epoch) != Some(epoch) {
        s.rotate(target, epoch).map_err(session_failure)?;
    }
    println!(
        "SA {target}: key epoch {epoch} (new session keys from the same master key); the \
         ground's state directory keeps the epoch"
    );
    Ok(())
}
