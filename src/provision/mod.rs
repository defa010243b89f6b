//! `spacenode provision`: the ground operator's clean-room step on the sim board. Writes a
//! provisioning file (the signer's registry text: admin keys, ground servers, wallets, policies;
//! see the `signer` crate's `provision` module) into the provisioning inbox of the signer's key
//! flash image `STATE/key-flash.flash` (see `signer_partition::inbox`). The signer reads it at
//! its first boot, after creating its seed, and provisions itself; once provisioned it ignores
//! the inbox (changes then take M-of-N admin commands).
//!
//! Before writing, the file is checked by the signer's own code against the node's real keys
//! ([`check`]): a file the signer would refuse at boot is refused here, with `FILE:line:col` and
//! what to write instead, and nothing is written. `--check` only checks. The signer still parses
//! the inbox itself at its first boot; the check means that parse cannot fail on the text.
//!
//! `spacenode node-key` (the step before): prints the node's BIP-48 account key for a network
//! and account, as a descriptor key `[fingerprint/48h/COINh/ACCOUNTh/2h]xpub` (append
//! `/<0;1>/*` in the descriptor), so the ground can build the wallet descriptors the provisioning
//! file registers. It runs the signer's own boot on the image (the first run creates the seed
//! there, with the host's `getrandom`, exactly as the partition's first boot would). On the sim
//! board only: a flight node exports its keys signed by its identity key over the link.
//!
//! Avoids: touching the signer's records beyond its own first boot.

pub mod check;
pub mod link;

use crate::failure::Failure;
use board_sim::flash::SimFlash;
use board_sim::monitor::devices::FLASH_IMAGE_SIZE;
use clap::Args;
use hex_conservative::DisplayHex;
use std::path::PathBuf;

#[derive(Args)]
pub struct ProvisionArgs {
    /// Directory of the board's persistent state (as for `spacenode run`)
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Only check the file against the node's keys (nothing is written); exit 1 with every
    /// location if the signer would refuse it
    #[arg(long)]
    check: bool,
    /// The provisioning file (format: docs/provisioning.md)
    file: PathBuf,
}

pub fn run(args: ProvisionArgs) -> Result<(), Failure> {
    let state = args.state.unwrap_or_else(crate::run::default_state_dir);
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", args.file.display())))?;
    let summary = check::check(&state, &args.file, &text)?;
    let what = format!(
        "{}: ok for this node: {} admin key(s), threshold {}; servers: {}",
        args.file.display(),
        summary.admins.0,
        summary.admins.1,
        if summary.servers.is_empty() {
            "none".to_string()
        } else {
            summary.servers.join(", ")
        }
    );
    if args.check {
        println!("{what}");
        return Ok(());
    }
    println!("{what}");
    let path = state.join("key-flash.flash");
    let mut flash: SimFlash = SimFlash::open_or_create(&path, FLASH_IMAGE_SIZE)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    let layout = signer::persist::SignerLayout::contiguous(0);
    let registry = store::RecordStore::mount(&mut flash, layout.registry)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
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

#[derive(Args)]
pub struct NodeKeyArgs {
    /// Directory of the board's persistent state (as for `spacenode run`)
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Network: mainnet, testnet or regtest
    #[arg(long, default_value = "regtest")]
    network: String,
    /// BIP-48 account number
    #[arg(long, default_value_t = 0)]
    account: u32,
}

pub fn node_key(args: NodeKeyArgs) -> Result<(), Failure> {
    use signer::wallet::Network;
    let network = match args.network.as_str() {
        "mainnet" => Network::Mainnet,
        "testnet" => Network::Testnet,
        "regtest" => Network::Regtest,
        other => return Err(Failure::Usage(format!("unknown network `{other}`"))),
    };
    let state = args.state.unwrap_or_else(crate::run::default_state_dir);
    let key = node_account_key(&state, network, args.account)?;
    println!("{}", key.text);
    Ok(())
}

/// The node's account key, as the ground needs it to build a wallet.
pub struct NodeKey {
    /// `[fingerprint/48h/COINh/ACCOUNTh/2h]xpub`.
    pub text: String,
    /// The node's identity public key (P-256, compressed): exports and receipts verify with it.
    pub identity: [u8; 33],
}

/// Boots the signer core on the key flash image at `path` (creating the seed on first use, with
/// the host's `getrandom`, as the partition's first boot would) on a thread with room for its
/// registries (kept by value: unoptimised builds need a big stack), and runs `f` on it.
///
/// The same lost-state rule as the partition ([`signer::node::Signer::boot_after`]), with the
/// node's history read from the other stores of `state` (the reset counter and boot control,
/// [`board_sim::monitor::resets::has_booted_before`]): a key flash found erased on a node that
/// has booted before is refused, never given a new seed.
pub fn with_signer<T: Send + 'static>(
    state: &std::path::Path,
    path: std::path::PathBuf,
    f: impl FnOnce(&mut signer::node::Signer<SimFlash>, signer::keys::KeyOrigin) -> Result<T, String>
    + Send
    + 'static,
) -> Result<T, Failure> {
    let system = kernel_config::load(
        &kernel_config::shipped::description(),
        &kernel_config::shipped::board("sim")
            .ok_or_else(|| Failure::Usage("no sim board".into()))?,
    )
    .map_err(|e| Failure::Usage(format!("the shipped description: {e}")))?;
    let booted_before = board_sim::monitor::resets::has_booted_before(&system, state);
    let job = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || -> Result<T, String> {
            let flash: SimFlash = SimFlash::open_or_create(&path, FLASH_IMAGE_SIZE)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let seal = signer::keys::SealKey::new(board_sim::drivers::SIM_SEAL_SECRET);
            let (mut s, origin) = signer::node::Signer::boot_after(
                flash,
                signer::registry::Registries::new(),
                signer::persist::SignerLayout::contiguous(0),
                &seal,
                &mut board_sim::rng::OsRng,
                booted_before,
            )
            .map_err(|e| format!("signer boot on {}: {e}", path.display()))?;
            f(&mut s, origin)
        })
        .map_err(|e| Failure::Usage(e.to_string()))?;
    match job.join() {
        Ok(r) => r.map_err(Failure::Usage),
        Err(_) => Err(Failure::Usage("internal failure".into())),
    }
}

/// Boots the signer core on `STATE/key-flash.flash` (see [`with_signer`]) and exports the `wsh`
/// account key.
pub fn node_account_key(
    state: &std::path::Path,
    network: signer::wallet::Network,
    account: u32,
) -> Result<NodeKey, Failure> {
    std::fs::create_dir_all(state)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", state.display())))?;
    with_signer(state, state.join("key-flash.flash"), move |s, _| {
        let e = s
            .export_account_xpub(network, signer::descriptor::ScriptType::Wsh, account)
            .map_err(|e| e.to_string())?;
        let xpub = signer::base58::encode_check(e.xpub_bytes()).map_err(|e| e.to_string())?;
        let fp = e.as_bytes()[23..27].as_hex();
        Ok(NodeKey {
            text: format!(
                "[{fp}/48h/{}h/{account}h/2h]{}",
                network.coin_type(),
                xpub.as_str()
            ),
            identity: s.identity_public_key(),
        })
    })
}
