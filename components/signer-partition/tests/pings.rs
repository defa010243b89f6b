//! The signer component in process, driven by `runtime`'s `Runner` with a scripted backend: a
//! batch is signed one step per notification, and the watchdog's pings are answered between
//! the steps, while the signed stream is only partly out (so a long batch never starves the
//! watchdog). One test per process: the component's static buffers are taken once.

#[path = "../../signer/tests/support/mod.rs"]
mod support;
#[allow(dead_code)]
#[path = "partition/world.rs"]
mod world;

use board_sim::flash::SimFlash;
use hal::time::Instant;
use ipc::{
    CacheLine, ChannelSpec, InProcessNotify, Receiver, RecvCap, Region, SendCap, Sender,
    SenderTrust,
};
use protocol::{
    BoundedBytes, CHUNK_MAX, ChunkPosition, ComponentId, Message, Ping, Pong, SignRequest,
    SignResponse,
};
use runtime::drivers::{DriverError, Drivers};
use runtime::event_loop::Runner;
use runtime::{CapSetBuilder, DeviceCap, NotifySet, Source, WaitBackend, WaitError};
use std::cell::Cell;
use std::sync::Mutex;

static FLASH: Mutex<Option<SimFlash>> = Mutex::new(None);

/// Test drivers: the prepared flash, the test RNG, the sim seal secret.
struct TestDrivers;
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

/// Every wait returns the ping source (a ping is always waiting) one microsecond later.
struct AlwaysPinged {
    now: Cell<u64>,
    ping: Source,
}
impl WaitBackend for AlwaysPinged {
    fn wait(&mut self, _deadline: Option<Instant>) -> Result<NotifySet, WaitError> {
        self.now.set(self.now.get() + 1);
        let mut s = NotifySet::EMPTY;
        s.insert(self.ping);
        Ok(s)
    }
    fn now(&self) -> Instant {
        Instant::from_micros(self.now.get())
    }
}

#[test]
fn a_batch_is_signed_one_step_per_call_with_pings_answered_in_between() {
    support::big_stack(|| {
        // Clean room: keys and provisioning in the inbox.
        let flash =
            SimFlash::anonymous(board_sim::monitor::devices::FLASH_IMAGE_SIZE).expect("memfd");
        let s = world::boot_on(flash);
        let w = world::build(&s);
        let mut flash = s.into_flash();
        signer_partition::inbox::write(&mut flash, &w.provisioning).expect("inbox");
        *FLASH.lock().expect("lock") = Some(flash);

        let mut b = CapSetBuilder::new(ComponentId(2));
        let (ping_tx, ping_rx) = leak_region(Ping::NAME, 4, 64, SenderTrust::Trusted);
        let (pong_tx, pong_rx) = leak_region(Pong::NAME, 4, 64, SenderTrust::Trusted);
        let (req_tx, req_rx) = leak_region(SignRequest::NAME, 16, 4096, SenderTrust::Untrusted);
        let (resp_tx, resp_rx) = leak_region(SignResponse::NAME, 16, 4096, SenderTrust::Trusted);
        let ping = Source::new(0).expect("src");
        b.receiver("signer-ping", ping_rx, None, ping).expect("cap");
        b.sender("signer-pong", pong_tx, notify()).expect("cap");
        let scratch: &'static mut [u64] =
            Box::leak(vec![0u64; ipc::scratch_words(4096)].into_boxed_slice());
        b.receiver(
            "sign-requests",
            req_rx,
            Some(scratch),
            Source::new(1).expect("src"),
        )
        .expect("cap");
        b.sender("sign-responses", resp_tx, notify()).expect("cap");
        for (name, kind) in [("key-flash", "flash"), ("rng", "rng")] {
            b.device(DeviceCap {
                name,
                kind,
                handles: [-1, -1],
                source: None,
            })
            .expect("cap");
        }
        let mut pings = Sender::new(ping_tx, notify()).expect("tx");
        let mut pongs = Receiver::<Pong>::zero_copy(pong_rx).expect("rx");
        let mut requests = Sender::new(req_tx, notify()).expect("tx");
        let mut responses = Receiver::<SignResponse>::zero_copy(resp_rx).expect("rx");
        let mut backend = AlwaysPinged {
            now: Cell::new(0),
            ping,
        };
        let mut runner =
            Runner::<signer_partition::SignerPd<TestDrivers>>::start(b.build(), &backend)
                .expect("start");
        assert!(
            runner.component().signer().is_provisioned(),
            "provisioned from the inbox"
        );

        let (id, bytes, n) = &w.batches[0];
        let count = bytes.len().div_ceil(CHUNK_MAX) as u32;
        for i in 0..count {
            let off = i as usize * CHUNK_MAX;
            let end = (off + CHUNK_MAX).min(bytes.len());
            requests
                .try_send(&SignRequest {
                    batch_id: *id,
                    request_id: 1,
                    position: ChunkPosition {
                        index: i,
                        count,
                        offset: off as u32,
                        total_len: bytes.len() as u32,
                    },
                    data: BoundedBytes::new(&bytes[off..end]).expect("fits"),
                })
                .expect("room");
        }
        // Deliver the requests: the notification is the request source this once.
        let (mut stream, mut done, mut iterations, mut pongs_mid_stream) =
            (Vec::new(), false, 0, 0);
        let mut seq = 0u32;
        while !done {
            iterations += 1;
            assert!(iterations < 10_000, "batch does not finish");
            seq += 1;
            pings
                .try_send(&Ping {
                    nonce: 1,
                    sequence: seq,
                })
                .expect("ping room");
            if iterations == 1 {
                // First call: the requests fire too.
                let mut s = NotifySet::EMPTY;
                s.insert(Source::new(1).expect("src"));
                s.insert(ping);
                struct Once<'a>(&'a mut AlwaysPinged, NotifySet);
                impl WaitBackend for Once<'_> {
                    fn wait(&mut self, _: Option<Instant>) -> Result<NotifySet, WaitError> {
                        self.0.now.set(self.0.now.get() + 1);
                        Ok(self.1)
                    }
                    fn now(&self) -> Instant {
                        self.0.now()
                    }
                }
                runner.step(&mut Once(&mut backend, s)).expect("step");
            } else {
                runner.step(&mut backend).expect("step");
            }
            let answered = pongs
                .try_recv(|p| p.sequence.to_native())
                .expect("every ping answered");
            assert_eq!(answered, seq);
            let before = stream.len();
            while let Ok(m) = responses.try_recv(|m| {
                (
                    m.position.count.to_native(),
                    m.data.as_slice().to_vec(),
                    matches!(m.status, protocol::signing::ArchivedSignStatus::Signed),
                )
            }) {
                let (last_count, data, signed) = m;
                if signed {
                    stream.extend_from_slice(&data);
                    done |= last_count != 0;
                }
            }
            if before > 0 && !done {
                pongs_mid_stream += 1;
            }
        }
        // Start, n checks, commit, n signs, finish: at least 2n + 3 handler calls, each
        // preceded by an answered ping.
        assert!(
            iterations >= 2 * n + 3,
            "{iterations} iterations for {n} PSBTs"
        );
        assert!(
            pongs_mid_stream >= 2,
            "pings answered while the signed stream was partly out: {pongs_mid_stream}"
        );
        assert!(stream.len() > 163);
    })
}
