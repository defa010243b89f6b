//! The watchdog on a simulated clock with the shipped system description: hang, crash, slow
//! component, wrong nonce, restart storm, critical failure, a busy signer, a blind watchdog.

mod common;

use common::*;
use protocol::{FaultCause, FaultKind, HealthState, NodeMode};
use watchdog::{Action, BootInfo, Kick, LeaveReason, Phase, StatusLine, Tuning, Withhold};

fn is_restart_of(c: protocol::ComponentId) -> impl Fn(&Action) -> bool {
    move |a| matches!(a, Action::Restart(r) if r.component == c)
}

#[test]
fn healthy_node_is_pinged_kicked_and_reported_without_alarms() {
    let mut w = World::new(BootInfo::FIRST);
    w.run_for(60_000);
    assert!(w.withheld.is_empty());
    assert_eq!(
        w.count(|a| matches!(
            a,
            Action::Restart(_) | Action::Held { .. } | Action::Escalate(_) | Action::Late { .. }
        )),
        0
    );
    // 100 ms pings for monitor, comms, signer; 200 ms for upgrade: about 60 s worth.
    let pings = |c| w.count(|a| matches!(a, Action::Ping { component, .. } if *component == c));
    assert!((595..=600).contains(&pings(SIGNER)), "{}", pings(SIGNER));
    assert!((295..=300).contains(&pings(UPGRADE)), "{}", pings(UPGRADE));
    assert_eq!(pings(WATCHDOG), 0);
    // Nonces are all different.
    let mut nonces: Vec<u64> = w
        .actions
        .iter()
        .filter_map(|(_, a)| match a {
            Action::Ping { ping, .. } => Some(ping.nonce),
            _ => None,
        })
        .collect();
    let n = nonces.len();
    nonces.sort_unstable();
    nonces.dedup();
    assert_eq!(nonces.len(), n);
    // Reports: one at boot (first tick, 10 ms), then one per report period (1 s) since nothing
    // changed: 0.01 s, 1.01 s, ..., 59.01 s.
    assert_eq!(w.count(|a| *a == Action::SendHealthReport), 60);
    let r = w.wd.health_report(ms(w.now_ms));
    assert!(
        r.components
            .as_slice()
            .iter()
            .all(|c| c.state == HealthState::Healthy)
    );
    assert_eq!(r.components.as_slice().len(), 5);
    assert!(
        r.healthy_since_boot_ms >= 59_000,
        "{}",
        r.healthy_since_boot_ms
    );
    let line = StatusLine {
        report: &r,
        names: &["monitor", "watchdog", "comms", "signer", "upgrade"],
    }
    .to_string();
    assert!(line.contains("normal resets 0"), "{line}");
    assert!(line.contains("| signer ok 1000us"), "{line}");
}

#[test]
fn a_hung_component_is_detected_within_the_bound_and_restarted() {
    let mut w = World::new(BootInfo::FIRST);
    w.run_for(1_000);
    let frozen_at = w.now_ms;
    w.behaviour[usize::from(SIGNER.0)] = Behaviour::Hung;
    w.run_for(2_000);
    let late = w
        .first(|a| matches!(a, Action::Late { component, .. } if *component == SIGNER))
        .expect("late first");
    let (restart_at, _) = w.first(is_restart_of(SIGNER)).expect("restarted");
    // Detection: fatal-after (5) missed pings of 100 ms, plus up to one period before the first
    // unanswered ping and one tick; then the 200 ms back-off.
    let detected = restart_at - 200 - frozen_at;
    assert!(
        detected <= (5 + 1) * 100 + TICK_MS,
        "detected after {detected} ms"
    );
    assert!(late.0 < restart_at);
    let s = w.wd.status(SIGNER).unwrap();
    assert_eq!(s.phase, Phase::Running);
    assert_eq!(s.restarts, 1);
    assert_eq!(s.last_fault, FaultKind::MissedPings);
    assert_eq!(s.last_cause, Some(FaultCause::MissedPings { count: 5 }));
    // The others never noticed.
    for c in [MONITOR, COMMS, UPGRADE] {
        assert_eq!(w.wd.status(c).unwrap().restarts, 0);
        assert_eq!(
            w.count(|a| matches!(a, Action::Late { component, .. } if *component == c)),
            0
        );
    }
    assert!(w.withheld.is_empty());
    assert_eq!(
        w.wd.healthy_since_boot(ms(w.now_ms)),
        None,
        "a failure ends healthy-since-boot"
    );
}

#[test]
fn a_crash_reported_by_the_monitor_is_acted_on_at_once() {
    let mut w = World::new(BootInfo::FIRST);
    w.run_for(5_000);
    let at = w.now_ms;
    w.crash(SIGNER, FaultCause::SeccompViolation { syscall: 41 });
    assert_eq!(
        w.wd.status(SIGNER).unwrap().phase,
        Phase::BackingOff {
            restart_at: ms(at + 200),
            cause: FaultCause::SeccompViolation { syscall: 41 }
        }
    );
    w.run_for(300);
    assert_eq!(
        w.restarts_of(SIGNER),
        vec![at + 200],
        "after the 200 ms back-off, no missed pings needed"
    );
    w.run_for(500);
    assert_eq!(w.wd.status(SIGNER).unwrap().state, HealthState::Healthy);
    // A second notice about the old process (stamped before the restart) is ignored.
    let stale = protocol::FaultNotice {
        at_ms: at,
        occurrence: 1,
        component: SIGNER,
        cause: FaultCause::Signal { signal: 9 },
    };
    let r = w.wd.on_fault(&stale, ms(w.now_ms), &mut |_| {});
    assert_eq!(r, Ok(watchdog::FaultVerdict::Ignored));
}

#[test]
fn a_slow_component_is_only_warned_about() {
    let mut w = World::new(BootInfo::FIRST);
    w.run_for(1_000);
    // Answers 150 ms late for a while: every ping is missed (late = missed), 3 in a row...
    w.behaviour[usize::from(SIGNER.0)] = Behaviour::Answers { delay_ms: 150 };
    w.run_for(300);
    assert_eq!(w.wd.status(SIGNER).unwrap().state, HealthState::Late);
    // ...then on time again before fatal-after (5).
    w.behaviour[usize::from(SIGNER.0)] = Behaviour::Answers { delay_ms: 2 };
    w.run_for(1_000);
    assert_eq!(
        w.count(|a| matches!(a, Action::Late { component, .. } if *component == SIGNER)),
        1
    );
    assert_eq!(
        w.count(|a| matches!(a, Action::Recovered { component } if *component == SIGNER)),
        1
    );
    assert_eq!(w.count(is_restart_of(SIGNER)), 0);
    assert!(w.wd.counters().late_pongs >= 2);
    assert_eq!(w.wd.status(SIGNER).unwrap().state, HealthState::Healthy);
    assert!(w.withheld.is_empty());
}

#[test]
fn a_wrong_nonce_is_fatal_at_once() {
    let mut w = World::new(BootInfo::FIRST);
    w.run_for(1_000);
    w.behaviour[usize::from(UPGRADE.0)] = Behaviour::WrongNonce;
    let before = w.now_ms;
    w.run_for(300);
    let s = w.wd.status(UPGRADE).unwrap();
    assert_eq!(s.last_fault, FaultKind::WrongNonce);
    assert!(
        matches!(s.last_cause, Some(FaultCause::WrongNonce { expected, received }) if expected ^ 1 == received)
    );
    // Failed at the first answer (within one 200 ms period), restarted after 500 ms back-off.
    w.run_for(600);
    let r = w.restarts_of(UPGRADE);
    assert_eq!(r.len(), 1);
    assert!(r[0] <= before + 200 + 1 + 500 + TICK_MS, "{r:?}");
}

#[test]
fn a_restart_storm_backs_off_exponentially_then_holds_and_reports() {
    let mut w = World::new(BootInfo::FIRST);
    // Every new signer process crashes straight away.
    w.monitor = MonitorMode::Restart {
        delay_ms: 10,
        then: Behaviour::Dead,
    };
    w.run_for(500);
    w.crash(SIGNER, FaultCause::Exit { code: 3 });
    for _ in 0..400 {
        w.run_for(50);
        if w.wd.status(SIGNER).unwrap().phase == Phase::Running {
            w.crash(SIGNER, FaultCause::Exit { code: 3 });
        }
    }
    w.run_for(60_000);
    let restarts = w.restarts_of(SIGNER);
    assert_eq!(restarts.len(), 5, "max-restarts = 5: {restarts:?}");
    // Back-off doubles from 200 ms while the process dies before min-run (2 s): gaps between
    // requests grow 400, 800, 1600, 3200 (plus the restart and crash latency).
    let gaps: Vec<u64> = restarts.windows(2).map(|p| p[1] - p[0]).collect();
    for (gap, backoff) in gaps.iter().zip([400u64, 800, 1600, 3200]) {
        assert!(*gap >= backoff && *gap <= backoff + 100, "gaps {gaps:?}");
    }
    assert_eq!(w.wd.status(SIGNER).unwrap().phase, Phase::Held);
    assert_eq!(
        w.count(|a| matches!(a, Action::Held { component, .. } if *component == SIGNER)),
        1
    );
    let r = w.wd.health_report(ms(w.now_ms));
    let e = r
        .components
        .as_slice()
        .iter()
        .find(|c| c.component == SIGNER)
        .unwrap();
    assert_eq!(
        (e.state, e.restarts, e.last_fault),
        (HealthState::Stopped, 5, FaultKind::Exit)
    );
    // The signer is not critical: no reset.
    assert!(w.withheld.is_empty());
}

#[test]
fn a_critical_component_beyond_its_policy_escalates_and_the_kick_stops() {
    let mut w = World::new(BootInfo::FIRST);
    w.monitor = MonitorMode::Refuse;
    w.run_for(500);
    w.behaviour[usize::from(COMMS.0)] = Behaviour::Hung;
    w.run_for(2_000);
    let e = w.wd.escalation().expect("escalated");
    assert_eq!((e.component, e.fault), (COMMS, FaultKind::RestartFailed));
    assert_eq!(w.count(|a| matches!(a, Action::Escalate(_))), 1);
    assert!(
        matches!(w.withheld.first(), Some((_, Kick::Withhold(Withhold::Escalated(x)))) if *x == e)
    );
    // Once escalated, no more restarts, and the kick stays withheld.
    let restarts = w.count(|a| matches!(a, Action::Restart(_)));
    w.crash(SIGNER, FaultCause::Signal { signal: 11 });
    w.run_for(5_000);
    assert_eq!(w.count(|a| matches!(a, Action::Restart(_))), restarts);
    assert_eq!(w.wd.kick(), Kick::Withhold(Withhold::Escalated(e)));
    let r = w.wd.health_report(ms(w.now_ms));
    assert!(r.escalated);
    assert_eq!(r.last_escalation, Some(e));
}

#[test]
fn the_root_task_has_no_restart_so_its_hang_escalates_directly() {
    let mut w = World::new(BootInfo::FIRST);
    w.run_for(500);
    w.behaviour[usize::from(MONITOR.0)] = Behaviour::Hung;
    w.run_for(1_000);
    let e = w.wd.escalation().expect("escalated");
    assert_eq!((e.component, e.fault), (MONITOR, FaultKind::MissedPings));
    assert_eq!(w.count(|a| matches!(a, Action::Restart(_))), 0);
}

#[test]
fn restarts_that_fail_or_time_out_retry_within_budget_then_hold() {
    for mode in [MonitorMode::FailToStart, MonitorMode::Silent] {
        let mut w = World::new(BootInfo::FIRST);
        w.monitor = mode;
        w.run_for(500);
        w.crash(UPGRADE, FaultCause::Exit { code: 1 });
        w.run_for(120_000);
        assert_eq!(
            w.restarts_of(UPGRADE).len(),
            3,
            "{mode:?}: max-restarts = 3"
        );
        let s = w.wd.status(UPGRADE).unwrap();
        assert_eq!(
            (s.phase, s.last_fault),
            (Phase::Held, FaultKind::RestartFailed),
            "{mode:?}"
        );
        if mode == MonitorMode::Silent {
            assert_eq!(w.wd.counters().restart_timeouts, 3);
        }
    }
}

#[test]
fn a_busy_signer_answering_between_psbts_raises_no_alarm() {
    // The signer works through a 1,000-PSBT batch, 7 ms of simulated work each. Its event loop
    // answers a ping between two PSBTs, so an answer waits at most one PSBT. Its progress
    // counters advance with every PSBT.
    let mut w = World::new(BootInfo::FIRST);
    w.run_for(200);
    w.behaviour[usize::from(SIGNER.0)] = Behaviour::Answers { delay_ms: 7 };
    let start = w.now_ms;
    while w.now_ms < start + 7_000 {
        // PSBTs finished so far (one per 7 ms): the runtime's handled-message counter.
        w.progress[usize::from(SIGNER.0)].messages_in = ((w.now_ms - start) / 7) as u32;
        w.step();
    }
    assert_eq!(w.now_ms, 200 + 7_000);
    assert_eq!(
        w.count(|a| matches!(
            a,
            Action::Late { .. } | Action::Restart(_) | Action::Held { .. } | Action::Escalate(_)
        )),
        0
    );
    assert!(w.withheld.is_empty());
    let s = w.wd.status(SIGNER).unwrap();
    assert_eq!(s.state, HealthState::Healthy);
    assert_eq!(s.missed, 0);
    assert_eq!(s.last_round_trip_us, 7_000);
    // Progress as of the last on-time pong (at most one ping period old).
    assert!(s.progress.messages_in >= 980, "{}", s.progress.messages_in);
}

#[test]
fn a_watchdog_without_nonces_stops_kicking_instead_of_blaming_components() {
    let mut w = World::new(BootInfo::FIRST);
    w.run_for(500);
    let mut broken = BrokenRng;
    let mut kicks = Vec::new();
    for i in 1..=10u64 {
        let now = ms(w.now_ms + i * 100);
        kicks.push(w.wd.tick(now, &mut broken, &mut |_| {}));
    }
    // No component is blamed for pings never sent...
    for c in [MONITOR, COMMS, SIGNER, UPGRADE] {
        assert!(w.wd.status(c).unwrap().missed <= 1);
        assert_eq!(w.wd.status(c).unwrap().phase, Phase::Running);
    }
    // ...but after fatal-after (5) periods without nonces the watchdog cannot vouch for the
    // critical components and lets the hardware watchdog reset the board.
    assert_eq!(kicks[0], Kick::Kick);
    assert!(
        matches!(kicks[9], Kick::Withhold(Withhold::NoNonces(_))),
        "{kicks:?}"
    );
    assert!(w.wd.counters().rng_failures >= 20);
}

#[test]
fn safe_mode_pings_only_safe_mode_components_and_tells_why() {
    let last = protocol::Escalation {
        component: COMMS,
        fault: FaultKind::MissedPings,
    };
    let boot = BootInfo {
        mode: NodeMode::Safe,
        resets: 4,
        last_escalation: Some(last),
    };
    let mut w = World::new(boot);
    w.run_for(10_000);
    let pinged = |c| w.count(|a| matches!(a, Action::Ping { component, .. } if *component == c));
    assert!(pinged(MONITOR) > 0 && pinged(COMMS) > 0);
    assert_eq!(pinged(SIGNER) + pinged(UPGRADE), 0);
    assert_eq!(w.wd.status(SIGNER).unwrap().state, HealthState::Inactive);
    // A fault notice about a component that is not running changes nothing.
    let notice = protocol::FaultNotice {
        at_ms: w.now_ms,
        occurrence: 1,
        component: SIGNER,
        cause: FaultCause::Exit { code: 1 },
    };
    assert_eq!(
        w.wd.on_fault(&notice, ms(w.now_ms), &mut |_| {}),
        Ok(watchdog::FaultVerdict::Ignored)
    );
    let r = w.wd.health_report(ms(w.now_ms));
    assert_eq!(
        (r.mode, r.resets, r.last_escalation),
        (NodeMode::Safe, 4, Some(last))
    );
    assert!(r.healthy_since_boot_ms > 0);
    // A healthy period does not clear the counter in safe mode; only leaving safe mode does
    // (below, and in the tests that follow), after the much longer decay period.
    w.run_for(700_000);
    assert_eq!(w.count(|a| *a == Action::ClearResetCounter), 0);
    assert_eq!(w.count(|a| matches!(a, Action::LeaveSafeMode(_))), 0);
    assert!(w.withheld.is_empty());
    let line = StatusLine {
        report: &r,
        names: &["monitor", "watchdog", "comms", "signer", "upgrade"],
    }
    .to_string();
    assert!(
        line.contains("SAFE MODE resets 4 (last reset: comms missed-pings)"),
        "{line}"
    );
    assert!(line.contains("| signer off"), "{line}");
}

fn safe_boot() -> BootInfo {
    BootInfo {
        mode: NodeMode::Safe,
        resets: 4,
        last_escalation: None,
    }
}

/// Issue 13 finding 3: safe mode never cleared and no ground command could leave it. The
/// ground's command now leaves it: one action, then no more kicks (the hardware watchdog resets
/// the board into a normal boot), and the report says a reset is imminent.
#[test]
fn the_ground_command_leaves_safe_mode_once_and_is_refused_in_normal_mode() {
    let mut w = World::new(safe_boot());
    w.run_for(5_000);
    assert!(w.withheld.is_empty());
    let now = ms(w.now_ms);
    let mut got = Vec::new();
    assert_eq!(w.wd.on_leave_safe_mode(now, &mut |a| got.push(a)), Ok(()));
    assert!(
        got.contains(&Action::LeaveSafeMode(LeaveReason::Commanded)),
        "{got:?}"
    );
    assert_eq!(w.wd.leaving_safe_mode(), Some(LeaveReason::Commanded));
    // A repeat (the ground retrying) changes nothing.
    let mut again = Vec::new();
    assert_eq!(w.wd.on_leave_safe_mode(now, &mut |a| again.push(a)), Ok(()));
    assert!(!again.iter().any(|a| matches!(a, Action::LeaveSafeMode(_))));
    w.run_for(1_000);
    assert!(
        w.withheld
            .iter()
            .all(|(_, k)| *k == Kick::Withhold(Withhold::LeavingSafeMode(LeaveReason::Commanded))),
        "{:?}",
        w.withheld
    );
    assert!(!w.withheld.is_empty());
    let r = w.wd.health_report(ms(w.now_ms));
    assert!(r.escalated, "a reset is imminent");
    assert_eq!((r.mode, r.resets), (NodeMode::Safe, 0));

    let mut normal = World::new(BootInfo::FIRST);
    normal.run_for(1_000);
    let before = normal.wd.counters().rejected;
    assert_eq!(
        normal
            .wd
            .on_leave_safe_mode(ms(normal.now_ms), &mut |_| panic!("no action")),
        Err(watchdog::InputError::NotInSafeMode)
    );
    assert_eq!(normal.wd.counters().rejected, before + 1);
    normal.run_for(1_000);
    assert!(normal.withheld.is_empty());
}

/// Safe mode decays: continuous health for `safe_mode_decay_ms` leaves it; a fault restarts
/// the wait.
#[test]
fn safe_mode_decays_after_a_healthy_period_and_a_fault_restarts_the_wait() {
    let tuning = Tuning {
        safe_mode_decay_ms: 60_000,
        ..Tuning::default()
    };
    let mut w = World::with_config(common::shipped_config(tuning), safe_boot());
    w.run_for(40_000);
    w.crash(COMMS, FaultCause::Exit { code: 1 });
    w.run_for(40_000);
    assert_eq!(
        w.count(|a| matches!(a, Action::LeaveSafeMode(_))),
        0,
        "the fault at 40 s restarted the wait"
    );
    assert!(w.withheld.is_empty());
    w.run_for(30_000);
    let left: Vec<u64> = w
        .actions
        .iter()
        .filter(|(_, a)| *a == Action::LeaveSafeMode(LeaveReason::Decayed))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!((100_000..=110_000).contains(&left[0]), "{left:?}");
    assert!(!w.withheld.is_empty());
    // Decay never touches a normal boot.
    let mut n = World::with_config(common::shipped_config(tuning), BootInfo::FIRST);
    n.run_for(130_000);
    assert_eq!(n.count(|a| matches!(a, Action::LeaveSafeMode(_))), 0);
}

#[test]
fn a_healthy_period_in_normal_mode_asks_once_to_clear_the_reset_counter() {
    let mut w = World::new(BootInfo {
        mode: NodeMode::Normal,
        resets: 2,
        last_escalation: None,
    });
    w.run_for(599_000);
    assert_eq!(w.count(|a| *a == Action::ClearResetCounter), 0);
    w.run_for(2_000);
    assert_eq!(w.count(|a| *a == Action::ClearResetCounter), 1);
    assert_eq!(w.wd.resets(), 0);
    w.run_for(700_000);
    assert_eq!(w.count(|a| *a == Action::ClearResetCounter), 1);
}

#[test]
fn reports_follow_changes_at_a_bounded_rate() {
    let mut w = World::new(BootInfo::FIRST);
    w.run_for(20_000);
    let before = w.count(|a| *a == Action::SendHealthReport);
    // A storm of changes: the signer goes late and back every few hundred ms for 10 s.
    for i in 0..20 {
        w.behaviour[usize::from(SIGNER.0)] = if i % 2 == 0 {
            Behaviour::Answers { delay_ms: 150 }
        } else {
            Behaviour::Answers { delay_ms: 1 }
        };
        w.run_for(500);
    }
    let during = w.count(|a| *a == Action::SendHealthReport) - before;
    // At most one per second (report-min-interval), at least one per change burst.
    assert!((5..=11).contains(&during), "{during} reports in 10 s");
}

#[test]
fn malformed_inputs_are_refused_with_typed_errors() {
    let mut w = World::new(BootInfo::FIRST);
    w.run_for(300);
    let pong = protocol::Pong {
        nonce: 1,
        sequence: 0,
        component: SIGNER,
        degraded: false,
        progress: Default::default(),
    };
    let mut sink = |_| {};
    let now = ms(w.now_ms);
    assert_eq!(
        w.wd.on_pong(protocol::ComponentId(77), &pong, now, &mut sink),
        Err(watchdog::InputError::UnknownComponent(
            protocol::ComponentId(77)
        ))
    );
    assert_eq!(
        w.wd.on_pong(WATCHDOG, &pong, now, &mut sink),
        Err(watchdog::InputError::NotPinged(WATCHDOG))
    );
    assert_eq!(
        w.wd.on_pong(COMMS, &pong, now, &mut sink),
        Err(watchdog::InputError::ComponentMismatch {
            channel: COMMS,
            claimed: SIGNER
        })
    );
    let stale = protocol::Pong {
        sequence: 999_999,
        ..pong
    };
    assert_eq!(
        w.wd.on_pong(SIGNER, &stale, now, &mut sink),
        Ok(watchdog::PongVerdict::Stale)
    );
    let result = protocol::RestartResult {
        request_id: 5,
        component: SIGNER,
        outcome: protocol::RestartOutcome::Restarted { restarts: 1 },
    };
    assert!(matches!(
        w.wd.on_restart_result(&result, now, &mut sink),
        Err(watchdog::InputError::UnexpectedResult { .. })
    ));
    let about_self = protocol::FaultNotice {
        at_ms: 0,
        occurrence: 1,
        component: WATCHDOG,
        cause: FaultCause::Exit { code: 0 },
    };
    assert_eq!(
        w.wd.on_fault(&about_self, now, &mut sink),
        Err(watchdog::InputError::AboutSelf)
    );
    assert_eq!(w.wd.counters().rejected, 5);
    // None of it disturbed anybody.
    w.run_for(1_000);
    assert_eq!(
        w.count(|a| matches!(a, Action::Restart(_) | Action::Late { .. })),
        0
    );
}

/// Issue 16: the ground's reboot command. One action per boot (a retry changes nothing), then
/// no more kicks, and the report says a reset is imminent; in safe mode it keeps the count (a
/// reboot neither leaves safe mode nor counts towards it: the wrapper marks a clean power-off,
/// which `reset_counter.rs` shows is never counted however often it repeats).
#[test]
fn the_ground_reboot_withholds_kicks_once_and_keeps_the_reset_count() {
    for boot in [BootInfo::FIRST, safe_boot()] {
        let mut w = World::new(boot);
        w.run_for(2_000);
        assert!(w.withheld.is_empty());
        let now = ms(w.now_ms);
        let mut got = Vec::new();
        assert_eq!(w.wd.on_reboot(now, &mut |a| got.push(a)), Ok(()));
        assert_eq!(
            got.iter().filter(|a| **a == Action::Reboot).count(),
            1,
            "{got:?}"
        );
        let mut again = Vec::new();
        assert_eq!(w.wd.on_reboot(now, &mut |a| again.push(a)), Ok(()));
        assert!(!again.contains(&Action::Reboot), "{again:?}");
        w.run_for(1_000);
        assert!(!w.withheld.is_empty());
        assert!(
            w.withheld
                .iter()
                .all(|(_, k)| *k == Kick::Withhold(Withhold::Rebooting)),
            "{:?}",
            w.withheld
        );
        let r = w.wd.health_report(ms(w.now_ms));
        assert!(r.escalated, "a reset is imminent");
        assert_eq!((r.mode, r.resets), (boot.mode, boot.resets));
    }
}
