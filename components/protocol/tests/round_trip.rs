//! Property test: every message type round-trips (serialise with no allocator, validate in place,
//! deserialise) for arbitrary values.

mod common;

use common::round_trip;
use proptest::collection::vec;
use proptest::prelude::*;
use protocol::*;

fn component() -> impl Strategy<Value = ComponentId> {
    any::<u8>().prop_map(ComponentId)
}

fn cause() -> impl Strategy<Value = FaultCause> {
    prop_oneof![
        any::<i32>().prop_map(|code| FaultCause::Exit { code }),
        any::<u8>().prop_map(|signal| FaultCause::Signal { signal }),
        any::<u32>().prop_map(|syscall| FaultCause::SeccompViolation { syscall }),
        any::<u8>().prop_map(|count| FaultCause::MissedPings { count }),
        (any::<u64>(), any::<u64>())
            .prop_map(|(expected, received)| FaultCause::WrongNonce { expected, received }),
    ]
}

fn position() -> impl Strategy<Value = ChunkPosition> {
    (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
        |(index, count, offset, total_len)| ChunkPosition {
            index,
            count,
            offset,
            total_len,
        },
    )
}

fn chunk_bytes() -> impl Strategy<Value = BoundedBytes<CHUNK_MAX>> {
    vec(any::<u8>(), 0..=CHUNK_MAX).prop_map(|v| BoundedBytes::new(&v).unwrap())
}

fn health_state() -> impl Strategy<Value = HealthState> {
    prop_oneof![
        Just(HealthState::Healthy),
        Just(HealthState::Late),
        Just(HealthState::Failed),
        Just(HealthState::Restarting),
        Just(HealthState::Stopped),
        Just(HealthState::Inactive),
    ]
}

fn fault_kind() -> impl Strategy<Value = FaultKind> {
    prop_oneof![
        Just(FaultKind::None),
        cause().prop_map(FaultKind::from),
        Just(FaultKind::RestartFailed),
    ]
}

fn level() -> impl Strategy<Value = Level> {
    prop_oneof![
        Just(Level::Error),
        Just(Level::Warn),
        Just(Level::Info),
        Just(Level::Debug),
        Just(Level::Trace),
    ]
}

fn sign_status() -> impl Strategy<Value = SignStatus> {
    let rejection = prop_oneof![
        Just(SignRejection::BadCertificate),
        Just(SignRejection::Replay),
        Just(SignRejection::PolicyViolation),
        Just(SignRejection::Malformed),
        Just(SignRejection::BadChunking),
        Just(SignRejection::Busy),
        Just(SignRejection::Internal),
        Just(SignRejection::SignerDown),
        Just(SignRejection::Abandoned),
    ];
    prop_oneof![
        Just(SignStatus::Accepted),
        Just(SignStatus::Signed),
        rejection.prop_map(|reason| SignStatus::Rejected { reason }),
    ]
}

fn upgrade_state() -> impl Strategy<Value = UpgradeState> {
    let error = prop_oneof![
        Just(UpgradeError::BadSignature),
        Just(UpgradeError::BadHash),
        Just(UpgradeError::Malformed),
        Just(UpgradeError::Downgrade),
        Just(UpgradeError::TooLarge),
        Just(UpgradeError::Flash),
        Just(UpgradeError::WrongTarget),
        Just(UpgradeError::CounterRollback),
        Just(UpgradeError::StepTooLarge),
        Just(UpgradeError::Expired),
        Just(UpgradeError::Busy),
        Just(UpgradeError::OutOfOrder),
        Just(UpgradeError::Unsupported),
        Just(UpgradeError::ProgressLost),
        Just(UpgradeError::SlotDamaged),
        Just(UpgradeError::TrialUnhealthy),
        Just(UpgradeError::TrialNotConfirmed),
    ];
    prop_oneof![
        Just(UpgradeState::Idle),
        Just(UpgradeState::Preparing),
        Just(UpgradeState::Receiving),
        Just(UpgradeState::Verifying),
        Just(UpgradeState::Written),
        Just(UpgradeState::TrialBoot),
        Just(UpgradeState::Confirmed),
        Just(UpgradeState::RolledBack),
        error.prop_map(|reason| UpgradeState::Failed { reason }),
    ]
}

fn progress() -> impl Strategy<Value = Progress> {
    any::<[u32; 4]>().prop_map(|[a, b, c, d]| Progress {
        loop_iterations: a,
        messages_in: b,
        messages_out: c,
        malformed: d,
    })
}

fn restart_outcome() -> impl Strategy<Value = RestartOutcome> {
    let refusal = prop_oneof![
        Just(RestartRefusal::UnknownComponent),
        Just(RestartRefusal::NotRestartable),
        Just(RestartRefusal::BudgetExhausted),
        Just(RestartRefusal::NotAllowed),
    ];
    prop_oneof![
        any::<u16>().prop_map(|restarts| RestartOutcome::Restarted { restarts }),
        refusal.prop_map(|reason| RestartOutcome::Refused { reason }),
        Just(RestartOutcome::Failed),
    ]
}

/// Asserts the round trip and that the length never exceeds the documented maximum.
fn assert_round_trip<M>(m: M)
where
    M: Message + PartialEq + core::fmt::Debug,
    M: for<'a> rkyv::Serialize<common::Ser<'a>>,
    rkyv::Archived<M>: rkyv::Portable
        + for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::low::LowValidator<'a, rkyv::rancor::Failure>>
        + rkyv::Deserialize<M, rkyv::api::low::LowDeserializer<rkyv::rancor::Failure>>,
{
    let (back, len) = round_trip(&m);
    assert_eq!(back, m);
    assert!(len <= M::MAX_SIZE);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn ping_pong(nonce in any::<u64>(), sequence in any::<u32>(), c in component(), p in progress()) {
        assert_round_trip(Ping { nonce, sequence });
        assert_round_trip(Pong { nonce, sequence, component: c, degraded: nonce % 2 == 0, progress: p });
    }

    #[test]
    fn lifecycle(at_ms in any::<u64>(), n in any::<u32>(), c in component(), cause in cause(),
                 outcome in restart_outcome(), reason in 0u8..4) {
        assert_round_trip(FaultNotice { at_ms, occurrence: n, component: c, cause });
        assert_round_trip(RestartRequest { request_id: n, component: c, cause });
        assert_round_trip(RestartResult { request_id: n, component: c, outcome });
        let reason = [RebootReason::TrialBoot, RebootReason::Rollback,
                      RebootReason::WatchdogEscalation, RebootReason::Commanded][usize::from(reason)];
        assert_round_trip(RebootRequest { request_id: n, requester: c, reason });
    }

    #[test]
    fn health(uptime_ms in any::<u64>(), sequence in any::<u32>(), healthy in any::<u32>(), resets in any::<u16>(),
              safe in any::<bool>(), escalated in any::<bool>(),
              last in proptest::option::of((component(), fault_kind())),
              entries in vec((any::<u32>(), any::<u16>(), any::<u16>(), component(), health_state(), any::<u8>(), fault_kind()), 0..=MAX_COMPONENTS)) {
        let entries: Vec<ComponentHealth> = entries.into_iter().map(|(age, restarts, rtt, component, state, missed, fault)| {
            ComponentHealth { last_pong_age_ms: age, restarts, last_round_trip_us: rtt, component, state, missed_pings: missed, last_fault: fault }
        }).collect();
        let mode = if safe { NodeMode::Safe } else { NodeMode::Normal };
        let last_escalation = last.map(|(component, fault)| Escalation { component, fault });
        assert_round_trip(HealthReport { uptime_ms, sequence, healthy_since_boot_ms: healthy, resets, mode, escalated,
                                         last_escalation, components: BoundedList::new(&entries).unwrap() });
    }

    #[test]
    fn log(at_ms in any::<u64>(), sequence in any::<u32>(), c in component(), level in level(), text in "\\PC{0,300}") {
        assert_round_trip(LogRecord { at_ms, sequence, component: c, level, text: BoundedStr::truncated(&text) });
    }

    #[test]
    fn signing(batch_id in any::<u64>(), request_id in any::<u32>(), position in position(),
               status in sign_status(), data in chunk_bytes()) {
        assert_round_trip(SignRequest { batch_id, request_id, position, data: data.clone() });
        assert_round_trip(SignResponse { batch_id, request_id, position, status, data });
    }

    #[test]
    fn link_and_telemetry(counters in any::<[u32; 7]>(), link in prop_oneof![Just(LinkId::Primary), Just(LinkId::Standby)],
                          state in prop_oneof![Just(LinkState::Up), Just(LinkState::Degraded), Just(LinkState::Down)],
                          active in any::<bool>(), at_ms in any::<u64>(), c in component(),
                          points in vec((any::<i64>(), any::<u16>()), 0..=TELEMETRY_POINTS_MAX)) {
        let [frames_rx, frames_tx, crc_errors, auth_failures, unauthenticated, duplicates, last_rx_age_ms] = counters;
        assert_round_trip(LinkStatus { frames_rx, frames_tx, crc_errors, auth_failures, unauthenticated, duplicates, last_rx_age_ms, link, state, active });
        let points: Vec<TelemetryPoint> = points.into_iter().map(|(value, id)| TelemetryPoint { value, id }).collect();
        assert_round_trip(Telemetry { at_ms, sequence: frames_rx, component: c, points: BoundedList::new(&points).unwrap() });
    }

    #[test]
    fn upgrade(bundle_id in any::<u64>(), position in position(), data in chunk_bytes(), state in upgrade_state(),
               next_chunk in any::<u32>(), bytes_received in any::<u32>(), b in any::<bool>(), attempts_left in any::<u8>()) {
        assert_round_trip(UpgradeChunk { bundle_id, position, data });
        let active_slot = if b { Slot::B } else { Slot::A };
        let slots = [SlotVersion { present: b, version: [attempts_left.into(), 1, 2], security_counter: next_chunk }, SlotVersion::default()];
        let last_refusal = b.then_some(Refusal { reason: UpgradeError::TrialUnhealthy, detail: bytes_received });
        assert_round_trip(UpgradeStatus {
            bundle_id, next_chunk, answers: next_chunk ^ 1, held_ahead: bundle_id ^ 0x5A5A, bytes_received, bytes_copied: bytes_received, chunks_done: next_chunk,
            chunks_total: next_chunk, security_counter: bytes_received, state, active_slot,
            confirmed_slot: Slot::A, attempts_left, slots, last_refusal,
        });
    }
}
