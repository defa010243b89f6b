//! FOP-1's retransmission timer T1 (CCSDS 232.1's `T1_Initial`, a managed parameter that must
//! exceed the link's round trip), adapted to the round trip the ground measures, as TCP's
//! retransmission timeout is (RFC 6298): a smoothed round trip plus four times its variation,
//! never below [`MIN`]; doubled at each expiry until a clean measurement arrives, up to twice
//! the estimate once there is one (else up to [`MAX`]: a slow link's first frames are all
//! retransmitted before their acknowledgment can arrive); no measurement from a retransmitted
//! frame (Karn: its acknowledgment is ambiguous). The cap matters on a lossy link carrying a
//! stream: the timer seldom stops there, so clean measurements are rare, and an uncapped
//! back-off left each lost frame waiting seconds (a 789 KB batch at 10 % loss timed out).
//!
//! Why: with a fixed 300 ms on a 16 kbit/s radio, where one 1,119-byte TM frame takes 0.56 s,
//! every frame was retransmitted before its CLCW could arrive, each retransmission drew another
//! TM frame from the node, and the downlink queue only grew.
//!
//! Avoids: any clock of its own (the caller measures and reports).

use std::time::Duration;

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

    /// Everything outstanding was acknowledged `rtt` after the last transmission.
    pub fn acknowledged(&mut self, rtt: Duration) {
        if std::mem::take(&mut self.ambiguous) {
            return;
        }
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
            t.acknowledged(MS(5));
        }
        assert_eq!(t.t1(), MIN);
        let mut t = FopTimer::default();
        t.acknowledged(MS(700));
        // 700 + 4 x 350.
        assert_eq!(t.t1(), MS(2_100));
        for _ in 0..50 {
            t.acknowledged(MS(700));
        }
        assert!(t.t1() > MS(700) && t.t1() < MS(1_000), "{:?}", t.t1());
    }

    #[test]
    fn expiries_back_off_to_the_maximum_and_the_ambiguous_acknowledgment_is_not_measured() {
        let mut t = FopTimer::default();
        t.expired();
        assert_eq!(t.t1(), MS(600));
        for _ in 0..10 {
            t.expired();
        }
        assert_eq!(t.t1(), MAX);
        // The acknowledgment right after a retransmission says nothing about the round trip.
        t.acknowledged(MS(1));
        assert_eq!(t.t1(), MAX);
        // The next clean one does.
        t.acknowledged(MS(10));
        assert_eq!(t.t1(), MIN);
        // With an estimate, back-off stops at twice it.
        for _ in 0..10 {
            t.expired();
        }
        assert_eq!(t.t1(), MIN * 2);
    }
}
