//! Building a registry from text (provisioning file or stored record) and applying one admin
//! command body to a copy of it, both in place: [`Registry::load_text`] parses into an existing
//! registry and [`Registry::apply_into`] writes the changed copy into a caller's registry, so
//! no registry is ever returned by value. Every refusal is a [`RegistryErrorKind`] with its line.

use super::wallets::checked_script_type;
use super::{MAX_ADMINS, MAX_DESCRIPTOR, MAX_SERVERS, Registry, Server};
use crate::descriptor::ScriptType;
use crate::keys::NodeKeys;
use crate::policy::{Policy, PolicyError};
use crate::provision::{Line, ServerLine, TextError, TextErrorKind, lines};
use crate::wallet::WalletError;

/// Why a registry text or an admin command body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RegistryErrorKind {
    /// A line does not parse.
    #[error("{0}")]
    Text(TextErrorKind),
    /// The same admin key twice.
    #[error("admin key listed twice")]
    DuplicateAdmin,
    /// More than [`MAX_ADMINS`] admin keys.
    #[error("too many admin keys")]
    TooManyAdmins,
    /// Threshold 0 with admins, above the number of admins, or given without admins.
    #[error("admin threshold must be between 1 and the number of admin keys")]
    BadThreshold,
    /// A server id used twice (revoked servers keep their id).
    #[error("server {0} already exists")]
    DuplicateServer(u32),
    /// More than [`super::MAX_SERVERS`] servers.
    #[error("registry full")]
    TooManyServers,
    /// Two servers on the same node account key (network, script type, account).
    #[error("server {0}: another wallet already uses this account")]
    AccountInUse(u32),
    /// A wallet on a node account key (network, script type, account) another wallet uses.
    #[error("server {server}: account {account} is already used by another wallet")]
    WalletAccountInUse {
        /// The server the wallet was for.
        server: u32,
        /// The account.
        account: u32,
    },
    /// More than [`super::MAX_WALLETS`] wallets besides the servers' first ones.
    #[error(
        "the wallet table is full ({} wallets besides each server's first)",
        super::MAX_WALLETS
    )]
    TooManyWallets,
    /// The descriptor was refused (syntax, checksum, network, or it lacks the node's key).
    #[error("server {id}: wallet: {error}")]
    Wallet {
        /// The server.
        id: u32,
        /// Why.
        error: WalletError,
    },
    /// Descriptor longer than [`MAX_DESCRIPTOR`].
    #[error("descriptor too long")]
    DescriptorTooLong,
    /// Too many rules or velocity periods.
    #[error("policy: {0}")]
    Policy(#[from] PolicyError),
    /// A command names a server that does not exist.
    #[error("unknown server {0}")]
    UnknownServer(u32),
    /// A command names a revoked server.
    #[error("server {0} is revoked")]
    Revoked(u32),
    /// An admin command body that is not exactly one command.
    #[error("admin command body must be one server, revoke, policy or wallet command")]
    BadCommand,
}

/// A refusal with its 1-based line (0 when not tied to a line) and, for a line that does not
/// parse, the 1-based column of the token at fault (0 when the whole line is at fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct RegistryError {
    /// Line.
    pub line: u32,
    /// Column, or 0.
    pub col: u32,
    /// Why.
    pub kind: RegistryErrorKind,
}

impl From<TextError> for RegistryError {
    fn from(e: TextError) -> Self {
        Self {
            line: e.line,
            col: e.col,
            kind: RegistryErrorKind::Text(e.kind),
        }
    }
}

fn at(line: u32) -> impl Fn(RegistryErrorKind) -> RegistryError {
    move |kind| RegistryError { line, col: 0, kind }
}

/// Puts server `s` (its first wallet's script type checked) in `slot` with an empty descriptor,
/// then copies the descriptor in place: the server (7 KB) is never copied whole. A descriptor
/// longer than the slot's text empties the slot again.
fn fill_slot(
    slot: &mut Option<Server>,
    s: &ServerLine<'_>,
    script_type: ScriptType,
) -> Result<(), RegistryErrorKind> {
    let server = slot.insert(Server {
        id: s.id,
        cert_key: s.key,
        network: s.network,
        account: s.account,
        script_type,
        sighash: s.sighash,
        revoked: s.revoked,
        no_expiry: s.no_expiry,
        policy: Policy::empty(),
        descriptor: heapless::String::new(),
    });
    if server.descriptor.push_str(s.descriptor).is_err() {
        *slot = None;
        return Err(RegistryErrorKind::DescriptorTooLong);
    }
    Ok(())
}

impl Registry {
    /// Adds the server of line `s` in the first free slot: refused if the registry is full,
    /// the descriptor is too long or refused, the id exists, or another wallet (of any server)
    /// has the same account key.
    fn add_server_line(
        &mut self,
        s: &ServerLine<'_>,
        keys: &NodeKeys,
    ) -> Result<(), RegistryErrorKind> {
        let used = self.server_count();
        if used >= MAX_SERVERS {
            return Err(RegistryErrorKind::TooManyServers);
        }
        if s.descriptor.len() > MAX_DESCRIPTOR {
            return Err(RegistryErrorKind::DescriptorTooLong);
        }
        let script_type = checked_script_type(s.descriptor, s.network, s.account, keys)
            .map_err(|error| RegistryErrorKind::Wallet { id: s.id, error })?;
        if self.server(s.id).is_some() {
            return Err(RegistryErrorKind::DuplicateServer(s.id));
        }
        if self
            .account_user(s.network, script_type, s.account)
            .is_some()
        {
            return Err(RegistryErrorKind::AccountInUse(s.id));
        }
        let slot = self
            .servers
            .get_mut(used)
            .ok_or(RegistryErrorKind::TooManyServers)?;
        fill_slot(slot, s, script_type)
    }

    fn last_policy(&mut self) -> Option<&mut Policy> {
        self.servers
            .iter_mut()
            .rev()
            .find_map(Option::as_mut)
            .map(|s| &mut s.policy)
    }

    /// Parses a provisioning file or stored registry (header first; see [`crate::provision`])
    /// into this registry, in place. On a refusal the registry is left empty.
    pub fn load_text(&mut self, text: &str, keys: &NodeKeys) -> Result<(), RegistryError> {
        self.clear();
        let out = self.parse_text(text, keys);
        if out.is_err() {
            self.clear();
        }
        out
    }

    fn parse_text(&mut self, text: &str, keys: &NodeKeys) -> Result<(), RegistryError> {
        let reg = self;
        let mut seen_header = false;
        let mut threshold: Option<(u32, u8)> = None;
        let mut seen_wallet = false;
        for item in lines(text) {
            let (line, item) = item?;
            let err = at(line);
            if !seen_header {
                if item != Line::Header {
                    return Err(err(RegistryErrorKind::Text(TextErrorKind::BadHeader)));
                }
                seen_header = true;
                continue;
            }
            match item {
                Line::Header | Line::Revoke(_) | Line::Policy(_) => {
                    return Err(err(RegistryErrorKind::Text(TextErrorKind::Misplaced)));
                }
                Line::AdminThreshold(m) => {
                    if threshold.replace((line, m)).is_some() {
                        return Err(err(RegistryErrorKind::Text(TextErrorKind::Misplaced)));
                    }
                }
                Line::Admin(k) => {
                    if reg.admins.contains(&k) {
                        return Err(err(RegistryErrorKind::DuplicateAdmin));
                    }
                    reg.admins
                        .push(k)
                        .map_err(|_| err(RegistryErrorKind::TooManyAdmins))?;
                }
                Line::AdminCounter(c) => reg.counter = c,
                // `wallet` lines come after every server and its rules.
                Line::Server(_) | Line::Rule(_) if seen_wallet => {
                    return Err(err(RegistryErrorKind::Text(TextErrorKind::Misplaced)));
                }
                Line::Server(s) => reg.add_server_line(&s, keys).map_err(&err)?,
                Line::Wallet(w) => {
                    seen_wallet = true;
                    reg.add_wallet_line(&w, keys).map_err(&err)?;
                }
                Line::Rule(r) => {
                    let p = reg
                        .last_policy()
                        .ok_or(err(RegistryErrorKind::Text(TextErrorKind::Misplaced)))?;
                    p.push(r).map_err(|e| err(e.into()))?;
                }
            }
        }
        if !seen_header {
            return Err(at(1)(RegistryErrorKind::Text(TextErrorKind::BadHeader)));
        }
        let n = reg.admins.len();
        match threshold {
            Some((line, m)) if m == 0 || usize::from(m) > n => {
                return Err(at(line)(RegistryErrorKind::BadThreshold));
            }
            Some((_, m)) => reg.threshold = m,
            None if n > 0 => return Err(at(0)(RegistryErrorKind::BadThreshold)),
            None => {}
        }
        debug_assert!(reg.admins.len() <= MAX_ADMINS && MAX_DESCRIPTOR > 0);
        Ok(())
    }

    /// Applies one admin command body (already authenticated) to a copy of this registry made
    /// in `next`, with `counter` recorded there. `self` is unchanged; on a refusal `next` holds
    /// a partial copy that must not be used.
    pub fn apply_into(
        &self,
        next: &mut Registry,
        body: &str,
        counter: u64,
        keys: &NodeKeys,
    ) -> Result<Command, RegistryError> {
        next.copy_from(self);
        let mut command: Option<Command> = None;
        for item in lines(body) {
            let (line, item) = item?;
            let err = at(line);
            match (item, command) {
                (Line::Server(s), None) => {
                    if s.revoked {
                        return Err(err(RegistryErrorKind::BadCommand));
                    }
                    next.add_server_line(&s, keys).map_err(&err)?;
                    command = Some(Command::Add(s.id));
                }
                (Line::Wallet(w), None) => {
                    next.server_mut(w.server).map_err(&err)?;
                    next.add_wallet_line(&w, keys).map_err(&err)?;
                    command = Some(Command::AddWallet {
                        server: w.server,
                        account: w.account,
                    });
                }
                (Line::Revoke(id), None) => {
                    let s = next.server_mut(id).map_err(&err)?;
                    s.revoked = true;
                    command = Some(Command::Revoke(id));
                }
                (Line::Policy(id), None) => {
                    let s = next.server_mut(id).map_err(&err)?;
                    s.policy = Policy::empty();
                    command = Some(Command::ChangePolicy(id));
                }
                (Line::Rule(r), Some(Command::Add(id) | Command::ChangePolicy(id))) => {
                    let s = next.server_mut(id).map_err(&err)?;
                    s.policy.push(r).map_err(|e| err(e.into()))?;
                }
                // Rotation: the new admin set and threshold replace the old ones whole.
                (Line::AdminThreshold(m), None) => {
                    next.admins.clear();
                    next.threshold = m;
                    command = Some(Command::RotateAdmins {
                        threshold: m,
                        admins: 0,
                    });
                }
                (Line::Admin(k), Some(Command::RotateAdmins { threshold, admins })) => {
                    if next.admins.contains(&k) {
                        return Err(err(RegistryErrorKind::DuplicateAdmin));
                    }
                    next.admins
                        .push(k)
                        .map_err(|_| err(RegistryErrorKind::TooManyAdmins))?;
                    command = Some(Command::RotateAdmins {
                        threshold,
                        admins: admins.saturating_add(1),
                    });
                }
                _ => return Err(err(RegistryErrorKind::BadCommand)),
            }
        }
        let command = command.ok_or(at(0)(RegistryErrorKind::BadCommand))?;
        if let Command::RotateAdmins { threshold, admins } = command
            && (threshold == 0 || threshold > admins)
        {
            return Err(at(1)(RegistryErrorKind::BadThreshold));
        }
        next.counter = counter;
        Ok(command)
    }

    fn server_mut(&mut self, id: u32) -> Result<&mut Server, RegistryErrorKind> {
        let s = self
            .servers
            .iter_mut()
            .flatten()
            .find(|s| s.id == id)
            .ok_or(RegistryErrorKind::UnknownServer(id))?;
        if s.revoked {
            return Err(RegistryErrorKind::Revoked(id));
        }
        Ok(s)
    }
}

/// What an accepted admin command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Added server `id`.
    Add(u32),
    /// Revoked server `id`.
    Revoke(u32),
    /// Replaced the policy of server `id`.
    ChangePolicy(u32),
    /// Added a wallet to `server`, on the node's BIP-48 `account`.
    AddWallet {
        /// The server.
        server: u32,
        /// The account.
        account: u32,
    },
    /// Correlated the mission clock to this mission time (ms); no registry change
    /// ([`crate::admin`]'s time correlation).
    Correlate(u64),
    /// Replaced the admin set (`admins` keys) and its threshold.
    RotateAdmins {
        /// The new threshold.
        threshold: u8,
        /// The new number of admin keys.
        admins: u8,
    },
}

impl core::fmt::Display for Command {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Command::Add(id) => write!(f, "server {id} added"),
            Command::Revoke(id) => write!(f, "server {id} revoked"),
            Command::ChangePolicy(id) => write!(f, "policy of server {id} replaced"),
            Command::AddWallet { server, account } => {
                write!(f, "wallet on account {account} added to server {server}")
            }
            Command::Correlate(ms) => write!(f, "mission clock correlated to {ms} ms"),
            Command::RotateAdmins { threshold, admins } => {
                write!(f, "admin set replaced: {threshold} of {admins} keys")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    fn admin_line(b: u8) -> String {
        let k = p256::SecretKey::from_slice(&[b; 32]).expect("key");
        let mut line = String::from("admin ");
        crate::hexfmt::write(&mut line, &crate::p256sig::compress(&k.public_key())).expect("hex");
        line + "\n"
    }

    fn text(threshold: u8, admins: &[u8]) -> String {
        let mut t = std::format!("spacenode-signer-registry 1\nadmin-threshold {threshold}\n");
        for &a in admins {
            t += &admin_line(a);
        }
        t
    }

    #[test]
    fn load_text_replaces_in_place_and_a_refusal_leaves_it_empty() {
        let keys = NodeKeys::from_seed(&[7; 32]).expect("keys");
        let mut reg = std::boxed::Box::new(Registry::new());
        reg.load_text(&text(2, &[1, 2, 3]), &keys).expect("valid");
        assert_eq!((reg.threshold(), reg.admins().len()), (2, 3));
        reg.load_text(&text(1, &[4]), &keys).expect("valid");
        assert_eq!(
            (reg.threshold(), reg.admins().len()),
            (1, 1),
            "replaced, not merged"
        );
        let err = reg
            .load_text(&text(5, &[1, 2]), &keys)
            .expect_err("threshold above admins");
        assert_eq!(err.kind, RegistryErrorKind::BadThreshold);
        assert_eq!((reg.threshold(), reg.admins().len()), (0, 0), "left empty");
    }

    #[test]
    fn apply_into_leaves_the_source_alone_and_overwrites_the_target() {
        let keys = NodeKeys::from_seed(&[7; 32]).expect("keys");
        let mut live = std::boxed::Box::new(Registry::new());
        let mut next = std::boxed::Box::new(Registry::new());
        live.load_text(&text(2, &[1, 2, 3]), &keys).expect("valid");
        next.load_text(&text(1, &[9]), &keys)
            .expect("stale staging contents");
        let err = live
            .apply_into(&mut next, "revoke id=4", 1, &keys)
            .expect_err("no server 4");
        assert_eq!(err.kind, RegistryErrorKind::UnknownServer(4));
        assert_eq!((live.admin_counter(), live.admins().len()), (0, 3));
        // The staging copy was rebuilt from the live registry, whatever it held before.
        assert_eq!(next.admins(), live.admins());
        assert_eq!(next.threshold(), 2);
    }
}
