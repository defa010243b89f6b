//! Monotonic clock conformance (`hal::time`): successive reads never go back; after `d` has
//! passed the clock shows at least `d` more (less its resolution) and, on a device whose time the
//! rig controls exactly, not more than `d` plus its resolution; over long runs (past a counter's
//! wrap) it keeps counting.

use core::time::Duration;
use hal::time::MonotonicClock;

/// A clock and the passage of time.
pub trait ClockRig {
    /// The device under test.
    type Dut: MonotonicClock;
    /// The device.
    fn dut(&self) -> &Self::Dut;
    /// Lets `d` pass.
    fn advance(&mut self, d: Duration);
    /// The clock's resolution.
    fn resolution(&self) -> Duration;
    /// Whether `advance` lets exactly `d` pass (virtual time), so an upper bound holds.
    fn exact(&self) -> bool;
    /// A long run to check, as (step, steps): past any hardware counter's wrap. `None` where
    /// time cannot be simulated.
    fn long_run(&self) -> Option<(Duration, u32)>;
}

/// Runs every clock check.
pub fn run<R: ClockRig>(rig: &mut R) {
    let mut last = rig.dut().now();
    for _ in 0..1000 {
        let now = rig.dut().now();
        assert!(now >= last, "the clock went back from {last:?} to {now:?}");
        last = now;
    }
    for d in [Duration::from_micros(50), Duration::from_millis(10)] {
        let before = rig.dut().now();
        rig.advance(d);
        let shown = rig.dut().now().saturating_duration_since(before);
        let res = rig.resolution();
        assert!(shown + res >= d, "{d:?} passed, the clock showed {shown:?}");
        if rig.exact() {
            assert!(
                shown <= d + 2 * res,
                "{d:?} passed, the clock showed {shown:?}"
            );
        }
    }
    if let Some((step, steps)) = rig.long_run() {
        let start = rig.dut().now();
        for _ in 0..steps {
            rig.advance(step);
            let _ = rig.dut().now();
        }
        let shown = rig.dut().now().saturating_duration_since(start);
        let want = step * steps;
        let res = rig.resolution() * 2 * steps;
        assert!(
            shown + res >= want && shown <= want + res,
            "after {want:?} the clock showed {shown:?}"
        );
    }
}
