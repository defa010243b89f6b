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
//!   was never started here (comms) is answered `Failed`, logged with the reason;
//! - a reboot request (`reboot-requests`): logged (this board cannot reboot itself).
//!
//! It runs for [`RUN_US`], then gives its verdict: the watchdog pinged the monitor
//! and kicked its hardware watchdog often enough, every fault was the one the monitor asked
//! for, and every started component the watchdog asked to restart was restarted.
//!
//! Avoids: blocking on anything but the one receive; any channel the description does not give
//! the monitor.

use crate::alloc::{Alloc, StepError, step};
use crate::partitions::Built;
use crate::start::{StartError, Started};
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

static mut SCRATCH: [u64; 3 * 16] = [0; 3 * 16];

/// Why the loop failed.
pub enum LoopError {
    Step(StepError),
    Missing(&'static str),
    Endpoint(&'static str),
    Fault { badge: Word, label: Word, ip: Word },
    Restart(&'static str, StartError),
    WatchdogExpired { timeout_us: u64 },
    TooFew { pings: u32, kicks: u64 },
    Unexpected { faults: u32 },
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
            Self::TooFew { pings, kicks } => write!(
                f,
                "in {} s the watchdog pinged the monitor {pings} times (at least {MIN_PINGS} expected) and kicked its hardware watchdog {kicks} times (at least {MIN_KICKS})",
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

/// Runs the loop (see the module docs). `started`: the started components; `asked_of`: the
/// one the monitor asked to fault at its first start, if any.
pub fn run(
    alloc: &mut Alloc,
    ipc: &mut IpcBuffer,
    built: &Built,
    fault_ep: CPtr,
    started: &mut [Started],
    asked_of: Option<usize>,
    tsc_mhz: Word,
) -> Result<(), LoopError> {
    let mut inject = asked_of;
    let (mut unexpected, mut occurrences) = (0u32, [0u32; COMPONENTS.len()]);
    let mut restarted = [false; COMPONENTS.len()];
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
    let scratch = &raw mut SCRATCH;
    // SAFETY: the monitor's only thread; `run` is called once, so this is the only reference.
    let mut scratch: &'static mut [u64] = unsafe { &mut *scratch };
    let mut pong_tx = sender::<Pong>(alloc, ipc, built, "monitor-pong")?;
    let mut result_tx = sender::<RestartResult>(alloc, ipc, built, "restart-results")?;
    let mut fault_tx = sender::<FaultNotice>(alloc, ipc, built, "fault-notices")?;
    let (mut ping_rx, ping_bit) = receiver::<Ping>(built, "monitor-ping", &mut scratch)?;
    let (mut restart_rx, restart_bit) =
        receiver::<RestartRequest>(built, "restart-requests", &mut scratch)?;
    let (mut reboot_rx, reboot_bit) =
        receiver::<RebootRequest>(built, "reboot-requests", &mut scratch)?;
    let hw = started.iter().find_map(|s| s.watchdog);
    // The TSC, in µs: the clock the partitions' backends use too.
    // SAFETY: rdtsc has no preconditions.
    let now_us = || unsafe { _rdtsc() } / tsc_mhz.max(1);
    let (mut pings, mut iterations, mut kicks, mut last_kicks) = (0u32, 0u32, 0u64, 0u64);
    let (start_us, mut kicked_at) = (now_us(), now_us());
    while now_us() - start_us < RUN_US {
        let mut mrs = [0; 4];
        let (badge, info) = seL4_Recv(fault_ep, &mut mrs);
        iterations = iterations.wrapping_add(1);
        let label = msg_label(info);
        if label != seL4_Fault_NullFault {
            let Some(s) = faulting_component(badge).and_then(|c| {
                started
                    .iter()
                    .position(|s| COMPONENTS[s.index].name == c.name)
            }) else {
                return Err(LoopError::Fault {
                    badge,
                    label,
                    ip: mrs[0],
                });
            };
            let index = started[s].index;
            let asked = inject.take() == Some(index)
                && label == seL4_Fault_CapFault
                && mrs[seL4_CapFault_Addr as usize] == SLOT_NOT_GRANTED;
            if !asked {
                unexpected += 1;
            }
            occurrences[index] += 1;
            let notice = FaultNotice {
                // SAFETY: rdtsc has no preconditions.
                at_ms: unsafe { _rdtsc() } / tsc_mhz.max(1) / 1000,
                occurrence: occurrences[index],
                component: ComponentId(index as u8),
                cause: FaultCause::Signal {
                    signal: signal_of(label),
                },
            };
            log!(
                "monitor",
                "fault: {} stopped with a {} at ip {:#x}{}; reported to the watchdog (fault {} of {})",
                COMPONENTS[index].name,
                fault_name(label),
                mrs[0],
                if asked {
                    " (the fault the monitor asked for)"
                } else {
                    ""
                },
                occurrences[index],
                COMPONENTS[index].name
            );
            fault_tx
                .try_send(&notice)
                .map_err(|_| LoopError::Endpoint("fault-notices"))?;
            continue;
        }
        if badge & TICK_BIT != 0 {
            timer.ack(ipc)?;
            for s in started.iter() {
                seL4_Signal(ticks[s.index]);
            }
            if let Some(page) = hw {
                // SAFETY: the monitor's mapping of the watchdog's page (words: timeout µs, kicks).
                let (timeout_us, now) =
                    unsafe { (page.read_volatile(), page.add(1).read_volatile()) };
                if now != last_kicks {
                    kicks += now.wrapping_sub(last_kicks);
                    last_kicks = now;
                    kicked_at = now_us();
                } else if timeout_us != 0 && now_us() - kicked_at > timeout_us {
                    return Err(LoopError::WatchdogExpired { timeout_us });
                }
            }
        }
        if badge & ping_bit != 0 {
            while let Some((nonce, sequence)) = next("monitor-ping", || {
                ping_rx.try_recv(|p| (p.nonce.to_native(), p.sequence.to_native()))
            }) {
                pings += 1;
                let pong = Pong {
                    nonce,
                    sequence,
                    component: ComponentId(me as u8),
                    degraded: false,
                    progress: Progress {
                        loop_iterations: iterations,
                        ..Progress::default()
                    },
                };
                pong_tx
                    .try_send(&pong)
                    .map_err(|_| LoopError::Endpoint("monitor-pong"))?;
            }
        }
        if badge & restart_bit != 0 {
            while let Some((request_id, component)) = next("restart-requests", || {
                restart_rx.try_recv(|r| (r.request_id.to_native(), r.component.0))
            }) {
                let name = COMPONENTS.get(component as usize).map_or("?", |c| c.name);
                let outcome = match started.iter_mut().find(|s| s.index == component as usize) {
                    Some(s) => {
                        s.restart(ipc).map_err(|e| LoopError::Restart(name, e))?;
                        restarted[s.index] = true;
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
                result_tx
                    .try_send(&result)
                    .map_err(|_| LoopError::Endpoint("restart-results"))?;
            }
        }
        if badge & reboot_bit != 0 {
            while next("reboot-requests", || reboot_rx.try_recv(|_| ())).is_some() {
                log!(
                    "monitor",
                    "a reboot request from upgrade: this board cannot reboot itself; ignored"
                );
            }
        }
    }
    log!(
        "monitor",
        "the watchdog ran for {} s: it pinged the monitor {pings} times (all answered) and kicked its hardware watchdog {kicks} times",
        RUN_US / 1_000_000
    );
    if pings < MIN_PINGS || kicks < MIN_KICKS {
        return Err(LoopError::TooFew { pings, kicks });
    }
    if unexpected > 0 {
        return Err(LoopError::Unexpected { faults: unexpected });
    }
    if let Some(i) = asked_of
        && (inject.is_some() || !restarted[i])
    {
        return Err(LoopError::NotRestarted(COMPONENTS[i].name));
    }
    Ok(())
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
