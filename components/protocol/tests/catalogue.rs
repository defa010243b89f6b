//! The catalogue lists exactly the documented message kinds with sizes that match rkyv, and a
//! maximal value of each type serialises within its documented maximum.

mod common;

use core::mem::size_of;

use common::{Ser, check, round_trip};
use protocol::catalogue::{self, MessageKind};
use protocol::*;
use rkyv::api::low::{LowDeserializer, LowValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::Failure;
use rkyv::{Archived, Deserialize, Portable, Serialize};

const NAMES: [&str; 17] = [
    "ping",
    "pong",
    "fault-notice",
    "restart-request",
    "restart-result",
    "health-report",
    "log-record",
    "sign-request",
    "sign-response",
    "admin-request",
    "admin-response",
    "link-status",
    "telemetry",
    "upgrade-chunk",
    "upgrade-status",
    "reboot-request",
    "node-command",
];

#[test]
fn catalogue_names_are_exactly_the_documented_ones() {
    let names: Vec<&str> = catalogue::all().iter().map(|k| k.name).collect();
    assert_eq!(names, NAMES);
    for name in NAMES {
        let kind = catalogue::lookup(name).expect("every name is found");
        assert_eq!(kind.name, name);
        assert!(!kind.summary.is_empty());
        assert!(kind.max_size >= kind.fixed_size);
    }
    assert_eq!(catalogue::lookup("Ping"), None);
    assert_eq!(catalogue::lookup("sign_request"), None);
    assert_eq!(catalogue::lookup(""), None);
}

/// Checks one type: catalogue entry, fixed size, and that `maximal` serialises to exactly
/// `max_size` (the bound is tight), validates, and round-trips.
fn check_kind<M>(maximal: M)
where
    M: Message + PartialEq + core::fmt::Debug + for<'a> Serialize<Ser<'a>>,
    Archived<M>: Portable
        + for<'a> CheckBytes<LowValidator<'a, Failure>>
        + Deserialize<M, LowDeserializer<Failure>>,
{
    let kind: &MessageKind = catalogue::lookup(M::NAME).expect("type is in the catalogue");
    assert_eq!(kind.fixed_size, size_of::<Archived<M>>(), "{}", M::NAME);
    assert_eq!(kind.max_size, M::MAX_SIZE, "{}", M::NAME);
    let (back, len) = round_trip(&maximal);
    assert_eq!(back, maximal, "{}", M::NAME);
    assert!(
        len <= kind.max_size,
        "{}: {len} > {}",
        M::NAME,
        kind.max_size
    );
    // No out-of-line data: every value serialises to exactly the fixed part, so the documented
    // maximum is tight rather than merely safe.
    assert_eq!(len, kind.max_size, "{}", M::NAME);
}

fn full_bytes<const N: usize>() -> BoundedBytes<N> {
    BoundedBytes::new(&[0xA5; N]).unwrap()
}

fn max_position() -> ChunkPosition {
    ChunkPosition {
        index: u32::MAX,
        count: u32::MAX,
        offset: u32::MAX,
        total_len: u32::MAX,
    }
}

fn max_cause() -> FaultCause {
    FaultCause::WrongNonce {
        expected: u64::MAX,
        received: u64::MAX,
    }
}

#[test]
fn maximal_values_fit_documented_sizes() {
    check_kind(Ping {
        nonce: u64::MAX,
        sequence: u32::MAX,
    });
    check_kind(Pong {
        nonce: u64::MAX,
        sequence: u32::MAX,
        component: ComponentId(u8::MAX),
        degraded: true,
        progress: Progress {
            loop_iterations: u32::MAX,
            messages_in: u32::MAX,
            messages_out: u32::MAX,
            malformed: u32::MAX,
        },
    });
    check_kind(FaultNotice {
        at_ms: u64::MAX,
        occurrence: u32::MAX,
        component: ComponentId(u8::MAX),
        cause: max_cause(),
    });
    check_kind(RestartRequest {
        request_id: u32::MAX,
        component: ComponentId(255),
        cause: max_cause(),
    });
    check_kind(RestartResult {
        request_id: u32::MAX,
        component: ComponentId(255),
        outcome: RestartOutcome::Restarted { restarts: u16::MAX },
    });
    let entry = ComponentHealth {
        last_pong_age_ms: u32::MAX,
        restarts: u16::MAX,
        last_round_trip_us: u16::MAX,
        component: ComponentId(255),
        state: HealthState::Inactive,
        missed_pings: u8::MAX,
        last_fault: FaultKind::RestartFailed,
    };
    check_kind(HealthReport {
        uptime_ms: u64::MAX,
        sequence: u32::MAX,
        healthy_since_boot_ms: u32::MAX,
        resets: u16::MAX,
        mode: NodeMode::Safe,
        escalated: true,
        last_escalation: Some(Escalation {
            component: ComponentId(255),
            fault: FaultKind::RestartFailed,
        }),
        components: BoundedList::new(&[entry; MAX_COMPONENTS]).unwrap(),
    });
    check_kind(LogRecord {
        at_ms: u64::MAX,
        sequence: u32::MAX,
        component: ComponentId(255),
        level: Level::Trace,
        text: BoundedStr::new(&"é".repeat(LOG_TEXT_MAX / 2)).unwrap(),
    });
    check_kind(SignRequest {
        batch_id: u64::MAX,
        request_id: u32::MAX,
        position: max_position(),
        data: full_bytes(),
    });
    check_kind(SignResponse {
        batch_id: u64::MAX,
        request_id: u32::MAX,
        position: max_position(),
        status: SignStatus::Rejected {
            reason: SignRejection::Internal,
        },
        data: full_bytes(),
    });
    check_kind(AdminRequest {
        request_id: u32::MAX,
        op: AdminOp::Command {
            envelope: full_bytes(),
        },
    });
    check_kind(AdminResponse {
        request_id: u32::MAX,
        outcome: AdminOutcome::Export {
            export: full_bytes(),
        },
    });
    check_kind(LinkStatus {
        frames_rx: u32::MAX,
        frames_tx: u32::MAX,
        crc_errors: u32::MAX,
        auth_failures: u32::MAX,
        unauthenticated: u32::MAX,
        duplicates: u32::MAX,
        last_rx_age_ms: u32::MAX,
        link: LinkId::Standby,
        state: LinkState::Degraded,
        active: true,
    });
    let point = TelemetryPoint {
        value: i64::MIN,
        id: u16::MAX,
    };
    check_kind(Telemetry {
        at_ms: u64::MAX,
        sequence: u32::MAX,
        component: ComponentId(255),
        points: BoundedList::new(&[point; TELEMETRY_POINTS_MAX]).unwrap(),
    });
    check_kind(UpgradeChunk {
        bundle_id: u64::MAX,
        position: max_position(),
        data: full_bytes(),
    });
    check_kind(UpgradeStatus {
        bundle_id: u64::MAX,
        next_chunk: u32::MAX,
        answers: u32::MAX,
        held_ahead: u64::MAX,
        bytes_received: u32::MAX,
        bytes_copied: u32::MAX,
        chunks_done: u32::MAX,
        chunks_total: u32::MAX,
        security_counter: u32::MAX,
        state: UpgradeState::Failed {
            reason: UpgradeError::TrialNotConfirmed,
        },
        active_slot: Slot::B,
        confirmed_slot: Slot::B,
        attempts_left: u8::MAX,
        slots: [SlotVersion {
            present: true,
            version: [u16::MAX; 3],
            security_counter: u32::MAX,
        }; 2],
        last_refusal: Some(Refusal {
            reason: UpgradeError::TrialNotConfirmed,
            detail: u32::MAX,
        }),
    });
    check_kind(RebootRequest {
        request_id: u32::MAX,
        requester: ComponentId(255),
        reason: RebootReason::Commanded,
    });
    check_kind(NodeCommand {
        request_id: u32::MAX,
        command: NodeCommandKind::LeaveSafeMode,
    });
}

#[test]
fn control_messages_need_small_slots() {
    for name in [
        "ping",
        "pong",
        "fault-notice",
        "restart-request",
        "restart-result",
        "reboot-request",
        "node-command",
    ] {
        let kind = catalogue::lookup(name).unwrap();
        assert!(kind.max_size <= 64, "{name} needs {} bytes", kind.max_size);
    }
    for name in ["sign-request", "sign-response", "upgrade-chunk"] {
        assert!(catalogue::lookup(name).unwrap().max_size <= 4096, "{name}");
    }
    for kind in catalogue::all() {
        assert!(
            kind.max_size <= 4096,
            "{} needs {} bytes",
            kind.name,
            kind.max_size
        );
    }
}

#[test]
fn archived_accessors_read_in_place() {
    let mut buf = common::buffer();
    let msg = SignRequest {
        batch_id: 7,
        request_id: 9,
        position: ChunkPosition {
            index: 1,
            count: 3,
            offset: 4064,
            total_len: 10_000,
        },
        data: BoundedBytes::new(b"psbt\xff").unwrap(),
    };
    let n = common::serialise(&msg, &mut buf.0);
    let archived = check::<SignRequest>(&buf.0[..n]).unwrap();
    assert_eq!(archived.batch_id, 7);
    assert_eq!(archived.position.offset, 4064);
    assert_eq!(archived.data.as_slice(), b"psbt\xff");
    assert_eq!(archived.data.len(), 5);
}
