//! The uplink side of `spacenode server`: one thread that owns the node session and, each pass,
//! (1) fetches and verifies the node's key export until it has it, and the export of each
//! user's own account the database has no key for yet (stored once verified), (2) expires unconfirmed
//! requests, (3) sends again a batch that went up before a restart and has no outcome, else
//! (4) inside a contact window (or at once), takes the queued requests as one batch, records
//! it whole in the database, and uplinks it through [`crate::ground::sign::sign_batch`] (the
//! library `ground sign` uses).
//!
//! Outcomes: co-signed, each request gets its PSBT; refused naming one PSBT, that request is
//! refused with the signer's reason in words and the others are queued again; refused because
//! the certificate expired (a batch sent again after a long stop), its requests are queued
//! again; refused for the whole batch otherwise (server revoked, ...), every request of it is
//! refused with the reason;
//! the node unreachable or the transfer failing, the batch stays recorded and the same file
//! goes up again next pass (an exact resubmission: the signer answers it byte for byte).
//!
//! Several instances of one server (one PostgreSQL database, one ground station): a pass
//! works only while holding both the ground state directory's lock and the database's lock on
//! this server's link ([`Store::try_lock_link`]), and reads what is in flight again under
//! them, so a batch goes up from one instance at a time and a closed batch is not sent again.
//!
//! Avoids: a second batch in flight (only the server's last batch can be resubmitted), and
//! losing requests to a crash (the batch file is in the database before anything is sent).

use super::State;
use super::config::Window;
use super::store::{Store, StoreError};
use crate::ground::batch;
use crate::ground::serial_link::LinkChoice;
use crate::ground::session::{Session, SessionConfig};
use crate::ground::sign::{self, SignError, Uplink};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Room kept in the batch file for the certificate and framing.
const OVERHEAD: usize = 8 * 1024;

/// TM frames' time an attempt waits at least on the CCSDS radio: the answer's own frame, one
/// frame already on the air ahead of it, the node's frame carrying the CLCW, and the
/// telecommand's way up. Measured at 16 kbit/s (0.56 s a frame): a ping's answer took
/// 1.8-2.6 s, 3.2-4.6 frames.
const ANSWER_FRAMES: u32 = 5;
/// The shortest attempt: on a fast radio the node's scheduling, not the link, sets the time.
const MIN_ATTEMPT: Duration = Duration::from_secs(2);

/// How long one attempt of a telecommand waits for its answer on `link` at `radio_kbps`:
/// [`ANSWER_FRAMES`] fixed-length TM frames (with the attached sync marker) on the CCSDS radio,
/// never less than [`MIN_ATTEMPT`]. An attempt shorter than the round trip sends the command
/// again before its answer can arrive, and every copy draws its own answer on the downlink.
pub fn attempt_wait(link: &LinkChoice, radio_kbps: u64) -> Duration {
    let frames = match link {
        LinkChoice::Ccsds(c) => match c.link {
            runtime::RadioLink::Ccsds(l) => {
                let frame_bits =
                    (u64::from(l.tm_frame_length) + spacelink::sync::ASM.len() as u64) * 8;
                // kbit/s is bits per millisecond.
                Duration::from_millis(
                    (u64::from(ANSWER_FRAMES) * frame_bits).div_ceil(radio_kbps.max(1)),
                )
            }
            runtime::RadioLink::Units => Duration::ZERO,
        },
        LinkChoice::Units | LinkChoice::Serial { .. } => Duration::ZERO,
    };
    frames.max(MIN_ATTEMPT)
}

/// What the node's export says, as `GET /v1/node` hands it out.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// `testnet`, ...
    pub network: String,
    /// `[fp/48h/1h/Nh/2h]tpub...`.
    pub node_key: String,
    /// The signed export, hex.
    pub export_hex: String,
    /// `wsh` or `sh-wsh`: the script type of the server's own wallet (users' own wallets get
    /// their account keys for the same one).
    pub script: String,
    /// The node's BIP-48 account in the server's own wallet.
    pub account: u32,
}

struct Uplinker {
    state: Arc<State>,
    store: Store,
    key: p256::SecretKey,
    identity: [u8; 33],
    windows: Vec<Window>,
}

/// The ground station's link for one pass: the lock on the ground state directory (several
/// servers of one ground station take turns on its radio) and the session under it.
pub struct Link {
    /// The session with the node.
    pub session: Session,
    _lock: std::fs::File,
}

/// The ground station's link for the node of `cfg`: its lock on the ground state directory
/// (`None` at once while another process holds it), then the session under it.
pub fn open_link(cfg: &super::config::ServerConfig) -> Result<Option<Link>, String> {
    let n = &cfg.node;
    let dir = n
        .state
        .clone()
        .unwrap_or_else(crate::ground::default_state_dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("ground state {}: {e}", dir.display()))?;
    let path = dir.join("link.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    let provisioning = match &n.provisioning {
        Some(p) => {
            std::fs::read(p).map_err(|e| format!("provisioning file {}: {e}", p.display()))?
        }
        None => comms::sdls::sim_default::sim_default_bytes()
            .map_err(|e| e.to_string())?
            .to_vec(),
    };
    let link = LinkChoice::radio()?;
    let session_cfg = SessionConfig {
        node: n.uplink.unwrap_or(([127, 0, 0, 1], 47101).into()),
        listen: n.listen.unwrap_or(([127, 0, 0, 1], 47100).into()),
        state_dir: dir,
        provisioning,
        spi: n.spi.unwrap_or(comms::sdls::sim_default::SIM_OPS_SPI),
        timeout: attempt_wait(&link, cfg.radio_kbps),
        attempts: 8,
        link,
    };
    let session = Session::open(session_cfg).map_err(|e| e.to_string())?;
    Ok(Some(Link {
        session,
        _lock: lock,
    }))
}

/// Runs the batcher until `state.stop` is set.
pub fn run(state: Arc<State>, store: Store, key: p256::SecretKey, identity: [u8; 33]) {
    let windows = state.cfg.windows();
    let mut u = Uplinker {
        state,
        store,
        key,
        identity,
        windows,
    };
    let poll = Duration::from_millis(u.state.cfg.batch.poll_ms.max(10));
    while !u.state.stop.load(Ordering::Relaxed) {
        if let Err(e) = u.pass() {
            tracing::warn!(error = %e, "batch pass");
        }
        std::thread::sleep(poll);
    }
}

/// A pass's failure (the next pass tries again).
#[derive(Debug, thiserror::Error)]
enum PassError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Link(String),
}

/// A command-line failure's sentence (for the log).
fn words(f: crate::failure::Failure) -> String {
    match f {
        crate::failure::Failure::Rejected(t) | crate::failure::Failure::Usage(t) => {
            t.trim_end().to_string()
        }
    }
}

impl Uplinker {
    /// The link, or `None` while another server of this ground station holds it.
    fn link(&self) -> Result<Option<Link>, PassError> {
        open_link(&self.state.cfg).map_err(PassError::Link)
    }

    fn state_dir(&self) -> std::path::PathBuf {
        self.state
            .cfg
            .node
            .state
            .clone()
            .unwrap_or_else(crate::ground::default_state_dir)
    }

    fn pass(&mut self) -> Result<(), PassError> {
        self.store.expire_due()?;
        let state = Arc::clone(&self.state);
        if let Some(b) = &state.cfg.broadcast {
            self.broadcast(b)?;
        }
        let need_node = self.state.node.read().map(|n| n.is_none()).unwrap_or(true)
            || !self.store.accounts_without_key()?.is_empty();
        if !need_node && self.store.in_flight()?.is_none() && !self.batch_due()? {
            return Ok(());
        }
        let Some(mut link) = self.link()? else {
            tracing::debug!("the link is in use by another server; next pass");
            return Ok(());
        };
        let id = self.state.cfg.server_id();
        if !self.store.try_lock_link(id)? {
            tracing::debug!("another instance of this server holds its node link; next pass");
            return Ok(());
        }
        let done = self.pass_locked(&mut link, need_node);
        let unlocked = self.store.unlock_link(id);
        done?;
        Ok(unlocked?)
    }

    /// Hands off the co-signed requests due to Bitcoin Core, under the database's lock on this
    /// server (so instances sharing a database do not send one transaction twice).
    fn broadcast(&mut self, cfg: &super::broadcast::BroadcastConfig) -> Result<(), PassError> {
        let id = self.state.cfg.server_id();
        if !self.store.try_lock_link(id)? {
            return Ok(());
        }
        let done = super::broadcast::pass(cfg, &mut self.store);
        self.store.unlock_link(id)?;
        done?;
        Ok(())
    }

    /// Whether a batch should be taken now: requests are queued and a window is open.
    fn batch_due(&mut self) -> Result<bool, PassError> {
        let minute = (super::store::now().max(0) as u64 / 60 % 1440) as u32;
        let open = self.windows.is_empty() || self.windows.iter().any(|w| w.contains(minute));
        Ok(open && self.store.has_queued()?)
    }

    /// The pass's work, holding the link. What is in flight is read again under the lock:
    /// another instance may have closed it (or taken the queue) while this one waited.
    fn pass_locked(&mut self, link: &mut Link, need_node: bool) -> Result<(), PassError> {
        // Without the node's key no wallet can register, but confirmed requests still go up.
        if need_node && let Err(e) = self.fetch_node(&mut link.session) {
            tracing::warn!(error = %e, "the node's key export");
        }
        if let Some((sequence, file)) = self.store.in_flight()? {
            tracing::info!(sequence, "sending again the batch that had no outcome");
            return self.deliver(&mut link.session, sequence, &file);
        }
        if !self.batch_due()? {
            return Ok(());
        }
        let max = signer_partition::MAX_BATCH - OVERHEAD;
        match self.take(max)? {
            Some((sequence, file)) => self.deliver(&mut link.session, sequence, &file),
            None => Ok(()),
        }
    }

    fn fetch_node(&mut self, s: &mut Session) -> Result<(), PassError> {
        let (id, identity) = (self.state.cfg.server_id(), self.identity);
        let (bytes, view) = crate::ground::admin::server_export(s, id, &identity, 8, &mut |l| {
            tracing::info!("{l}")
        })
        .map_err(|f| PassError::Link(format!("node key export: {}", words(f))))?;
        tracing::info!(key = %view.key, network = view.network, "node key export verified");
        let info = NodeInfo {
            network: view.network.to_string(),
            node_key: view.key,
            export_hex: hex_conservative::DisplayHex::to_lower_hex_string(&bytes[..]),
            script: view.script.to_string(),
            account: view.account,
        };
        for account in self.store.accounts_without_key()? {
            let (bytes, user) = crate::ground::admin::account_export(
                s,
                &info.network,
                &info.script,
                account,
                &identity,
                &mut |l| tracing::info!("{l}"),
            )
            .map_err(|f| PassError::Link(format!("account {account} key export: {}", words(f))))?;
            let hex = hex_conservative::DisplayHex::to_lower_hex_string(&bytes[..]);
            self.store.add_node_key(account, &user.key, &hex)?;
            tracing::info!(account, key = %user.key, "a user's account key export verified");
        }
        if let Ok(mut n) = self.state.node.write() {
            *n = Some(info);
        }
        Ok(())
    }

    /// Takes the queued requests as one batch, recorded before it goes up.
    fn take(&mut self, max_bytes: usize) -> Result<Option<(i64, Vec<u8>)>, PassError> {
        let cfg = &self.state.cfg;
        let (server, lifetime) = (cfg.server_id(), cfg.batch.lifetime_s);
        let expiry = if lifetime == 0 {
            signer::cert::NO_EXPIRY
        } else {
            crate::ground::expiry::ground_now_ms()
                .map_err(|f| PassError::Link(words(f)))?
                .saturating_add(lifetime.saturating_mul(1000))
        };
        let state_dir = self.state_dir();
        let key = self.key.clone();
        let built =
            self.store
                .take_batch(max_bytes, signer::cert::MAX_PSBTS, |psbts, db_last| {
                    // Above both this ground's record and every batch in the database (another
                    // instance of this server may have used sequences this ground never saw).
                    let (_, ground_last) =
                        batch::last_sequence(&state_dir, server).map_err(|e| e.to_string())?;
                    if db_last.max(0) as u64 > ground_last {
                        batch::set_next_sequence(&state_dir, server, db_last as u64 + 1)
                            .map_err(|e| e.to_string())?;
                    }
                    let sequence =
                        batch::next_sequence(&state_dir, server).map_err(|e| e.to_string())?;
                    let file = batch::build_batch(&key, server, sequence, expiry, psbts)
                        .map_err(|e| e.to_string())?;
                    Ok((sequence as i64, file))
                })?;
        match built {
            Ok(b) => Ok(b),
            Err(e) => Err(PassError::Link(format!("building the batch: {e}"))),
        }
    }

    fn deliver(&mut self, s: &mut Session, sequence: i64, file: &[u8]) -> Result<(), PassError> {
        let names = self.store.batch_requests(sequence)?;
        let uplink = Uplink {
            names,
            timeout: sign::DEFAULT_TIMEOUT,
            // Paced to the radio: unpaced, a burst of PDUs queues on a slow uplink while the
            // node's NAK timer asks for them again.
            rate_bps: Some(self.state.cfg.radio_kbps.saturating_mul(1000)),
        };
        let state_dir = self.state_dir();
        let mut show = |p: &sign::Progress| tracing::info!(sequence, "{}", p.line());
        match sign::sign_batch(s, &state_dir, file, &uplink, &mut show) {
            Ok(o) if o.signed.len() == uplink.names.len() => {
                tracing::info!(sequence, psbts = o.signed.len(), "{o}");
                self.store.batch_cosigned(sequence, &o.signed)?;
                Ok(())
            }
            Ok(o) => Err(PassError::Link(format!(
                "the result of batch {sequence} holds {} PSBTs for {} requests; sending it again",
                o.signed.len(),
                uplink.names.len()
            ))),
            // The certificate expired (a batch sent again after a long stop): nothing wrong
            // with the requests; they go up again in a new batch.
            Err(SignError::Refused {
                class: 1, code: 7, ..
            }) => {
                tracing::warn!(
                    sequence,
                    "batch certificate expired before the node took it; its requests go into a new batch"
                );
                self.store.batch_requeued(sequence)?;
                Ok(())
            }
            Err(SignError::Refused { reason, psbt, .. }) => {
                tracing::warn!(sequence, %reason, "batch refused");
                self.store.batch_refused(sequence, psbt, &reason)?;
                Ok(())
            }
            // The link failed: the batch stays recorded and goes up again next pass.
            Err(e) => Err(PassError::Link(format!("batch {sequence}: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_outlasts_a_ping_s_round_trip_on_a_slow_radio() {
        let link = LinkChoice::radio().expect("the shipped radio");
        let LinkChoice::Ccsds(c) = &link else {
            panic!("the shipped description's radio is the CCSDS link")
        };
        let runtime::RadioLink::Ccsds(l) = c.link else {
            panic!("CCSDS parameters")
        };
        // 16 kbit/s: 5 frames of 1,119 bytes, 2.8 s: above the slowest ping measured there
        // (2.6 s); the former fixed 2 s was below it.
        let wait = attempt_wait(&link, 16);
        let frame_ms = (u64::from(l.tm_frame_length) + 4) * 8 / 16;
        assert!(wait >= Duration::from_millis(5 * frame_ms), "{wait:?}");
        assert!(wait > Duration::from_millis(2_600), "{wait:?}");
        // A fast radio, or one without fixed frames: the floor.
        assert_eq!(attempt_wait(&link, 1000), MIN_ATTEMPT);
        assert_eq!(attempt_wait(&LinkChoice::Units, 16), MIN_ATTEMPT);
    }
}
