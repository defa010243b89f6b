//! Service 3 housekeeping: the one-shot report request (3,27) and the three report structures
//! the node defines (3,25). All integers big-endian.
//!
//! TC 3,27 application data: N (1 byte, 1..=5), then N structure IDs (1 byte each: 1, 2, 3,
//! 5, the upgrade agent's status in [`super::hk_upgrade`], or 6, the standby line's PPP session
//! in [`super::hk_ppp`]).
//!
//! TM 3,25 source data: structure ID (1 byte), then the structure:
//!
//! - **1, node health** (the watchdog's last [`protocol::HealthReport`]): uptime ms (8), report
//!   sequence (4), board resets (2, counted toward the safe-mode cap), mode (1: 0 normal, 1
//!   safe), escalated (1: 1 once the watchdog stopped kicking, a board reset is imminent), last
//!   escalation on record: component id (1, 0xFF if none) and fault kind (1: 0 none, 1 exit,
//!   2 signal, 3 seccomp, 4 missed pings, 5 wrong nonce, 6 restart failed), n (1), then per
//!   component: id (1), state (1: 0 healthy,
//!   1 late, 2 failed, 3 restarting, 4 stopped, 5 inactive in safe mode, 6 degraded: runs, answers pings, but reports a damaged store or a failed start), missed pings (1), restarts (2), ms since last
//!   pong (4).
//! - **2, links**: active link (1: 0 primary, 1 standby), failovers (4), then for the primary and
//!   the standby link: link (1), state (1: 0 up, 1 degraded, 2 down), flags (1: bit 0 the
//!   active link; bit 1 the link is the CCSDS space link, whose counts in and out are space
//!   packets carried in transfer frames, else they are units), units or packets in
//!   (4, authenticated and accepted), out (4), CRC/framing errors (4), refused by the
//!   security layer for a bad MAC (4), refused as replayed or outside the window (4), ms since
//!   last accepted unit (4, 0xFFFFFFFF if none), uplink sequence gaps (4: ARSNs skipped by
//!   accepted units, the node's own count of uplink units lost on that link), refused before
//!   authentication: malformed or under an unknown SPI (4).
//!   The state is judged from authenticated units only (`crate::link`).
//! - **3, security**: accepted (4), bad MAC (4), replayed (4), outside window (4), unknown SPI
//!   (4), malformed (4), persist failures (4), sent (4), n (1), then per association: SPI (2),
//!   key epoch (4), last accepted uplink ARSN (8), persisted uplink reservation (8), next
//!   downlink ARSN (8), key state (1: 0 active, 1 pre-activation, 2 deactivated, 3 destroyed;
//!   `crate::sdls::KeyState`), flags (1: bit 0 set on the association unsolicited telemetry
//!   goes out under), SDLS suite of its frames (1: 1 AES-256-GCM, 2 HMAC-SHA-256, the codes of
//!   the provisioning file, `crate::sdls::provision`), the master key's key id (2, 0 for
//!   none). After a reboot the ground continues above the reservation.
//! - **4, component telemetry** (sent unsolicited when a component reports, never requested
//!   by 3,27): component id (1), its telemetry sequence (4), its clock ms (8), n (1, at most
//!   16), then per point: point id (2), value (8, signed).
//!
//! Avoids: heap; panics on any input to [`parse_request`].

use protocol::{HealthReport, HealthState, LinkId, LinkState, LinkStatus, NodeMode};

use crate::failure::{Failure, FailureCode};
use crate::sdls::provision::{suite_code, suite_from_code};
use crate::sdls::{KeyState, SaStatus, SecurityCounters, Suite};

/// Structure 1: node health.
pub const SID_HEALTH: u8 = 1;
/// Structure 2: link statistics.
pub const SID_LINKS: u8 = 2;
/// Structure 3: security counters and anti-replay state.
pub const SID_SECURITY: u8 = 3;
/// Structure 4: a component's telemetry (unsolicited only).
pub const SID_TELEMETRY: u8 = 4;
/// Largest 3,25 source data: structure 1 with 32 components (308 bytes) or structure 3 with
/// 8 associations (314 bytes), whichever is longer.
pub const MAX_REPORT_LEN: usize = {
    let health = 1 + HEALTH_HEADER_LEN + 32 * 9;
    let security = 34 + SECURITY_LINE_LEN * 8;
    if health > security { health } else { security }
};
/// Length of structure 1's fixed part after the structure ID.
pub const HEALTH_HEADER_LEN: usize = 19;

/// Structure IDs requested by a 3,27, in order (at most 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Request {
    ids: [u8; MAX_REQUESTED],
    n: usize,
}

impl Request {
    /// The requested structure IDs.
    pub fn ids(&self) -> &[u8] {
        self.ids.get(..self.n).unwrap_or(&[])
    }
}

/// Most structures one 3,27 asks for (every requestable one: 1, 2, 3, 5, 6).
pub const MAX_REQUESTED: usize = 5;

/// Parse 3,27 application data. Unknown structures are refused before anything is reported.
pub fn parse_request(app: &[u8]) -> Result<Request, Failure> {
    let bad = Failure::with(FailureCode::BadAppData, app.len() as u32);
    let (&n, ids) = app.split_first().ok_or(bad)?;
    if n == 0 || usize::from(n) > MAX_REQUESTED || ids.len() != usize::from(n) {
        return Err(bad);
    }
    let mut r = Request {
        ids: [0; MAX_REQUESTED],
        n: ids.len(),
    };
    for (slot, &id) in r.ids.iter_mut().zip(ids) {
        if !(SID_HEALTH..=SID_SECURITY).contains(&id)
            && id != super::hk_upgrade::SID_UPGRADE
            && id != super::hk_ppp::SID_PPP
        {
            return Err(Failure::with(FailureCode::UnknownStructure, u32::from(id)));
        }
        *slot = id;
    }
    Ok(r)
}

struct W<'a> {
    out: &'a mut [u8],
    n: usize,
}

impl W<'_> {
    fn put(&mut self, b: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.n..self.n + b.len()) {
            dst.copy_from_slice(b);
            self.n += b.len();
        }
    }
}

fn health_state(s: HealthState) -> u8 {
    match s {
        HealthState::Healthy => 0,
        HealthState::Late => 1,
        HealthState::Failed => 2,
        HealthState::Restarting => 3,
        HealthState::Stopped => 4,
        HealthState::Inactive => 5,
        HealthState::Degraded => 6,
    }
}

fn link_state(s: LinkState) -> u8 {
    match s {
        LinkState::Up => 0,
        LinkState::Degraded => 1,
        LinkState::Down => 2,
    }
}

fn link_id(l: LinkId) -> u8 {
    match l {
        LinkId::Primary => 0,
        LinkId::Standby => 1,
    }
}

/// Structure 1 into `out` (at least [`MAX_REPORT_LEN`]), returning the length.
pub fn encode_health(h: &HealthReport, out: &mut [u8; MAX_REPORT_LEN]) -> usize {
    let mut w = W { out, n: 0 };
    let comps = h.components.as_slice();
    w.put(&[SID_HEALTH]);
    w.put(&h.uptime_ms.to_be_bytes());
    w.put(&h.sequence.to_be_bytes());
    w.put(&h.resets.to_be_bytes());
    let (esc_component, esc_kind) = h
        .last_escalation
        .map_or((0xFF, 0), |e| (e.component.0, e.fault.code()));
    w.put(&[
        match h.mode {
            NodeMode::Normal => 0,
            NodeMode::Safe => 1,
        },
        u8::from(h.escalated),
        esc_component,
        esc_kind,
    ]);
    w.put(&[comps.len().min(32) as u8]);
    for c in comps.iter().take(32) {
        w.put(&[c.component.0, health_state(c.state), c.missed_pings]);
        w.put(&c.restarts.to_be_bytes());
        w.put(&c.last_pong_age_ms.to_be_bytes());
    }
    w.n
}

/// Structure 4 into `out`, returning the length.
pub fn encode_telemetry(t: &protocol::Telemetry, out: &mut [u8; MAX_REPORT_LEN]) -> usize {
    let mut w = W { out, n: 0 };
    let points = t.points.as_slice();
    let n = points.len().min(protocol::TELEMETRY_POINTS_MAX);
    w.put(&[SID_TELEMETRY, t.component.0]);
    w.put(&t.sequence.to_be_bytes());
    w.put(&t.at_ms.to_be_bytes());
    w.put(&[n as u8]);
    for p in points.iter().take(n) {
        w.put(&p.id.to_be_bytes());
        w.put(&p.value.to_be_bytes());
    }
    w.n
}

/// Length of one link's block in structure 2.
pub const LINK_BLOCK_LEN: usize = 3 + 8 * 4;

/// Flag of a link block: the link is the CCSDS space link (its counts are packets).
pub const LINK_FLAG_CCSDS: u8 = 0x02;

/// Structure 2 into `out`, returning the length. `gaps` are the uplink sequence gaps of the
/// primary and the standby link; `ccsds` says which of them is the CCSDS space link.
pub fn encode_links(
    active: LinkId,
    failovers: u32,
    links: &[LinkStatus; 2],
    gaps: [u32; 2],
    ccsds: [bool; 2],
    out: &mut [u8; MAX_REPORT_LEN],
) -> usize {
    let mut w = W { out, n: 0 };
    w.put(&[SID_LINKS, link_id(active)]);
    w.put(&failovers.to_be_bytes());
    for ((l, gaps), ccsds) in links.iter().zip(gaps).zip(ccsds) {
        let flags = u8::from(l.active) | if ccsds { LINK_FLAG_CCSDS } else { 0 };
        w.put(&[link_id(l.link), link_state(l.state), flags]);
        for v in [
            l.frames_rx,
            l.frames_tx,
            l.crc_errors,
            l.auth_failures,
            l.duplicates,
            l.last_rx_age_ms,
            gaps,
            l.unauthenticated,
        ] {
            w.put(&v.to_be_bytes());
        }
    }
    w.n
}

/// Structure 3 into `out`, returning the length.
pub fn encode_security(
    c: &SecurityCounters,
    sas: impl Iterator<Item = SaStatus>,
    out: &mut [u8; MAX_REPORT_LEN],
) -> usize {
    let mut w = W { out, n: 0 };
    w.put(&[SID_SECURITY]);
    for v in [
        c.accepted,
        c.bad_mac,
        c.replayed,
        c.outside_window,
        c.unknown_spi,
        c.malformed,
        c.persist_failures,
        c.sent,
    ] {
        w.put(&v.to_be_bytes());
    }
    let count_at = w.n;
    w.put(&[0]);
    let mut n = 0u8;
    for s in sas.take(8) {
        w.put(&s.spi.to_be_bytes());
        w.put(&s.epoch.to_be_bytes());
        w.put(&s.rx_last.to_be_bytes());
        w.put(&s.rx_reserved.to_be_bytes());
        w.put(&s.tx_next.to_be_bytes());
        w.put(&[
            s.key_state.code(),
            u8::from(s.telemetry),
            suite_code(s.suite),
        ]);
        w.put(&s.key_id.to_be_bytes());
        n += 1;
    }
    if let Some(b) = w.out.get_mut(count_at) {
        *b = n;
    }
    w.n
}

/// One association line of structure 3, as the ground reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityLine {
    /// SPI.
    pub spi: u16,
    /// Key epoch.
    pub epoch: u32,
    /// Last accepted uplink ARSN.
    pub rx_last: u64,
    /// Persisted uplink reservation: after a node reboot, continue above this.
    pub rx_reserved: u64,
    /// Next downlink ARSN.
    pub tx_next: u64,
    /// The master key's state.
    pub key_state: KeyState,
    /// Unsolicited telemetry goes out under this association.
    pub telemetry: bool,
    /// SDLS suite of its frames on the CCSDS radio.
    pub suite: Suite,
    /// The master key's key id (0 for none).
    pub key_id: u16,
}

/// Bytes of one association line of structure 3.
const SECURITY_LINE_LEN: usize = 35;

/// Decode structure 3 (ground): the counters and the association lines.
pub fn decode_security(source: &[u8]) -> Option<(SecurityCounters, [Option<SecurityLine>; 8])> {
    let be4 = |i: usize| -> Option<u32> {
        let b = source.get(i..i + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let be8 = |i: usize| -> Option<u64> {
        let b = source.get(i..i + 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_be_bytes(a))
    };
    if source.first() != Some(&SID_SECURITY) {
        return None;
    }
    let c = SecurityCounters {
        accepted: be4(1)?,
        bad_mac: be4(5)?,
        replayed: be4(9)?,
        outside_window: be4(13)?,
        unknown_spi: be4(17)?,
        malformed: be4(21)?,
        persist_failures: be4(25)?,
        sent: be4(29)?,
    };
    let n = usize::from(*source.get(33)?);
    if n > 8 || source.len() != 34 + SECURITY_LINE_LEN * n {
        return None;
    }
    let mut lines = [None; 8];
    for (i, slot) in lines.iter_mut().enumerate().take(n) {
        let at = 34 + SECURITY_LINE_LEN * i;
        let spi = source.get(at..at + 2)?;
        let flags = *source.get(at + 31)?;
        if flags & !1 != 0 {
            return None;
        }
        *slot = Some(SecurityLine {
            spi: u16::from_be_bytes([spi[0], spi[1]]),
            epoch: be4(at + 2)?,
            rx_last: be8(at + 6)?,
            rx_reserved: be8(at + 14)?,
            tx_next: be8(at + 22)?,
            key_state: KeyState::from_code(*source.get(at + 30)?)?,
            telemetry: flags == 1,
            suite: suite_from_code(*source.get(at + 32)?)?,
            key_id: u16::from_be_bytes([*source.get(at + 33)?, *source.get(at + 34)?]),
        });
    }
    Some((c, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_lines_carry_each_key_state_and_the_telemetry_association() {
        use crate::sdls::Permissions;
        let sa = |spi: u16, key_state, telemetry| SaStatus {
            spi,
            epoch: 7,
            rx_last: 10,
            rx_window: 64,
            rx_reserved: 16,
            tx_next: 3,
            tx_reserved: 16,
            permissions: Permissions::ALL,
            key_state,
            telemetry,
            suite: if spi == 2 {
                Suite::HmacSha256
            } else {
                Suite::Aes256Gcm
            },
            key_id: spi * 3,
        };
        let sas = [
            sa(1, KeyState::Deactivated, false),
            sa(5, KeyState::Destroyed, false),
            sa(2, KeyState::Active, false),
            sa(3, KeyState::PreActive, false),
            sa(4, KeyState::Active, true),
        ];
        let mut buf = [0u8; MAX_REPORT_LEN];
        let n = encode_security(&SecurityCounters::default(), sas.iter().copied(), &mut buf);
        let (_, lines) = decode_security(&buf[..n]).unwrap();
        let got: Vec<_> = lines
            .iter()
            .flatten()
            .map(|l| {
                (
                    (l.spi, l.key_state, l.telemetry, l.epoch, l.tx_next),
                    (l.suite, l.key_id),
                )
            })
            .collect();
        let want: Vec<_> = sas
            .iter()
            .map(|s| ((s.spi, s.key_state, s.telemetry, 7, 3), (s.suite, s.key_id)))
            .collect();
        assert_eq!(got, want);
        assert_eq!(buf[34 + 35 * 2 + 32], 2, "SA 2's suite code: HMAC-SHA-256");
        // A state code, flag bit or suite code the format does not define is refused.
        for (at, v) in [(34 + 30, 4), (34 + 31, 2), (34 + 32, 0), (34 + 32, 3)] {
            let mut bad = buf;
            bad[at] = v;
            assert_eq!(decode_security(&bad[..n]), None);
        }
    }

    #[test]
    fn request_parsing() {
        assert_eq!(parse_request(&[2, 1, 3]).unwrap().ids(), &[1, 3]);
        assert_eq!(
            parse_request(&[4, 1, 2, 3, 5]).unwrap().ids(),
            &[1, 2, 3, 5]
        );
        for unknown in [4, 9] {
            assert_eq!(
                parse_request(&[1, unknown]),
                Err(Failure::with(
                    FailureCode::UnknownStructure,
                    u32::from(unknown)
                ))
            );
        }
        assert!(parse_request(&[5, 1, 2, 3, 5, 6]).is_ok());
        for bad in [&[][..], &[0], &[6, 1, 1, 1, 1, 1, 1], &[2, 1]] {
            assert_eq!(
                parse_request(bad).unwrap_err().code,
                FailureCode::BadAppData
            );
        }
    }
}
