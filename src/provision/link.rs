//! `spacenode provision-link`: the SDLS link keys of a sim board, provisioned like the signer's
//! registry (see `docs/provisioning.md`, "Link keys").
//!
//! - `--generate FILE` makes a new provisioning file ([`comms::sdls::provision`] format,
//!   version 3) with fresh random keys from the operating system: a key-encryption key (MKID 1,
//!   only for over-the-air rekeying, `spacenode ground keys rekey`) and association 1 (every
//!   permission, unsolicited telemetry; AES-256-GCM, key id 2: it carries the batches) and
//!   association 2 (ping and housekeeping only; HMAC-SHA-256 authentication only, key id 3),
//!   both with a window of 512. With `--spare`, also association 3 (every permission) whose key is in
//!   **pre-activation**: the node refuses it until `spacenode ground keys activate --target 3`,
//!   so a compromised association 1 can be replaced over the air (activate 3 under 1, then
//!   deactivate 1 under 3; AES-256-GCM, key id 4). Written with mode 0600, never over an existing file. The ground uses
//!   it with `spacenode ground --provisioning FILE`. Beside it, `FILE.recovery` (0600): the
//!   32-byte **link recovery key**, kept on the ground and burnt into the board's write-once
//!   memory, apart from comms' flash (`runtime::drivers::Drivers::link_recovery_key`).
//! - `[--state DIR] FILE` checks the file and writes it into the provisioning inbox of comms'
//!   flash image `STATE/comms-flash.flash` (`comms_partition::keys`). At its first boot comms
//!   seals it under the board's sealing secret and erases the inbox. A board whose comms already
//!   sealed keys is refused: its keys change over the air (`ground keys rekey`, `activate`,
//!   `deactivate`), never through the inbox. A version 1 file (no key-encryption key) is still
//!   accepted, but such a node can never take a key over the air. If `FILE.recovery` exists it
//!   is burnt once into the sim board's write-once stand-in `STATE/link-recovery.otp`
//!   (`board_sim::link_otp`; burning another key later is refused, the same key again is a
//!   no-op).
//!
//! Without it, the sim board's comms seals the sim board's **public** default keys at its first
//! boot and says so with a WARN line at every start.
//!
//! Avoids: any key in the image, and replacing a file or sealed keys that exist.

use crate::failure::Failure;
use board_sim::flash::SimFlash;
use board_sim::monitor::devices::COMMS_FLASH_IMAGE_SIZE;
use clap::Args;
use comms::sdls::mac::{KEY_LEN, Key};
use comms::sdls::sim_default::{SIM_MONITOR_SPI, SIM_OPS_SPI, SIM_WINDOW};
use comms::sdls::{Kek, Permissions, ProvisionedSa, Provisioning, Suite};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

#[derive(Args)]
pub struct ProvisionLinkArgs {
    /// Directory of the board's persistent state (as for `spacenode run`)
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Make a new provisioning file with fresh random keys at FILE (mode 0600) instead
    #[arg(long)]
    generate: bool,
    /// With --generate: add SPI 3 (every permission), its key in pre-activation, for
    /// `spacenode ground keys activate --target 3` when SPI 1 must be replaced
    #[arg(long, requires = "generate")]
    spare: bool,
    /// The SDLS provisioning file (binary, format: comms::sdls::provision)
    file: PathBuf,
}

pub fn run(args: ProvisionLinkArgs) -> Result<(), Failure> {
    if args.generate {
        return generate(&args.file, args.spare);
    }
    let bytes = Zeroizing::new(
        std::fs::read(&args.file)
            .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", args.file.display())))?,
    );
    let parsed = Provisioning::parse(&bytes).map_err(|e| {
        Failure::Rejected(format!(
            "{}: not an SDLS provisioning file comms accepts: {e}\n",
            args.file.display()
        ))
    })?;
    let state = args.state.unwrap_or_else(crate::run::default_state_dir);
    std::fs::create_dir_all(&state)
        .map_err(|e| Failure::Usage(format!("{}: {e}", state.display())))?;
    let path = state.join("comms-flash.flash");
    let mut flash: SimFlash = SimFlash::open_or_create(&path, COMMS_FLASH_IMAGE_SIZE)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    let sealed = comms_partition::keys::has_key_record(&mut flash)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    if sealed {
        return Err(Failure::Rejected(format!(
            "{} already holds sealed SDLS keys: comms would erase the inbox unused; a node in \
             service gets new keys and changes key states over the air (ground keys rekey, \
             activate, deactivate), a board being set up again starts from a fresh --state directory\n",
            path.display()
        )));
    }
    let recovery = burn_recovery_key(&args.file, &state)?;
    comms_partition::keys::write_inbox(&mut flash, &bytes)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    if let Some(otp) = recovery {
        println!("burnt the link recovery key {otp}");
    }
    let spis: Vec<String> = parsed.associations().map(|sa| sa.spi.to_string()).collect();
    println!(
        "wrote the SDLS provisioning ({} association(s): SPI {}) into the inbox of {}; comms \
         seals it at its first boot and erases the inbox",
        spis.len(),
        spis.join(", "),
        path.display()
    );
    Ok(())
}

/// `FILE.recovery` beside a provisioning file: its link recovery key.
pub fn recovery_key_path(file: &Path) -> PathBuf {
    let mut p = file.as_os_str().to_owned();
    p.push(".recovery");
    PathBuf::from(p)
}

/// Burns `FILE.recovery`, if it exists, into `state`'s write-once stand-in; says where.
fn burn_recovery_key(file: &Path, state: &Path) -> Result<Option<String>, Failure> {
    let path = recovery_key_path(file);
    let key = match std::fs::read(&path) {
        Ok(k) => Zeroizing::new(k),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Failure::Usage(format!("{}: {e}", path.display()))),
    };
    let key: [u8; KEY_LEN] = key.as_slice().try_into().map_err(|_| {
        Failure::Rejected(format!(
            "{}: a link recovery key is exactly {KEY_LEN} bytes (this file has {})\n",
            path.display(),
            key.len()
        ))
    })?;
    let key = Zeroizing::new(key);
    let new =
        board_sim::link_otp::burn(state, &key).map_err(|e| Failure::Rejected(format!("{e}\n")))?;
    Ok(Some(format!(
        "{} into {}{}",
        path.display(),
        state.join(board_sim::link_otp::LINK_OTP_FILE).display(),
        if new {
            ""
        } else {
            " (it already held this key)"
        }
    )))
}

fn random_key() -> Result<Key, Failure> {
    let mut k = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(k.as_mut_slice())
        .map_err(|e| Failure::Usage(format!("the operating system's RNG failed: {e}")))?;
    Ok(Key::from_bytes(*k))
}

/// SPI of the spare association `--spare` adds.
pub const SPARE_SPI: u16 = 3;
/// MKID of the key-encryption key `--generate` makes.
pub const KEK_MKID: u16 = 1;

/// Write `bytes` to a new file at `path` with mode 0600 (never over an existing file) and
/// flush it to disk.
pub fn write_new_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::Usage(format!("{}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

fn generate(path: &Path, spare: bool) -> Result<(), Failure> {
    let mut sas = vec![
        ProvisionedSa {
            spi: SIM_OPS_SPI,
            permissions: Permissions::ALL,
            window: SIM_WINDOW,
            telemetry: true,
            master: random_key()?,
            state: comms::sdls::KeyState::Active,
            suite: Suite::Aes256Gcm,
            key_id: 2,
        },
        ProvisionedSa {
            spi: SIM_MONITOR_SPI,
            permissions: Permissions::TEST.union(Permissions::HOUSEKEEPING),
            window: SIM_WINDOW,
            telemetry: false,
            master: random_key()?,
            state: comms::sdls::KeyState::Active,
            suite: Suite::HmacSha256,
            key_id: 3,
        },
    ];
    if spare {
        sas.push(ProvisionedSa {
            spi: SPARE_SPI,
            permissions: Permissions::ALL,
            window: SIM_WINDOW,
            telemetry: false,
            master: random_key()?,
            state: comms::sdls::KeyState::PreActive,
            suite: Suite::Aes256Gcm,
            key_id: 4,
        });
    }
    let kek = Kek {
        mkid: KEK_MKID,
        last_kid: 0,
        key: random_key()?,
    };
    let mut out = Zeroizing::new([0u8; Provisioning::encoded_len_kek(3)]);
    let n = Provisioning::encode_file(&sas, Some(&kek), out.as_mut_slice())
        .map_err(|e| Failure::Usage(format!("encoding the provisioning file: {e}")))?;
    let recovery = recovery_key_path(path);
    if recovery.exists() {
        return Err(Failure::Usage(format!(
            "{} exists: a new provisioning file never reuses (or replaces) a recovery key",
            recovery.display()
        )));
    }
    write_new_file(path, out.get(..n).unwrap_or(&[]))?;
    write_new_file(&recovery, random_key()?.as_bytes())?;
    println!(
        "wrote a new SDLS provisioning file {} (mode 0600): SPI {SIM_OPS_SPI} (all permissions, \
         telemetry, AES-256-GCM, key id 2) and SPI {SIM_MONITOR_SPI} (ping, housekeeping, \
         HMAC-SHA-256, key id 3){}, a key-encryption key \
         (MKID {KEK_MKID}, for over-the-air rekeying only), fresh random keys; and the link \
         recovery key {} (mode 0600, for `spacenode ground admin recover-link --new-keys` when comms' sealed keys \
         are lost); give both to the node with `spacenode provision-link --state DIR {}` \
         and the first to the ground with `--provisioning {}`",
        path.display(),
        if spare {
            format!(
                " and SPI {SPARE_SPI} (all permissions, key in pre-activation, AES-256-GCM, key id 4)"
            )
        } else {
            String::new()
        },
        recovery.display(),
        path.display(),
        path.display()
    );
    Ok(())
}
