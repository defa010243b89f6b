//! `spacenode provision --check FILE` (and the check `provision FILE` runs before it writes): the
//! provisioning file is judged by the signer's own code, not a copy of its rules. The signer core
//! boots on a scratch copy of the board's key flash (so it has the node's real keys, which the
//! wallet descriptors must contain) and provisions itself there from the file; the copy is then
//! thrown away. A refusal is shown as `config check` shows one: `FILE:line:col`, the line with the
//! offending token underlined, and what to write instead.
//!
//! Avoids: writing anything to the board's own key flash.

use crate::failure::Failure;
use kernel_config::{Diagnostic, Source};
use signer::node::ProvisionError;
use signer::provision::TextErrorKind;
use signer::registry::{RegistryError, RegistryErrorKind};
use std::path::Path;

/// What a provisioning file that passed the check sets up.
pub struct Summary {
    /// Admin keys and threshold.
    pub admins: (usize, u8),
    /// Server ids, with `revoked` marks.
    pub servers: Vec<String>,
}

/// Checks `text` (read from `file`) against the node on `state`'s key flash.
pub fn check(state: &Path, file: &Path, text: &str) -> Result<Summary, Failure> {
    let key_flash = state.join("key-flash.flash");
    if !key_flash.exists() {
        return Err(no_node_key(state));
    }
    let scratch = tempfile::NamedTempFile::new()
        .map_err(|e| Failure::Usage(format!("scratch copy of the key flash: {e}")))?;
    std::fs::copy(&key_flash, scratch.path())
        .map_err(|e| Failure::Usage(format!("copying {}: {e}", key_flash.display())))?;
    let owned = text.to_string();
    let outcome = super::with_signer(state, scratch.path().to_path_buf(), move |s, origin| {
        if origin == signer::keys::KeyOrigin::Created {
            // The scratch copy had no seed: the board has no node key yet.
            return Ok(None);
        }
        Ok(Some(s.provision(&owned).map(|()| {
            let r = s.registry();
            Summary {
                admins: (r.admins().len(), r.threshold()),
                servers: r
                    .servers()
                    .map(|v| {
                        let mark = if v.revoked { " (revoked)" } else { "" };
                        format!("{}{mark}", v.id)
                    })
                    .collect(),
            }
        })))
    })?;
    match outcome {
        None => Err(no_node_key(state)),
        Some(Ok(summary)) => Ok(summary),
        Some(Err(e)) => Err(Failure::Rejected(refusal(file, text, &e))),
    }
}

fn no_node_key(state: &Path) -> Failure {
    Failure::Usage(format!(
        "the node on {} has no keys yet, so its wallets cannot be checked: run `spacenode node-key --state {}` first and put the key it prints into each wallet descriptor",
        state.display(),
        state.display()
    ))
}

/// The refusal as a diagnostic of `file`.
fn refusal(file: &Path, text: &str, e: &ProvisionError) -> String {
    let src = Source::new(file.display().to_string(), text);
    let d = match e {
        ProvisionError::Registry(r) if r.line > 0 => at_token(&src, r),
        ProvisionError::Registry(r) => {
            Diagnostic::file(src.name.clone(), r.kind.to_string()).help(help(&r.kind))
        }
        ProvisionError::AlreadyProvisioned => Diagnostic::file(
            src.name.clone(),
            "the node is already provisioned: change it with `spacenode ground admin` commands",
        ),
        other => Diagnostic::file(src.name.clone(), other.to_string()),
    };
    d.to_string()
}

fn at_token(src: &Source, r: &RegistryError) -> Diagnostic {
    let line = src.line_text(r.line as usize);
    // Byte offset of the line in the file, then of the token (column 0: the line's first word).
    let line_start = src
        .text
        .lines()
        .take(r.line as usize - 1)
        .map(|l| l.len() + 1)
        .sum::<usize>();
    let col = if r.col == 0 {
        line.chars().take_while(char::is_ascii_whitespace).count() + 1
    } else {
        r.col as usize
    };
    let from: usize = line.chars().take(col - 1).map(char::len_utf8).sum();
    let width = line[from.min(line.len())..]
        .split_ascii_whitespace()
        .next()
        .map_or(1, str::len)
        .max(1);
    let start = (line_start + from).min(src.text.len());
    let end = (start + width).min(src.text.len()).max(start);
    Diagnostic::at(src, start..end, r.kind.to_string()).help(help(&r.kind))
}

/// What to write instead, for each refusal.
fn help(kind: &RegistryErrorKind) -> &'static str {
    use RegistryErrorKind as K;
    use TextErrorKind as T;
    match kind {
        K::Text(T::UnknownItem) => {
            "each line starts with admin-threshold, admin, admin-counter, server or rule (see docs/provisioning.md)"
        }
        K::Text(T::BadHeader) => "the first line must be exactly `spacenode-signer-registry 1`",
        K::Text(T::BadNumber) => {
            "write a decimal number in range: ids and thresholds are small integers, account is below 2147483648"
        }
        K::Text(T::BadKey) => {
            "write 66 hex digits of a compressed P-256 public key (starting 02 or 03), e.g. the .pub file `spacenode ground` made"
        }
        K::Text(T::BadNetwork) => "write network=mainnet, network=testnet or network=regtest",
        K::Text(T::BadSighash) => {
            "write sighash= as a comma-separated list of all, none, single, all-acp, none-acp, single-acp"
        }
        K::Text(T::BadOption) => {
            "a server line takes id=, key=, network=, account=, descriptor=, sighash= once each, and the word revoked"
        }
        K::Text(T::MissingOption) => {
            "a server line needs id=, key=, network=, account= and descriptor=; a wallet line server=, account= and descriptor="
        }
        K::Text(T::ExtraTokens) => "remove what follows the item",
        K::Text(T::Rule(_)) => {
            "write `rule allow` or `rule deny` followed by conditions: max-amount=SATS velocity=SATS/SECONDS to=HEX,HEX max-fee=SATS max-feerate=SAT_PER_VB (see docs/provisioning.md)"
        }
        K::Text(T::Misplaced) => {
            "the header comes first and once; admin-threshold once; each rule line goes under the server it belongs to; wallet lines come after every server line"
        }
        K::DuplicateAdmin => "list each admin key once",
        K::TooManyAdmins | K::TooManyServers | K::DescriptorTooLong | K::Policy(_) => {
            "the signer's limits are in docs/provisioning.md: split the file or shorten the item"
        }
        K::BadThreshold => "write admin-threshold M with M between 1 and the number of admin lines",
        K::DuplicateServer(_) => "give each server its own id",
        K::AccountInUse(_) | K::WalletAccountInUse { .. } => {
            "give each wallet (a server line's and each wallet line's) its own BIP-48 account (account=N) and its key from `spacenode node-key --account N`"
        }
        K::TooManyWallets => {
            "the signer holds at most 32 wallet lines besides the server lines: see docs/provisioning.md"
        }
        K::Wallet { .. } => {
            "the descriptor must be wsh(sortedmulti(...)) or sh(wsh(sortedmulti(...))) with its checksum, on the server's network, and contain the node's key exactly as `spacenode node-key --network NET --account N` prints it"
        }
        _ => "see docs/provisioning.md",
    }
}
