//! The signer component in process: its channels as local regions, the test drivers, and a
//! scripted wait backend. Shared by the in-process tests (one test per process: the component's
//! static buffers are taken once).

use crate::support;
use crate::world;
use board_sim::flash::SimFlash;
use hal::time::Instant;
use ipc::{
    CacheLine, ChannelSpec, InProcessNotify, Receiver, RecvCap, Region, SendCap, Sender,
    SenderTrust,
};
use protocol::admin::ArchivedAdminOutcome;
use protocol::{
    AdminOp, AdminRequest, AdminResponse, BoundedBytes, CHUNK_MAX, ChunkPosition, ComponentId,
    Message, Ping, Pong, SignRequest, SignResponse, XPUB_EXPORT_LEN,
};
use runtime::drivers::{DriverError, Drivers};
use runtime::event_loop::Runner;
use runtime::{CapSetBuilder, DeviceCap, NotifySet, Source, WaitBackend, WaitError};
use signer_partition::SignerPd;
use std::cell::Cell;
use std::sync::Mutex;

static FLASH: Mutex<Option<SimFlash>> = Mutex::new(None);

/// Test drivers: the prepared flash, the test RNG, the sim seal secret.
pub struct TestDrivers;
impl Drivers for TestDrivers {
    type Flash = SimFlash;
    type Rng = support::TestRng;
    fn flash(device: DeviceCap) -> Result<SimFlash, DriverError> {
        FLASH
            .lock()
            .expect("lock")
            .take()
            .ok_or(DriverError::Unavailable(device.name))
    }
    fn rng(_: DeviceCap) -> Result<support::TestRng, DriverError> {
        Ok(support::TestRng(world::RNG_SEED))
    }
    fn seal_secret(_: &DeviceCap) -> Result<[u8; 32], DriverError> {
        Ok(board_sim::drivers::SIM_SEAL_SECRET)
    }
}

fn leak_region(
    kind: &'static str,
    slots: u32,
    slot_size: u32,
    trust: SenderTrust,
) -> (SendCap<'static>, RecvCap<'static>) {
    let spec = ChannelSpec::new(kind, slots, slot_size).expect("spec");
    let mem: &'static mut [CacheLine] =
        Box::leak(vec![CacheLine::ZERO; CacheLine::count_for(&spec)].into_boxed_slice());
    Region::local(mem, spec).expect("region").split(trust)
}

fn notify() -> &'static InProcessNotify {
    Box::leak(Box::new(InProcessNotify::new()))
}

fn scratch(slot_size: u32) -> &'static mut [u64] {
    Box::leak(vec![0u64; ipc::scratch_words(slot_size)].into_boxed_slice())
}

/// Every wait returns `set` (by default the ping source: a ping is always waiting) one
/// microsecond later.
pub struct Scripted {
    pub now: Cell<u64>,
    pub set: NotifySet,
}
impl WaitBackend for Scripted {
    fn wait(&mut self, _deadline: Option<Instant>) -> Result<NotifySet, WaitError> {
        self.now.set(self.now.get() + 1);
        Ok(self.set)
    }
    fn now(&self) -> Instant {
        Instant::from_micros(self.now.get())
    }
}

/// Sources as the harness numbers them.
pub const PING: u8 = 0;
pub const SIGN_REQUESTS: u8 = 1;
pub const ADMIN_REQUESTS: u8 = 2;

pub fn source(n: u8) -> Source {
    Source::new(n).expect("source")
}

/// The running component and the far ends of its channels.
pub struct Harness {
    pub runner: Runner<SignerPd<TestDrivers>>,
    pub backend: Scripted,
    pub pings: Sender<'static, Ping, &'static InProcessNotify>,
    pub pongs: Receiver<'static, Pong>,
    pub requests: Sender<'static, SignRequest, &'static InProcessNotify>,
    pub responses: Receiver<'static, SignResponse>,
    pub admin_requests: Sender<'static, AdminRequest, &'static InProcessNotify>,
    pub admin_responses: Receiver<'static, AdminResponse>,
}

impl Harness {
    /// Starts the component on `flash`, with channels sized as in the system description.
    pub fn start(flash: SimFlash) -> Harness {
        *FLASH.lock().expect("lock") = Some(flash);
        let mut b = CapSetBuilder::new(ComponentId(2));
        let (ping_tx, ping_rx) = leak_region(Ping::NAME, 4, 64, SenderTrust::Trusted);
        let (pong_tx, pong_rx) = leak_region(Pong::NAME, 4, 64, SenderTrust::Trusted);
        let (req_tx, req_rx) = leak_region(SignRequest::NAME, 16, 4096, SenderTrust::Untrusted);
        let (resp_tx, resp_rx) = leak_region(SignResponse::NAME, 16, 4096, SenderTrust::Trusted);
        let (adm_tx, adm_rx) = leak_region(AdminRequest::NAME, 4, 4032, SenderTrust::Untrusted);
        let (admr_tx, admr_rx) = leak_region(AdminResponse::NAME, 4, 192, SenderTrust::Trusted);
        b.receiver("signer-ping", ping_rx, None, source(PING))
            .expect("cap");
        b.sender("signer-pong", pong_tx, notify()).expect("cap");
        b.receiver(
            "sign-requests",
            req_rx,
            Some(scratch(4096)),
            source(SIGN_REQUESTS),
        )
        .expect("cap");
        b.sender("sign-responses", resp_tx, notify()).expect("cap");
        b.receiver(
            "admin-requests",
            adm_rx,
            Some(scratch(4032)),
            source(ADMIN_REQUESTS),
        )
        .expect("cap");
        b.sender("admin-responses", admr_tx, notify()).expect("cap");
        for (name, kind) in [("key-flash", "flash"), ("rng", "rng")] {
            b.device(DeviceCap {
                name,
                kind,
                handles: [-1, -1],
                source: None,
            })
            .expect("cap");
        }
        let mut set = NotifySet::EMPTY;
        set.insert(source(PING));
        let backend = Scripted {
            now: Cell::new(0),
            set,
        };
        let runner = Runner::<SignerPd<TestDrivers>>::start(b.build(), &backend).expect("start");
        Harness {
            runner,
            backend,
            pings: Sender::new(ping_tx, notify()).expect("tx"),
            pongs: Receiver::<Pong>::zero_copy(pong_rx).expect("rx"),
            requests: Sender::new(req_tx, notify()).expect("tx"),
            responses: Receiver::<SignResponse>::zero_copy(resp_rx).expect("rx"),
            admin_requests: Sender::new(adm_tx, notify()).expect("tx"),
            admin_responses: Receiver::<AdminResponse>::zero_copy(admr_rx).expect("rx"),
        }
    }

    /// One loop iteration where `extra` sources fired besides the ping source.
    pub fn step_with(&mut self, extra: &[u8]) {
        let saved = self.backend.set;
        for &e in extra {
            self.backend.set.insert(source(e));
        }
        self.runner.step(&mut self.backend).expect("step");
        self.backend.set = saved;
    }

    /// One loop iteration with only the ping source.
    pub fn step(&mut self) {
        self.runner.step(&mut self.backend).expect("step");
    }

    /// Queues `batch` on `sign-requests` as consecutive chunks of at most [`CHUNK_MAX`] bytes
    /// (request id 1). The ring must have room for all of them; nothing is stepped.
    pub fn send_batch(&mut self, batch_id: u64, batch: &[u8]) {
        let count = batch.len().div_ceil(CHUNK_MAX) as u32;
        for (i, data) in batch.chunks(CHUNK_MAX).enumerate() {
            self.requests
                .try_send(&SignRequest {
                    batch_id,
                    request_id: 1,
                    position: ChunkPosition {
                        index: i as u32,
                        count,
                        offset: (i * CHUNK_MAX) as u32,
                        total_len: batch.len() as u32,
                    },
                    data: BoundedBytes::new(data).expect("fits"),
                })
                .expect("room");
        }
    }

    /// Sends one admin request and steps until its answer is out.
    pub fn ask(&mut self, request_id: u32, op: AdminOp) -> Got {
        self.admin_requests
            .try_send(&AdminRequest { request_id, op })
            .expect("room");
        self.step_with(&[ADMIN_REQUESTS]);
        // The answer goes out on the call after the one that handled it.
        for _ in 0..4 {
            let got = self.admin_responses.try_recv(|m| {
                assert_eq!(m.request_id.to_native(), request_id);
                match &m.outcome {
                    ArchivedAdminOutcome::Applied { counter } => Got::Applied(counter.to_native()),
                    ArchivedAdminOutcome::Refused { code } => Got::Refused(*code),
                    ArchivedAdminOutcome::Export { export } => {
                        Got::Export(export.as_slice().try_into().expect("169 bytes"))
                    }
                    ArchivedAdminOutcome::ExportRefused { code } => Got::ExportRefused(*code),
                    ArchivedAdminOutcome::Clock {
                        mission_ms,
                        correlated_ms,
                        mark_ms,
                    } => Got::Clock {
                        mission_ms: mission_ms.to_native(),
                        correlated_ms: correlated_ms.to_native(),
                        mark_ms: mark_ms.to_native(),
                    },
                    ArchivedAdminOutcome::Challenge { challenge } => Got::Challenge(*challenge),
                    ArchivedAdminOutcome::LinkRecoveryVerified => Got::LinkVerified,
                }
            });
            if let Ok(g) = got {
                return g;
            }
            self.step();
        }
        panic!("no admin response to request {request_id}");
    }
}

/// What came back for one admin request.
#[derive(Debug, PartialEq)]
pub enum Got {
    Applied(u64),
    Refused(u8),
    Export([u8; XPUB_EXPORT_LEN]),
    ExportRefused(u8),
    Clock {
        mission_ms: u64,
        correlated_ms: u64,
        mark_ms: u64,
    },
    Challenge([u8; 16]),
    LinkVerified,
}
