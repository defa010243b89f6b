//! The runtime on in-process channels: capability lookup rules, automatic ping answers between
//! handler calls, and the timer.

use hal::time::Instant;
use ipc::{
    CacheLine, ChannelSpec, InProcessNotify, Notify, Receiver, RecvCap, Region, SendCap, Sender,
    SenderTrust,
};
use protocol::{ComponentId, Message, Ping, Pong, Telemetry};
use runtime::event_loop::Runner;
use runtime::{
    CapError, CapSet, CapSetBuilder, Component, Context, InitError, NotifySet, Rx, Source,
    WaitBackend, WaitError,
};
use std::cell::RefCell;
use std::collections::VecDeque;

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

/// A backend that replays scripted wake-ups and a scripted clock.
struct Script {
    wakes: VecDeque<(u64, NotifySet)>,
    now: RefCell<u64>,
    deadlines: Vec<Option<Instant>>,
}

impl WaitBackend for Script {
    fn wait(&mut self, deadline: Option<Instant>) -> Result<NotifySet, WaitError> {
        self.deadlines.push(deadline);
        let (t, set) = self.wakes.pop_front().ok_or(WaitError::Os(0))?;
        *self.now.borrow_mut() = t;
        Ok(set)
    }
    fn now(&self) -> Instant {
        Instant::from_micros(*self.now.borrow())
    }
}

const PING_SRC: u8 = 0;
const DATA_SRC: u8 = 1;

struct Rig {
    watchdog_pings: Sender<'static, Ping, &'static InProcessNotify>,
    watchdog_pongs: Receiver<'static, Pong>,
    data_in: Sender<'static, Telemetry, &'static InProcessNotify>,
    caps: CapSet,
}

fn rig() -> Rig {
    let mut b = CapSetBuilder::new(ComponentId(3));
    let (ping_tx, ping_rx) = leak_region(Ping::NAME, 4, 64, SenderTrust::Trusted);
    let (pong_tx, pong_rx) = leak_region(Pong::NAME, 4, 64, SenderTrust::Trusted);
    let (data_tx, data_rx) = leak_region(Telemetry::NAME, 4, 320, SenderTrust::Untrusted);
    let n_ping = notify();
    let n_pong = notify();
    let n_data = notify();
    b.receiver("c-ping", ping_rx, None, Source::new(PING_SRC).unwrap())
        .unwrap();
    b.sender("c-pong", pong_tx, n_pong).unwrap();
    let scratch: &'static mut [u64] =
        Box::leak(vec![0u64; ipc::scratch_words(320)].into_boxed_slice());
    b.receiver(
        "data",
        data_rx,
        Some(scratch),
        Source::new(DATA_SRC).unwrap(),
    )
    .unwrap();
    Rig {
        watchdog_pings: Sender::new(ping_tx, n_ping).unwrap(),
        watchdog_pongs: Receiver::zero_copy(pong_rx).unwrap(),
        data_in: Sender::new(data_tx, n_data).unwrap(),
        caps: b.build(),
    }
}

/// Counts telemetry messages; asks for a wake-up 1 ms after each.
struct Counter {
    rx: Rx<Telemetry>,
    src: Source,
    calls: Vec<NotifySet>,
    got: u32,
}

impl Component for Counter {
    fn init(caps: &mut CapSet, _cx: &mut Context) -> Result<Self, InitError> {
        let (rx, src) = caps.receiver::<Telemetry>("data")?;
        assert!(rx.is_copy_in(), "the board marked the sender untrusted");
        Ok(Counter {
            rx,
            src,
            calls: vec![],
            got: 0,
        })
    }
    fn notified(&mut self, set: NotifySet, cx: &mut Context) {
        self.calls.push(set);
        if set.contains(self.src) {
            while self.rx.try_recv(|_| ()).is_ok() {
                self.got += 1;
                cx.count_in(1);
            }
            cx.wake_at(Instant::from_micros(cx.now().as_micros() + 1_000));
        }
    }
}

fn set(srcs: &[Source]) -> NotifySet {
    let mut s = NotifySet::EMPTY;
    for &x in srcs {
        s.insert(x);
    }
    s
}

#[test]
fn pings_are_answered_between_handler_calls_with_progress_and_never_reach_the_handler() {
    let mut r = rig();
    let ping = Source::new(PING_SRC).unwrap();
    let data = Source::new(DATA_SRC).unwrap();
    let mut backend = Script {
        wakes: VecDeque::from([
            (10, set(&[ping])),
            (20, set(&[data])),
            (30, set(&[ping, data])),
            (1_030, NotifySet::EMPTY),
            (2_000, NotifySet::EMPTY),
        ]),
        now: RefCell::new(0),
        deadlines: vec![],
    };
    let mut runner = Runner::<Counter>::start(r.caps, &backend).expect("start");
    r.watchdog_pings
        .try_send(&Ping {
            nonce: 0xfeed,
            sequence: 1,
        })
        .unwrap();
    // Not answered until the loop runs.
    assert!(r.watchdog_pongs.try_recv(|_| ()).is_err());
    runner.step(&mut backend).unwrap();
    let pong = r
        .watchdog_pongs
        .try_recv(|p| {
            (
                p.nonce.to_native(),
                p.sequence.to_native(),
                p.component.get(),
                p.progress.loop_iterations.to_native(),
            )
        })
        .expect("pong");
    assert_eq!(pong, (0xfeed, 1, ComponentId(3), 1));
    assert!(
        runner.component().calls.is_empty(),
        "a ping alone does not call the handler"
    );

    r.data_in.try_send(&Telemetry::default()).unwrap();
    runner.step(&mut backend).unwrap();
    assert_eq!(runner.component().got, 1);
    assert_eq!(
        runner.context().pending_wake(),
        Some(Instant::from_micros(1_020))
    );

    r.watchdog_pings
        .try_send(&Ping {
            nonce: 7,
            sequence: 2,
        })
        .unwrap();
    r.data_in.try_send(&Telemetry::default()).unwrap();
    runner.step(&mut backend).unwrap();
    let progress = r
        .watchdog_pongs
        .try_recv(|p| p.progress.messages_in.to_native())
        .expect("pong 2");
    assert_eq!(
        progress, 1,
        "the pong is sent before the handler handles the second message"
    );
    assert_eq!(runner.component().calls.last(), Some(&set(&[data])));

    runner.step(&mut backend).unwrap();
    assert_eq!(
        runner.component().calls.last(),
        Some(&set(&[Source::TIMER])),
        "timer due at 1030 (re-armed by the second message)"
    );
    runner.step(&mut backend).unwrap();
    assert_eq!(
        runner.component().calls.len(),
        3,
        "one-shot timer, no empty calls"
    );
    assert_eq!(backend.deadlines[3], Some(Instant::from_micros(1_030)));
    assert_eq!(backend.deadlines[4], None);
    assert_eq!(runner.heartbeat().map(|h| h.answered()), Some(2));
    assert!(matches!(
        runner.step(&mut backend),
        Err(runtime::RunError::Wait(WaitError::Os(0)))
    ));
}

struct Greedy;
impl Component for Greedy {
    fn init(caps: &mut CapSet, _cx: &mut Context) -> Result<Self, InitError> {
        assert_eq!(
            caps.sender::<Pong>("c-pong").err(),
            Some(CapError::AlreadyTaken("c-pong")),
            "the runtime took the heartbeat"
        );
        assert_eq!(
            caps.receiver::<Telemetry>("nope").err(),
            Some(CapError::NotGranted)
        );
        assert!(matches!(
            caps.sender::<Telemetry>("data"),
            Err(CapError::WrongKind("data"))
        ));
        assert!(matches!(
            caps.device("data"),
            Err(CapError::WrongKind("data"))
        ));
        assert!(matches!(
            caps.receiver::<Ping>("data"),
            Err(CapError::Endpoint(ipc::EndpointError::KindMismatch { .. }))
        ));
        // A failed endpoint construction consumed the capability: it cannot be retried into
        // another type.
        assert_eq!(
            caps.receiver::<Telemetry>("data").err(),
            Some(CapError::AlreadyTaken("data"))
        );
        Err(InitError::Component("greedy refuses"))
    }
    fn notified(&mut self, _: NotifySet, _: &mut Context) {}
}

#[test]
fn capabilities_are_taken_once_by_name_and_kind() {
    let r = rig();
    let backend = Script {
        wakes: VecDeque::new(),
        now: RefCell::new(0),
        deadlines: vec![],
    };
    assert!(matches!(
        Runner::<Greedy>::start(r.caps, &backend),
        Err(runtime::RunError::Init(InitError::Component(
            "greedy refuses"
        )))
    ));
}

#[test]
fn an_untrusted_channel_without_a_copy_buffer_is_refused_and_half_a_heartbeat_is_an_error() {
    let mut b = CapSetBuilder::new(ComponentId(1));
    let (_tx, rx) = leak_region(Telemetry::NAME, 2, 320, SenderTrust::Untrusted);
    b.receiver("t", rx, None, Source::new(0).unwrap()).unwrap();
    let (_ptx, prx) = leak_region(Ping::NAME, 2, 64, SenderTrust::Trusted);
    b.receiver("p", prx, None, Source::new(1).unwrap()).unwrap();
    let mut caps = b.build();
    assert_eq!(
        caps.receiver::<Telemetry>("t").err(),
        Some(CapError::NoScratch("t"))
    );
    assert!(
        runtime::Heartbeat::take(&mut caps).is_err(),
        "ping without pong"
    );
    let n: &'static dyn Notify = notify();
    let mut b = CapSetBuilder::new(ComponentId(1));
    let (tx, _rx) = leak_region(Telemetry::NAME, 2, 320, SenderTrust::Trusted);
    b.sender("x", tx, n).unwrap();
    let (tx2, _rx2) = leak_region(Telemetry::NAME, 2, 320, SenderTrust::Trusted);
    assert_eq!(
        b.sender("x", tx2, n),
        Err(CapError::TableFull),
        "a name granted twice"
    );
}
