//! Host harness for `scripts/interop`: runs the SAME signer logic the signer partition runs
//! (`signer::node::Signer` on the sim board's key flash image, sealed with the sim board's seal
//! secret) from the command line, and builds batch certificates as the ground does. Test tool
//! only: until the ground link exists, this is how external wallets reach the signer.
//!
//! ```text
//! interop-sign init STATE CERT_SECRET_HEX ACCOUNT
//!     first boot (creates the seed with the OS RNG) or reboot; prints
//!     `node-key [fp/48h/1h/ACCOUNTh/2h]tpub...` (regtest P2WSH account) and `cert-pub HEX`
//! interop-sign provision STATE FILE
//!     loads the provisioning file (the registry text of `signer::provision`)
//! interop-sign sign STATE CERT_SECRET_HEX SERVER SEQ OUTDIR PSBT...
//!     builds the batch certificate over the PSBT files, runs the batch; on success writes
//!     OUTDIR/signed-N.psbt and prints `SIGNED N`, else prints
//!     `REFUSED class=C code=K psbt=I` (receipt bytes 60, 61, 62..64) and exits 3
//! ```
//!
//! Exit status: 0 done, 3 refused, 2 usage or I/O error.

use board_sim::drivers::SIM_SEAL_SECRET;
use board_sim::flash::SimFlash;
use board_sim::monitor::devices::FLASH_IMAGE_SIZE;
use board_sim::rng::OsRng;
use hex_conservative::{DisplayHex, FromHex};
use signer::batch::Step;
use signer::descriptor::ScriptType;
use signer::keys::SealKey;
use signer::node::Signer;
use signer::persist::SignerLayout;
use signer::wallet::Network;
use std::path::Path;
use std::process::ExitCode;

type R = Result<ExitCode, String>;

fn boot(state: &Path) -> Result<Signer<SimFlash>, String> {
    std::fs::create_dir_all(state).map_err(|e| e.to_string())?;
    let flash: SimFlash =
        SimFlash::open_or_create(&state.join("key-flash.flash"), FLASH_IMAGE_SIZE)
            .map_err(|e| e.to_string())?;
    Signer::boot(
        flash,
        SignerLayout::contiguous(0),
        &SealKey::new(SIM_SEAL_SECRET),
        &mut OsRng,
    )
    .map(|(s, _)| s)
    .map_err(|e| format!("boot: {e}"))
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    Vec::from_hex(s).map_err(|e| e.to_string())
}

fn hex(b: &[u8]) -> String {
    b.to_lower_hex_string()
}

fn cert_key(h: &str) -> Result<p256::SecretKey, String> {
    p256::SecretKey::from_slice(&unhex(h)?).map_err(|_| "bad P-256 secret".to_string())
}

fn init(a: &[String]) -> R {
    let [state, secret, account] = a else {
        return Err("init STATE CERT_SECRET_HEX ACCOUNT".into());
    };
    let account: u32 = account.parse().map_err(|_| "bad account")?;
    let s = boot(Path::new(state))?;
    let e = s
        .export_account_xpub(Network::Regtest, ScriptType::Wsh, account)
        .map_err(|e| e.to_string())?;
    let xpub = signer::base58::encode_check(e.xpub_bytes()).map_err(|e| format!("{e:?}"))?;
    let fp = &e.as_bytes()[23..27];
    println!(
        "node-key [{}/48h/1h/{account}h/2h]{}",
        hex(fp),
        xpub.as_str()
    );
    let key = cert_key(secret)?;
    println!(
        "cert-pub {}",
        hex(&signer::p256sig::compress(&key.public_key()))
    );
    Ok(ExitCode::SUCCESS)
}

fn provision(a: &[String]) -> R {
    let [state, file] = a else {
        return Err("provision STATE FILE".into());
    };
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let mut s = boot(Path::new(state))?;
    s.provision(&text)
        .map_err(|e| format!("provisioning refused: {e}"))?;
    println!("provisioned: {} servers", s.registry().server_count());
    Ok(ExitCode::SUCCESS)
}

fn sign(a: &[String]) -> R {
    let [state, secret, server, seq, outdir, files @ ..] = a else {
        return Err("sign STATE CERT_SECRET_HEX SERVER SEQ OUTDIR PSBT...".into());
    };
    let key = cert_key(secret)?;
    let server: u32 = server.parse().map_err(|_| "bad server")?;
    let seq: u64 = seq.parse().map_err(|_| "bad sequence")?;
    let psbts: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).map_err(|e| format!("{f}: {e}")))
        .collect::<Result<_, _>>()?;
    let refs: Vec<&[u8]> = psbts.iter().map(Vec::as_slice).collect();
    let mut batch = vec![0u8; 99 + 32 * psbts.len()];
    let n = signer::cert::build(
        &mut batch,
        &key,
        server,
        seq,
        signer::cert::NO_EXPIRY,
        &refs,
    )
    .map_err(|e| format!("certificate: {e:?}"))?;
    batch.truncate(n);
    for p in &psbts {
        batch.extend_from_slice(&(p.len() as u32).to_be_bytes());
        batch.extend_from_slice(p);
    }
    let mut s = boot(Path::new(state))?;
    let mut job = s.begin_batch(&batch, hal::time::Instant::ZERO);
    let mut out = vec![0u8; signer::batch::MAX_SIGNED_PSBT];
    let mut signed = Vec::new();
    let receipt = loop {
        match job.step(&mut s, &mut out) {
            Step::Working => {}
            Step::Psbt { len, .. } => signed.push(out[..len].to_vec()),
            Step::Done(r) => break r,
        }
    };
    if !receipt.is_signed() {
        println!(
            "REFUSED class={} code={} psbt={}",
            receipt.class(),
            receipt.code(),
            receipt.failed_psbt().map_or(-1, i32::from)
        );
        return Ok(ExitCode::from(3));
    }
    std::fs::create_dir_all(outdir).map_err(|e| e.to_string())?;
    for (i, p) in signed.iter().enumerate() {
        let path = Path::new(outdir).join(format!("signed-{i}.psbt"));
        std::fs::write(&path, p).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("SIGNED {}", signed.len());
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The signer keeps its registry by value; unoptimised builds need a big stack.
    let t = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || match args.split_first() {
            Some((c, rest)) if c == "init" => init(rest),
            Some((c, rest)) if c == "provision" => provision(rest),
            Some((c, rest)) if c == "sign" => sign(rest),
            _ => Err("usage: interop-sign init|provision|sign ...".into()),
        });
    match t.map(|h| h.join()) {
        Ok(Ok(Ok(code))) => code,
        Ok(Ok(Err(e))) => {
            eprintln!("interop-sign: {e}");
            ExitCode::from(2)
        }
        _ => {
            eprintln!("interop-sign: internal failure");
            ExitCode::from(2)
        }
    }
}
