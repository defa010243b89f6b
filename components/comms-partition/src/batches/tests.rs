//! The batch flow against a CFDP ground on a perfect in-memory link, a ring with backpressure
//! and resets that keep the flash.

extern crate std;
use super::*;
use crate::flash_map::COMMS_FLASH_MIN;
use crate::intake::{self, RECEIPT_LEN, parse_result};
use comms::cfdp::ground::RamFlash;
use comms::cfdp::packet::{self, MAX_PDU};
use comms::cfdp::{CfdpLayout, ReceiverConfig};
use comms::cfdp::{SendState, Sender, SenderConfig};
use protocol::{BoundedBytes, CHUNK_MAX, ChunkPosition, SignRequest, SignResponse, SignStatus};
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

/// Exchanges until the ground holds a result file; returns it.
fn result_of(rig: &mut Rig, ring: &mut Ring) -> Vec<u8> {
    for _ in 0..2000 {
        rig.exchange(ring);
        if let Some(r) = rig.result() {
            return r;
        }
    }
    panic!("no result came down");
}

/// Drop the flow's RAM as a reset does; the flash stays.
fn reset(rig: &mut Rig) {
    let flash = core::mem::replace(&mut rig.flash, RamFlash::new(4096));
    drop(core::mem::replace(&mut rig.node, dummy()));
    rig.flash = flash;
    rig.node = Batches::open(&mut rig.flash, 1).expect("reopen");
}

#[test]
fn a_file_not_answered_before_a_reset_is_refused_as_abandoned_and_never_fed_again() {
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
    reset(&mut rig);
    ring.got.clear();
    let v = result_of(&mut rig, &mut ring);
    let v = parse_result(&v).expect("SNRF");
    assert!(!v.signed);
    assert_eq!(v.batch_id, id);
    assert_eq!(v.reason, intake::reason_code(SignRejection::Abandoned));
    assert!(
        ring.got.is_empty(),
        "nothing of it reaches the signer again"
    );
    for _ in 0..2000 {
        if rig.node.counters().delivered == 1 {
            break;
        }
        rig.exchange(&mut ring);
    }
    assert_eq!(rig.node.counters().delivered, 1);
    for _ in 0..5 {
        rig.exchange(&mut ring);
    }
    // Answered: another reset does not take it up again either.
    reset(&mut rig);
    for _ in 0..50 {
        rig.exchange(&mut ring);
    }
    assert!(ring.got.is_empty());
    assert_eq!(rig.node.phase(), Phase::Idle);
    assert_eq!(rig.node.counters().results, 0);
}

#[test]
fn a_batch_is_refused_at_once_while_the_signer_is_down_and_when_it_restarts_mid_batch() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let down = intake::reason_code(SignRejection::SignerDown);
    {
        let mut rig = Rig::new(batch(2 * CHUNK_MAX));
        rig.node.set_signer(Some("the node is in safe mode"), 0);
        let mut ring = Ring {
            free: 100,
            got: Vec::new(),
        };
        let r = result_of(&mut rig, &mut ring);
        let v = parse_result(&r).expect("SNRF");
        assert!(!v.signed);
        assert_eq!(v.reason, down);
        assert!(ring.got.is_empty(), "no chunk for a signer that is down");
    }
    let mut rig = Rig::new(batch(3 * CHUNK_MAX));
    rig.node.set_signer(None, 2);
    let mut ring = Ring {
        free: 1,
        got: Vec::new(),
    };
    while ring.got.is_empty() {
        rig.exchange(&mut ring);
    }
    for _ in 0..5 {
        rig.exchange(&mut ring);
    }
    assert!(matches!(rig.node.phase(), Phase::Intake { next: 1, .. }));
    // Healthy again after a restart: the chunk sent went with the old process.
    rig.node.set_signer(None, 3);
    let r = result_of(&mut rig, &mut ring);
    let v = parse_result(&r).expect("SNRF");
    assert_eq!(v.reason, down);
    assert_eq!(ring.got.len(), 1);
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
        signer: (None, 0),
    }
}

static DUMMY_STATE: Mutex<Option<State>> = Mutex::new(None);
static DUMMY_RESULT: Mutex<[u8; RESULT_MAX]> = Mutex::new([0; RESULT_MAX]);
