//! The node's recent events, kept so an operator can read them after the fact: every service 5
//! event report comms sends down (5,1 to 5,4, [`super::event`]) is also written into a bounded
//! ring, and TC\[5,128\] "report the event log" (a mission-specific subtype, PUS-C leaves 128 and
//! up to the mission) is answered with one TM\[5,129\] per kept event, oldest first.
//!
//! **What is kept and for how long**: the last [`EVENT_LOG_LEN`] events since comms started,
//! in comms' RAM only. A newer event overwrites the oldest; a restart of comms or a board reset
//! empties the log (the events of a boot are not written to flash: comms' flash holds the
//! anti-replay state, and an event log there would wear it for every refused unit). The first
//! event of every boot is the security-restored event (0x0001), so the log always shows where a
//! boot began. Every event carries a sequence number counted from comms' start, so the ground
//! sees how many were overwritten.
//!
//! TM\[5,129\] source data (big-endian): sequence number (4), age in ms when the report was
//! made (4, saturating), severity (1: the 5,x subtype of the original report), then the event's
//! own source data (event ID (2), auxiliary data).
//!
//! Avoids: heap (a fixed array of [`Event`]s); panics on any input.

use hal::time::Instant;

use super::event::{Event, MAX_EVENT_LEN, Severity};

/// Events kept.
pub const EVENT_LOG_LEN: usize = 16;
/// Subtype of the request: report the event log.
pub const TC_REPORT_LOG: u8 = 128;
/// Subtype of each answer: one kept event.
pub const TM_LOG_ENTRY: u8 = 129;
/// Bytes of a TM\[5,129\] before the event's source data.
pub const ENTRY_HEADER_LEN: usize = 4 + 4 + 1;
/// Largest TM\[5,129\] source data.
pub const MAX_ENTRY_LEN: usize = ENTRY_HEADER_LEN + MAX_EVENT_LEN;

/// One kept event.
#[derive(Debug, Clone, Copy)]
struct Kept {
    seq: u32,
    at: Instant,
    event: Event,
}

/// The ring of recent events.
#[derive(Debug, Clone)]
pub struct EventLog {
    ring: [Option<Kept>; EVENT_LOG_LEN],
    /// Events recorded since comms started (the next one's sequence number).
    recorded: u32,
}

impl Default for EventLog {
    fn default() -> Self {
        Self::new()
    }
}

impl EventLog {
    /// An empty log.
    pub const fn new() -> Self {
        EventLog {
            ring: [None; EVENT_LOG_LEN],
            recorded: 0,
        }
    }

    /// Keep an event report comms sent down as TM\[5,`subtype`\] with `source` data; anything
    /// that is not an event report (subtype outside 1..=4, no event ID) is ignored.
    pub fn record(&mut self, subtype: u8, source: &[u8], at: Instant) {
        let Some(severity) = Severity::from_subtype(subtype) else {
            return;
        };
        let [a, b, aux @ ..] = source else { return };
        let event = Event::new(severity, u16::from_be_bytes([*a, *b]), aux);
        let slot = self.recorded as usize % EVENT_LOG_LEN;
        self.ring[slot] = Some(Kept {
            seq: self.recorded,
            at,
            event,
        });
        self.recorded = self.recorded.wrapping_add(1);
    }

    /// Events recorded since comms started (including the overwritten ones).
    pub fn recorded(&self) -> u32 {
        self.recorded
    }

    /// The `i`-th kept event (0: the oldest) as TM\[5,129\] source data and its length, with
    /// its age at `now`; `None` past the last one.
    pub fn entry(&self, i: usize, now: Instant) -> Option<([u8; MAX_ENTRY_LEN], usize)> {
        if i >= EVENT_LOG_LEN {
            return None;
        }
        let k = self.ring[(self.recorded as usize + i) % EVENT_LOG_LEN].as_ref()?;
        let mut out = [0u8; MAX_ENTRY_LEN];
        let age_ms = now.saturating_duration_since(k.at).as_millis();
        out[..4].copy_from_slice(&k.seq.to_be_bytes());
        out[4..8].copy_from_slice(&u32::try_from(age_ms).unwrap_or(u32::MAX).to_be_bytes());
        out[8] = k.event.severity as u8;
        let src = k.event.source();
        out[ENTRY_HEADER_LEN..ENTRY_HEADER_LEN + src.len()].copy_from_slice(src);
        Some((out, ENTRY_HEADER_LEN + src.len()))
    }
}

/// One TM\[5,129\], decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Sequence number since comms started.
    pub seq: u32,
    /// Age in ms when the node made the report.
    pub age_ms: u32,
    /// Severity of the original report.
    pub severity: Severity,
    /// Event ID.
    pub id: u16,
    /// Auxiliary data.
    pub aux: &'a [u8],
}

/// Decode TM\[5,129\] source data; `None` if it is too short or its severity is not 1..=4.
pub fn decode(source: &[u8]) -> Option<Entry<'_>> {
    let be4 = |i: usize| -> Option<u32> {
        Some(u32::from_be_bytes(source.get(i..i + 4)?.try_into().ok()?))
    };
    let id = source.get(ENTRY_HEADER_LEN..ENTRY_HEADER_LEN + 2)?;
    Some(Entry {
        seq: be4(0)?,
        age_ms: be4(4)?,
        severity: Severity::from_subtype(*source.get(8)?)?,
        id: u16::from_be_bytes([id[0], id[1]]),
        aux: source.get(ENTRY_HEADER_LEN + 2..)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn keeps_the_last_events_oldest_first_with_their_age_and_sequence() {
        let mut log = EventLog::new();
        let t0 = Instant::from_micros(1_000_000);
        assert!((0..EVENT_LOG_LEN).all(|i| log.entry(i, t0).is_none()));
        log.record(5, &[0, 1], t0); // not an event report
        log.record(2, &[0], t0); // no event ID
        assert_eq!(log.recorded(), 0);
        let n = EVENT_LOG_LEN as u32 + 3;
        for i in 0..n {
            let at = t0.saturating_add(Duration::from_millis(u64::from(i)));
            log.record(1 + (i % 4) as u8, &[0, 2, i as u8], at);
        }
        assert_eq!(log.recorded(), n);
        let now = t0.saturating_add(Duration::from_millis(100));
        let got: Vec<_> = (0..=EVENT_LOG_LEN)
            .filter_map(|i| log.entry(i, now))
            .collect();
        assert_eq!(got.len(), EVENT_LOG_LEN);
        for (k, (buf, len)) in got.iter().enumerate() {
            let e = decode(&buf[..*len]).unwrap();
            let i = 3 + k as u32;
            assert_eq!(e.seq, i);
            assert_eq!(e.age_ms, 100 - i);
            assert_eq!(e.severity as u8, 1 + (i % 4) as u8);
            assert_eq!((e.id, e.aux), (2, &[i as u8][..]));
        }
        let (buf, len) = got[0];
        for cut in 0..ENTRY_HEADER_LEN + 2 {
            assert!(decode(&buf[..cut]).is_none(), "cut {cut}");
        }
        assert!(decode(&buf[..len]).is_some());
    }
}
