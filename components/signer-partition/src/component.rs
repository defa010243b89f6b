//! [`SignerPd`]: the signer's [`Component`] (see the crate docs for the whole flow).
//!
//! Capabilities it takes: `key-flash` and `rng` (devices), `sign-requests` and
//! `admin-requests` (receive), `sign-responses` and `admin-responses` (send). Its ping channel
//! is the runtime's.
//!
//! Avoids: more than one step of signing work per handler call, and blocking on a full ring.

use crate::arena::BatchArena;
use crate::inbox;
use crate::outbox::{Flush, Outbox};
use crate::reassembly::{self, Assembly, Chunk, ChunkError, Stored};
use crate::statics::{self, OUT_LEN};
use hal::time::Instant;
use ipc::{RecvError, SendError};
use protocol::{
    AdminRequest, AdminResponse, BoundedBytes, CHUNK_MAX, ChunkPosition, SignRejection,
    SignRequest, SignResponse, SignStatus,
};
use runtime::{CapSet, Component, Context, Drivers, InitError, NotifySet, Rx, Tx};
use signer::batch::Step;
use signer::batch::receipt::{ErrorClass, RECEIPT_LEN, Receipt};
use signer::clock::PERSIST_INTERVAL_MS;
use signer::keys::SealKey;
use signer::node::Signer;
use signer::persist::SignerLayout;
use signer::registry::Registries;
use zeroize::Zeroize;

/// Most request messages handled per handler call (the rest on the next tick).
const RECV_PER_CALL: usize = 32;
/// Retry delay when the response ring is full.
const RETRY_US: u64 = 1_000;

/// The coarse protocol reason for a refused batch's receipt (the receipt, sent along, has the
/// exact class and code).
pub fn rejection_of(receipt: &Receipt) -> SignRejection {
    const CERT: u8 = ErrorClass::Certificate as u8;
    const FRAMING: u8 = ErrorClass::Framing as u8;
    const PSBT: u8 = ErrorClass::Psbt as u8;
    const WALLET: u8 = ErrorClass::Wallet as u8;
    const POLICY: u8 = ErrorClass::Policy as u8;
    match (receipt.class(), receipt.code()) {
        (CERT, 6) => SignRejection::Replay,
        (CERT, 1) | (FRAMING, _) | (PSBT, _) => SignRejection::Malformed,
        (CERT, _) => SignRejection::BadCertificate,
        (WALLET, _) | (POLICY, _) => SignRejection::PolicyViolation,
        _ => SignRejection::Internal,
    }
}

#[derive(Debug, Clone, Copy)]
enum Pending {
    /// Nothing to send: step the job.
    Step,
    /// `out[..len]` (length prefix and signed PSBT) is being streamed.
    Psbt(usize),
    /// The receipt of a signed batch is being streamed (last).
    Receipt(Receipt),
    /// A refusal is to be sent.
    Rejected(Receipt),
}

#[derive(Debug)]
struct Current {
    outbox: Outbox,
    pending: Pending,
}

/// The signer core as the partition holds it: its registries in static memory.
pub type PdSigner<B> = Signer<<B as Drivers>::Flash, &'static mut Registries>;

/// The signer component, generic over the board's drivers.
pub struct SignerPd<B: Drivers> {
    signer: PdSigner<B>,
    requests: Rx<SignRequest>,
    responses: Tx<SignResponse>,
    admin_requests: Rx<AdminRequest>,
    admin_responses: Tx<AdminResponse>,
    /// An admin answer the full response ring could not take yet (no request is read until it
    /// has gone out).
    admin_unsent: Option<AdminResponse>,
    arena: BatchArena,
    out: &'static mut [u8; OUT_LEN],
    chunk: &'static mut [u8; CHUNK_MAX],
    assembly: Option<Assembly>,
    current: Option<Current>,
    /// When the mission clock's high-water mark is next written to flash.
    next_persist: Instant,
}

impl<B: Drivers> core::fmt::Debug for SignerPd<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SignerPd")
            .field("signer", &self.signer)
            .field("assembly", &self.assembly)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

fn send_or_full(tx: &mut Tx<SignResponse>, msg: &SignResponse) -> bool {
    match tx.try_send(msg) {
        Ok(()) | Err(SendError::Notify(_)) => true,
        Err(SendError::Full) => false,
        Err(e) => {
            log::error!("sign-responses: {e}; response dropped");
            true
        }
    }
}

fn reply(
    batch_id: u64,
    request_id: u32,
    position: ChunkPosition,
    status: SignStatus,
    data: &[u8],
) -> SignResponse {
    SignResponse {
        batch_id,
        request_id,
        position,
        status,
        data: BoundedBytes::new(data).unwrap_or_default(),
    }
}

fn after(now: Instant, us: u64) -> Instant {
    Instant::from_micros(now.as_micros().saturating_add(us))
}

impl<B: Drivers> SignerPd<B> {
    /// The signer inside (for board-level inspection in tests).
    pub fn signer(&self) -> &PdSigner<B> {
        &self.signer
    }

    fn drain_requests(&mut self, cx: &mut Context) {
        for _ in 0..RECV_PER_CALL {
            let busy = self.current.is_some();
            let arena = &mut self.arena;
            let assembly = &mut self.assembly;
            let got = self.requests.try_recv(|m| {
                let chunk = Chunk {
                    batch_id: m.batch_id.to_native(),
                    request_id: m.request_id.to_native(),
                    index: m.position.index.to_native(),
                    count: m.position.count.to_native(),
                    offset: m.position.offset.to_native(),
                    total_len: m.position.total_len.to_native(),
                    data: m.data.as_slice(),
                };
                let outcome = match (busy, arena.bytes_mut()) {
                    (false, Some(buf)) => reassembly::store(assembly, buf, &chunk),
                    _ => Err(ChunkError::Busy),
                };
                let position = ChunkPosition {
                    index: chunk.index,
                    count: chunk.count,
                    offset: chunk.offset,
                    total_len: chunk.total_len,
                };
                (chunk.batch_id, chunk.request_id, position, outcome)
            });
            match got {
                Ok((batch_id, request_id, position, outcome)) => {
                    cx.count_in(1);
                    self.on_chunk(cx, batch_id, request_id, position, outcome);
                }
                Err(RecvError::Empty) => return,
                Err(RecvError::Malformed) => {
                    cx.count_malformed(1);
                    log::warn!("sign-requests: malformed message dropped");
                }
                Err(RecvError::PeerCorrupt(i)) => {
                    cx.count_malformed(1);
                    log::error!("sign-requests: the sender corrupted the ring (index {i})");
                    return;
                }
            }
        }
        // More may be waiting: come back after the pings.
        cx.wake_at(cx.now());
    }

    fn on_chunk(
        &mut self,
        cx: &mut Context,
        batch_id: u64,
        request_id: u32,
        position: ChunkPosition,
        outcome: Result<Stored, ChunkError>,
    ) {
        let status = match outcome {
            Ok(Stored::More) => SignStatus::Accepted,
            Ok(Stored::Complete(len)) => {
                if self.arena.start(len, &self.signer, cx.now()) {
                    log::info!("batch {batch_id:#x}: {len} bytes received, signing");
                    self.current = Some(Current {
                        outbox: Outbox::new(batch_id, request_id),
                        pending: Pending::Step,
                    });
                    cx.wake_at(cx.now());
                }
                SignStatus::Accepted
            }
            Err(ChunkError::Busy) => SignStatus::Rejected {
                reason: SignRejection::Busy,
            },
            Err(ChunkError::BadChunking) => {
                log::warn!(
                    "batch {batch_id:#x}: bad chunking at chunk {}",
                    position.index
                );
                SignStatus::Rejected {
                    reason: SignRejection::BadChunking,
                }
            }
        };
        let msg = reply(batch_id, request_id, position, status, &[]);
        if send_or_full(&mut self.responses, &msg) {
            cx.count_out(1);
        } else {
            log::warn!("batch {batch_id:#x}: sign-responses full, acknowledgement dropped");
        }
    }

    /// At most one admin request per call, and only between batches (see [`crate::admin`]).
    fn serve_admin(&mut self, cx: &mut Context) {
        if let Some(msg) = self.admin_unsent.take() {
            match self.admin_responses.try_send(&msg) {
                Ok(()) | Err(SendError::Notify(_)) => cx.count_out(1),
                Err(SendError::Full) => {
                    self.admin_unsent = Some(msg);
                    cx.wake_at(after(cx.now(), RETRY_US));
                    return;
                }
                Err(e) => log::error!("admin-responses: {e}; answer dropped"),
            }
        }
        if self.current.is_some() {
            return;
        }
        let signer = &mut self.signer;
        let now = cx.now();
        let got = self.admin_requests.try_recv(|m| AdminResponse {
            request_id: m.request_id.to_native(),
            outcome: crate::admin::handle(signer, &m.op, now),
        });
        cx.set_degraded(self.signer.recovery_challenge().is_some());
        match got {
            Ok(answer) => {
                cx.count_in(1);
                self.admin_unsent = Some(answer);
                // Send it, and look for the next request, on the next call.
                cx.wake_at(cx.now());
            }
            Err(RecvError::Empty) => {}
            Err(RecvError::Malformed) => {
                cx.count_malformed(1);
                log::warn!("admin-requests: malformed message dropped");
            }
            Err(RecvError::PeerCorrupt(i)) => {
                cx.count_malformed(1);
                log::error!("admin-requests: the sender corrupted the ring (index {i})");
            }
        }
    }

    /// Writes the mission clock's high-water mark every [`PERSIST_INTERVAL_MS`] (also between
    /// batches only, like admin work), and asks to be woken for the next one.
    fn keep_clock(&mut self, cx: &mut Context) {
        let now = cx.now();
        if self.current.is_none() && now >= self.next_persist {
            if let Err(e) = self.signer.persist_clock(now) {
                log::error!("mission clock mark not written: {e}; a reset now loses more time");
            }
            self.next_persist = after(now, PERSIST_INTERVAL_MS * 1000);
        }
        if cx.pending_wake().is_none_or(|t| t > self.next_persist) {
            cx.wake_at(self.next_persist);
        }
    }

    /// One unit of batch work: one flush, or one job step.
    fn work(&mut self, cx: &mut Context) {
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        let tx = &mut self.responses;
        let mut sent = 0u32;
        let mut send = |m: &SignResponse| {
            let ok = send_or_full(tx, m);
            sent += u32::from(ok);
            ok
        };
        let (full, finished) = match cur.pending {
            Pending::Step => {
                let body = self.out.get_mut(4..).unwrap_or(&mut []);
                match self.arena.step(&mut self.signer, body) {
                    None | Some(Step::Working) => {}
                    Some(Step::Psbt { len, .. }) => {
                        let prefix = (len as u32).to_be_bytes();
                        if let Some(p) = self.out.get_mut(..4) {
                            p.copy_from_slice(&prefix);
                        }
                        cur.pending = Pending::Psbt(len + 4);
                    }
                    Some(Step::Done(r)) if r.is_signed() => cur.pending = Pending::Receipt(r),
                    Some(Step::Done(r)) => cur.pending = Pending::Rejected(r),
                }
                (false, false)
            }
            Pending::Psbt(len) => {
                let src = self.out.get(..len).unwrap_or(&[]);
                match cur.outbox.flush(self.chunk, src, false, &mut send) {
                    Flush::Full => (true, false),
                    Flush::Drained => {
                        cur.pending = Pending::Step;
                        (false, false)
                    }
                }
            }
            Pending::Receipt(r) => {
                match cur.outbox.flush(self.chunk, r.as_bytes(), true, &mut send) {
                    Flush::Full => (true, false),
                    Flush::Drained => (false, true),
                }
            }
            Pending::Rejected(r) => {
                let msg = reply(
                    0,
                    0,
                    ChunkPosition {
                        index: 0,
                        count: 1,
                        offset: 0,
                        total_len: RECEIPT_LEN as u32,
                    },
                    SignStatus::Rejected {
                        reason: rejection_of(&r),
                    },
                    r.as_bytes(),
                );
                let msg = SignResponse {
                    batch_id: cur.outbox.batch_id(),
                    request_id: cur.outbox.request_id(),
                    ..msg
                };
                if send(&msg) {
                    (false, true)
                } else {
                    (true, false)
                }
            }
        };
        cx.count_out(sent);
        if finished {
            log::info!(
                "batch {:#x}: answered ({} signed bytes)",
                cur.outbox.batch_id(),
                cur.outbox.sent()
            );
            self.current = None;
            self.arena.finish();
        } else if full {
            cx.wake_at(after(cx.now(), RETRY_US));
        } else {
            cx.wake_at(cx.now());
        }
    }
}

impl<B: Drivers> Component for SignerPd<B> {
    fn init(caps: &mut CapSet, cx: &mut Context) -> Result<Self, InitError> {
        let flash_dev = caps.device("key-flash")?;
        let rng_dev = caps.device("rng")?;
        let requests = caps.receiver::<SignRequest>("sign-requests")?.0;
        let responses = caps.sender::<SignResponse>("sign-responses")?;
        let admin_requests = caps.receiver::<AdminRequest>("admin-requests")?.0;
        let admin_responses = caps.sender::<AdminResponse>("admin-responses")?;
        let mut secret = B::seal_secret(&flash_dev).map_err(|e| {
            log::error!("{e}");
            InitError::Component("no sealing secret for the key flash")
        })?;
        let seal = SealKey::new(secret);
        secret.zeroize();
        let mut flash = B::flash(flash_dev).map_err(|e| {
            log::error!("{e}");
            InitError::Component("key flash unavailable")
        })?;
        let mut rng = B::rng(rng_dev).map_err(|e| {
            log::error!("{e}");
            InitError::Component("rng unavailable")
        })?;
        let taken = |e: statics::AlreadyTaken| {
            log::error!("{e}");
            InitError::Component("static memory already taken")
        };
        let registries = statics::take_registries().map_err(taken)?;
        let arena = BatchArena::take().map_err(taken)?;
        let out = statics::take_out().map_err(taken)?;
        let chunk = statics::take_chunk().map_err(taken)?;
        let text_buf = statics::take_inbox_text().map_err(taken)?;
        let inbox_text = match inbox::read(&mut flash, text_buf) {
            Ok(t) => t,
            Err(e) => {
                log::error!("{e}; booting without it");
                None
            }
        };
        let (mut signer, origin) = Signer::boot_recovering(
            flash,
            registries,
            SignerLayout::contiguous(0),
            &seal,
            &mut rng,
            caps.booted_before(),
        )
        .map_err(|e| {
            log::error!("signer boot failed: {e}");
            InitError::Component("signer boot failed (see the log)")
        })?;
        log::info!(
            "keys {origin}; node id {}",
            signer::show::Hex(&signer.node_id())
        );
        signer.resume_clock(cx.now());
        match signer.mission_clock().mission_ms(cx.now()) {
            Some(ms) => log::info!(
                "mission time {ms} ms (resumed from the flash mark; last correlation {} ms)",
                signer.mission_clock().correlated_ms().unwrap_or(0)
            ),
            None => log::warn!(
                "no mission time: the ground has never correlated this node; certificates with an expiry are refused until it does"
            ),
        }
        if signer.recovery_challenge().is_some() {
            log::error!(
                "the ledger record is BLANK next to the registry: it was lost (erased or worn out); every batch is refused until the admins recover it (`spacenode ground admin recover`)"
            );
            cx.set_degraded(true);
        }
        match (signer.is_provisioned(), inbox_text) {
            (true, _) => {}
            (false, None) => {
                log::warn!(
                    "not provisioned and the provisioning inbox is empty: nothing will be signed"
                )
            }
            (false, Some(text)) => match signer.provision(text) {
                Ok(()) => log::info!(
                    "provisioned from the inbox: {} servers",
                    signer.registry().server_count()
                ),
                Err(e) => log::error!("provisioning inbox refused: {e}"),
            },
        }
        Ok(SignerPd {
            signer,
            requests,
            responses,
            admin_requests,
            admin_responses,
            admin_unsent: None,
            arena,
            out,
            chunk,
            assembly: None,
            current: None,
            next_persist: after(cx.now(), PERSIST_INTERVAL_MS * 1000),
        })
    }

    fn notified(&mut self, _set: NotifySet, cx: &mut Context) {
        self.drain_requests(cx);
        self.work(cx);
        self.serve_admin(cx);
        self.keep_clock(cx);
    }
}
