//! The back-off of CFDP's directive retransmission timers: the sender's EOF (and its prompt of a
//! silent receiver), the receiver's Finished. Each repetition that is still unanswered waits
//! twice as long as the one before, up to a cap; the ACK limit still counts repetitions and still
//! ends the transaction with its fault (CCSDS 727.0 leaves the timer's value to the entity's
//! management information; only the count and the fault are the protocol's).
//!
//! Why: on a slow radio one PDU can take longer to come down than a fixed timer. The sim's
//! 16 kbit/s radio needs 0.56 s for the 1,119-byte TM frame that carries even a 22-byte EOF,
//! so a 500 ms timer repeated the EOF faster than the downlink drained; the ground's ACK then
//! queued behind 20 s of EOFs, and the sender gave up (40 repetitions in 20 s) before the answer
//! that was on its way could arrive. With the back-off, a peer that is slow to answer costs
//! a few repetitions, and one that is gone costs one PDU per cap interval.
//!
//! Avoids: state of its own (the caller counts its repetitions) and overflow (the shift and the
//! product saturate).

use core::time::Duration;

/// The wait after the `sent`-th transmission of a directive (1 for the first): `base`, doubled
/// for each transmission after the first, at most `max` (never below `base`).
pub fn wait_after(base: Duration, max: Duration, sent: u32) -> Duration {
    let doublings = sent.saturating_sub(1).min(20);
    base.saturating_mul(1u32 << doublings).min(max.max(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_per_repetition_up_to_the_cap() {
        let (b, m) = (Duration::from_millis(500), Duration::from_secs(8));
        let waits: Vec<u128> = (0..8).map(|n| wait_after(b, m, n).as_millis()).collect();
        assert_eq!(waits, [500, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
        assert_eq!(wait_after(b, m, u32::MAX), m);
        // A cap below the base leaves the base (no back-off), never less.
        assert_eq!(wait_after(b, Duration::ZERO, 5), b);
    }
}
