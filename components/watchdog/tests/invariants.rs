//! Proptest: random sequences of events on the simulated node, checking the watchdog's
//! invariants on every run:
//! - no escalation (and every kick given) while no component misbehaves;
//! - an escalation names a critical component that misbehaved;
//! - every component that stops answering is restarted, held or escalated within its bound;
//! - every back-off stays within its maximum;
//! - restarts for a component's own failures never exceed max-restarts in any window.

mod common;

use common::*;
use proptest::prelude::*;
use protocol::{ComponentId, FaultCause};
use watchdog::{Action, BootInfo, Restart};

#[derive(Debug, Clone, Copy)]
enum Event {
    /// Let time pass.
    Wait(u64),
    /// A component freezes.
    Hang(u8),
    /// A component crashes (reported by the monitor).
    Crash(u8),
    /// A component starts answering with wrong nonces.
    WrongNonce(u8),
    /// A component becomes slow (answers late, but sometimes in time).
    Slow(u8, u64),
    /// The monitor changes how it executes restarts.
    Monitor(u8),
}

fn event() -> impl Strategy<Value = Event> {
    let target = prop_oneof![Just(0u8), Just(2u8), Just(3u8), Just(4u8)];
    prop_oneof![
        6 => (10u64..3_000).prop_map(Event::Wait),
        1 => target.clone().prop_map(Event::Hang),
        1 => target.clone().prop_map(Event::Crash),
        1 => target.clone().prop_map(Event::WrongNonce),
        1 => (target, 1u64..250).prop_map(|(c, d)| Event::Slow(c, d)),
        1 => (0u8..4).prop_map(Event::Monitor),
    ]
}

fn monitor_mode(m: u8) -> MonitorMode {
    match m {
        0 => MonitorMode::Restart {
            delay_ms: 20,
            then: Behaviour::Answers { delay_ms: 1 },
        },
        1 => MonitorMode::Restart {
            delay_ms: 50,
            then: Behaviour::Dead,
        },
        2 => MonitorMode::FailToStart,
        _ => MonitorMode::Silent,
    }
}

/// The ping period of component `c`: an answer later than this is a miss.
fn period_ms(w: &World, c: u8) -> u64 {
    w.wd.config()
        .component(ComponentId(c))
        .and_then(|c| c.health)
        .map_or(u64::MAX, |h| u64::from(h.ping_period_ms))
}

/// Runs `events`; returns the world and, per component, when it last started misbehaving
/// (None if it never did).
fn run(events: &[Event]) -> (World, Vec<Option<u64>>, bool) {
    let mut w = World::new(BootInfo::FIRST);
    let mut bad: Vec<Option<u64>> = vec![None; 5];
    let mut any_bad = false;
    for e in events {
        match *e {
            Event::Wait(d) => w.run_for(d),
            Event::Hang(c) => {
                w.behaviour[usize::from(c)] = Behaviour::Hung;
                bad[usize::from(c)] = Some(w.now_ms);
                any_bad = true;
            }
            Event::Crash(c) => {
                if w.wd.status(ComponentId(c)).map(|s| s.phase) == Some(watchdog::Phase::Running) {
                    w.crash(ComponentId(c), FaultCause::Exit { code: 1 });
                } else {
                    w.behaviour[usize::from(c)] = Behaviour::Dead;
                }
                bad[usize::from(c)] = Some(w.now_ms);
                any_bad = true;
            }
            Event::WrongNonce(c) => {
                w.behaviour[usize::from(c)] = Behaviour::WrongNonce;
                bad[usize::from(c)] = Some(w.now_ms);
                any_bad = true;
            }
            Event::Slow(c, d) => {
                w.behaviour[usize::from(c)] = Behaviour::Answers { delay_ms: d };
                if d > period_ms(&w, c) {
                    bad[usize::from(c)] = Some(w.now_ms);
                    any_bad = true;
                }
            }
            Event::Monitor(m) => {
                w.monitor = monitor_mode(m);
                if m != 0 {
                    any_bad = true;
                }
            }
        }
    }
    (w, bad, any_bad)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_random_event_sequences(events in proptest::collection::vec(event(), 1..25)) {
        let (mut w, bad, any_bad) = run(&events);
        let config = w.wd.config().clone();

        // No escalation while nothing misbehaved; otherwise only for a critical culprit.
        for (_, a) in &w.actions {
            if let Action::Escalate(e) = a {
                prop_assert!(any_bad);
                let c = config.component(e.component).unwrap();
                prop_assert!(c.critical);
                prop_assert!(bad[usize::from(e.component.0)].is_some());
            }
        }
        if !any_bad {
            prop_assert!(w.withheld.is_empty());
            prop_assert_eq!(w.count(|a| matches!(a, Action::Restart(_) | Action::Held { .. })), 0);
        }

        for (id, cfg) in config.components() {
            let Restart::Policy(p) = cfg.restart else { continue };
            // Back-off within its maximum.
            if let Some(b) = w.wd.status(id).unwrap().backoff_ms {
                prop_assert!(b <= p.backoff_max_ms);
            }
            // Restarts per sliding window within the cap (companions: none in the shipped
            // description, so every restart is for the component's own failure).
            let r = w.restarts_of(id);
            let window = u64::from(p.window_s) * 1_000;
            for &end in &r {
                let n = r.iter().filter(|&&t| t + window > end && t <= end).count();
                prop_assert!(n <= p.max_restarts as usize, "{n} restarts of {id:?} in a window");
            }
        }

        // Every component that stopped answering is acted on within its bound: let the node
        // run long enough for detection, the longest back-off and the restart timeouts.
        let since = w.now_ms;
        let before = w.actions.len();
        w.run_for(45_000);
        for (i, b) in bad.iter().enumerate() {
            let id = ComponentId(i as u8);
            let Some(_) = b else { continue };
            let s = w.wd.status(id).unwrap();
            let still_misbehaving = !matches!(w.behaviour[i], Behaviour::Answers { delay_ms } if delay_ms <= period_ms(&w, i as u8));
            if !still_misbehaving {
                continue;
            }
            let acted = w.actions.iter().any(|(t, a)| match a {
                Action::Restart(r) => r.component == id && *t >= since,
                Action::Held { component, .. } => *component == id,
                Action::Escalate(_) => true,
                _ => false,
            }) || matches!(s.phase, watchdog::Phase::Held | watchdog::Phase::Down)
                || w.wd.escalation().is_some();
            prop_assert!(acted, "component {i} misbehaves and was never acted on: {s:?} {:?}", &w.actions[before..].iter().take(5).collect::<Vec<_>>());
        }
    }
}
