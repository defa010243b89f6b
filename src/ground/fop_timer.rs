//! FOP-1's retransmission timer T1 (CCSDS 232.1's `T1_Initial`, a managed parameter that must
//! exceed the link's round trip), adapted to the round trip the ground measures, as TCP's
//! retransmission timeout is (RFC 6298): a smoothed round trip plus four times its variation,
//! never below [`MIN`]; doubled at each expiry until a clean measurement arrives, up to twice
//! the estimate once there is one (else up to [`MAX`]: a slow link's first frames are all
//! retransmitted before their acknowledgment can arrive); no measurement from a retransmitted
//! frame (Karn: its acknowledgment is ambiguous), except the time since the first
//! transmission to seed an estimate when there is none. The cap matters on a lossy link carrying a
//! stream: the timer seldom stops there, so clean measurements are rare, and an uncapped
//! back-off left each lost frame waiting seconds (a 789 KB batch at 10 % loss timed out).
//!
//! Why: with a fixed 300 ms on a 16 kbit/s radio, where one 1,119-byte TM frame takes 0.56 s,
//! every frame was retransmitted before its CLCW could arrive, each retransmission drew another
//! TM frame from the node, and the downlink queue only grew.
//!
//! The estimate outlives a ground session ([`FopTimer::record`], [`FopTimer::from_record`],
//! kept as [`FILE`] in the ground's state directory): a new session on a slow radio (the ground
//! server restarted) starts from the round trip its predecessor measured, not from [`MIN`],
//! which there had every first frame retransmitted before its acknowledgment could arrive. A
//! record read back is checked (its format, each figure at most [`MAX`]).
//!
//! Avoids: any clock of its own (the caller measures and reports); I/O (the caller reads and
//! writes the record).

use std::time::Duration;

/// The file in the ground's state directory that keeps the round-trip estimate.
pub const FILE: &str = "fop-t1.txt";

/// Why a kept round-trip estimate was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not the one line [`FopTimer::record`] writes.
    #[error("not a FOP-1 round-trip record (expected one line `fop-t1 v1 srtt-us N rttvar-us N`)")]
    Format,
    /// A figure beyond what the timer ever keeps.
    #[error("round-trip figure {0} us is beyond the largest T1 ({max} ms)", max = MAX.as_millis())]
    Range(u64),
}

/// The smallest T1: the sim radio's round trip is milliseconds.
pub const MIN: Duration = Duration::from_millis(300);
/// The largest T1, after back-off: a few TM frames of a slow radio.
pub const MAX: Duration = Duration::from_secs(4);

/// The current T1 and the round-trip estimate behind it.
#[derive(Debug, Clone)]
pub struct FopTimer {
    t1: Duration,
    srtt: Option<Duration>,
    rttvar: Duration,
    /// The timer expired since the last measurement: the next acknowledgment may be of a
    /// retransmission.
    ambiguous: bool,
}

impl Default for FopTimer {
    fn default() -> Self {
        Self {
            t1: MIN,
            srtt: None,
            rttvar: Duration::ZERO,
            ambiguous: false,
        }
    }
}

impl FopTimer {
    /// How long FOP-1 waits for an acknowledgment before it retransmits.
    pub fn t1(&self) -> Duration {
        self.t1
    }

    /// Everything outstanding was acknowledged `rtt` after the last transmission and `since`
    /// after the first one of this exchange. An acknowledgment that may be of a
    /// retransmission is not measured, except while there is no estimate at all: then `since`
    /// (the round trip is at most that) seeds one, so a link slower than [`MIN`], whose first
    /// frames are all retransmitted, still gets an estimate to keep for the next session.
    pub fn acknowledged(&mut self, rtt: Duration, since: Duration) {
        let rtt = match (std::mem::take(&mut self.ambiguous), self.srtt) {
            (false, _) => rtt,
            (true, None) => since.min(MAX),
            (true, Some(_)) => return,
        };
        let (srtt, rttvar) = match self.srtt {
            None => (rtt, rtt / 2),
            Some(srtt) => (
                srtt * 7 / 8 + rtt / 8,
                self.rttvar * 3 / 4 + srtt.abs_diff(rtt) / 4,
            ),
        };
        self.srtt = Some(srtt);
        self.rttvar = rttvar;
        self.t1 = self.estimate().unwrap_or(MIN);
    }

    /// T1 from the measurements alone, once there are any.
    fn estimate(&self) -> Option<Duration> {
        self.srtt
            .map(|srtt| (srtt + self.rttvar * 4).clamp(MIN, MAX))
    }

    /// The estimate as one line of text (for [`FILE`]); `None` before any measurement.
    pub fn record(&self) -> Option<String> {
        self.srtt.map(|srtt| {
            format!(
                "fop-t1 v1 srtt-us {} rttvar-us {}\n",
                srtt.as_micros(),
                self.rttvar.as_micros()
            )
        })
    }

    /// A timer that starts from a kept estimate ([`FopTimer::record`]'s line), checked.
    pub fn from_record(text: &str) -> Result<Self, RecordError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let ["fop-t1", "v1", "srtt-us", srtt, "rttvar-us", rttvar] = words[..] else {
            return Err(RecordError::Format);
        };
        let figure = |w: &str| {
            let us: u64 = w.parse().map_err(|_| RecordError::Format)?;
            if us > MAX.as_micros() as u64 {
                return Err(RecordError::Range(us));
            }
            Ok(Duration::from_micros(us))
        };
        let mut t = Self {
            srtt: Some(figure(srtt)?),
            rttvar: figure(rttvar)?,
            ..Self::default()
        };
        t.t1 = t.estimate().unwrap_or(MIN);
        Ok(t)
    }

    /// The timer ran out: FOP-1 retransmits; wait twice as long next time, within the cap.
    pub fn expired(&mut self) {
        let cap = self.estimate().map_or(MAX, |e| (e * 2).min(MAX));
        self.t1 = (self.t1 * 2).min(cap);
        self.ambiguous = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn a_fast_link_keeps_the_minimum_and_a_slow_one_gets_its_round_trip_and_more() {
        let mut t = FopTimer::default();
        for _ in 0..10 {
            t.acknowledged(MS(5), MS(5));
        }
        assert_eq!(t.t1(), MIN);
        let mut t = FopTimer::default();
        t.acknowledged(MS(700), MS(700));
        // 700 + 4 x 350.
        assert_eq!(t.t1(), MS(2_100));
        for _ in 0..50 {
            t.acknowledged(MS(700), MS(700));
        }
        assert!(t.t1() > MS(700) && t.t1() < MS(1_000), "{:?}", t.t1());
    }

    #[test]
    fn the_estimate_is_kept_across_sessions_and_a_damaged_record_is_refused() {
        let mut t = FopTimer::default();
        assert_eq!(t.record(), None, "nothing measured, nothing to keep");
        t.acknowledged(MS(700), MS(700));
        let line = t.record().expect("a measurement");
        assert_eq!(line, "fop-t1 v1 srtt-us 700000 rttvar-us 350000\n");
        let back = FopTimer::from_record(&line).expect("its own record");
        assert_eq!(back.t1(), MS(2_100));
        assert_eq!(back.record().as_deref(), Some(line.as_str()));
        // Back-off after a restored estimate is capped by it, as after a measurement.
        let mut b = back.clone();
        b.expired();
        b.expired();
        assert_eq!(b.t1(), MAX);
        for bad in [
            "",
            "fop-t1 v1 srtt-us x rttvar-us 1",
            "fop-t1 v2 srtt-us 1 rttvar-us 1",
        ] {
            assert_eq!(
                FopTimer::from_record(bad).err(),
                Some(RecordError::Format),
                "{bad:?}"
            );
        }
        assert_eq!(
            FopTimer::from_record("fop-t1 v1 srtt-us 4000001 rttvar-us 0").err(),
            Some(RecordError::Range(4_000_001))
        );
        assert_eq!(
            FopTimer::from_record("fop-t1 v1 srtt-us 1 rttvar-us 99999999999").err(),
            Some(RecordError::Range(99_999_999_999))
        );
    }

    #[test]
    fn expiries_back_off_and_an_ambiguous_acknowledgment_only_seeds_a_missing_estimate() {
        let mut t = FopTimer::default();
        t.expired();
        assert_eq!(t.t1(), MS(600));
        for _ in 0..10 {
            t.expired();
        }
        assert_eq!(t.t1(), MAX);
        // The acknowledgment right after a retransmission may be of either transmission; with
        // no estimate yet, the time since the first one (an upper bound) seeds it.
        t.acknowledged(MS(1), MS(600));
        // 600 + 4 x 300.
        assert_eq!(t.t1(), MS(1_800));
        // With an estimate, an ambiguous acknowledgment is not measured.
        t.expired();
        assert_eq!(t.t1(), MS(3_600));
        t.acknowledged(MS(1), MS(1));
        assert_eq!(t.t1(), MS(3_600));
        // The next clean one is.
        let mut fast = FopTimer::default();
        fast.acknowledged(MS(10), MS(10));
        assert_eq!(fast.t1(), MIN);
        // With an estimate, back-off stops at twice it.
        for _ in 0..10 {
            fast.expired();
        }
        assert_eq!(fast.t1(), MIN * 2);
    }
}
