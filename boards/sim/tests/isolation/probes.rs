//! The components of the isolation test system, run when the test executable is started by the
//! monitor as `EXE pd NAME`. They live only in this test target: nothing here ships.
//!
//! - `watchdog`: logs every fault notice and restart result, asks for a restart of every
//!   component it is told about, sends forged requests at start, pings `alpha` and the monitor;
//!   if it owns the hardware watchdog it starts it and never kicks it.
//! - `alpha` / `beta`: a numbered exchange every millisecond; `alpha` checks every echo.
//! - `opener`, `socketeer`, `scribbler`: break the seccomp rules right after start.
//! - `crasher`: aborts right after start.
//! - `deep`: recurses through 512 KiB of stack, far beyond its description's 16 KiB.
//! - `rebooter`: sends a reboot request naming another component (forged), then a genuine one.

use board_sim::partition::{EXIT_LOOP_STOPPED, EXIT_START_FAILED, Partition, logger};
use hal::time::Instant;
use hal::watchdog::WatchdogTimer;
use protocol::{
    ComponentId, FaultNotice, Message, Ping, Pong, RebootReason, RebootRequest, RestartRequest,
    RestartResult, Telemetry,
};
use rkyv::{Archive, Serialize};
use runtime::{CapSet, Component, Context, InitError, NotifySet, Rx, Source, Tx};
use std::process::ExitCode;

/// Raw bytes on the restart channel: the only way a component could forge a malformed request.
#[derive(Archive, Serialize, Debug, Clone, Copy)]
pub struct RawRestart(pub [u8; 32]);

impl Message for RawRestart {
    const NAME: &'static str = RestartRequest::NAME;
    const SUMMARY: &'static str = "test only: raw bytes on the restart channel";
    const MAX_SIZE: usize = 32;
}

fn raw(req: &RestartRequest) -> RawRestart {
    let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(req).expect("serialise");
    let mut out = [0u8; 32];
    assert_eq!(bytes.len(), 32, "RestartRequest archives to 32 bytes");
    out.copy_from_slice(&bytes);
    RawRestart(out)
}

fn after_ms(cx: &Context, ms: u64) -> Instant {
    Instant::from_micros(cx.now().as_micros() + ms * 1000)
}

struct TestWatchdog {
    notices: Rx<FaultNotice>,
    notices_src: Source,
    requests: Tx<RawRestart>,
    results: Rx<RestartResult>,
    results_src: Source,
    pings: Vec<(Tx<Ping>, Rx<Pong>, &'static str, u32)>,
    next_request: u32,
    /// Requests that found the ring full, sent again on the next timer tick (the monitor may
    /// not have run yet: components under SCHED_DEADLINE preempt it).
    pending: std::collections::VecDeque<(u32, RawRestart)>,
    _hw: Option<board_sim::watchdog::SimWatchdog>,
}

impl TestWatchdog {
    fn request(&mut self, component: u8, cause: protocol::FaultCause) {
        let id = self.next_request;
        self.next_request += 1;
        let r = RestartRequest {
            request_id: id,
            component: ComponentId(component),
            cause,
        };
        self.pending.push_back((id, raw(&r)));
        self.flush();
    }

    /// Sends the pending requests in order until the ring is full.
    fn flush(&mut self) {
        while let Some((id, r)) = self.pending.front() {
            match self.requests.try_send(r) {
                Ok(()) => {
                    self.pending.pop_front();
                }
                Err(ipc::SendError::Full) => return,
                Err(e) => {
                    log::error!("request {id} not sent: {e}");
                    self.pending.pop_front();
                }
            }
        }
    }
}

impl Component for TestWatchdog {
    fn init(caps: &mut CapSet, cx: &mut Context) -> Result<Self, InitError> {
        let (notices, notices_src) = caps.receiver::<FaultNotice>("fault-notices")?;
        let (results, results_src) = caps.receiver::<RestartResult>("restart-results")?;
        let requests = caps.sender::<RawRestart>("restart-requests")?;
        let mut pings = Vec::new();
        for (p, q, who) in [
            ("alpha-ping", "alpha-pong", "alpha"),
            ("monitor-ping", "monitor-pong", "monitor"),
        ] {
            pings.push((caps.sender::<Ping>(p)?, caps.receiver::<Pong>(q)?.0, who, 0));
        }
        let hw = match caps.device("hw-watchdog") {
            Ok(dev) => {
                use std::os::fd::FromRawFd;
                // SAFETY: the grant table puts the watchdog timer's socket at this descriptor
                // and nothing else in this process owns it.
                let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(dev.handles[0]) };
                let mut wd = board_sim::watchdog::SimWatchdog::from_fd(fd)
                    .map_err(|_| InitError::Component("watchdog timer descriptor"))?;
                wd.start(std::time::Duration::from_millis(100))
                    .map_err(|_| InitError::Component("watchdog timer start"))?;
                log::info!("hardware watchdog started (100 ms), never kicking it");
                Some(wd)
            }
            Err(_) => None,
        };
        let mut w = TestWatchdog {
            notices,
            notices_src,
            requests,
            results,
            results_src,
            pings,
            next_request: 1,
            pending: std::collections::VecDeque::new(),
            _hw: hw,
        };
        // Forged requests: bad bytes, unknown component, the root, itself, a held component.
        if let Err(e) = w.requests.try_send(&RawRestart([0xff; 32])) {
            log::error!("bad bytes not sent: {e}");
        }
        let cause = protocol::FaultCause::Exit { code: 0 };
        w.request(200, cause);
        w.request(0, cause);
        w.request(cx.component().0, cause);
        w.request(2, cause); // alpha: policy hold
        w.next_request = 100;
        log::info!("ready");
        cx.wake_at(after_ms(cx, 10));
        Ok(w)
    }

    fn notified(&mut self, set: NotifySet, cx: &mut Context) {
        if set.contains(self.notices_src) {
            while let Ok((c, cause, n)) = self.notices.try_recv(|f| {
                (
                    f.component.0,
                    format!("{:?}", f.cause),
                    f.occurrence.to_native(),
                )
            }) {
                log::info!("notice component={c} cause={cause} occurrence={n}");
                self.request(c, protocol::FaultCause::Exit { code: 0 });
            }
        }
        if set.contains(self.results_src) {
            while let Ok((id, c, outcome)) = self.results.try_recv(|r| {
                (
                    r.request_id.to_native(),
                    r.component.0,
                    format!("{:?}", r.outcome),
                )
            }) {
                log::info!("result request={id} component={c} outcome={outcome}");
            }
        }
        if set.contains(Source::TIMER) {
            self.flush();
            let seq = cx.progress().loop_iterations;
            for (tx, rx, who, answered) in &mut self.pings {
                while rx.try_recv(|p| p.sequence.to_native()).is_ok() {
                    *answered += 1;
                    if *answered == 1 || (*answered).is_multiple_of(25) {
                        log::info!("pongs from {who}: {answered}");
                    }
                }
                let _ = tx.try_send(&Ping {
                    nonce: u64::from(seq) ^ 0x5a5a,
                    sequence: seq,
                });
            }
            cx.wake_at(after_ms(cx, 10));
        }
    }
}

struct Alpha {
    tx: Tx<Telemetry>,
    rx: Rx<Telemetry>,
    src: Source,
    sent: u32,
    echoed: u32,
    errors: u32,
}

impl Component for Alpha {
    fn init(caps: &mut CapSet, cx: &mut Context) -> Result<Self, InitError> {
        let tx = caps.sender::<Telemetry>("a-to-b")?;
        let (rx, src) = caps.receiver::<Telemetry>("b-to-a")?;
        cx.wake_at(after_ms(cx, 1));
        log::info!("ready");
        Ok(Alpha {
            tx,
            rx,
            src,
            sent: 0,
            echoed: 0,
            errors: 0,
        })
    }

    fn notified(&mut self, set: NotifySet, cx: &mut Context) {
        if set.contains(self.src) {
            while let Ok(seq) = self.rx.try_recv(|t| t.sequence.to_native()) {
                cx.count_in(1);
                if seq != self.echoed {
                    self.errors += 1;
                    log::error!("ERROR echo {seq}, expected {}", self.echoed);
                }
                self.echoed = seq.wrapping_add(1);
                if self.echoed.is_multiple_of(100) {
                    log::info!("exchanged {} errors {}", self.echoed, self.errors);
                }
            }
        }
        if set.contains(Source::TIMER) {
            if self.sent == self.echoed {
                let t = Telemetry {
                    sequence: self.sent,
                    component: cx.component(),
                    ..Telemetry::default()
                };
                if self.tx.try_send(&t).is_ok() {
                    self.sent += 1;
                    cx.count_out(1);
                }
            }
            cx.wake_at(after_ms(cx, 1));
        }
    }
}

struct Beta {
    tx: Tx<Telemetry>,
    rx: Rx<Telemetry>,
}

impl Component for Beta {
    fn init(caps: &mut CapSet, _cx: &mut Context) -> Result<Self, InitError> {
        let tx = caps.sender::<Telemetry>("b-to-a")?;
        let (rx, _) = caps.receiver::<Telemetry>("a-to-b")?;
        log::info!("ready");
        Ok(Beta { tx, rx })
    }

    fn notified(&mut self, _set: NotifySet, cx: &mut Context) {
        while let Ok(seq) = self.rx.try_recv(|t| t.sequence.to_native()) {
            let echo = Telemetry {
                sequence: seq,
                component: cx.component(),
                ..Telemetry::default()
            };
            let _ = self.tx.try_send(&echo);
        }
    }
}

/// Asks for a reboot once it is running: first a request naming another component as the
/// requester (the monitor must refuse it), then its own.
struct Rebooter;

impl Component for Rebooter {
    fn init(caps: &mut CapSet, cx: &mut Context) -> Result<Self, InitError> {
        let mut tx = caps.sender::<RebootRequest>("reboots")?;
        let me = cx.component();
        let forged = RebootRequest {
            request_id: 1,
            requester: ComponentId(me.0.wrapping_add(1)),
            reason: RebootReason::Commanded,
        };
        let genuine = RebootRequest {
            request_id: 2,
            requester: me,
            reason: RebootReason::Commanded,
        };
        for r in [forged, genuine] {
            if tx.try_send(&r).is_err() {
                return Err(InitError::Component("reboot channel full"));
            }
        }
        log::info!("reboot requested");
        Ok(Rebooter)
    }
    fn notified(&mut self, _: NotifySet, _: &mut Context) {}
}

/// Breaks a rule in `init`, after the sandbox is in place.
struct RuleBreaker;

impl Component for RuleBreaker {
    fn init(caps: &mut CapSet, _cx: &mut Context) -> Result<Self, InitError> {
        let _ = caps;
        Err(InitError::Component("RuleBreaker is dispatched by name"))
    }
    fn notified(&mut self, _: NotifySet, _: &mut Context) {}
}

fn break_rule(name: &str, other: u32) -> ExitCode {
    // SAFETY: plain system calls with valid arguments; they are meant to be refused.
    unsafe {
        match name {
            "tracer" => {
                log::info!("ptrace-attaching to process {other}");
                libc::ptrace(libc::PTRACE_ATTACH, other as libc::pid_t, 0usize, 0usize);
            }
            "remapper" => {
                let page = 4096;
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    page,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                let err = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
                let remap = libc::mremap(p, page, 2 * page, libc::MREMAP_MAYMOVE);
                let remap = if remap == libc::MAP_FAILED { err() } else { 0 };
                let remove = libc::madvise(p, page, libc::MADV_REMOVE);
                let remove = if remove != 0 { err() } else { 0 };
                let dontneed = libc::madvise(p, page, libc::MADV_DONTNEED);
                log::info!(
                    "mremap errno {remap}, madvise(MADV_REMOVE) errno {remove}, madvise(MADV_DONTNEED) returned {dontneed}; still running"
                );
                return ExitCode::SUCCESS;
            }
            "peeker" => {
                log::info!("opening /proc/{other}/mem");
                let path = std::ffi::CString::new(format!("/proc/{other}/mem")).unwrap_or_default();
                libc::open(path.as_ptr(), libc::O_RDONLY);
            }
            "opener" => {
                log::info!("opening /etc/hostname");
                libc::open(c"/etc/hostname".as_ptr(), libc::O_RDONLY);
            }
            "socketeer" => {
                log::info!("creating a socket");
                libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
            }
            "scribbler" => {
                log::info!("writing to descriptor 1, which was not granted");
                libc::write(1, b"x".as_ptr().cast(), 1);
            }
            "crasher" => {
                log::info!("crashing");
                std::process::abort();
            }
            "deep" => {
                log::info!("recursing through 512 KiB of stack");
                log::info!("reached depth {}", recurse(128));
            }
            "spinner" => {
                log::info!("spinning");
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            _ => {}
        }
    }
    log::error!("{name}: the forbidden call returned; the sandbox did not stop it");
    ExitCode::from(99)
}

/// Uses `depth` frames of 4 KiB each; the result depends on every frame so none is optimised away.
#[inline(never)]
fn recurse(depth: u32) -> u64 {
    let mut frame = [0u8; 4096];
    frame[depth as usize % 4096] = depth as u8;
    let frame = std::hint::black_box(frame);
    if depth == 0 {
        return u64::from(frame[0]);
    }
    recurse(depth - 1) + u64::from(frame[depth as usize % 4096])
}

/// The `pd NAME` mode of the test executable.
pub fn run(name: &str) -> ExitCode {
    logger::init(log::LevelFilter::Info);
    // Another process for the tracer and the peeker to go after (their parent, the monitor),
    // taken before the sandbox (afterwards even `getppid` is refused).
    let other = std::os::unix::process::parent_id();
    let p = match Partition::enter(name) {
        Ok(p) => p,
        Err(e) => {
            log::error!("cannot start: {e}");
            return ExitCode::from(EXIT_START_FAILED as u8);
        }
    };
    let err = match name {
        "watchdog" => p.run::<TestWatchdog>(),
        "alpha" => p.run::<Alpha>(),
        "beta" => p.run::<Beta>(),
        "rebooter" => p.run::<Rebooter>(),
        "opener" | "socketeer" | "scribbler" | "crasher" | "deep" | "spinner" | "tracer"
        | "peeker" | "remapper" => {
            // Not dropped: closing its descriptors would itself be a refused call.
            std::mem::forget(p);
            return break_rule(name, other);
        }
        _ => p.run::<RuleBreaker>(),
    };
    log::error!("loop stopped: {err}");
    ExitCode::from(EXIT_LOOP_STOPPED as u8)
}

/// The `peek TARGET UID` mode: as user `UID` (switched to when running as root), try to open
/// `/proc/TARGET/mem` and to `ptrace`-attach to TARGET; say what happened, and succeed only if
/// both were refused.
pub fn peek(target: u32, uid: u32) -> ExitCode {
    // SAFETY: plain identity and ptrace system calls with valid arguments.
    unsafe {
        if libc::geteuid() == 0
            && uid != 0
            && (libc::setgroups(0, std::ptr::null()) != 0
                || libc::setresgid(uid, uid, uid) != 0
                || libc::setresuid(uid, uid, uid) != 0)
        {
            println!(
                "cannot become uid {uid}: {}",
                std::io::Error::last_os_error()
            );
            return ExitCode::from(2);
        }
    }
    let mem = match std::fs::File::open(format!("/proc/{target}/mem")) {
        Ok(_) => "mem: OPENED".to_string(),
        Err(e) => format!("mem: refused ({e})"),
    };
    // SAFETY: as above; a successful attach is undone at once.
    let trace = unsafe {
        if libc::ptrace(libc::PTRACE_ATTACH, target as libc::pid_t, 0usize, 0usize) == 0 {
            libc::ptrace(libc::PTRACE_DETACH, target as libc::pid_t, 0usize, 0usize);
            "ptrace: ATTACHED".to_string()
        } else {
            format!("ptrace: refused ({})", std::io::Error::last_os_error())
        }
    };
    println!("{mem}\n{trace}");
    if mem.contains("refused") && trace.contains("refused") {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
