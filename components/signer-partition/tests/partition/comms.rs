//! The test `comms` partition: sends each batch of the world chunk by chunk on `sign-requests`,
//! reassembles the answers on `sign-responses`, checks them (node signatures verified with
//! rust-bitcoin and libsecp256k1, the receipt's identity signature) and logs one `RESULT` line
//! per batch for the test to read.

use crate::support::verify_node_signatures;
use crate::world::World;
use hal::time::Instant;
use protocol::{BoundedBytes, CHUNK_MAX, ChunkPosition, SignRequest, SignResponse, SignStatus};
use runtime::{CapSet, Component, Context, InitError, NotifySet, Rx, Tx};
use std::sync::OnceLock;

pub static WORLD: OnceLock<World> = OnceLock::new();

/// A batch whose first chunk claims to be its second: refused as bad chunking.
const BAD_BATCH: u64 = 100;

pub struct Comms {
    tx: Tx<SignRequest>,
    rx: Rx<SignResponse>,
    batch: usize,
    next_chunk: u32,
    stream: Vec<u8>,
}

fn world() -> &'static World {
    WORLD.get().expect("world built before the sandbox")
}

impl Comms {
    fn send_chunks(&mut self) -> bool {
        let Some((id, bytes, _)) = world().batches.get(self.batch) else {
            return false;
        };
        let count = bytes.len().div_ceil(CHUNK_MAX) as u32;
        while self.next_chunk < count {
            let off = self.next_chunk as usize * CHUNK_MAX;
            let end = (off + CHUNK_MAX).min(bytes.len());
            let req = SignRequest {
                batch_id: *id,
                request_id: 9,
                position: ChunkPosition {
                    index: self.next_chunk,
                    count,
                    offset: off as u32,
                    total_len: bytes.len() as u32,
                },
                data: BoundedBytes::new(&bytes[off..end]).expect("chunk fits"),
            };
            match self.tx.try_send(&req) {
                Ok(()) => self.next_chunk += 1,
                Err(ipc::SendError::Full) => return true,
                Err(e) => panic!("send: {e:?}"),
            }
        }
        false
    }

    fn finish_signed(&mut self) {
        let w = world();
        let (id, _, n) = &w.batches[self.batch];
        let s = std::mem::take(&mut self.stream);
        let mut at = 0;
        let mut sigs = 0;
        for _ in 0..*n {
            let len = u32::from_be_bytes(s[at..at + 4].try_into().expect("len")) as usize;
            sigs += verify_node_signatures(&w.ground, &s[at + 4..at + 4 + len]);
            at += 4 + len;
        }
        let receipt = &s[at..];
        assert_eq!(receipt.len(), 163, "receipt follows the PSBTs");
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&receipt[99..]);
        let ok = signer::p256sig::verify(
            &w.identity,
            &receipt[..99],
            &sig,
            signer::p256sig::Digest::Sha3_256,
        )
        .is_ok();
        log::info!(
            "RESULT batch {id} signed psbts={n} node-signatures={sigs} receipt-verified={ok} signed-status={}",
            receipt[59]
        );
    }

    fn handle(&mut self, m: SignResponse) {
        if m.batch_id == BAD_BATCH {
            log::info!("RESULT batch {BAD_BATCH} {:?}", m.status);
            return;
        }
        let Some((id, _, _)) = world().batches.get(self.batch) else {
            return;
        };
        if m.batch_id != *id {
            log::error!("response for batch {} while waiting for {id}", m.batch_id);
            return;
        }
        match m.status {
            SignStatus::Accepted => {}
            SignStatus::Signed => {
                assert_eq!(m.position.offset as usize, self.stream.len());
                self.stream.extend_from_slice(m.data.as_slice());
                if m.position.count != 0 {
                    assert_eq!(m.position.total_len as usize, self.stream.len());
                    self.finish_signed();
                    self.next();
                }
            }
            SignStatus::Rejected { reason } => {
                let r = m.data.as_slice();
                log::info!(
                    "RESULT batch {id} rejected reason={reason:?} class={} code={}",
                    r.get(60).copied().unwrap_or(0),
                    r.get(61).copied().unwrap_or(0)
                );
                self.next();
            }
        }
    }

    fn next(&mut self) {
        self.batch += 1;
        self.next_chunk = 0;
        self.stream.clear();
        if self.batch == world().batches.len() {
            log::info!("RESULT all batches answered");
        }
    }
}

impl Component for Comms {
    fn init(caps: &mut CapSet, cx: &mut Context) -> Result<Self, InitError> {
        let tx = caps.sender::<SignRequest>("sign-requests")?;
        let (rx, _) = caps.receiver::<SignResponse>("sign-responses")?;
        let mut tx = tx;
        let bad = SignRequest {
            batch_id: BAD_BATCH,
            request_id: 9,
            position: ChunkPosition {
                index: 1,
                count: 2,
                offset: 0,
                total_len: 10,
            },
            data: BoundedBytes::new(&[0u8; 5]).expect("fits"),
        };
        tx.try_send(&bad).expect("empty ring");
        cx.wake_at(cx.now());
        Ok(Comms {
            tx,
            rx,
            batch: 0,
            next_chunk: 0,
            stream: Vec::new(),
        })
    }

    fn notified(&mut self, _set: NotifySet, cx: &mut Context) {
        loop {
            let got = self.rx.try_recv(|m| {
                rkyv::deserialize::<SignResponse, rkyv::rancor::Error>(m).expect("deserialize")
            });
            match got {
                Ok(m) => self.handle(m),
                Err(ipc::RecvError::Empty) => break,
                Err(e) => panic!("recv: {e:?}"),
            }
        }
        if self.send_chunks() {
            cx.wake_at(Instant::from_micros(cx.now().as_micros() + 1000));
        }
    }
}
