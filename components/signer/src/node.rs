//! The signer as one object: its flash, its three records, its keys, registry and ledger. This
//! is the API the signer component calls: [`Signer::boot`], [`Signer::provision`],
//! [`Signer::admin`], [`Signer::export_server_xpub`], [`Signer::begin_batch`] then
//! [`crate::batch::BatchJob::step`].
//!
//! Boot rules:
//!
//! - keys: see [`crate::keys::load_or_create`] (created on first boot, never silently replaced);
//! - registry: blank (or a cut first write) means *unprovisioned*: no server, nothing signed,
//!   and [`Signer::provision`] accepts one provisioning file; present means it is parsed back
//!   (a record that verifies but does not parse is [`BootError::RegistryCorrupt`]); lost means
//!   [`BootError::RegistryLost`];
//! - ledger: blank (or a cut first write) means no batch ever committed; lost or undecodable is
//!   [`BootError::LedgerLost`]: without it sequence numbers could be reused, so the signer
//!   refuses to run rather than start from zero.
//!
//! After a ledger write fails, the ledger is re-read; if that fails too, every later batch is
//! refused (internal error) until reboot, so the in-memory state can never lag the flash.
//!
//! Secrets stay inside: nothing here returns a seed, a private key or an `Xpriv`.
//!
//! Memory: the registry is about 120 KB and the signer keeps two ([`Registries`]: the live one
//! and a staging one that provisioning and admin commands fill and write to flash before it
//! becomes live). The second type parameter says where they are: owned by the signer (the
//! default, [`Signer::boot`]: host tools and tests) or lent to it ([`Signer::boot_with`] with
//! `&'static mut Registries`: a partition keeps them in a `static`, so neither the registries
//! nor anything the size of one is ever on its small stack). Every registry is built and
//! changed in place; the rest of the signer is under 2 KB.

use crate::admin::{self, AdminError};
use crate::batch::BatchJob;
use crate::clock::MissionClock;
use crate::descriptor::ScriptType;
use crate::encode::Writer;
use crate::export::XpubExport;
use crate::keys::{self, KeyError, KeyOrigin, NodeKeys, SealKey};
use crate::ledger::{self, Ledger};
use crate::link_challenge::{LINK_CHALLENGE_LEN, LinkChallenge};
use crate::persist::{self, REGISTRY_COPY, SignerLayout, StorageError};
use crate::recovery::{self, CHALLENGE_LEN};
use crate::registry::{Command, ParsedWallet, Registries, Registry, RegistryError};
use crate::wallet::{Network, WalletError};
use core::borrow::BorrowMut;
use hal::flash::{ErasedValue, NorFlash};
use hal::rng::TryCryptoRng;
use hal::time::Instant;
use store::{RecordStatus, RecordStore};
use zeroize::Zeroize;

/// Largest registry text.
pub const MAX_REGISTRY_TEXT: usize = REGISTRY_COPY as usize - 24;

/// Why the signer did not boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BootError {
    /// Keys could not be loaded or created.
    #[error("keys: {0}")]
    Keys(#[from] KeyError),
    /// Flash trouble.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The registry record verifies but does not parse.
    #[error("registry record does not parse: {0}")]
    RegistryCorrupt(RegistryError),
    /// The registry record is lost (both copies damaged).
    #[error("registry record lost")]
    RegistryLost,
    /// The ledger record is lost or does not decode.
    #[error("ledger record lost")]
    LedgerLost,
    /// A record is blank where it cannot be new (see [`Signer::boot_after`]): it was erased or
    /// worn out. Nothing is created in its place.
    #[error(
        "the {0} record is BLANK although {1}: it was lost (erased or worn out), not never used; nothing is created in its place"
    )]
    BlankAfterUse(&'static str, &'static str),
}

/// Why provisioning was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProvisionError {
    /// A registry already exists: changes need admin commands.
    #[error("already provisioned")]
    AlreadyProvisioned,
    /// The file was refused.
    #[error("{0}")]
    Registry(#[from] RegistryError),
    /// The registry does not fit its record.
    #[error("registry too large for its record")]
    TooLarge,
    /// Flash trouble.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

/// Why an export was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// No such server.
    #[error("unknown server")]
    UnknownServer,
    /// Derivation failed.
    #[error("{0}")]
    Wallet(#[from] WalletError),
}

/// The signer, on flash `F`, with its registries in `M` (owned by default; see the module docs).
pub struct Signer<F: NorFlash, M: BorrowMut<Registries> = Registries> {
    flash: F,
    registry_store: RecordStore,
    ledger_store: RecordStore,
    pub(crate) keys: NodeKeys,
    registries: M,
    pub(crate) ledger: Ledger,
    pub(crate) ledger_fault: bool,
    pub(crate) clock: MissionClock,
    provisioned: bool,
    /// The ledger was lost: this boot's challenge for [`crate::recovery`].
    recovery: Option<[u8; CHALLENGE_LEN]>,
    /// The challenge of the next comms link recovery ([`crate::link_challenge`]).
    link_challenge: LinkChallenge,
}

impl<F: NorFlash, M: BorrowMut<Registries>> core::fmt::Debug for Signer<F, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Signer")
            .field("identity", self.keys.identity())
            .field("provisioned", &self.provisioned)
            .finish_non_exhaustive()
    }
}

fn read_ledger<F: NorFlash>(flash: &mut F, store: &mut RecordStore) -> Result<Ledger, BootError> {
    match store.status() {
        RecordStatus::Blank | RecordStatus::Interrupted => Ok(Ledger::new()),
        RecordStatus::Lost => Err(BootError::LedgerLost),
        RecordStatus::Present { .. } => {
            let mut buf = [0u8; ledger::MAX_LEN];
            let n = store
                .read(flash, &mut buf)
                .map_err(|e| match StorageError::from(e) {
                    StorageError::TooLarge => BootError::LedgerLost,
                    other => BootError::Storage(other),
                })?
                .ok_or(BootError::LedgerLost)?;
            Ledger::decode(buf.get(..n).unwrap_or(&[])).map_err(|_| BootError::LedgerLost)
        }
    }
}

fn store_registry<F: NorFlash>(
    flash: &mut F,
    store: &mut RecordStore,
    reg: &Registry,
) -> Result<(), ProvisionError> {
    let mut buf = [0u8; MAX_REGISTRY_TEXT];
    let mut w = Writer::new(&mut buf);
    reg.write_text(&mut w)
        .map_err(|_| ProvisionError::TooLarge)?;
    let n = w.len();
    store
        .write_mirrored(flash, buf.get(..n).unwrap_or(&[]))
        .map_err(StorageError::from)?;
    Ok(())
}

/// Loads the stored registry into `reg` (in place); false if there is none yet.
fn load_registry<F: NorFlash>(
    flash: &mut F,
    store: &mut RecordStore,
    keys: &NodeKeys,
    reg: &mut Registry,
) -> Result<bool, BootError> {
    reg.clear();
    match store.status() {
        RecordStatus::Blank | RecordStatus::Interrupted => Ok(false),
        RecordStatus::Lost => Err(BootError::RegistryLost),
        RecordStatus::Present { .. } => {
            let mut buf = [0u8; MAX_REGISTRY_TEXT];
            let n = store
                .read(flash, &mut buf)
                .map_err(StorageError::from)?
                .ok_or(BootError::RegistryLost)?;
            let text = core::str::from_utf8(buf.get(..n).unwrap_or(&[])).map_err(|_| {
                BootError::RegistryCorrupt(RegistryError {
                    line: 0,
                    col: 0,
                    kind: crate::registry::RegistryErrorKind::BadCommand,
                })
            })?;
            reg.load_text(text, keys)
                .map_err(BootError::RegistryCorrupt)?;
            Ok(true)
        }
    }
}

impl<F: NorFlash> Signer<F> {
    /// Boots on `flash` with registries of its own: loads or creates the keys, loads the
    /// registry and the ledger. The signer is then about 290 KB: for host tools and tests; a
    /// partition uses [`Signer::boot_with`].
    pub fn boot<R: TryCryptoRng>(
        flash: F,
        layout: SignerLayout,
        seal: &SealKey,
        rng: &mut R,
    ) -> Result<(Self, KeyOrigin), BootError>
    where
        F: ErasedValue,
    {
        Signer::boot_with(flash, Registries::new(), layout, seal, rng)
    }
}

impl<F: NorFlash, M: BorrowMut<Registries>> Signer<F, M> {
    /// Boots on `flash` with the registries in `registries` (whatever they held is replaced):
    /// loads or creates the keys, loads the registry (in place) and the ledger.
    pub fn boot_with<R: TryCryptoRng>(
        flash: F,
        registries: M,
        layout: SignerLayout,
        seal: &SealKey,
        rng: &mut R,
    ) -> Result<(Self, KeyOrigin), BootError>
    where
        F: ErasedValue,
    {
        Self::boot_after(flash, registries, layout, seal, rng, false)
    }

    /// [`Signer::boot_with`] on a node that may have run before (`booted_before`, from the
    /// board's records on other devices). "Never used" is told from "lost" so that lost state
    /// is never silently replaced:
    ///
    /// - keys blank on a node that has booted before, or next to a registry or a ledger: lost
    ///   (keys are created at the signer's first boot), no new seed is created;
    /// - ledger blank next to a registry: lost (provisioning commits an empty ledger before the
    ///   registry), so certificate sequence floors are not reset to zero;
    /// - registry blank next to a ledger: lost (same reason).
    ///
    /// Each is [`BootError::BlankAfterUse`]: the signer does not start and its partition runs
    /// degraded, visible in the health report. A lost ledger can be recovered by the admins
    /// ([`Signer::boot_recovering`]); lost keys or a lost registry cannot (see
    /// [`crate::recovery`]).
    pub fn boot_after<R: TryCryptoRng>(
        flash: F,
        registries: M,
        layout: SignerLayout,
        seal: &SealKey,
        rng: &mut R,
        booted_before: bool,
    ) -> Result<(Self, KeyOrigin), BootError>
    where
        F: ErasedValue,
    {
        Self::boot_inner(flash, registries, layout, seal, rng, booted_before, false)
    }

    /// [`Signer::boot_after`], but a ledger lost next to its registry does not stop the boot:
    /// the signer starts with an empty ledger it does not trust, refuses every batch and every
    /// admin command but `recover-ledger`, and draws this boot's challenge
    /// ([`Signer::recovery_challenge`], [`crate::recovery`]). Nothing is written until the
    /// recovery is applied. Lost keys or a lost registry are refused as by `boot_after`.
    pub fn boot_recovering<R: TryCryptoRng>(
        flash: F,
        registries: M,
        layout: SignerLayout,
        seal: &SealKey,
        rng: &mut R,
        booted_before: bool,
    ) -> Result<(Self, KeyOrigin), BootError>
    where
        F: ErasedValue,
    {
        Self::boot_inner(flash, registries, layout, seal, rng, booted_before, true)
    }

    fn boot_inner<R: TryCryptoRng>(
        mut flash: F,
        mut registries: M,
        layout: SignerLayout,
        seal: &SealKey,
        rng: &mut R,
        booted_before: bool,
        recover_ledger: bool,
    ) -> Result<(Self, KeyOrigin), BootError>
    where
        F: ErasedValue,
    {
        let mut keys_store = persist::mount(&mut flash, layout.keys)?;
        let mut registry_store = persist::mount(&mut flash, layout.registry)?;
        let mut ledger_store = persist::mount(&mut flash, layout.ledger)?;
        let blank =
            |s: &RecordStore| matches!(s.status(), RecordStatus::Blank | RecordStatus::Interrupted);
        let (keys_blank, reg_blank, ledger_blank) = (
            blank(&keys_store),
            blank(&registry_store),
            blank(&ledger_store),
        );
        if keys_blank && booted_before {
            return Err(BootError::BlankAfterUse(
                "keys",
                "the node has booted before",
            ));
        }
        if keys_blank && !(reg_blank && ledger_blank) {
            return Err(BootError::BlankAfterUse(
                "keys",
                "the registry or ledger exists",
            ));
        }
        let ledger_lost = ledger_blank && !reg_blank;
        if ledger_lost && !recover_ledger {
            return Err(BootError::BlankAfterUse("ledger", "the registry exists"));
        }
        if reg_blank && !ledger_blank {
            return Err(BootError::BlankAfterUse(
                "registry",
                "the ledger exists (provisioning writes both)",
            ));
        }
        let (keys, origin) = keys::load_or_create(&mut flash, &mut keys_store, seal, rng)?;
        let regs = registries.borrow_mut();
        regs.split().1.clear();
        let provisioned = load_registry(&mut flash, &mut registry_store, &keys, regs.live_mut())?;
        let ledger = read_ledger(&mut flash, &mut ledger_store)?;
        let recovery = if ledger_lost {
            let mut c = [0u8; CHALLENGE_LEN];
            rng.try_fill_bytes(&mut c)
                .map_err(|_| BootError::Keys(KeyError::Rng))?;
            Some(c)
        } else {
            None
        };
        let mut seed = [0u8; 32];
        rng.try_fill_bytes(&mut seed)
            .map_err(|_| BootError::Keys(KeyError::Rng))?;
        let link_challenge = LinkChallenge::new(seed);
        seed.zeroize();
        log::info!(
            "signer: keys {}, registry with {} servers, ledger with {} servers",
            origin,
            regs.live().server_count(),
            ledger.servers().len()
        );
        Ok((
            Self {
                flash,
                registry_store,
                ledger_store,
                keys,
                registries,
                clock: MissionClock::resume(ledger.clock(), Instant::ZERO),
                ledger,
                ledger_fault: recovery.is_some(),
                provisioned,
                recovery,
                link_challenge,
            },
            origin,
        ))
    }

    /// Gives the flash back (to power-cycle it in tests, or hand it on).
    pub fn into_flash(self) -> F {
        self.flash
    }

    /// The identity public key (compressed SEC1 P-256).
    pub fn identity_public_key(&self) -> [u8; 33] {
        self.keys.identity().public_key()
    }

    /// The node id (first 8 bytes of SHA3-256 of the identity key) admin commands must name.
    pub fn node_id(&self) -> [u8; 8] {
        admin::node_id(&self.identity_public_key())
    }

    /// The (live) registry.
    pub fn registry(&self) -> &Registry {
        self.registries.borrow().live()
    }

    /// The live registry, the parsed-wallet slot and the keys, for a batch step.
    pub(crate) fn batch_parts(&mut self) -> (&Registry, &mut ParsedWallet, &NodeKeys) {
        let (registry, parsed) = self.registries.borrow_mut().live_and_parsed();
        (registry, parsed, &self.keys)
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// True once a registry exists.
    pub fn is_provisioned(&self) -> bool {
        self.provisioned
    }

    /// Loads the provisioning file (only while unprovisioned) and stores it. The file is
    /// parsed into the staging registry, which becomes live once it is on flash.
    pub fn provision(&mut self, text: &str) -> Result<(), ProvisionError> {
        if self.provisioned {
            return Err(ProvisionError::AlreadyProvisioned);
        }
        let (_, staging) = self.registries.borrow_mut().split();
        staging.load_text(text, &self.keys)?;
        // The ledger first: a registry on flash then always has a ledger beside it, so a blank
        // ledger next to a registry is a lost one (see `boot_after`).
        if matches!(
            self.ledger_store.status(),
            RecordStatus::Blank | RecordStatus::Interrupted
        ) {
            let mut buf = [0u8; ledger::MAX_LEN];
            let n = self.ledger.encode(&mut buf);
            self.ledger_store
                .write_mirrored(&mut self.flash, buf.get(..n).unwrap_or(&[]))
                .map_err(StorageError::from)?;
        }
        let (_, staging) = self.registries.borrow_mut().split();
        store_registry(&mut self.flash, &mut self.registry_store, staging)?;
        self.registries.borrow_mut().promote();
        self.provisioned = true;
        Ok(())
    }

    /// Authenticates and applies an admin command; the new registry is built in the staging
    /// registry and is on flash before it becomes live. See [`crate::admin`].
    pub fn admin(&mut self, command: &[u8]) -> Result<Command, AdminError> {
        if !self.provisioned {
            return Err(AdminError::NotEnoughSignatures { got: 0, needed: 0 });
        }
        if self.recovery.is_some() {
            return Err(AdminError::LedgerLost);
        }
        if admin::Envelope::parse(command).is_ok_and(|e| recovery::is_recovery(e.body)) {
            return Err(AdminError::NotRecovering);
        }
        let (live, next) = self.registries.borrow_mut().split();
        let cmd = admin::process(command, live, next, &self.keys)?;
        store_registry(&mut self.flash, &mut self.registry_store, next).map_err(|e| match e {
            ProvisionError::TooLarge => AdminError::TooLarge,
            _ => AdminError::Storage,
        })?;
        log::info!("admin: {cmd} (counter {})", next.admin_counter());
        self.registries.borrow_mut().promote();
        Ok(cmd)
    }

    /// This boot's recovery challenge while the ledger is lost ([`Signer::boot_recovering`]);
    /// `None` when the ledger is in order.
    pub fn recovery_challenge(&self) -> Option<[u8; CHALLENGE_LEN]> {
        self.recovery
    }

    /// The challenge a comms link recovery must answer now ([`crate::link_challenge`]).
    pub fn link_recovery_challenge(&self) -> [u8; LINK_CHALLENGE_LEN] {
        self.link_challenge.current()
    }

    /// Checks an admin envelope as every admin command is checked (node, counter above the
    /// registry's, M-of-N signatures of the registry's admins) and returns its body, changing
    /// nothing: for the verify-only `recover-link` (the caller checks the body and the
    /// challenge, then calls [`Signer::link_recovery_used`]).
    pub fn authenticate_admin<'a>(&self, command: &'a [u8]) -> Result<&'a str, AdminError> {
        if !self.provisioned {
            return Err(AdminError::NotEnoughSignatures { got: 0, needed: 0 });
        }
        let identity = self.identity_public_key();
        Ok(admin::authenticate(command, self.registry(), None, &identity)?.body)
    }

    /// A `recover-link` answered the current link challenge: the next one differs.
    pub fn link_recovery_used(&mut self) {
        self.link_challenge.used();
    }

    /// Applies an authenticated `recover-ledger` ([`crate::recovery`]): checked like every
    /// admin command (node, counter, M-of-N of the registry's admins) and against this boot's
    /// challenge, then the new ledger is written before it is used. Returns the floor set.
    pub fn recover(&mut self, command: &[u8]) -> Result<u64, AdminError> {
        let Some(challenge) = self.recovery else {
            return Err(AdminError::NotRecovering);
        };
        let identity = self.identity_public_key();
        let r = recovery::check(command, self.registry(), &identity, &challenge)?;
        let next = recovery::ledger(&r, self.registry().servers().map(|s| s.id))?;
        let mut buf = [0u8; ledger::MAX_LEN];
        let n = next.encode(&mut buf);
        self.ledger_store
            .write_mirrored(&mut self.flash, buf.get(..n).unwrap_or(&[]))
            .map_err(|_| AdminError::Storage)?;
        self.ledger = next;
        self.ledger_fault = false;
        self.recovery = None;
        log::info!(
            "ledger recovered: {} servers at sequence floor {}; mission time comes back with the next time correlation",
            self.ledger.servers().len(),
            r.floor
        );
        Ok(r.floor)
    }

    /// A registered server's account xpub, signed by the identity key.
    pub fn export_server_xpub(&self, server_id: u32) -> Result<XpubExport, ExportError> {
        let s = self
            .registry()
            .server(server_id)
            .ok_or(ExportError::UnknownServer)?;
        Ok(XpubExport::make(
            &self.keys,
            server_id,
            s.network,
            s.script_type,
            s.account,
        )?)
    }

    /// An account xpub by path (before the server exists, to build its descriptor), signed.
    pub fn export_account_xpub(
        &self,
        network: Network,
        script_type: ScriptType,
        account: u32,
    ) -> Result<XpubExport, ExportError> {
        Ok(XpubExport::make(
            &self.keys,
            0,
            network,
            script_type,
            account,
        )?)
    }

    /// Starts a batch (`batch`: certificate then length-prefixed PSBTs, see
    /// [`crate::batch::framing`]) at board instant `now` (its certificate's expiry is checked on
    /// the mission clock at `now`). Nothing happens until stepped.
    pub fn begin_batch<'b>(&self, batch: &'b [u8], now: Instant) -> BatchJob<'b> {
        BatchJob::new(batch, now)
    }

    /// The mission clock ([`crate::clock`]).
    pub fn mission_clock(&self) -> &MissionClock {
        &self.clock
    }

    /// Resumes the mission clock from the ledger's record at board instant `now`. A partition
    /// calls it once after boot with its first reading of the board clock (until then the clock
    /// counts from power-on, a lower bound after a reset but ahead after a restart of the
    /// component alone).
    pub fn resume_clock(&mut self, now: Instant) {
        self.clock = MissionClock::resume(self.ledger.clock(), now);
    }

    /// Writes the clock's high-water mark at `now` to flash (see
    /// [`crate::clock::PERSIST_INTERVAL_MS`]). Nothing is written before provisioning: a ledger
    /// then would make a blank registry look lost ([`Signer::boot_after`]).
    pub fn persist_clock(&mut self, now: Instant) -> Result<(), StorageError> {
        if !self.provisioned || self.ledger_fault {
            return Ok(());
        }
        let next = self.ledger.with_clock(self.clock.record(now));
        self.commit_ledger(next)
    }

    /// [`Signer::admin`], or, for a time-correlation body ([`crate::admin::time_body`]), the
    /// same authentication and then the mission clock moved to the ground's time at `now`, its
    /// record on flash first: `Ok(Command::Correlate(ms))`.
    pub fn admin_at(&mut self, command: &[u8], now: Instant) -> Result<Command, AdminError> {
        let env = admin::Envelope::parse(command)?;
        let Some(ground_ms) = admin::time_body(env.body) else {
            return self.admin(command);
        };
        if !self.provisioned {
            return Err(AdminError::NotEnoughSignatures { got: 0, needed: 0 });
        }
        if self.ledger_fault {
            return Err(AdminError::Storage);
        }
        let identity = self.identity_public_key();
        admin::authenticate(command, self.registry(), None, &identity)?;
        let next = self.clock.correlated(ground_ms, now)?;
        self.commit_ledger(self.ledger.with_clock(next.record(now)))
            .map_err(|_| AdminError::Storage)?;
        self.clock = next;
        log::info!("mission time correlated to {ground_ms} ms");
        Ok(Command::Correlate(ground_ms))
    }

    pub(crate) fn commit_ledger(&mut self, next: Ledger) -> Result<(), StorageError> {
        let mut buf = [0u8; ledger::MAX_LEN];
        let n = next.encode(&mut buf);
        match self
            .ledger_store
            .write_mirrored(&mut self.flash, buf.get(..n).unwrap_or(&[]))
        {
            Ok(_) => {
                self.ledger = next;
                Ok(())
            }
            Err(e) => {
                let err = StorageError::from(e);
                match read_ledger(&mut self.flash, &mut self.ledger_store) {
                    Ok(l) => self.ledger = l,
                    Err(_) => self.ledger_fault = true,
                }
                Err(err)
            }
        }
    }
}
