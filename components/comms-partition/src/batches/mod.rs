//! Batches by CFDP: the comms partition's CFDP entity and batch intake, as one bounded state
//! machine the handler steps.
//!
//! 1. **Uplink**: every authenticated CFDP packet ([`comms::node::UnitOutcome::Cfdp`]) goes to a
//!    [`Receiver`] whose file bytes and journal live on `comms-flash` ([`crate::flash_map`]); a
//!    node reset mid-upload resumes from the journal. Its ACK, NAK and Finished PDUs go down in
//!    space packets under the association that carried the upload, on the active link.
//! 2. **Intake**: a complete file ([`Receiver::received`]) is read back from flash one
//!    [`protocol::CHUNK_MAX`] chunk at a time and sent to the signer's `sign-request` channel, at most
//!    [`CHUNKS_PER_CALL`] per call; a full ring keeps the chunk for the next call (never blocks,
//!    never drops). A file that is not a batch gets a refused result (malformed) at once.
//! 3. **Result**: the signer's responses for the intake batch (its batch id and
//!    [`INTAKE_TOKEN`]) build the result file ([`crate::intake::ResultBuilder`]) in a static buffer of
//!    [`RESULT_MAX`] bytes; a refusal is a result too. A result that does not fit is refused
//!    (internal).
//! 4. **Downlink**: a [`Sender`] sends the result file to the entity that uploaded the batch.
//!    The last sender is kept after it finished so a repeated Finished still gets its ACK.
//!    Only when the ground confirmed the result (or the downlink gave up) is the file marked
//!    taken in the journal ([`Receiver::take_received`]).
//!
//! **The signer must be able to sign at once** ([`Batches::set_signer`], from
//! [`crate::signer_watch`]): a file received while it is down (safe mode, stopped, degraded,
//! failed, restarting) is refused at once ([`SignRejection::SignerDown`]), and so is an intake
//! under way when the signer goes down or restarts (its chunks went with the old process).
//!
//! **A reset abandons the batch**: a file received before the reset but not answered is not fed
//! to the signer again on the node's own initiative (the ground may long have given up, and a
//! batch signed hours later is not what it asked for). It gets a refused result at once
//! ([`SignRejection::Abandoned`]), sent down under the telemetry association until the ground
//! is heard again; a ground still waiting sends the identical batch again, which the signer
//! signs, or answers as a resubmission if it had committed it before the reset. A transfer
//! still under way at the reset resumes from the journal, and its file, completed after the
//! reset, is an ordinary intake: the ground is still sending it.
//!
//! PDUs from the ground are told apart by the direction bit of their header: towards the
//! receiver (the ground's upload) or towards the sender (answers to the node's download).
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | the flow's state, its phases and counters, the bounded [`Batches::step`] |
//! | `link.rs` | CFDP on the link: packets up to the receiver or the result's sender, PDUs down |
//! | `to_signer.rs` | intake: the received file to sign requests, the signer's answers to a result |
//!
//! Avoids: the heap, blocking, unbounded work per call, and holding more than one PDU batch in
//! RAM (the batch file stays on flash; only the result is in RAM).

mod link;
#[cfg(test)]
mod tests;
mod to_signer;

use crate::flash_map::{MAX_BATCH_FILE, cfdp_layout};
use comms::cfdp::packet::MAX_PDU;
use comms::cfdp::{CfdpError, Receiver, ReceiverConfig, SendState, Sender};
use core::time::Duration;
use hal::flash::{ErasedValue, NorFlash};
use protocol::SignRejection;
use spin::{Mutex, MutexGuard};

pub use link::PacketOut;
pub use to_signer::SignOut;

/// This node's CFDP entity ID.
pub const NODE_ENTITY: u64 = 1;
/// Width of entity IDs on the wire (the ground uses the same).
pub const ENTITY_ID_WIDTH: usize = 2;
/// The routing token of intake sign requests (the signer echoes it; PUS-forwarded chunks use
/// [`comms::node::sign_token`] of their batch, and responses are matched on batch id too).
pub const INTAKE_TOKEN: u32 = 0xCFD0_0001;
/// Sign-request chunks sent per handler call at most.
pub const CHUNKS_PER_CALL: usize = 4;
/// The result buffer: the signed output of the largest batch (signatures add to the PSBTs).
pub const RESULT_MAX: usize = MAX_BATCH_FILE as usize + MAX_BATCH_FILE as usize / 4;
/// New upload bytes between journal checkpoints: at most this much is asked again after a
/// reset (batches are small next to the 64 KiB default; a checkpoint is one record write).
pub const CHECKPOINT_BYTES: u64 = 4 * 1024;
/// An intake with no progress (no chunk taken by the ring, no response) for this long is
/// refused as internal, so a signer that died mid-batch cannot hold the flow forever (signing
/// the largest batch takes seconds).
pub const INTAKE_TIMEOUT: Duration = Duration::from_secs(120);
/// Pacing of the result downlink, bit/s on the link (PDU, space packet header and SDLS). The
/// node does not know the radio's rate; unpaced, a large result would fill the radio's queue
/// and delay every other TM behind it (the sim link emulator queues 1024 frames). A flight
/// build sets its downlink rate here.
pub const DOWNLINK_RATE_BPS: u64 = 1_000_000;
/// How long after the last CFDP packet a transfer counts as under way.
pub const ACTIVE_AFTER_PACKET: Duration = Duration::from_secs(5);
/// Receiver PDUs buffered per poll (more are sent again by CFDP's own timers).
const OUTBOX: usize = 8;

static RESULT: Mutex<[u8; RESULT_MAX]> = Mutex::new([0; RESULT_MAX]);
static STATE: Mutex<Option<State>> = Mutex::new(None);

/// Counters for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounters {
    /// CFDP packets taken (either direction of a transaction).
    pub packets: u64,
    /// Packets refused (not a CFDP packet, malformed, unknown transaction).
    pub bad_packets: u64,
    /// Batch files received complete.
    pub files: u64,
    /// Sign-request chunks sent.
    pub chunks: u64,
    /// Calls that found the sign-request ring full.
    pub ring_full: u64,
    /// Result files completed (signed or refused).
    pub results: u64,
    /// Result downlinks the ground confirmed.
    pub delivered: u64,
}

/// Where the batch flow stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No batch in hand.
    Idle,
    /// Sending the batch to the signer (`next` of `count` chunks) or waiting for its answer.
    Intake {
        /// Batch id.
        batch_id: u64,
        /// Next chunk to send.
        next: u32,
        /// Chunks in the batch.
        count: u32,
    },
    /// Sending the result file down.
    Downlink {
        /// Batch id.
        batch_id: u64,
    },
}

struct Intake {
    batch_id: u64,
    size: u32,
    next: u32,
    count: u32,
    stream: usize,
    ground: u64,
    /// When the intake last moved (a chunk sent, a response taken).
    last: Duration,
    /// The signer's restart count when the intake started.
    signer_restarts: u16,
    /// It moved since the last step.
    moved: bool,
}

struct Outbox {
    pdus: [[u8; MAX_PDU]; OUTBOX],
    lens: [usize; OUTBOX],
    n: usize,
}

struct State {
    rx: Receiver,
    intake: Option<Intake>,
    tx: Option<Sender>,
    tx_batch: u64,
    /// The end of the current downlink was counted and logged.
    tx_ended: bool,
    /// The transfer (source, sequence) whose file the intake took, until it is marked taken.
    started: Option<(u64, u64)>,
    /// The result downlink ended: mark the file taken at the next step.
    release_due: bool,
    /// The transfer (source, sequence) whose file was complete at open: abandoned by the reset.
    abandoned: Option<(u64, u64)>,
    result_len: usize,
    tx_seq: u32,
    outbox: Outbox,
}

/// Why the batch flow could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BatchesError {
    /// The static state was taken already (a second instance in one process).
    #[error("batch flow state already taken")]
    Taken,
    /// The CFDP receiver could not open on the flash.
    #[error("CFDP receiver: {0}")]
    Cfdp(CfdpError),
}

/// The batch flow of one comms partition.
pub struct Batches {
    state: MutexGuard<'static, Option<State>>,
    result: MutexGuard<'static, [u8; RESULT_MAX]>,
    spi: u16,
    pkt_seq: u16,
    last_packet: Option<Duration>,
    counters: BatchCounters,
    /// Why the signer cannot sign at once (`None`: it can), and its restart count.
    signer: (Option<&'static str>, u16),
}

impl core::fmt::Debug for Batches {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Batches")
            .field("phase", &self.phase())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl Batches {
    /// Open the receiver on `flash` (resuming a transfer the journal holds, or the intake of a
    /// file received but not answered). Packets go down under the association of the last CFDP
    /// uplink, `default_spi` before one is heard.
    pub fn open<F: NorFlash + ErasedValue>(
        flash: &mut F,
        default_spi: u16,
    ) -> Result<Self, BatchesError> {
        let mut state = STATE.try_lock().ok_or(BatchesError::Taken)?;
        let result = RESULT.try_lock().ok_or(BatchesError::Taken)?;
        let cfg = ReceiverConfig {
            local_id: NODE_ENTITY,
            checkpoint_bytes: CHECKPOINT_BYTES,
            ..ReceiverConfig::default()
        };
        let rx = Receiver::open(flash, cfg, cfdp_layout()).map_err(BatchesError::Cfdp)?;
        let abandoned = rx.received().map(|f| (f.source_id, f.seq));
        *state = Some(State {
            rx,
            intake: None,
            tx: None,
            tx_batch: 0,
            tx_ended: false,
            started: None,
            release_due: false,
            abandoned,
            result_len: 0,
            tx_seq: 0,
            outbox: Outbox {
                pdus: [[0; MAX_PDU]; OUTBOX],
                lens: [0; OUTBOX],
                n: 0,
            },
        });
        Ok(Batches {
            state,
            result,
            spi: default_spi,
            pkt_seq: 0,
            last_packet: None,
            counters: BatchCounters::default(),
            signer: (None, 0),
        })
    }

    /// What the watchdog says of the signer: why it cannot sign at once (`None` if it can), and
    /// its restart count. Taken at the next [`Batches::step`].
    pub fn set_signer(&mut self, down: Option<&'static str>, restarts: u16) {
        self.signer = (down, restarts);
    }

    /// Counters.
    pub fn counters(&self) -> BatchCounters {
        self.counters
    }

    /// The receiver (progress and counters of the upload).
    pub fn receiver(&self) -> Option<&Receiver> {
        self.state.as_ref().map(|s| &s.rx)
    }

    /// Where the flow stands.
    pub fn phase(&self) -> Phase {
        let Some(s) = self.state.as_ref() else {
            return Phase::Idle;
        };
        if let Some(i) = &s.intake {
            return Phase::Intake {
                batch_id: i.batch_id,
                next: i.next,
                count: i.count,
            };
        }
        match &s.tx {
            Some(t) if t.state() == SendState::Active => Phase::Downlink {
                batch_id: s.tx_batch,
            },
            _ => Phase::Idle,
        }
    }

    /// Whether a transfer or intake is under way at `now` (the handler then calls again soon:
    /// CFDP timers run by polling). An upload counts while its packets keep coming
    /// ([`ACTIVE_AFTER_PACKET`]), so an upload the ground abandoned does not keep the partition
    /// awake.
    pub fn busy(&self, now: Duration) -> bool {
        self.phase() != Phase::Idle
            || self
                .last_packet
                .is_some_and(|t| now.saturating_sub(t) < ACTIVE_AFTER_PACKET)
    }

    /// Timers and intake: one bounded step on the flash (the PDUs it makes wait in an outbox
    /// for [`Batches::send_due`]). Returns whether chunks are left with room in the ring.
    pub fn step<F: NorFlash>(
        &mut self,
        flash: &mut F,
        now: Duration,
        signer: Option<&mut dyn SignOut>,
    ) -> bool {
        self.poll_receiver(flash, now);
        self.take_file(flash, now);
        let (down, restarts) = self.signer;
        if let Some(i) = self.state.as_mut().and_then(|s| s.intake.as_mut()) {
            let why = down.or((restarts != i.signer_restarts).then_some("the signer restarted"));
            if let Some(why) = why {
                log::warn!(
                    "batch {:#x}: refused at once, nothing signed: {why}",
                    i.batch_id
                );
                self.refuse(SignRejection::SignerDown);
            } else if core::mem::take(&mut i.moved) {
                i.last = now;
            } else if now.saturating_sub(i.last) > INTAKE_TIMEOUT {
                log::error!(
                    "batch {:#x}: no answer from the signer for {} s; refused",
                    i.batch_id,
                    INTAKE_TIMEOUT.as_secs()
                );
                self.refuse(SignRejection::Internal);
            }
        }
        match signer {
            Some(sign) => self.forward(flash, sign),
            None => {
                if self.state.as_ref().is_some_and(|s| s.intake.is_some()) {
                    log::error!("no sign-request channel granted: batch refused");
                    self.refuse(SignRejection::Internal);
                }
                false
            }
        }
    }
}
