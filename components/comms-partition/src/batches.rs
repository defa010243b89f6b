//! Batches by CFDP: the comms partition's CFDP entity and batch intake, as one bounded state
//! machine the handler steps.
//!
//! 1. **Uplink**: every authenticated CFDP packet ([`comms::node::UnitOutcome::Cfdp`]) goes to a
//!    [`Receiver`] whose file bytes and journal live on `comms-flash` ([`crate::flash_map`]); a
//!    node reset mid-upload resumes from the journal. Its ACK, NAK and Finished PDUs go down in
//!    space packets under the association that carried the upload, on the active link.
//! 2. **Intake**: a complete file ([`Receiver::received`]) is read back from flash one
//!    [`CHUNK_MAX`] chunk at a time and sent to the signer's `sign-request` channel, at most
//!    [`CHUNKS_PER_CALL`] per call; a full ring keeps the chunk for the next call (never blocks,
//!    never drops). A file that is not a batch gets a refused result (malformed) at once.
//! 3. **Result**: the signer's responses for the intake batch (its batch id and
//!    [`INTAKE_TOKEN`]) build the result file ([`intake::ResultBuilder`]) in a static buffer of
//!    [`RESULT_MAX`] bytes; a refusal is a result too. A result that does not fit is refused
//!    (internal).
//! 4. **Downlink**: a [`Sender`] sends the result file to the entity that uploaded the batch.
//!    The last sender is kept after it finished so a repeated Finished still gets its ACK.
//!    Only when the ground confirmed the result (or the downlink gave up) is the file marked
//!    taken in the journal ([`Receiver::take_received`]): a reset anywhere between the upload's
//!    end and the result's delivery runs the intake again from the file on flash at the next
//!    boot (the signer answers an identical batch as a resubmission), and the result goes down
//!    under the telemetry association until the ground is heard again.
//!
//! PDUs from the ground are told apart by the direction bit of their header: towards the
//! receiver (the ground's upload) or towards the sender (answers to the node's download).
//!
//! Avoids: the heap, blocking, unbounded work per call, and holding more than one PDU batch in
//! RAM (the batch file stays on flash; only the result is in RAM).

use crate::flash_map::{MAX_BATCH_FILE, cfdp_layout};
use crate::intake::{self, Built, IntakeError, Response, ResultBuilder};
use comms::cfdp::packet::{self, MAX_PDU};
use comms::cfdp::{CfdpError, Receiver, ReceiverConfig, SendState, Sender, SenderConfig};
use core::time::Duration;
use hal::flash::{ErasedValue, NorFlash};
use protocol::{
    BoundedBytes, CHUNK_MAX, ChunkPosition, SignRejection, SignRequest, SignResponse, SignStatus,
};
use spin::{Mutex, MutexGuard};

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
    result_len: usize,
    tx_seq: u32,
    outbox: Outbox,
}

/// Sends one wrapped packet down (the partition gives its node and links).
pub trait PacketOut {
    /// Send `packet` under association `spi`.
    fn send(&mut self, spi: u16, packet: &[u8]);
}

/// Sends one sign request to the signer.
pub trait SignOut {
    /// `Err(true)` when the ring is full (retry later), `Err(false)` for other failures.
    fn send(&mut self, req: &SignRequest) -> Result<(), bool>;
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
}

impl core::fmt::Debug for Batches {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Batches")
            .field("phase", &self.phase())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

fn rejection(reason: SignRejection) -> Response<'static> {
    Response::Rejected { reason, data: &[] }
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
        *state = Some(State {
            rx,
            intake: None,
            tx: None,
            tx_batch: 0,
            tx_ended: false,
            started: None,
            release_due: false,
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
        })
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

    /// One authenticated CFDP packet from the ground under `spi`.
    pub fn on_packet<F: NorFlash>(
        &mut self,
        flash: &mut F,
        spi: u16,
        packet: &[u8],
        now: Duration,
    ) {
        let Some(s) = self.state.as_mut() else {
            return;
        };
        let Ok(pdu) = packet::unwrap(packet) else {
            self.counters.bad_packets += 1;
            return;
        };
        self.counters.packets += 1;
        self.spi = spi;
        self.last_packet = Some(now);
        // Header byte 0, bit 3: 0 towards the file receiver, 1 towards the file sender.
        let towards_sender = pdu.first().is_some_and(|b| b & 0x08 != 0);
        let r = if towards_sender {
            match s.tx.as_mut() {
                Some(tx) => tx.on_pdu(pdu, now),
                None => Err(CfdpError::UnknownTransaction),
            }
        } else {
            s.rx.on_pdu(flash, pdu, now)
        };
        if r.is_err() {
            self.counters.bad_packets += 1;
        }
    }

    /// A sign response: `true` if it was the intake's (taken), `false` for the caller's node.
    pub fn on_response(&mut self, r: &SignResponse) -> bool {
        let Some(s) = self.state.as_mut() else {
            return false;
        };
        let Some(intake) = s.intake.as_mut() else {
            return false;
        };
        if r.request_id != INTAKE_TOKEN || r.batch_id != intake.batch_id {
            return false;
        }
        let response = match r.status {
            SignStatus::Accepted => Response::Accepted,
            SignStatus::Signed => Response::Signed {
                offset: r.position.offset,
                data: r.data.as_slice(),
                last: r.position.count != 0,
            },
            SignStatus::Rejected { reason } => Response::Rejected {
                reason,
                data: r.data.as_slice(),
            },
        };
        let mut b = ResultBuilder::resume(intake.batch_id, &mut self.result[..], intake.stream);
        let built = match b.as_mut() {
            Ok(b) => b.on_response(intake.batch_id, response),
            Err(e) => Err(*e),
        };
        let stream = b.map(|b| b.stream_len()).unwrap_or(0);
        match built {
            Ok(Built::More) => {
                intake.stream = stream;
                intake.moved = true;
            }
            Ok(Built::Done(len)) => self.result_ready(len),
            Err(IntakeError::OutOfOrder { .. }) | Err(IntakeError::BadStream) => {
                log::error!("signed stream of batch {:#x} unusable", intake.batch_id);
                self.refuse(SignRejection::Internal);
            }
            Err(e) => {
                log::error!("result of batch {:#x}: {e}", intake.batch_id);
                self.refuse(SignRejection::Internal);
            }
        }
        true
    }

    /// Complete the intake with a refusal of our own (no receipt).
    fn refuse(&mut self, reason: SignRejection) {
        let Some(batch_id) = self
            .state
            .as_ref()
            .and_then(|s| s.intake.as_ref())
            .map(|i| i.batch_id)
        else {
            return;
        };
        if let Ok(mut b) = ResultBuilder::new(batch_id, &mut self.result[..])
            && let Ok(Built::Done(len)) = b.on_response(batch_id, rejection(reason))
        {
            self.result_ready(len);
        }
    }

    fn result_ready(&mut self, len: usize) {
        let Some(s) = self.state.as_mut() else {
            return;
        };
        let Some(intake) = s.intake.take() else {
            return;
        };
        self.counters.results += 1;
        s.tx_seq = s.tx_seq.wrapping_add(1);
        let cfg = SenderConfig {
            local_id: NODE_ENTITY,
            remote_id: intake.ground,
            id_width: ENTITY_ID_WIDTH,
            rate_bps: Some(DOWNLINK_RATE_BPS),
            frame_overhead: 6 + comms::sdls::engine::OVERHEAD,
            ..SenderConfig::default()
        };
        let seq = (intake.batch_id as u32) ^ s.tx_seq.rotate_left(16);
        let data = self.result.get(..len).unwrap_or(&[]);
        match Sender::new(cfg, seq, b"result.snrf", data) {
            Ok(tx) => {
                log::info!(
                    "batch {:#x}: result of {len} bytes ready, downlinking",
                    intake.batch_id
                );
                s.tx = Some(tx);
                s.tx_ended = false;
                s.tx_batch = intake.batch_id;
                s.result_len = len;
            }
            Err(e) => log::error!("result downlink of batch {:#x}: {e}", intake.batch_id),
        }
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
        if let Some(i) = self.state.as_mut().and_then(|s| s.intake.as_mut()) {
            if core::mem::take(&mut i.moved) {
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

    /// Send what is due: the receiver's PDUs from the last [`Batches::step`], and the result
    /// downlink's.
    pub fn send_due(&mut self, now: Duration, out: &mut dyn PacketOut) {
        if let Some(s) = self.state.as_mut() {
            let ob = &mut s.outbox;
            for i in 0..ob.n.min(OUTBOX) {
                let (Some(pdu), Some(&len)) = (ob.pdus.get(i), ob.lens.get(i)) else {
                    continue;
                };
                Self::send_pdu(
                    self.spi,
                    &mut self.pkt_seq,
                    pdu.get(..len).unwrap_or(&[]),
                    out,
                );
            }
            ob.n = 0;
        }
        self.poll_sender(now, out);
    }

    fn send_pdu(spi: u16, pkt_seq: &mut u16, pdu: &[u8], out: &mut dyn PacketOut) {
        let mut buf = [0u8; MAX_PDU + 16];
        if let Ok(n) = packet::wrap(pdu, *pkt_seq, false, &mut buf) {
            *pkt_seq = pkt_seq.wrapping_add(1);
            out.send(spi, buf.get(..n).unwrap_or(&[]));
        }
    }

    fn poll_receiver<F: NorFlash>(&mut self, flash: &mut F, now: Duration) {
        let Some(s) = self.state.as_mut() else {
            return;
        };
        let ob = &mut s.outbox;
        let r = s.rx.poll(flash, now, |pdu| {
            if let (Some(dst), Some(len)) = (ob.pdus.get_mut(ob.n), ob.lens.get_mut(ob.n))
                && let Some(d) = dst.get_mut(..pdu.len())
            {
                d.copy_from_slice(pdu);
                *len = pdu.len();
                ob.n += 1;
            }
        });
        if let Err(e) = r {
            log::warn!("CFDP receiver: {e}");
        }
    }

    fn take_file<F: NorFlash>(&mut self, flash: &mut F, now: Duration) {
        let Some(s) = self.state.as_mut() else {
            return;
        };
        if s.release_due {
            s.release_due = false;
            let same =
                s.rx.received()
                    .is_some_and(|f| Some((f.source_id, f.seq)) == s.started);
            if same && let Err(e) = s.rx.take_received(flash) {
                log::warn!("CFDP: cannot mark the batch file taken: {e}");
            }
            s.started = None;
        }
        if s.intake.is_some() {
            return;
        }
        let Some(file) = s.rx.received() else {
            return;
        };
        if s.started == Some((file.source_id, file.seq)) {
            return;
        }
        s.started = Some((file.source_id, file.seq));
        self.counters.files += 1;
        let mut head = [0u8; 35];
        let batch = match file.size {
            n if n > u64::from(MAX_BATCH_FILE) => Err(IntakeError::TooLarge(n as usize)),
            n if n < head.len() as u64 => Err(IntakeError::NotABatch),
            _ => {
                s.rx.read_received(flash, 0, &mut head)
                    .map_err(|_| IntakeError::NotABatch)
                    .and_then(|()| intake::batch_id_of(&head))
            }
        };
        let size = file.size as u32;
        let (batch_id, refused) = match batch {
            Ok(id) => (id, false),
            Err(e) => {
                log::warn!("received file is not a batch: {e}");
                (0, true)
            }
        };
        log::info!(
            "batch {batch_id:#x}: {size} bytes received by CFDP from entity {}",
            file.source_id
        );
        s.intake = Some(Intake {
            batch_id,
            size,
            next: 0,
            count: size.div_ceil(CHUNK_MAX as u32),
            stream: 0,
            ground: file.source_id,
            last: now,
            moved: false,
        });
        if refused {
            self.refuse(SignRejection::Malformed);
        }
    }

    fn forward<F: NorFlash>(&mut self, flash: &mut F, sign: &mut dyn SignOut) -> bool {
        let Some(s) = self.state.as_mut() else {
            return false;
        };
        let mut failed = false;
        for _ in 0..CHUNKS_PER_CALL {
            let Some(i) = s.intake.as_mut() else {
                return false;
            };
            if i.next >= i.count {
                return false;
            }
            let offset = i.next as usize * CHUNK_MAX;
            let len = (i.size as usize).saturating_sub(offset).min(CHUNK_MAX);
            let mut chunk = [0u8; CHUNK_MAX];
            let Some(buf) = chunk.get_mut(..len) else {
                failed = true;
                break;
            };
            if s.rx.read_received(flash, offset as u64, buf).is_err() {
                failed = true;
                break;
            }
            let Ok(data) = BoundedBytes::new(buf) else {
                failed = true;
                break;
            };
            let req = SignRequest {
                batch_id: i.batch_id,
                request_id: INTAKE_TOKEN,
                position: ChunkPosition {
                    index: i.next,
                    count: i.count,
                    offset: offset as u32,
                    total_len: i.size,
                },
                data,
            };
            match sign.send(&req) {
                Ok(()) => {
                    i.next += 1;
                    i.moved = true;
                    self.counters.chunks += 1;
                }
                Err(true) => {
                    self.counters.ring_full += 1;
                    return false;
                }
                Err(false) => {
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            log::error!("batch intake: chunk could not be read or sent; batch refused");
            self.refuse(SignRejection::Internal);
            return false;
        }
        chunks_left(self)
    }

    fn poll_sender(&mut self, now: Duration, out: &mut dyn PacketOut) {
        let Some(s) = self.state.as_mut() else {
            return;
        };
        let Some(tx) = s.tx.as_mut() else {
            return;
        };
        let data = self.result.get(..s.result_len).unwrap_or(&[]);
        let spi = self.spi;
        let seq = &mut self.pkt_seq;
        if let Err(e) = tx.poll(now, data, |pdu| Self::send_pdu(spi, seq, pdu, out)) {
            log::warn!("CFDP result downlink: {e}");
        }
        if s.tx_ended {
            return;
        }
        match tx.state() {
            SendState::Active => return,
            SendState::Delivered => {
                self.counters.delivered += 1;
                log::info!("batch {:#x}: result delivered", s.tx_batch);
            }
            SendState::Failed(c) => {
                log::warn!("batch {:#x}: result downlink failed: {c:?}", s.tx_batch);
            }
        }
        s.tx_ended = true;
        s.release_due = true;
    }
}

fn chunks_left(b: &Batches) -> bool {
    b.state
        .as_ref()
        .and_then(|s| s.intake.as_ref())
        .is_some_and(|i| i.next < i.count)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::flash_map::COMMS_FLASH_MIN;
    use crate::intake::{RECEIPT_LEN, parse_result};
    use comms::cfdp::ground::RamFlash;
    use comms::cfdp::{CfdpLayout, ReceiverConfig};
    use spacepackets::cfdp::ConditionCode;
    use std::vec;
    use std::vec::Vec;

    /// The flow's state is static (one per process): the tests take turns.
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

    const GROUND: u64 = 2;

    /// The signer's ring: `free` slots, refilled by the test.
    struct Ring {
        free: usize,
        got: Vec<SignRequest>,
    }

    impl SignOut for Ring {
        fn send(&mut self, req: &SignRequest) -> Result<(), bool> {
            if self.free == 0 {
                return Err(true);
            }
            self.free -= 1;
            self.got.push(req.clone());
            Ok(())
        }
    }

    struct Down(Vec<Vec<u8>>);

    impl PacketOut for Down {
        fn send(&mut self, spi: u16, packet: &[u8]) {
            assert_eq!(spi, 1, "answers go down under the uplink's association");
            self.0.push(packet.to_vec());
        }
    }

    /// A node flow and a ground (sender of the batch, receiver of the result) on a perfect
    /// in-memory link.
    struct Rig {
        node: Batches,
        flash: RamFlash,
        ground_tx: Sender,
        file: Vec<u8>,
        ground_rx: Receiver,
        ground_flash: RamFlash,
        t: Duration,
        steps_with_more: u32,
    }

    impl Rig {
        fn new(file: Vec<u8>) -> Rig {
            let mut flash = RamFlash::new(COMMS_FLASH_MIN as usize);
            let node = Batches::open(&mut flash, 1).expect("open");
            let cfg = SenderConfig {
                local_id: GROUND,
                remote_id: NODE_ENTITY,
                id_width: ENTITY_ID_WIDTH,
                ..SenderConfig::default()
            };
            let ground_tx = Sender::new(cfg, 9, b"batch", &file).expect("sender");
            let cap = 80 * 1024 + 256 * 1024;
            let mut ground_flash = RamFlash::new(cap);
            let rcfg = ReceiverConfig {
                local_id: GROUND,
                ..ReceiverConfig::default()
            };
            let ground_rx = Receiver::open(&mut ground_flash, rcfg, CfdpLayout::comms(cap as u32))
                .expect("ground receiver");
            Rig {
                node,
                flash,
                ground_tx,
                file,
                ground_rx,
                ground_flash,
                t: Duration::ZERO,
                steps_with_more: 0,
            }
        }

        /// One exchange; returns the chunks the node sent this step.
        fn exchange(&mut self, ring: &mut Ring) -> usize {
            self.t += Duration::from_millis(10);
            let t = self.t;
            let mut up = Vec::new();
            let mut wrap = |pdu: &[u8]| {
                let mut b = [0u8; MAX_PDU + 16];
                let n = packet::wrap(pdu, 0, true, &mut b).expect("wrap");
                up.push(b[..n].to_vec());
            };
            self.ground_tx.poll(t, &self.file, &mut wrap).expect("poll");
            self.ground_rx
                .poll(&mut self.ground_flash, t, &mut wrap)
                .expect("poll");
            for p in &up {
                self.node.on_packet(&mut self.flash, 1, p, t);
            }
            let before = ring.got.len();
            if self.node.step(&mut self.flash, t, Some(ring)) {
                self.steps_with_more += 1;
            }
            let sent = ring.got.len() - before;
            assert!(sent <= CHUNKS_PER_CALL, "bounded per call");
            let mut down = Down(Vec::new());
            self.node.send_due(t, &mut down);
            for p in &down.0 {
                let pdu = packet::unwrap(p).expect("a CFDP packet");
                if pdu[0] & 0x08 != 0 {
                    let _ = self.ground_tx.on_pdu(pdu, t);
                } else {
                    let _ = self.ground_rx.on_pdu(&mut self.ground_flash, pdu, t);
                }
            }
            sent
        }

        fn result(&mut self) -> Option<Vec<u8>> {
            let f = self
                .ground_rx
                .take_received(&mut self.ground_flash)
                .ok()??;
            let mut b = vec![0u8; f.size as usize];
            self.ground_rx
                .read_received(&mut self.ground_flash, 0, &mut b)
                .expect("read");
            Some(b)
        }
    }

    fn batch(len: usize) -> Vec<u8> {
        let mut b: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        b[..4].copy_from_slice(b"SNBC");
        b[4] = 1;
        b[5..9].copy_from_slice(&7u32.to_be_bytes());
        b[17..25].copy_from_slice(&5u64.to_be_bytes());
        b
    }

    fn response(
        batch_id: u64,
        status: SignStatus,
        offset: u32,
        last: bool,
        data: &[u8],
    ) -> SignResponse {
        SignResponse {
            batch_id,
            request_id: INTAKE_TOKEN,
            position: ChunkPosition {
                index: 0,
                count: u32::from(last),
                offset,
                total_len: 0,
            },
            status,
            data: BoundedBytes::new(data).expect("fits"),
        }
    }

    #[test]
    fn a_batch_goes_to_the_signer_under_backpressure_and_its_result_comes_down() {
        let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        let file = batch(9 * CHUNK_MAX + 123);
        let mut rig = Rig::new(file.clone());
        // The ring has room for 3 chunks, then stays full for a while.
        let mut ring = Ring {
            free: 3,
            got: Vec::new(),
        };
        let mut i = 0;
        while rig.node.counters().ring_full < 5 {
            i += 1;
            assert!(i < 2000, "the batch never reached the signer");
            rig.exchange(&mut ring);
        }
        assert_eq!(ring.got.len(), 3, "nothing sent into a full ring");
        // Room again: a bounded number per call, and the call asks to be run again.
        ring.free = 100;
        assert_eq!(rig.exchange(&mut ring), CHUNKS_PER_CALL);
        assert_eq!(rig.steps_with_more, 1);
        while ring.got.len() < 10 {
            rig.exchange(&mut ring);
        }
        let id = 7u64 << 32 | 5;
        let mut back = Vec::new();
        for (k, r) in ring.got.iter().enumerate() {
            assert_eq!((r.batch_id, r.request_id), (id, INTAKE_TOKEN));
            assert_eq!(r.position.index as usize, k);
            assert_eq!(r.position.count, 10);
            assert_eq!(r.position.offset as usize, back.len());
            back.extend_from_slice(r.data.as_slice());
        }
        assert_eq!(back, file, "nothing dropped, nothing sent twice");
        assert_eq!(
            rig.node.phase(),
            Phase::Intake {
                batch_id: id,
                next: 10,
                count: 10
            }
        );

        // Responses of another batch or token are the node's, not the intake's.
        let other = response(id + 1, SignStatus::Accepted, 0, false, &[]);
        assert!(!rig.node.on_response(&other));
        let mut foreign = response(id, SignStatus::Accepted, 0, false, &[]);
        foreign.request_id = comms::node::sign_token(id);
        assert!(!rig.node.on_response(&foreign));

        // The signed stream: two framed PSBTs, then the receipt, in two chunks.
        let mut stream = Vec::new();
        for p in [&[1u8; 3000][..], &[2u8; 2500][..]] {
            stream.extend_from_slice(&(p.len() as u32).to_be_bytes());
            stream.extend_from_slice(p);
        }
        stream.extend_from_slice(&[0xAB; RECEIPT_LEN]);
        assert!(
            rig.node
                .on_response(&response(id, SignStatus::Accepted, 0, false, &[]))
        );
        let (a, b) = stream.split_at(CHUNK_MAX);
        assert!(
            rig.node
                .on_response(&response(id, SignStatus::Signed, 0, false, a))
        );
        assert!(
            rig.node
                .on_response(&response(id, SignStatus::Signed, a.len() as u32, true, b))
        );
        assert_eq!(rig.node.phase(), Phase::Downlink { batch_id: id });
        let mut result = None;
        for _ in 0..2000 {
            rig.exchange(&mut ring);
            if let Some(r) = rig.result() {
                result = Some(r);
                break;
            }
        }
        let result = result.expect("the result came down");
        let v = parse_result(&result).expect("SNRF");
        assert!(v.signed);
        assert_eq!(v.batch_id, id);
        assert_eq!(v.psbts().count(), 2);
        for _ in 0..200 {
            rig.exchange(&mut ring);
        }
        assert_eq!(rig.node.counters().delivered, 1);
        assert_eq!(rig.node.phase(), Phase::Idle);
        assert_eq!(rig.ground_tx.state(), SendState::Delivered);
    }

    #[test]
    fn refusals_and_non_batches_come_down_as_refused_results() {
        let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        // The signer refuses after the first chunk: the rest is not sent.
        let file = batch(3 * CHUNK_MAX);
        let id = 7u64 << 32 | 5;
        let mut rig = Rig::new(file);
        let mut ring = Ring {
            free: 1,
            got: Vec::new(),
        };
        for _ in 0..2000 {
            rig.exchange(&mut ring);
            if !ring.got.is_empty() {
                break;
            }
        }
        let mut receipt = [0u8; RECEIPT_LEN];
        receipt[60] = 1;
        receipt[61] = 6;
        let refusal = SignStatus::Rejected {
            reason: SignRejection::Replay,
        };
        assert!(
            rig.node
                .on_response(&response(id, refusal, 0, false, &receipt))
        );
        ring.free = 10;
        let mut result = None;
        for _ in 0..2000 {
            rig.exchange(&mut ring);
            if let Some(r) = rig.result() {
                result = Some(r);
                break;
            }
        }
        assert_eq!(ring.got.len(), 1, "no chunk after the refusal");
        let result = result.expect("a refused result");
        let v = parse_result(&result).expect("SNRF");
        assert!(!v.signed);
        assert_eq!(v.reason, intake::reason_code(SignRejection::Replay));
        assert_eq!(v.error(), Some((1, 6)));
        drop(rig);

        // A file that is not a batch never reaches the signer.
        let mut rig = Rig::new(vec![0x55; 2000]);
        let mut ring = Ring {
            free: 10,
            got: Vec::new(),
        };
        let mut result = None;
        for _ in 0..2000 {
            rig.exchange(&mut ring);
            if let Some(r) = rig.result() {
                result = Some(r);
                break;
            }
        }
        let v = parse_result(result.as_deref().expect("a result")).expect("SNRF");
        assert!(!v.signed);
        assert_eq!(v.reason, intake::reason_code(SignRejection::Malformed));
        assert!(ring.got.is_empty());
    }

    #[test]
    fn an_oversize_upload_is_refused_with_file_size_error() {
        let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        let mut rig = Rig::new(batch(MAX_BATCH_FILE as usize + 1));
        let mut ring = Ring {
            free: 10,
            got: Vec::new(),
        };
        for _ in 0..500 {
            rig.exchange(&mut ring);
            if rig.ground_tx.state() != SendState::Active {
                break;
            }
        }
        assert_eq!(
            rig.ground_tx.state(),
            SendState::Failed(ConditionCode::FileSizeError)
        );
        assert!(ring.got.is_empty());
    }

    #[test]
    fn a_file_not_answered_before_a_reset_is_taken_up_again_and_only_until_answered() {
        let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        let file = batch(2 * CHUNK_MAX);
        let id = 7u64 << 32 | 5;
        let mut rig = Rig::new(file);
        let mut ring = Ring {
            free: 100,
            got: Vec::new(),
        };
        while ring.got.len() < 2 {
            rig.exchange(&mut ring);
        }
        // Reset: the flow's RAM is gone, the flash stays.
        let flash = core::mem::replace(&mut rig.flash, RamFlash::new(4096));
        drop(core::mem::replace(&mut rig.node, dummy()));
        rig.flash = flash;
        rig.node = Batches::open(&mut rig.flash, 1).expect("reopen");
        ring.got.clear();
        while ring.got.len() < 2 {
            rig.exchange(&mut ring);
        }
        assert_eq!(ring.got[0].position.index, 0, "the intake starts over");
        let refusal = SignStatus::Rejected {
            reason: SignRejection::Busy,
        };
        assert!(rig.node.on_response(&response(id, refusal, 0, false, &[])));
        let mut got = false;
        for _ in 0..2000 {
            rig.exchange(&mut ring);
            if rig.result().is_some() {
                got = true;
            }
            if got && rig.node.counters().delivered == 1 {
                break;
            }
        }
        assert!(got && rig.node.counters().delivered == 1);
        for _ in 0..5 {
            rig.exchange(&mut ring);
        }
        // Answered: another reset does not take it up again.
        let flash = core::mem::replace(&mut rig.flash, RamFlash::new(4096));
        drop(core::mem::replace(&mut rig.node, dummy()));
        rig.flash = flash;
        rig.node = Batches::open(&mut rig.flash, 1).expect("reopen");
        ring.got.clear();
        for _ in 0..50 {
            rig.exchange(&mut ring);
        }
        assert!(ring.got.is_empty());
        assert_eq!(rig.node.phase(), Phase::Idle);
    }

    #[test]
    fn a_signer_that_never_answers_gets_the_batch_refused_after_the_timeout() {
        let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        let mut rig = Rig::new(batch(CHUNK_MAX + 1));
        let mut ring = Ring {
            free: 100,
            got: Vec::new(),
        };
        while ring.got.len() < 2 {
            rig.exchange(&mut ring);
        }
        for _ in 0..10 {
            rig.exchange(&mut ring);
        }
        assert!(matches!(rig.node.phase(), Phase::Intake { .. }));
        rig.t += INTAKE_TIMEOUT;
        let mut result = None;
        for _ in 0..2000 {
            rig.exchange(&mut ring);
            if let Some(r) = rig.result() {
                result = Some(r);
                break;
            }
        }
        let v = parse_result(result.as_deref().expect("a result")).expect("SNRF");
        assert!(!v.signed);
        assert_eq!(v.reason, intake::reason_code(SignRejection::Internal));
    }

    #[test]
    fn truncated_and_flipped_packets_are_counted_never_a_panic() {
        let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        let mut rig = Rig::new(batch(3000));
        // The ground's first packets (metadata, file data, EOF) as they would go up.
        let mut up = Vec::new();
        rig.ground_tx
            .poll(Duration::from_millis(1), &rig.file, |pdu| {
                let mut b = [0u8; MAX_PDU + 16];
                let n = packet::wrap(pdu, 0, true, &mut b).expect("wrap");
                up.push(b[..n].to_vec());
            })
            .expect("poll");
        assert!(!up.is_empty());
        let t = Duration::from_millis(2);
        for p in &up {
            for cut in 0..p.len() {
                rig.node.on_packet(&mut rig.flash, 1, &p[..cut], t);
            }
            for i in 0..p.len() {
                for bit in [0x01u8, 0x08, 0x80] {
                    let mut q = p.clone();
                    q[i] ^= bit;
                    rig.node.on_packet(&mut rig.flash, 1, &q, t);
                }
            }
        }
        let mut ring = Ring {
            free: 100,
            got: Vec::new(),
        };
        let _ = rig.node.step(&mut rig.flash, t, Some(&mut ring));
        assert!(rig.node.counters().bad_packets > 0);
    }

    /// A flow holding nothing, to swap out the real one (its guards released on drop).
    fn dummy() -> Batches {
        Batches {
            state: DUMMY_STATE.try_lock().expect("dummy state"),
            result: DUMMY_RESULT.try_lock().expect("dummy result"),
            spi: 1,
            pkt_seq: 0,
            last_packet: None,
            counters: BatchCounters::default(),
        }
    }

    static DUMMY_STATE: Mutex<Option<State>> = Mutex::new(None);
    static DUMMY_RESULT: Mutex<[u8; RESULT_MAX]> = Mutex::new([0; RESULT_MAX]);
}
