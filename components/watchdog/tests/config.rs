//! The configuration: the shipped description maps as documented, and every rule of
//! `Config::new` refuses its violation with its own error.

mod common;

use common::*;
use protocol::ComponentId;
use watchdog::{
    ComponentConfig, ComponentSet, Config, ConfigError, HealthConfig, Restart, RestartPolicy,
    Tuning,
};

#[test]
fn the_shipped_description_maps_component_by_component() {
    let c = shipped_config(Tuning::default());
    assert_eq!((c.len(), c.self_id(), c.max_resets()), (5, WATCHDOG, 3));
    let monitor = c.component(MONITOR).unwrap();
    assert!(monitor.critical && monitor.safe_mode && monitor.restart == Restart::Never);
    assert_eq!(
        monitor.health,
        Some(HealthConfig {
            ping_period_ms: 100,
            warn_after: 2,
            fatal_after: 5
        })
    );
    assert_eq!(c.component(WATCHDOG).unwrap().health, None);
    let comms = c.component(COMMS).unwrap();
    assert!(comms.critical && comms.safe_mode);
    assert_eq!(
        comms.restart,
        Restart::Policy(RestartPolicy {
            max_restarts: 5,
            window_s: 600,
            backoff_ms: 100,
            backoff_max_ms: 10_000,
            min_run_ms: 2_000,
            with: ComponentSet::EMPTY
        })
    );
    let upgrade = c.component(UPGRADE).unwrap();
    assert!(!upgrade.critical && !upgrade.safe_mode);
    assert_eq!(upgrade.health.unwrap().fatal_after, 10);
}

fn plain() -> ComponentConfig {
    ComponentConfig {
        critical: false,
        safe_mode: false,
        health: Some(HealthConfig {
            ping_period_ms: 100,
            warn_after: 2,
            fatal_after: 5,
        }),
        restart: Restart::Policy(RestartPolicy {
            max_restarts: 3,
            window_s: 60,
            backoff_ms: 10,
            backoff_max_ms: 100,
            min_run_ms: 1_000,
            with: ComponentSet::EMPTY,
        }),
    }
}

fn me() -> ComponentConfig {
    ComponentConfig {
        health: None,
        ..plain()
    }
}

fn policy(f: impl FnOnce(&mut RestartPolicy)) -> ComponentConfig {
    let mut c = plain();
    if let Restart::Policy(p) = &mut c.restart {
        f(p);
    }
    c
}

#[test]
fn every_rule_has_its_error() {
    let t = Tuning::default();
    let id = ComponentId;
    let ok = Config::new(&[me(), plain()], id(0), 3, t);
    assert!(ok.is_ok());
    let cases: Vec<(Vec<ComponentConfig>, ComponentId, u32, Tuning, ConfigError)> = vec![
        (
            vec![],
            id(0),
            3,
            t,
            ConfigError::ComponentCount { count: 0 },
        ),
        (
            vec![plain(); 33],
            id(0),
            3,
            t,
            ConfigError::ComponentCount { count: 33 },
        ),
        (
            vec![me(), plain()],
            id(2),
            3,
            t,
            ConfigError::UnknownSelf(id(2)),
        ),
        (vec![plain(), plain()], id(0), 3, t, ConfigError::SelfPinged),
        (vec![me(), plain()], id(0), 0, t, ConfigError::ZeroMaxResets),
        (
            vec![me(), plain()],
            id(0),
            3,
            Tuning {
                report_period_ms: 0,
                ..t
            },
            ConfigError::ZeroTuning,
        ),
        (
            vec![
                me(),
                ComponentConfig {
                    health: Some(HealthConfig {
                        ping_period_ms: 0,
                        warn_after: 1,
                        fatal_after: 1,
                    }),
                    ..plain()
                },
            ],
            id(0),
            3,
            t,
            ConfigError::ZeroPingPeriod(id(1)),
        ),
        (
            vec![
                me(),
                ComponentConfig {
                    health: Some(HealthConfig {
                        ping_period_ms: 10,
                        warn_after: 3,
                        fatal_after: 2,
                    }),
                    ..plain()
                },
            ],
            id(0),
            3,
            t,
            ConfigError::Thresholds(id(1)),
        ),
        (
            vec![
                me(),
                ComponentConfig {
                    health: Some(HealthConfig {
                        ping_period_ms: 10,
                        warn_after: 0,
                        fatal_after: 2,
                    }),
                    ..plain()
                },
            ],
            id(0),
            3,
            t,
            ConfigError::Thresholds(id(1)),
        ),
        (
            vec![
                me(),
                ComponentConfig {
                    health: Some(HealthConfig {
                        ping_period_ms: 10,
                        warn_after: 1,
                        fatal_after: 256,
                    }),
                    ..plain()
                },
            ],
            id(0),
            3,
            t,
            ConfigError::Thresholds(id(1)),
        ),
        (
            vec![me(), policy(|p| p.max_restarts = 0)],
            id(0),
            3,
            t,
            ConfigError::EmptyBudget(id(1)),
        ),
        (
            vec![me(), policy(|p| p.window_s = 0)],
            id(0),
            3,
            t,
            ConfigError::EmptyBudget(id(1)),
        ),
        (
            vec![me(), policy(|p| p.backoff_max_ms = 9)],
            id(0),
            3,
            t,
            ConfigError::Backoff(id(1)),
        ),
        (
            vec![
                me(),
                policy(|p| p.with = ComponentSet::of(&[id(1)]).unwrap()),
            ],
            id(0),
            3,
            t,
            ConfigError::BadCompanion {
                component: id(1),
                companion: id(1),
            },
        ),
        (
            vec![
                me(),
                policy(|p| p.with = ComponentSet::of(&[id(0)]).unwrap()),
            ],
            id(0),
            3,
            t,
            ConfigError::BadCompanion {
                component: id(1),
                companion: id(0),
            },
        ),
        (
            vec![
                me(),
                policy(|p| p.with = ComponentSet::of(&[id(5)]).unwrap()),
            ],
            id(0),
            3,
            t,
            ConfigError::BadCompanion {
                component: id(1),
                companion: id(5),
            },
        ),
        (
            vec![
                me(),
                policy(|p| p.with = ComponentSet::of(&[id(2)]).unwrap()),
                ComponentConfig {
                    restart: Restart::Never,
                    ..plain()
                },
            ],
            id(0),
            3,
            t,
            ConfigError::BadCompanion {
                component: id(1),
                companion: id(2),
            },
        ),
    ];
    for (components, self_id, max_resets, tuning, expected) in cases {
        assert_eq!(
            Config::new(&components, self_id, max_resets, tuning),
            Err(expected),
            "{expected}"
        );
    }
    assert_eq!(ComponentSet::of(&[id(32)]), None);
}

#[test]
fn a_group_restart_takes_its_companions_along() {
    let t = Tuning::default();
    let id = ComponentId;
    let leader = policy(|p| p.with = ComponentSet::of(&[id(2)]).unwrap());
    let config = Config::new(&[me(), leader, plain()], id(0), 3, t).unwrap();
    let mut w = World::with_config(config, watchdog::BootInfo::FIRST);
    w.run_for(500);
    w.crash(id(1), protocol::FaultCause::Exit { code: 2 });
    w.run_for(200);
    assert_eq!(w.restarts_of(id(1)).len(), 1);
    assert_eq!(w.restarts_of(id(2)), w.restarts_of(id(1)), "same instant");
    w.run_for(1_000);
    assert_eq!(w.wd.status(id(2)).unwrap().restarts, 1);
    assert_eq!(
        w.wd.status(id(2)).unwrap().state,
        protocol::HealthState::Healthy
    );
}
