//! Building a registry from text (provisioning file or stored record) and applying one admin
//! command body to a copy of it. Every refusal is a [`RegistryErrorKind`] with its line.

use super::{MAX_ADMINS, MAX_DESCRIPTOR, Registry, Server};
use crate::descriptor::Descriptor;
use crate::keys::NodeKeys;
use crate::policy::{Policy, PolicyError};
use crate::provision::{Line, ServerLine, TextError, TextErrorKind, lines};
use crate::wallet::{Wallet, WalletError};

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
    #[error("server {0}: another server already uses this account")]
    AccountInUse(u32),
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
    #[error("admin command body must be one server, revoke or policy command")]
    BadCommand,
}

/// A refusal with its 1-based line (0 when not tied to a line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct RegistryError {
    /// Line.
    pub line: u32,
    /// Why.
    pub kind: RegistryErrorKind,
}

impl From<TextError> for RegistryError {
    fn from(e: TextError) -> Self {
        Self {
            line: e.line,
            kind: RegistryErrorKind::Text(e.kind),
        }
    }
}

fn at(line: u32) -> impl Fn(RegistryErrorKind) -> RegistryError {
    move |kind| RegistryError { line, kind }
}

fn make_server(s: &ServerLine<'_>, keys: &NodeKeys) -> Result<Server, RegistryErrorKind> {
    let wallet_err = |error| RegistryErrorKind::Wallet { id: s.id, error };
    let descriptor = heapless::String::try_from(s.descriptor)
        .map_err(|_| RegistryErrorKind::DescriptorTooLong)?;
    let parsed = Descriptor::parse(s.descriptor).map_err(|e| wallet_err(WalletError::from(e)))?;
    let account_key = keys
        .account(s.network, parsed.script_type, s.account)
        .map_err(wallet_err)?;
    let wallet = Wallet::register(s.descriptor, s.network, &account_key).map_err(wallet_err)?;
    Ok(Server {
        id: s.id,
        cert_key: s.key,
        network: s.network,
        account: s.account,
        sighash: s.sighash,
        revoked: s.revoked,
        policy: Policy::empty(),
        descriptor,
        wallet,
        account_key,
    })
}

impl Registry {
    fn add_server(&mut self, s: Server) -> Result<(), RegistryErrorKind> {
        if self.server(s.id).is_some() {
            return Err(RegistryErrorKind::DuplicateServer(s.id));
        }
        let same_account = |o: &Server| {
            o.network.coin_type() == s.network.coin_type()
                && o.wallet.script_type == s.wallet.script_type
                && o.account == s.account
        };
        if self.servers.iter().any(same_account) {
            return Err(RegistryErrorKind::AccountInUse(s.id));
        }
        self.servers
            .push(s)
            .map_err(|_| RegistryErrorKind::TooManyServers)
    }

    fn last_policy(&mut self) -> Option<&mut Policy> {
        self.servers.last_mut().map(|s| &mut s.policy)
    }

    /// Parses a provisioning file or stored registry (header first; see [`crate::provision`]).
    pub fn from_text(text: &str, keys: &NodeKeys) -> Result<Self, RegistryError> {
        let mut reg = Registry::default();
        let mut seen_header = false;
        let mut threshold: Option<(u32, u8)> = None;
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
                Line::Server(s) => {
                    let server = make_server(&s, keys).map_err(&err)?;
                    reg.add_server(server).map_err(&err)?;
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
        Ok(reg)
    }

    /// Applies one admin command body (already authenticated) to a copy of this registry and
    /// returns the copy with `counter` recorded. `self` is unchanged.
    pub fn apply(
        &self,
        body: &str,
        counter: u64,
        keys: &NodeKeys,
    ) -> Result<(Registry, Command), RegistryError> {
        let mut next = self.clone();
        let mut command: Option<Command> = None;
        for item in lines(body) {
            let (line, item) = item?;
            let err = at(line);
            match (item, command) {
                (Line::Server(s), None) => {
                    let server = make_server(&s, keys).map_err(&err)?;
                    if server.revoked {
                        return Err(err(RegistryErrorKind::BadCommand));
                    }
                    next.add_server(server).map_err(&err)?;
                    command = Some(Command::Add(s.id));
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
                _ => return Err(err(RegistryErrorKind::BadCommand)),
            }
        }
        let command = command.ok_or(at(0)(RegistryErrorKind::BadCommand))?;
        next.counter = counter;
        Ok((next, command))
    }

    fn server_mut(&mut self, id: u32) -> Result<&mut Server, RegistryErrorKind> {
        let s = self
            .servers
            .iter_mut()
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
}
