//! Reading the node's housekeeping (service 3, structures 1 to 3 of `comms::pus::hk`) into
//! text for the operator.
//!
//! Avoids: trusting lengths: a short or odd report prints as such instead of panicking.

use comms::pus::hk::{HEALTH_HEADER_LEN, SID_HEALTH, SID_LINKS, decode_security};
use std::fmt::Write;

fn be(b: &[u8]) -> Option<u64> {
    if b.len() > 8 {
        return None;
    }
    Some(b.iter().fold(0u64, |a, x| a << 8 | u64::from(*x)))
}

fn field(s: &[u8], at: usize, len: usize) -> Option<u64> {
    be(s.get(at..at + len)?)
}

const STATES: [&str; 7] = [
    "healthy",
    "late",
    "failed",
    "restarting",
    "stopped",
    "inactive (safe mode)",
    "DEGRADED (runs, but reports a damaged store or a failed start: its log says why)",
];

/// Structure 1 (node health).
pub fn health(s: &[u8]) -> Option<String> {
    if s.first() != Some(&SID_HEALTH) {
        return None;
    }
    let mut out = String::new();
    let head = 1 + HEALTH_HEADER_LEN;
    let n = field(s, head - 1, 1)? as usize;
    let safe = field(s, 15, 1)? == 1;
    writeln!(
        out,
        "health: mode {}, board resets {} (since the node was last healthy), uptime {} ms, report {}, {n} components",
        if safe { "SAFE" } else { "normal" },
        field(s, 13, 2)?,
        field(s, 1, 8)?,
        field(s, 9, 4)?,
    )
    .ok()?;
    let last = match field(s, 17, 1)? {
        0xFF => "none".to_string(),
        c => format!(
            "component {c}, {}",
            protocol::health::FaultKind::from_code(field(s, 18, 1)? as u8)
                .map_or("unknown fault", protocol::health::FaultKind::text)
        ),
    };
    writeln!(out, "  last escalation on record: {last}").ok()?;
    if field(s, 16, 1)? == 1 {
        writeln!(
            out,
            "  RESET IMMINENT: the watchdog stopped kicking the hardware watchdog (an escalation, leaving safe mode, or a reboot the ground commanded)"
        )
        .ok()?;
    }
    if safe {
        writeln!(
            out,
            "  SAFE MODE: too many fault resets without a healthy period; only the components marked safe-mode run (the others are inactive). Leave it with `spacenode ground leave-safe-mode`; it also ends by itself after an hour of health"
        )
        .ok()?;
    }
    for i in 0..n {
        let at = head + 9 * i;
        let state = field(s, at + 1, 1)? as usize;
        writeln!(
            out,
            "  component {}: {}, missed pings {}, restarts {}, last pong {} ms ago",
            field(s, at, 1)?,
            STATES.get(state).copied().unwrap_or("unknown state"),
            field(s, at + 2, 1)?,
            field(s, at + 3, 2)?,
            field(s, at + 5, 4)?
        )
        .ok()?;
    }
    Some(out)
}

/// Structure 2 (links).
pub fn links(s: &[u8]) -> Option<String> {
    if s.first() != Some(&SID_LINKS) {
        return None;
    }
    let name = |v: u64| {
        if v == 0 {
            "primary (radio)"
        } else {
            "standby (serial)"
        }
    };
    let state = |v: u64| match v {
        0 => "up",
        1 => "degraded",
        _ => "down",
    };
    let mut out = String::new();
    writeln!(
        out,
        "links: active {}, failovers {}",
        name(field(s, 1, 1)?),
        field(s, 2, 4)?
    )
    .ok()?;
    for i in 0..2 {
        let at = 6 + comms::pus::hk::LINK_BLOCK_LEN * i;
        let age = field(s, at + 23, 4)?;
        let (bad_mac, replayed) = (field(s, at + 15, 4)?, field(s, at + 19, 4)?);
        let unauthenticated = field(s, at + 31, 4)?;
        // On the CCSDS space link the node counts the space packets its frames carried.
        let carried = if field(s, at + 2, 1)? & u64::from(comms::pus::hk::LINK_FLAG_CCSDS) != 0 {
            "CCSDS frames, packets"
        } else {
            "units"
        };
        writeln!(
            out,
            "  {}: {}, {carried} in {}, out {}, refused {} (failed authentication {}, malformed or unknown SPI {}, replayed or outside the window {}), framing errors {}, uplink sequence gaps {}, last accepted {}",
            name(field(s, at, 1)?),
            state(field(s, at + 1, 1)?),
            field(s, at + 3, 4)?,
            field(s, at + 7, 4)?,
            bad_mac + unauthenticated + replayed,
            bad_mac,
            unauthenticated,
            replayed,
            field(s, at + 11, 4)?,
            field(s, at + 27, 4)?,
            if age == 0xFFFF_FFFF {
                "never".to_string()
            } else {
                format!("{age} ms ago")
            }
        )
        .ok()?;
    }
    Some(out)
}

/// Structure 3 (security).
pub fn security(s: &[u8]) -> Option<String> {
    let (c, lines) = decode_security(s)?;
    let mut out = String::new();
    writeln!(
        out,
        "security: accepted {}, bad MAC {}, bad sequence {} (replayed {}, outside window {}), unknown SPI {}, malformed {}, persist failures {}, sent {}",
        c.accepted,
        c.bad_mac,
        c.bad_sequence(),
        c.replayed,
        c.outside_window,
        c.unknown_spi,
        c.malformed,
        c.persist_failures,
        c.sent
    )
    .ok()?;
    for l in lines.iter().flatten() {
        writeln!(
            out,
            "  SA {}: key epoch {}, last uplink ARSN {}, floor after reboot {}, next downlink ARSN {}, {}, key id {}; key {}{}",
            l.spi,
            l.epoch,
            l.rx_last,
            l.rx_reserved,
            l.tx_next,
            l.suite,
            l.key_id,
            match l.key_state {
                comms::sdls::KeyState::PreActive => "in pre-activation",
                other => other.name(),
            },
            if l.telemetry { ", telemetry" } else { "" }
        )
        .ok()?;
    }
    Some(out)
}

/// Structure 6 (the standby line's PPP session), decoded.
pub fn ppp(t: &comms::pus::hk_ppp::PppTelemetry) -> String {
    use comms::pus::hk_ppp::STATE_NAMES;
    let name = |c: u8| STATE_NAMES.get(usize::from(c)).copied().unwrap_or("?");
    format!(
        "standby PPP: LCP {}, IPCP {}; frames in {}, out {}; FCS errors {}, aborted {}, bad frames {}; echoes sent {}, missed {}, links down for echo silence {}; peer restarts {}; frames dropped for a full queue {}, line errors {}\n",
        name(t.lcp),
        name(t.ipcp),
        t.frames_in,
        t.frames_out,
        t.fcs_errors,
        t.aborted,
        t.bad_frames,
        t.echoes_sent,
        t.echoes_missed,
        t.echo_failures,
        t.peer_restarts,
        t.tx_overflow,
        t.line_errors
    )
}

/// Structure 5 (the upgrade agent), decoded.
pub fn upgrade(s: &protocol::UpgradeStatus) -> String {
    let mut out = format!("upgrade: {}\n", super::upgrade::describe(s));
    if s.chunks_total > 0 {
        let _ = writeln!(
            out,
            "  bundle {:#018x}: {} of {} chunks in place, {} bytes received, {} bytes copied on board",
            s.bundle_id, s.chunks_done, s.chunks_total, s.bytes_received, s.bytes_copied
        );
    }
    if s.attempts_left > 0 {
        let _ = writeln!(out, "  trial attempts left: {}", s.attempts_left);
    }
    if let Some(r) = s.last_refusal {
        let _ = writeln!(out, "  last refusal: {}", super::upgrade::explain(&r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use comms::pus::hk::{MAX_REPORT_LEN, encode_links, encode_security};
    use comms::sdls::SecurityCounters;
    use protocol::{LinkId, LinkState, LinkStatus};

    #[test]
    fn health_prints_the_mode_resets_and_last_escalation_the_node_encodes() {
        use protocol::{
            BoundedList, ComponentHealth, ComponentId, Escalation, FaultKind, HealthReport,
            HealthState, NodeMode,
        };
        let components = BoundedList::new(&[ComponentHealth {
            component: ComponentId(2),
            state: HealthState::Inactive,
            ..Default::default()
        }])
        .unwrap();
        let mut report = HealthReport {
            uptime_ms: 1234,
            sequence: 5,
            resets: 4,
            mode: NodeMode::Safe,
            last_escalation: Some(Escalation {
                component: ComponentId(3),
                fault: FaultKind::SeccompViolation,
            }),
            components,
            ..Default::default()
        };
        let mut buf = [0u8; MAX_REPORT_LEN];
        let n = comms::pus::hk::encode_health(&report, &mut buf);
        let text = health(&buf[..n]).unwrap();
        assert!(text.contains("mode SAFE, board resets 4"), "{text}");
        assert!(
            text.contains("last escalation on record: component 3, seccomp violation"),
            "{text}"
        );
        assert!(text.contains("SAFE MODE: too many fault resets"), "{text}");
        assert!(text.contains("spacenode ground leave-safe-mode"), "{text}");
        assert!(text.contains("component 2: inactive (safe mode)"), "{text}");
        report.mode = NodeMode::Normal;
        report.last_escalation = None;
        report.escalated = true;
        let n = comms::pus::hk::encode_health(&report, &mut buf);
        let text = health(&buf[..n]).unwrap();
        assert!(text.contains("mode normal, board resets 4"), "{text}");
        assert!(text.contains("last escalation on record: none"), "{text}");
        assert!(text.contains("RESET IMMINENT"), "{text}");
        assert!(!text.contains("SAFE MODE"), "{text}");
        for cut in 0..n {
            assert!(health(&buf[..cut]).is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn ppp_prints_the_states_and_counters_the_node_encodes() {
        use comms::pus::hk_ppp::{PppTelemetry, decode, encode};
        let t = PppTelemetry {
            lcp: 9,
            ipcp: 6,
            frames_in: 11,
            frames_out: 12,
            fcs_errors: 3,
            echoes_missed: 2,
            ..Default::default()
        };
        let text = ppp(&decode(&encode(&t)).unwrap());
        assert!(text.contains("LCP Opened, IPCP Req-Sent"), "{text}");
        assert!(
            text.contains("frames in 11, out 12; FCS errors 3"),
            "{text}"
        );
        assert!(text.contains("missed 2"), "{text}");
    }

    #[test]
    fn links_and_security_print_what_the_node_encodes() {
        let l = |link, rx| LinkStatus {
            link,
            state: LinkState::Up,
            active: link == LinkId::Primary,
            frames_rx: rx,
            frames_tx: 2,
            crc_errors: 3,
            auth_failures: 4,
            unauthenticated: 8,
            duplicates: 5,
            last_rx_age_ms: u32::MAX,
        };
        let mut buf = [0u8; MAX_REPORT_LEN];
        let n = encode_links(
            LinkId::Primary,
            7,
            &[l(LinkId::Primary, 11), l(LinkId::Standby, 12)],
            [6, 9],
            [true, false],
            &mut buf,
        );
        let text = links(&buf[..n]).unwrap();
        assert!(
            text.contains("primary (radio): up, CCSDS frames, packets in 11, out 2,"),
            "{text}"
        );
        assert!(
            text.contains("active primary (radio), failovers 7"),
            "{text}"
        );
        assert!(
            text.contains("units in 12, out 2, refused 17 (failed authentication 4, malformed or unknown SPI 8, replayed or outside the window 5)"),
            "{text}"
        );
        assert!(
            text.contains("framing errors 3, uplink sequence gaps 9"),
            "{text}"
        );
        assert!(text.contains("uplink sequence gaps 6"), "{text}");
        assert!(text.contains("last accepted never"), "{text}");
        let c = SecurityCounters {
            accepted: 9,
            bad_mac: 2,
            replayed: 1,
            unknown_spi: 4,
            ..Default::default()
        };
        let n = encode_security(&c, core::iter::empty(), &mut buf);
        let text = security(&buf[..n]).unwrap();
        assert!(text.contains("bad MAC 2, bad sequence 1"), "{text}");
        assert!(text.contains("unknown SPI 4"), "{text}");
        for cut in 0..n {
            let _ = security(&buf[..cut]);
            let _ = links(&buf[..cut]);
            let _ = health(&buf[..cut]);
        }
    }
}
