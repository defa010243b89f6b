//! `spacenode provision`: the ground operator's clean-room step on the sim board. Writes a
//! provisioning file (the signer's registry text: admin keys, ground servers, wallets, policies;
//! see the `signer` crate's `provision` module) into the provisioning inbox of the signer's key
//! flash image `STATE/key-flash.flash` (see `signer_partition::inbox`). The signer reads it at
//! its first boot, after creating its seed, and provisions itself; once provisioned it ignores
//! the inbox (changes then take M-of-N admin commands).
//!
//! The text is parsed by the signer itself at boot (it needs the node's keys to check the
//! wallets); this command only refuses a key flash that is already provisioned.
//!
//! Avoids: touching the signer's own records.

use crate::failure::Failure;
use board_sim::flash::SimFlash;
use board_sim::monitor::devices::FLASH_IMAGE_SIZE;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ProvisionArgs {
    /// Directory of the board's persistent state (as for `spacenode run`)
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// The provisioning file
    file: PathBuf,
}

pub fn run(args: ProvisionArgs) -> Result<(), Failure> {
    let state = args.state.unwrap_or_else(crate::run::default_state_dir);
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", args.file.display())))?;
    std::fs::create_dir_all(&state)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", state.display())))?;
    let path = state.join("key-flash.flash");
    let mut flash: SimFlash = SimFlash::open_or_create(&path, FLASH_IMAGE_SIZE)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    let layout = signer::persist::SignerLayout::contiguous(0);
    let registry = store::RecordStore::mount(&mut flash, layout.registry)
        .map_err(|e| Failure::Usage(format!("{}: {e:?}", path.display())))?;
    if !matches!(
        registry.status(),
        store::RecordStatus::Blank | store::RecordStatus::Interrupted
    ) {
        return Err(Failure::Rejected(format!(
            "{} is already provisioned: the signer ignores the inbox now; change servers and \
             policies with admin commands\n",
            path.display()
        )));
    }
    signer_partition::inbox::write(&mut flash, &text)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    println!(
        "wrote {} bytes of provisioning text into the inbox of {}; the signer provisions itself \
         from it at its first boot",
        text.len(),
        path.display()
    );
    Ok(())
}
