#![allow(dead_code)] // each test binary uses a different subset
//! A simulated node around the watchdog core: components with scripted behaviour answering
//! pings after a delay, a monitor executing restart requests, all on a simulated clock that
//! advances in 10 ms ticks. Nothing here sleeps or reads a real clock.

use core::convert::Infallible;
use std::collections::VecDeque;

use hal::rng::{TryCryptoRng, TryRng};
use hal::time::Instant;
use protocol::{
    ComponentId, FaultCause, FaultNotice, Pong, Progress, RestartOutcome, RestartResult,
};
use watchdog::description::config_from;
use watchdog::{Action, BootInfo, Config, Kick, Tuning, Watchdog};

pub const MONITOR: ComponentId = ComponentId(0);
pub const WATCHDOG: ComponentId = ComponentId(1);
pub const COMMS: ComponentId = ComponentId(2);
pub const SIGNER: ComponentId = ComponentId(3);
pub const UPGRADE: ComponentId = ComponentId(4);
pub const TICK_MS: u64 = 10;

/// Deterministic RNG for nonces (xorshift64*): the nonces only need to differ in tests.
pub struct TestRng(pub u64);

impl TryRng for TestRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        Ok(self.0.wrapping_mul(0x2545_F491_4F6C_DD1D))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for b in dst {
            *b = self.try_next_u64()? as u8;
        }
        Ok(())
    }
}
impl TryCryptoRng for TestRng {}

/// An RNG whose health test always fails.
pub struct BrokenRng;
#[derive(Debug)]
pub struct RngDown;
impl core::fmt::Display for RngDown {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("entropy source failed its health test")
    }
}
impl std::error::Error for RngDown {}
impl TryRng for BrokenRng {
    type Error = RngDown;
    fn try_next_u32(&mut self) -> Result<u32, RngDown> {
        Err(RngDown)
    }
    fn try_next_u64(&mut self) -> Result<u64, RngDown> {
        Err(RngDown)
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), RngDown> {
        Err(RngDown)
    }
}
impl TryCryptoRng for BrokenRng {}

/// How a simulated component answers pings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Answers every ping after `delay_ms`.
    Answers { delay_ms: u64 },
    /// Answers with a nonce other than the one it got.
    WrongNonce,
    /// Frozen: never answers.
    Hung,
    /// Its process is gone.
    Dead,
}

/// What the simulated monitor does with a restart request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorMode {
    /// Restarts after `delay_ms`; the new process behaves as `then`.
    Restart { delay_ms: u64, then: Behaviour },
    /// Answers `Failed` (the new process did not start).
    FailToStart,
    /// Refuses.
    Refuse,
    /// Never answers.
    Silent,
}

pub struct World {
    pub wd: Watchdog,
    pub now_ms: u64,
    pub rng: TestRng,
    pub behaviour: Vec<Behaviour>,
    pub progress: Vec<Progress>,
    pub monitor: MonitorMode,
    pongs: VecDeque<(u64, ComponentId, Pong)>,
    results: VecDeque<(u64, RestartResult, Behaviour)>,
    pub actions: Vec<(u64, Action)>,
    pub withheld: Vec<(u64, Kick)>,
    pub fault_count: u32,
}

pub fn shipped_config(tuning: Tuning) -> Config {
    let board = kernel_config::shipped::board("sim").expect("sim board");
    let system = kernel_config::load(&kernel_config::shipped::description(), &board)
        .expect("shipped description loads");
    config_from(&system, "watchdog", tuning).expect("watchdog config")
}

pub fn ms(v: u64) -> Instant {
    Instant::from_micros(v * 1_000)
}

impl World {
    pub fn new(boot: BootInfo) -> Self {
        Self::with_config(shipped_config(Tuning::default()), boot)
    }

    pub fn with_config(config: Config, boot: BootInfo) -> Self {
        let n = config.len();
        World {
            wd: Watchdog::new(config, boot, ms(0)),
            now_ms: 0,
            rng: TestRng(0x9E37_79B9_7F4A_7C15),
            behaviour: vec![Behaviour::Answers { delay_ms: 1 }; n],
            progress: vec![Progress::default(); n],
            monitor: MonitorMode::Restart {
                delay_ms: 20,
                then: Behaviour::Answers { delay_ms: 1 },
            },
            pongs: VecDeque::new(),
            results: VecDeque::new(),
            actions: Vec::new(),
            withheld: Vec::new(),
            fault_count: 0,
        }
    }

    fn sink(actions: &mut Vec<(u64, Action)>, now: u64) -> impl FnMut(Action) + '_ {
        move |a| actions.push((now, a))
    }

    /// Execute the actions produced since `from`: pings reach components, restart requests
    /// reach the monitor.
    fn execute(&mut self, from: usize) {
        let new: Vec<Action> = self.actions[from..].iter().map(|(_, a)| *a).collect();
        for a in new {
            match a {
                Action::Ping { component, ping } => {
                    let i = usize::from(component.0);
                    let p = &mut self.progress[i];
                    p.loop_iterations = p.loop_iterations.wrapping_add(1);
                    let pong = |nonce| Pong {
                        nonce,
                        sequence: ping.sequence,
                        component,
                        degraded: false,
                        progress: *p,
                    };
                    match self.behaviour[i] {
                        Behaviour::Answers { delay_ms } => self.pongs.push_back((
                            self.now_ms + delay_ms,
                            component,
                            pong(ping.nonce),
                        )),
                        Behaviour::WrongNonce => {
                            self.pongs
                                .push_back((self.now_ms + 1, component, pong(ping.nonce ^ 1)))
                        }
                        Behaviour::Hung | Behaviour::Dead => {}
                    }
                }
                Action::Restart(req) => {
                    let done = |outcome| RestartResult {
                        request_id: req.request_id,
                        component: req.component,
                        outcome,
                    };
                    match self.monitor {
                        MonitorMode::Restart { delay_ms, then } => self.results.push_back((
                            self.now_ms + delay_ms,
                            done(RestartOutcome::Restarted { restarts: 1 }),
                            then,
                        )),
                        MonitorMode::FailToStart => self.results.push_back((
                            self.now_ms + 5,
                            done(RestartOutcome::Failed),
                            Behaviour::Dead,
                        )),
                        MonitorMode::Refuse => self.results.push_back((
                            self.now_ms + 5,
                            done(RestartOutcome::Refused {
                                reason: protocol::RestartRefusal::BudgetExhausted,
                            }),
                            Behaviour::Dead,
                        )),
                        MonitorMode::Silent => {}
                    }
                }
                _ => {}
            }
        }
    }

    /// Advance the clock by one tick: deliver due pongs and results, then tick.
    pub fn step(&mut self) {
        self.now_ms += TICK_MS;
        let now = self.now_ms;
        let mut from = self.actions.len();
        // Pongs in delivery order.
        let mut due: Vec<(u64, ComponentId, Pong)> = Vec::new();
        self.pongs.retain(|p| {
            if p.0 <= now {
                due.push(*p);
                false
            } else {
                true
            }
        });
        due.sort_by_key(|p| p.0);
        for (at, c, pong) in due {
            let mut sink = Self::sink(&mut self.actions, at);
            let _ = self.wd.on_pong(c, &pong, ms(at), &mut sink);
        }
        let mut ready = Vec::new();
        self.results.retain(|r| {
            if r.0 <= now {
                ready.push(*r);
                false
            } else {
                true
            }
        });
        for (at, result, then) in ready {
            if let RestartOutcome::Restarted { .. } = result.outcome {
                self.behaviour[usize::from(result.component.0)] = then;
                self.progress[usize::from(result.component.0)] = Progress::default();
                // A fresh ring: pongs of the old process are gone.
                self.pongs.retain(|p| p.1 != result.component);
            } else {
                self.behaviour[usize::from(result.component.0)] = Behaviour::Dead;
            }
            let mut sink = Self::sink(&mut self.actions, at);
            let _ = self.wd.on_restart_result(&result, ms(at), &mut sink);
        }
        self.execute(from);
        from = self.actions.len();
        let kick = {
            let mut sink = Self::sink(&mut self.actions, now);
            self.wd.tick(ms(now), &mut self.rng, &mut sink)
        };
        if kick != Kick::Kick {
            self.withheld.push((now, kick));
        }
        self.execute(from);
    }

    pub fn run_for(&mut self, duration_ms: u64) {
        let end = self.now_ms + duration_ms;
        while self.now_ms < end {
            self.step();
        }
    }

    /// The monitor reports that `c` died.
    pub fn crash(&mut self, c: ComponentId, cause: FaultCause) {
        self.behaviour[usize::from(c.0)] = Behaviour::Dead;
        self.fault_count += 1;
        let notice = FaultNotice {
            at_ms: self.now_ms,
            occurrence: self.fault_count,
            component: c,
            cause,
        };
        let from = self.actions.len();
        {
            let mut sink = Self::sink(&mut self.actions, self.now_ms);
            self.wd
                .on_fault(&notice, ms(self.now_ms), &mut sink)
                .expect("fault notice accepted");
        }
        self.execute(from);
    }

    pub fn restarts_of(&self, c: ComponentId) -> Vec<u64> {
        self.actions
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Restart(r) if r.component == c => Some(*t),
                _ => None,
            })
            .collect()
    }

    pub fn count(&self, pred: impl Fn(&Action) -> bool) -> usize {
        self.actions.iter().filter(|(_, a)| pred(a)).count()
    }

    pub fn first(&self, pred: impl Fn(&Action) -> bool) -> Option<(u64, Action)> {
        self.actions.iter().copied().find(|(_, a)| pred(a))
    }
}
