//! The monitor's event loop once the watchdog runs: one `seL4_Recv` on the components' fault
//! endpoint, with the monitor's own notification bound to its TCB, sees every event:
//!
//! - the timer tick: acknowledged, forwarded to every started component (their deadline waits
//!   block on it), and used to check the hardware watchdog the monitor emulates;
//! - a ping from the watchdog (`monitor-ping`): answered on `monitor-pong` with the nonce and
//!   sequence echoed and the loop's progress;
//! - a fault of a started component: logged and reported to the watchdog on `fault-notices`
//!   ([`FaultNotice`]); the component stays stopped until the watchdog asks for its restart.
//!   The protocol's causes are the sim board's (a process's exit or signal), so an seL4 fault
//!   is reported as the signal a process would have died of: a VM fault as 11 (SIGSEGV), a
//!   capability fault as 31 (SIGSYS), a user exception as 4 (SIGILL), anything else as 6
//!   (SIGABRT);
//! - a restart request (`restart-requests`): executed for a started component
//!   ([`Started::restart`]) and answered `Restarted` on `restart-results`; a component that
//!   was never started here is answered `Failed`, logged with the reason;
//! - a reboot request (`reboot-requests`): logged (this board cannot reboot itself).
//!
//! After [`RUN_US`] it gives its verdict: the watchdog pinged the monitor and kicked its
//! hardware watchdog often enough, every fault was the one the monitor asked for, and every
//! started component the watchdog asked to restart was restarted. Then it goes on serving
//! (the ground can reach comms on the standby link meanwhile) until Ctrl-C stops QEMU, or
//! for the seconds the host gives in fw_cfg `opt/spacenode/serve-s` ([`Serve`]), after which
//! it ends the run with a second verdict on the whole run (no fault it did not ask for).
//!
//! Avoids: blocking on anything but the one receive; any channel the description does not give
//! the monitor.

use crate::alloc::{Alloc, StepError, step};
use crate::partitions::Built;
use crate::seed::Seeds;
use crate::start::{Env, StartError, Started};
use crate::timer::Timer;
use core::arch::x86_64::_rdtsc;
use ipc::{Receiver, RecvError, Region, Sender, SenderTrust};
use protocol::{
    ComponentId, FaultCause, FaultNotice, Ping, Pong, Progress, RebootRequest, RestartOutcome,
    RestartRequest, RestartResult,
};
use sel4::notify::Sel4Notify;
use sel4::*;
use system::*;

/// How long the loop runs, in µs of the TSC (the watchdog's clock too, so lost ticks under a
/// loaded host cannot stretch the run into the watchdog's later escalations): 3 s.
pub const RUN_US: u64 = 3_000_000;
/// Fewest pings from the watchdog, and kicks of its hardware watchdog, a passing run sees.
const MIN_PINGS: u32 = 5;
const MIN_KICKS: u64 = 5;

/// How long the monitor serves after its checks (see the module docs).
pub struct Serve(Option<u64>);

impl Serve {
    /// Reads fw_cfg `opt/spacenode/serve-s` (decimal seconds); without it, serves until QEMU
    /// is stopped. A file that is not a number is reported and ends the run after the checks.
    pub fn read(fw: &mut crate::fw_cfg::FwCfg) -> Self {
        let mut text = [0u8; 8];
        let Ok(len) = fw.read_file("opt/spacenode/serve-s", &mut text) else {
            log!(
                "monitor",
                "after its checks the monitor keeps serving until QEMU is stopped (Ctrl-C)"
            );
            return Self(None);
        };
        let secs = core::str::from_utf8(&text[..len])
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok());
        if secs.is_none() {
            log!(
                "monitor",
                "fw_cfg opt/spacenode/serve-s is not a number of seconds: the run ends after the checks"
            );
        }
        let secs = secs.unwrap_or(0);
        log!(
            "monitor",
            "after its checks the monitor serves for {secs} s more, then ends the run"
        );
        Self(Some(secs.saturating_mul(1_000_000)))
    }
}

static mut SCRATCH: [u64; 3 * 16] = [0; 3 * 16];

/// Why the loop failed.
pub enum LoopError {
    Step(StepError),
    Missing(&'static str),
    Endpoint(&'static str),
    Fault {
        badge: Word,
        label: Word,
        ip: Word,
    },
    Restart(&'static str, StartError),
    WatchdogExpired {
        timeout_us: u64,
    },
    TooFew {
        pings: u32,
        kicks: u64,
        dropped: u32,
    },
    Unexpected {
        faults: u32,
    },
    NotRestarted(&'static str),
}

impl From<StepError> for LoopError {
    fn from(e: StepError) -> Self {
        Self::Step(e)
    }
}

impl core::fmt::Display for LoopError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Step(e) => write!(f, "{e}"),
            Self::Missing(name) => write!(f, "channel {name} is not in the description"),
            Self::Endpoint(name) => write!(f, "the monitor's end of {name} did not attach"),
            Self::Fault { badge, label, ip } => write!(
                f,
                "a thread the monitor did not start (badge {badge:#x}) stopped with a {} at {ip:#x}",
                fault_name(*label)
            ),
            Self::Restart(name, e) => write!(f, "restarting {name}: {e}"),
            Self::Unexpected { faults } => write!(
                f,
                "{faults} fault(s) of started components that the monitor did not ask for"
            ),
            Self::NotRestarted(name) => write!(
                f,
                "{name} faulted as asked, but the watchdog did not have it restarted in time"
            ),
            Self::WatchdogExpired { timeout_us } => write!(
                f,
                "the hardware watchdog (emulated) was not kicked for {} ms: on hardware the board resets now",
                timeout_us / 1000
            ),
            Self::TooFew {
                pings,
                kicks,
                dropped,
            } => write!(
                f,
                "in {} s the watchdog pinged the monitor {pings} times (at least {MIN_PINGS} expected), kicked its hardware watchdog {kicks} times (at least {MIN_KICKS}), and {dropped} of the monitor's messages found their ring full (none expected)",
                RUN_US / 1_000_000
            ),
        }
    }
}

fn channel(name: &'static str) -> Result<usize, LoopError> {
    CHANNELS
        .iter()
        .position(|c| c.name == name)
        .ok_or(LoopError::Missing(name))
}

fn region(built: &Built, ch: usize) -> Result<Region<'static>, LoopError> {
    let len = (ring_pages(ch) * PAGE) as usize;
    // SAFETY: the monitor's own mapping of a ring it is an end of, initialised by
    // partitions::build and kept mapped.
    unsafe { Region::attach(built.ring[ch], len, CHANNELS[ch].spec) }
        .map_err(|_| LoopError::Endpoint(CHANNELS[ch].name))
}

/// The monitor's send end of channel `name`.
fn sender<M: ipc::Wire>(
    alloc: &mut Alloc,
    ipc: &mut IpcBuffer,
    built: &Built,
    name: &'static str,
) -> Result<Sender<'static, M, Sel4Notify>, LoopError> {
    let ch = channel(name)?;
    let to = built.notification[CHANNELS[ch].receiver];
    let signal = alloc.signal_cap(ipc, to, 1 << source_index(ch))?;
    Sender::new(region(built, ch)?.into_send_cap(), Sel4Notify(signal))
        .map_err(|_| LoopError::Endpoint(name))
}

/// The monitor's receive end of channel `name`, copying in through `scratch` when needed.
fn receiver<M: ipc::Wire>(
    built: &Built,
    name: &'static str,
    scratch: &mut &'static mut [u64],
) -> Result<(Receiver<'static, M>, Word), LoopError> {
    let ch = channel(name)?;
    let region = region(built, ch)?;
    let rx = if CHANNELS[ch].copy_in {
        let words = ipc::scratch_words(CHANNELS[ch].spec.slot_size());
        if words > scratch.len() {
            return Err(LoopError::Endpoint(name));
        }
        let (buf, rest) = core::mem::take(scratch).split_at_mut(words);
        *scratch = rest;
        Receiver::copy_in(region.into_recv_cap(SenderTrust::Untrusted), buf)
    } else {
        Receiver::zero_copy(region.into_recv_cap(SenderTrust::Trusted))
    };
    Ok((
        rx.map_err(|_| LoopError::Endpoint(name))?,
        1 << source_index(ch),
    ))
}

/// The monitor's ends of its channels (the description gives it these six).
struct Ends {
    pong_tx: Sender<'static, Pong, Sel4Notify>,
    result_tx: Sender<'static, RestartResult, Sel4Notify>,
    fault_tx: Sender<'static, FaultNotice, Sel4Notify>,
    ping_rx: Receiver<'static, Ping>,
    restart_rx: Receiver<'static, RestartRequest>,
    reboot_rx: Receiver<'static, RebootRequest>,
    ping_bit: Word,
    restart_bit: Word,
    reboot_bit: Word,
}

impl Ends {
    fn take(alloc: &mut Alloc, ipc: &mut IpcBuffer, built: &Built) -> Result<Self, LoopError> {
        let scratch = &raw mut SCRATCH;
        // SAFETY: the monitor's only thread; `run` (and so this) runs once, so this is the only
        // reference to the buffer ever made.
        let mut scratch: &'static mut [u64] = unsafe { &mut *scratch };
        let (ping_rx, ping_bit) = receiver(built, "monitor-ping", &mut scratch)?;
        let (restart_rx, restart_bit) = receiver(built, "restart-requests", &mut scratch)?;
        let (reboot_rx, reboot_bit) = receiver(built, "reboot-requests", &mut scratch)?;
        Ok(Self {
            pong_tx: sender(alloc, ipc, built, "monitor-pong")?,
            result_tx: sender(alloc, ipc, built, "restart-results")?,
            fault_tx: sender(alloc, ipc, built, "fault-notices")?,
            ping_rx,
            restart_rx,
            reboot_rx,
            ping_bit,
            restart_bit,
            reboot_bit,
        })
    }
}

/// The loop's state: what it drives and what it has seen.
struct Loop<'a> {
    ends: Ends,
    seeds: &'a mut Seeds,
    started: &'a mut [Started],
    timer: Timer,
    /// The signal capability carrying the tick to each started component.
    ticks: [CPtr; COMPONENTS.len()],
    /// The root task's index (the monitor's component id).
    me: usize,
    tsc_mhz: Word,
    /// The component asked to fault at its first start, until its fault arrives.
    /// The components still expected to fault as asked (bit = component index).
    inject: u64,
    pings: u32,
    iterations: u32,
    kicks: u64,
    last_kicks: u64,
    kicked_at: u64,
    unexpected: u32,
    /// Messages the monitor could not send (a full ring), logged each.
    dropped: u32,
    occurrences: [u32; COMPONENTS.len()],
    restarted: [bool; COMPONENTS.len()],
}

/// What the run checks and how long it lasts.
pub struct Plan {
    /// The started components the monitor asked to fault at their first start (bit =
    /// component index).
    pub asked_of: u64,
    /// How long it serves after its checks.
    pub serve: Serve,
    /// The started component asked to fault in service once the checks passed (it must be
    /// restarted again before the run ends).
    pub in_service: Option<usize>,
}

/// Runs the loop (see the module docs). `started`: the started components.
pub fn run(
    alloc: &mut Alloc,
    ipc: &mut IpcBuffer,
    env: &Env,
    seeds: &mut Seeds,
    fault_ep: CPtr,
    started: &mut [Started],
    plan: Plan,
) -> Result<(), LoopError> {
    let Plan {
        asked_of,
        serve,
        in_service,
    } = plan;
    let (built, tsc_mhz) = (env.built, env.tsc_mhz);
    let me = COMPONENTS
        .iter()
        .position(|c| c.root)
        .ok_or(LoopError::Missing("the root task"))?;
    let own = built.notification[me];
    let what = "bind the monitor's notification";
    step(what, ipc.tcb_bind_notification(seL4_CapInitThreadTCB, own))?;
    let timer = Timer::start(alloc, ipc, own)?;
    let mut ticks = [0 as CPtr; COMPONENTS.len()];
    for s in started.iter() {
        ticks[s.index] = alloc.signal_cap(ipc, built.notification[s.index], TICK_BIT)?;
    }
    let mut l = Loop {
        ends: Ends::take(alloc, ipc, built)?,
        seeds,
        started,
        timer,
        ticks,
        me,
        tsc_mhz,
        inject: asked_of,
        pings: 0,
        iterations: 0,
        kicks: 0,
        last_kicks: 0,
        kicked_at: 0,
        unexpected: 0,
        dropped: 0,
        occurrences: [0; COMPONENTS.len()],
        restarted: [false; COMPONENTS.len()],
    };
    let start_us = l.now_us();
    l.kicked_at = start_us;
    let mut checked = false;
    loop {
        let t = l.now_us() - start_us;
        if !checked && t >= RUN_US {
            l.verdict(asked_of)?;
            log!("monitor", "all checks passed");
            checked = true;
            if let Some(s) = in_service.and_then(|i| l.started.iter_mut().find(|s| s.index == i)) {
                s.ask_fault();
                l.inject |= 1 << s.index;
                log!(
                    "monitor",
                    "asking {} to fault now, in service (start {}): the board's check that it comes back with what its flash holds",
                    COMPONENTS[s.index].name,
                    s.starts
                );
            }
        }
        if checked && serve.0.is_some_and(|s| t >= RUN_US + s) {
            break;
        }
        let mut mrs = [0; 4];
        let (badge, info) = seL4_Recv(fault_ep, &mut mrs);
        l.iterations = l.iterations.wrapping_add(1);
        let label = msg_label(info);
        if label != seL4_Fault_NullFault {
            l.on_fault(badge, label, &mrs)?;
            continue;
        }
        if badge & TICK_BIT != 0 {
            l.on_tick(ipc)?;
        }
        if badge & l.ends.ping_bit != 0 {
            l.on_pings();
        }
        if badge & l.ends.restart_bit != 0 {
            l.on_restarts(ipc)?;
        }
        if badge & l.ends.reboot_bit != 0 {
            while next("reboot-requests", || l.ends.reboot_rx.try_recv(|_| ())).is_some() {
                log!(
                    "monitor",
                    "a reboot request from upgrade: this board cannot reboot itself; ignored"
                );
            }
        }
    }
    if l.unexpected > 0 {
        return Err(LoopError::Unexpected {
            faults: l.unexpected,
        });
    }
    if let Some(i) = in_service {
        let again = l.started.iter().any(|s| s.index == i && s.starts >= 3);
        if l.inject & (1 << i) != 0 || !again {
            return Err(LoopError::NotRestarted(COMPONENTS[i].name));
        }
    }
    Ok(())
}

impl Loop<'_> {
    /// The TSC in µs: the clock the partitions' backends use too.
    fn now_us(&self) -> u64 {
        // SAFETY: rdtsc has no preconditions.
        let tsc = unsafe { _rdtsc() };
        tsc / self.tsc_mhz.max(1)
    }

    /// Logs a message the monitor could not send (its ring is full: the receiver is not
    /// reading); the loop goes on.
    fn sent(&mut self, channel: &str, result: Result<(), ipc::SendError>) {
        if result.is_err() {
            self.dropped += 1;
            log!("monitor", "{channel}: not sent (the ring is full)");
        }
    }

    /// A started component faulted: reported to the watchdog (see the module docs).
    fn on_fault(&mut self, badge: Word, label: Word, mrs: &RegMrs) -> Result<(), LoopError> {
        let ip = mrs[0];
        let Some(index) = faulting_component(badge)
            .and_then(|c| {
                self.started
                    .iter()
                    .find(|s| COMPONENTS[s.index].name == c.name)
            })
            .map(|s| s.index)
        else {
            return Err(LoopError::Fault { badge, label, ip });
        };
        let asked = self.inject & (1 << index) != 0
            && label == seL4_Fault_CapFault
            && mrs[seL4_CapFault_Addr as usize] == SLOT_NOT_GRANTED;
        if asked {
            self.inject &= !(1 << index);
        } else {
            self.unexpected += 1;
        }
        self.occurrences[index] += 1;
        let notice = FaultNotice {
            at_ms: self.now_us() / 1000,
            occurrence: self.occurrences[index],
            component: ComponentId(index as u8),
            cause: FaultCause::Signal {
                signal: signal_of(label),
            },
        };
        let name = COMPONENTS[index].name;
        log!(
            "monitor",
            "fault: {name} stopped with a {} at ip {ip:#x}{}{}; reported to the watchdog (fault {} of {name})",
            fault_name(label),
            VmAddress((label == seL4_Fault_VMFault).then(|| mrs[seL4_VMFault_Addr as usize])),
            if asked {
                " (the fault the monitor asked for)"
            } else {
                ""
            },
            self.occurrences[index]
        );
        let sent = self.ends.fault_tx.try_send(&notice);
        self.sent("fault-notices", sent);
        Ok(())
    }

    /// A tick: acknowledged, forwarded, and the emulated hardware watchdog checked.
    fn on_tick(&mut self, ipc: &mut IpcBuffer) -> Result<(), LoopError> {
        self.timer.ack(ipc)?;
        for s in self.started.iter() {
            seL4_Signal(self.ticks[s.index]);
        }
        let Some(page) = self.started.iter().find_map(|s| s.watchdog) else {
            return Ok(());
        };
        // SAFETY: the monitor's mapping of the watchdog's page (words: timeout µs, kicks).
        let (timeout_us, kicks) = unsafe { (page.read_volatile(), page.add(1).read_volatile()) };
        if kicks != self.last_kicks {
            self.kicks += kicks.wrapping_sub(self.last_kicks);
            self.last_kicks = kicks;
            self.kicked_at = self.now_us();
        } else if timeout_us != 0 && self.now_us() - self.kicked_at > timeout_us {
            return Err(LoopError::WatchdogExpired { timeout_us });
        }
        Ok(())
    }

    /// The watchdog's pings: each answered with its nonce and sequence and the loop's progress.
    fn on_pings(&mut self) {
        while let Some((nonce, sequence)) = next("monitor-ping", || {
            self.ends
                .ping_rx
                .try_recv(|p| (p.nonce.to_native(), p.sequence.to_native()))
        }) {
            self.pings += 1;
            let pong = Pong {
                nonce,
                sequence,
                component: ComponentId(self.me as u8),
                degraded: false,
                progress: Progress {
                    loop_iterations: self.iterations,
                    ..Progress::default()
                },
            };
            let sent = self.ends.pong_tx.try_send(&pong);
            self.sent("monitor-pong", sent);
        }
    }

    /// The watchdog's restart requests: executed for a started component, answered.
    fn on_restarts(&mut self, ipc: &mut IpcBuffer) -> Result<(), LoopError> {
        while let Some((request_id, component)) = next("restart-requests", || {
            self.ends
                .restart_rx
                .try_recv(|r| (r.request_id.to_native(), r.component.0))
        }) {
            let name = COMPONENTS.get(component as usize).map_or("?", |c| c.name);
            let target = self
                .started
                .iter_mut()
                .find(|s| s.index == component as usize);
            let outcome = match target {
                Some(s) => {
                    s.restart(ipc, self.seeds)
                        .map_err(|e| LoopError::Restart(name, e))?;
                    self.restarted[s.index] = true;
                    log!(
                        "monitor",
                        "the watchdog asks to restart {name} (request {request_id}): restarted (start {})",
                        s.starts
                    );
                    RestartOutcome::Restarted {
                        restarts: s.starts - 1,
                    }
                }
                None => {
                    log!(
                        "monitor",
                        "the watchdog asks to restart {name} (request {request_id}): not done, {name} is not started on this board; answered Failed"
                    );
                    RestartOutcome::Failed
                }
            };
            let result = RestartResult {
                request_id,
                component: ComponentId(component),
                outcome,
            };
            let sent = self.ends.result_tx.try_send(&result);
            self.sent("restart-results", sent);
        }
        Ok(())
    }

    /// The run's verdict (see the module docs).
    fn verdict(&self, asked_of: u64) -> Result<(), LoopError> {
        log!(
            "monitor",
            "the watchdog ran for {} s: it pinged the monitor {} times and kicked its hardware watchdog {} times; {} of the monitor's messages not sent (ring full)",
            RUN_US / 1_000_000,
            self.pings,
            self.kicks,
            self.dropped
        );
        if self.pings < MIN_PINGS || self.kicks < MIN_KICKS || self.dropped > 0 {
            return Err(LoopError::TooFew {
                pings: self.pings,
                kicks: self.kicks,
                dropped: self.dropped,
            });
        }
        if self.unexpected > 0 {
            return Err(LoopError::Unexpected {
                faults: self.unexpected,
            });
        }
        let asked = (0..COMPONENTS.len()).filter(|i| asked_of & (1 << i) != 0);
        for i in asked {
            if self.inject & (1 << i) != 0 || !self.restarted[i] {
                return Err(LoopError::NotRestarted(COMPONENTS[i].name));
            }
        }
        Ok(())
    }
}

/// The next message `recv` (a `try_recv` on channel `name`) gives; `None` when the ring is
/// empty. A malformed message is logged and skipped (the ring dropped it); a corrupt ring is
/// logged and read no further until its next signal.
fn next<R>(name: &str, mut recv: impl FnMut() -> Result<R, RecvError>) -> Option<R> {
    loop {
        match recv() {
            Ok(r) => return Some(r),
            Err(RecvError::Empty) => return None,
            Err(RecvError::Malformed) => log!("monitor", "{name}: a malformed message, dropped"),
            Err(RecvError::PeerCorrupt(at)) => {
                log!(
                    "monitor",
                    "{name}: the sender corrupted the ring (producer index {at})"
                );
                return None;
            }
        }
    }
}

/// The signal a process on the sim board would have died of for seL4 fault `label` (see the
/// module docs).
fn signal_of(label: Word) -> u8 {
    match label {
        seL4_Fault_VMFault => 11,
        seL4_Fault_CapFault => 31,
        seL4_Fault_UserException => 4,
        _ => 6,
    }
}

/// The address of a VM fault, for the fault's log line.
struct VmAddress(Option<Word>);

impl core::fmt::Display for VmAddress {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(addr) => write!(f, " (address {addr:#x})"),
            None => Ok(()),
        }
    }
}
