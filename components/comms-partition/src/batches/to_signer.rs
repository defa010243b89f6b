//! Intake: a complete batch file is read back from flash one [`CHUNK_MAX`] chunk at a time and
//! sent to the signer (at most [`CHUNKS_PER_CALL`] per call, a full ring keeps the chunk for the
//! next call); the signer's responses for the intake build the result file; a file that is not a
//! batch, a chunk that cannot be read or sent, or an unusable signed stream gets a refused result
//! of our own.
//!
//! Avoids: blocking, and more than one chunk of the batch in RAM.

use super::{Batches, CHUNKS_PER_CALL, INTAKE_TOKEN, Intake};
use crate::flash_map::MAX_BATCH_FILE;
use crate::intake::{self, Built, IntakeError, Response, ResultBuilder};
use core::time::Duration;
use hal::flash::NorFlash;
use protocol::{
    BoundedBytes, CHUNK_MAX, ChunkPosition, SignRejection, SignRequest, SignResponse, SignStatus,
};

/// Sends one sign request to the signer.
pub trait SignOut {
    /// `Err(true)` when the ring is full (retry later), `Err(false)` for other failures.
    fn send(&mut self, req: &SignRequest) -> Result<(), bool>;
}
fn rejection(reason: SignRejection) -> Response<'static> {
    Response::Rejected { reason, data: &[] }
}
impl Batches {
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
    pub(super) fn refuse(&mut self, reason: SignRejection) {
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

    pub(super) fn take_file<F: NorFlash>(&mut self, flash: &mut F, now: Duration) {
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
        let abandoned = s.abandoned.take() == Some((file.source_id, file.seq));
        s.intake = Some(Intake {
            batch_id,
            size,
            next: 0,
            count: size.div_ceil(CHUNK_MAX as u32),
            stream: 0,
            ground: file.source_id,
            last: now,
            moved: false,
            signer_restarts: self.signer.1,
        });
        if refused {
            self.refuse(SignRejection::Malformed);
        } else if abandoned {
            log::warn!(
                "batch {batch_id:#x}: received before the reset and not answered: abandoned, not signed (the ground must send it again)"
            );
            self.refuse(SignRejection::Abandoned);
        }
    }

    pub(super) fn forward<F: NorFlash>(&mut self, flash: &mut F, sign: &mut dyn SignOut) -> bool {
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
}

fn chunks_left(b: &Batches) -> bool {
    b.state
        .as_ref()
        .and_then(|s| s.intake.as_ref())
        .is_some_and(|i| i.next < i.count)
}
