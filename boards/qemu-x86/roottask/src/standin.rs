//! The monitor standing in for the watchdog, which does not run on seL4 yet: it pings each started
//! component over the watchdog's own ping channel and checks the pong on the watchdog's pong
//! channel, with the real `ipc` endpoints, exactly as the watchdog would (nonce and sequence
//! echoed, the right component id). The log says "standing in for the watchdog" on every line.
//!
//! To do so the monitor keeps its mapping of those rings ([`KEPT`]), so they are shared by
//! three address spaces instead of two until the watchdog partition runs here. Every pong
//! channel signals the watchdog's notification, which [`bind_pongs`] binds to the monitor once.
//!
//! Avoids: any other channel; any message but ping and pong.

use crate::alloc::{Alloc, StepError, step};
use crate::partitions::Built;
use core::arch::x86_64::_rdtsc;
use ipc::{Receiver, Region, Sender, SenderTrust};
use protocol::{ComponentId, Ping, Pong};
use sel4::notify::Sel4Notify;
use sel4::*;
use system::*;

/// The rings whose monitor mapping is kept for the stand-in: the ping and pong channels of
/// each component it pings ([`PINGED`]).
pub const KEPT: [&str; 4] = ["upgrade-ping", "upgrade-pong", "signer-ping", "signer-pong"];
/// The components the stand-in pings, with their ping and pong channels.
pub const PINGED: [(&str, &str, &str); 2] =
    [("upgrade", KEPT[0], KEPT[1]), ("signer", KEPT[2], KEPT[3])];
/// Pings per round.
const PINGS: u32 = 3;

static mut PONG_SCRATCH: [u64; 64] = [0; 64];
/// Whether a copy-in pong channel took [`PONG_SCRATCH`] already.
static SCRATCH_TAKEN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Binds the notification every pong channel signals (the watchdog's) to the monitor's TCB, so
/// that one receive on the fault endpoint sees either a pong's signal or a component's fault.
pub fn bind_pongs(ipc: &mut IpcBuffer, built: &Built) -> Result<(), PingError> {
    let mut receiver = None;
    for (_, _, pong) in PINGED {
        let r = CHANNELS[channel(pong)?].receiver;
        if receiver.replace(r).is_some_and(|x| x != r) {
            return Err(PingError::Missing("one receiver of every pong channel"));
        }
    }
    let notification = built.notification[receiver.ok_or(PingError::Missing("a pong channel"))?];
    let what = "bind the pong notification to the monitor";
    step(
        what,
        ipc.tcb_bind_notification(seL4_CapInitThreadTCB, notification),
    )?;
    Ok(())
}

/// Why the stand-in's check failed.
pub enum PingError {
    Step(StepError),
    Missing(&'static str),
    Endpoint,
    NoPong(u32),
    /// A component faulted (the fault message's label, its badge, its first word).
    Fault {
        badge: Word,
        label: Word,
        ip: Word,
    },
    WrongPong {
        sequence: u32,
        component: u8,
    },
}

impl From<StepError> for PingError {
    fn from(e: StepError) -> Self {
        Self::Step(e)
    }
}

impl core::fmt::Display for PingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Step(e) => write!(f, "{e}"),
            Self::Missing(name) => write!(f, "channel {name} is not in the description"),
            Self::Endpoint => write!(f, "the ping or pong ring did not attach"),
            Self::NoPong(seq) => write!(f, "no pong for ping {seq}"),
            Self::Fault { badge, label, ip } => write!(
                f,
                "fault: component {} (badge {badge:#x}) stopped with a {} at {ip:#x}; not restarted (no restart path for partitions yet)",
                faulting_component(*badge).map_or("?", |c| c.name),
                fault_name(*label)
            ),
            Self::WrongPong {
                sequence,
                component,
            } => {
                write!(
                    f,
                    "pong for ping {sequence} from component {component} does not match"
                )
            }
        }
    }
}

fn channel(name: &'static str) -> Result<usize, PingError> {
    CHANNELS
        .iter()
        .position(|c| c.name == name)
        .ok_or(PingError::Missing(name))
}

/// The stand-in's ends of the ping and pong channels of one component.
pub struct Pinger {
    tx: Sender<'static, Ping, Sel4Notify>,
    rx: Receiver<'static, Pong>,
    target: usize,
    /// The components' fault endpoint; the pong notification is bound to the monitor's TCB, so
    /// one receive sees either the pong's signal or a component's fault.
    fault_ep: CPtr,
    pong_bit: Word,
    sequence: u32,
}

impl Pinger {
    /// Takes the stand-in's ends of `PINGED[which]`'s channels (once: each end exists once).
    pub fn new(
        alloc: &mut Alloc,
        ipc: &mut IpcBuffer,
        built: &Built,
        fault_ep: CPtr,
        which: usize,
    ) -> Result<Self, PingError> {
        let (_, ping, pong) = PINGED[which];
        let (ping_ch, pong_ch) = (channel(ping)?, channel(pong)?);
        let target = CHANNELS[ping_ch].receiver;
        let signal = alloc.slot()?;
        let bit = 1 << source_index(ping_ch);
        let write = cap_rights(false, false, true);
        let to = built.notification[target];
        let what = "mint the stand-in's signal";
        step(
            what,
            ipc.cnode_mint(
                seL4_CapInitThreadCNode,
                signal,
                seL4_WordBits,
                to,
                write,
                bit,
            ),
        )?;
        let attach = |ch: usize| {
            let len = (ring_pages(ch) * PAGE) as usize;
            // SAFETY: the monitor's kept mapping of the ring, initialised by partitions::build.
            unsafe { Region::attach(built.ring[ch], len, CHANNELS[ch].spec) }
                .map_err(|_| PingError::Endpoint)
        };
        let tx = Sender::new(attach(ping_ch)?.into_send_cap(), Sel4Notify(signal))
            .map_err(|_| PingError::Endpoint)?;
        let pong_region = attach(pong_ch)?;
        let rx = if CHANNELS[pong_ch].copy_in {
            if SCRATCH_TAKEN.swap(true, core::sync::atomic::Ordering::AcqRel) {
                return Err(PingError::Missing("a second copy-in buffer for pongs"));
            }
            let buf = &raw mut PONG_SCRATCH;
            // SAFETY: the monitor's only thread; SCRATCH_TAKEN lets this run once, so this is
            // the only reference to the buffer ever made.
            let buf: &'static mut [u64] = unsafe { &mut *buf };
            Receiver::copy_in(pong_region.into_recv_cap(SenderTrust::Untrusted), buf)
        } else {
            Receiver::zero_copy(pong_region.into_recv_cap(SenderTrust::Trusted))
        }
        .map_err(|_| PingError::Endpoint)?;
        Ok(Self {
            tx,
            rx,
            target,
            fault_ep,
            pong_bit: 1 << source_index(pong_ch),
            sequence: 0,
        })
    }

    /// Sends `PINGS` pings, one at a time, and checks every pong.
    pub fn round(&mut self) -> Result<(), PingError> {
        for _ in 0..PINGS {
            self.sequence += 1;
            let sequence = self.sequence;
            // SAFETY: rdtsc has no preconditions.
            let nonce = unsafe { _rdtsc() };
            let ping = Ping { nonce, sequence };
            self.tx.try_send(&ping).map_err(|_| PingError::Endpoint)?;
            let mut mrs = [0; 4];
            let (badge, info) = seL4_Recv(self.fault_ep, &mut mrs);
            if msg_label(info) != seL4_Fault_NullFault {
                return Err(PingError::Fault {
                    badge,
                    label: msg_label(info),
                    ip: mrs[0],
                });
            }
            if badge & self.pong_bit == 0 {
                return Err(PingError::NoPong(sequence));
            }
            let got = self
                .rx
                .try_recv(|p| {
                    let loops = p.progress.loop_iterations.to_native();
                    (
                        p.nonce.to_native(),
                        p.sequence.to_native(),
                        p.component.0,
                        loops,
                    )
                })
                .map_err(|_| PingError::NoPong(sequence))?;
            let (n, s, component, loops) = got;
            if n != nonce
                || s != sequence
                || ComponentId(component) != ComponentId(self.target as u8)
            {
                return Err(PingError::WrongPong {
                    sequence,
                    component,
                });
            }
            log!(
                "monitor",
                "standing in for the watchdog: ping {sequence} to {} answered (nonce echoed, component {component}, {loops} loop iterations)",
                COMPONENTS[self.target].name
            );
        }
        Ok(())
    }
}
