//! `spacenode provision-link`: the SDLS link keys of a sim board, provisioned like the signer's
//! registry (see `docs/provisioning.md`, "Link keys").
//!
//! - `--generate FILE` makes a new provisioning file ([`comms::sdls::provision`] format) with
//!   fresh random master keys from the operating system: association 1 (every permission,
//!   unsolicited telemetry) and association 2 (ping and housekeeping only), both with a window of
//!   512. Written with mode 0600, never over an existing file. The ground uses it with
//!   `spacenode ground --provisioning FILE`.
//! - `[--state DIR] FILE` checks the file and writes it into the provisioning inbox of comms'
//!   flash image `STATE/comms-flash.flash` (`comms_partition::keys`). At its first boot comms
//!   seals it under the board's sealing secret and erases the inbox. A board whose comms already
//!   sealed keys is refused: its keys change over the air, not through the inbox.
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
use comms::sdls::{Permissions, ProvisionedSa, Provisioning};
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
    /// The SDLS provisioning file (binary, format: comms::sdls::provision)
    file: PathBuf,
}

pub fn run(args: ProvisionLinkArgs) -> Result<(), Failure> {
    if args.generate {
        return generate(&args.file);
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
             service is rekeyed over the air, a board being set up again starts from a fresh \
             --state directory\n",
            path.display()
        )));
    }
    comms_partition::keys::write_inbox(&mut flash, &bytes)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
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

fn random_key() -> Result<Key, Failure> {
    let mut k = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(k.as_mut_slice())
        .map_err(|e| Failure::Usage(format!("the operating system's RNG failed: {e}")))?;
    Ok(Key::from_bytes(*k))
}

fn generate(path: &Path) -> Result<(), Failure> {
    let sas = [
        ProvisionedSa {
            spi: SIM_OPS_SPI,
            permissions: Permissions::ALL,
            window: SIM_WINDOW,
            telemetry: true,
            master: random_key()?,
        },
        ProvisionedSa {
            spi: SIM_MONITOR_SPI,
            permissions: Permissions::TEST.union(Permissions::HOUSEKEEPING),
            window: SIM_WINDOW,
            telemetry: false,
            master: random_key()?,
        },
    ];
    let mut out = Zeroizing::new([0u8; Provisioning::encoded_len(2)]);
    Provisioning::encode(&sas, out.as_mut_slice())
        .map_err(|e| Failure::Usage(format!("encoding the provisioning file: {e}")))?;
    let io = |e: std::io::Error| Failure::Usage(format!("{}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(out.as_slice()).map_err(io)?;
    file.sync_all().map_err(io)?;
    println!(
        "wrote a new SDLS provisioning file {} (mode 0600): SPI {SIM_OPS_SPI} (all permissions, \
         telemetry) and SPI {SIM_MONITOR_SPI} (ping, housekeeping), fresh random keys; give it \
         to the node with `spacenode provision-link --state DIR {}` and to the ground with \
         `--provisioning {}`",
        path.display(),
        path.display(),
        path.display()
    );
    Ok(())
}
