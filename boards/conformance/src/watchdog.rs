//! Watchdog conformance (`hal::watchdog`): a kick before start is refused; a timeout outside the
//! range is refused and arms nothing; kicked in time the board is never reset; left alone it is
//! reset after the timeout, not before, and not later than the device's granularity after it.

use core::time::Duration;
use hal::watchdog::{WatchdogError, WatchdogTimer};

/// A watchdog and the board it can reset.
pub trait WatchdogRig {
    /// The device under test.
    type Dut: WatchdogTimer;
    /// The device.
    fn dut(&mut self) -> &mut Self::Dut;
    /// Lets `d` pass on the board's time.
    fn advance(&mut self, d: Duration);
    /// Board resets the watchdog has caused so far.
    fn resets(&mut self) -> u32;
    /// How much later than asked the device may fire (its timeout step).
    fn granularity(&self) -> Duration;
    /// The timeout the suite arms (within the device's range).
    fn timeout(&self) -> Duration;
}

/// Runs every watchdog check.
pub fn run<R: WatchdogRig>(rig: &mut R) {
    assert_eq!(rig.dut().kick(), Err(WatchdogError::NotStarted));
    let (min, max) = rig.dut().timeout_range();
    assert!(
        min <= max && min > Duration::ZERO,
        "range {min:?}..={max:?}"
    );
    let too_long = max + Duration::from_secs(1);
    assert!(matches!(
        rig.dut().start(too_long),
        Err(WatchdogError::TimeoutOutOfRange { .. })
    ));
    assert_eq!(
        rig.dut().kick(),
        Err(WatchdogError::NotStarted),
        "a refused start armed the timer"
    );
    let t = rig.timeout();
    assert!(
        (min..=max).contains(&t),
        "the rig's timeout {t:?} is out of range"
    );
    rig.dut().start(t).expect("start");
    for _ in 0..8 {
        rig.advance(t / 2);
        rig.dut().kick().expect("kick");
    }
    assert_eq!(rig.resets(), 0, "reset although kicked every half timeout");
    let margin = t / 100 + Duration::from_micros(100);
    rig.advance(t - margin);
    assert_eq!(rig.resets(), 0, "reset before the timeout ran out");
    rig.advance(margin + rig.granularity() + Duration::from_millis(1));
    assert_eq!(rig.resets(), 1, "no reset after the timeout ran out");
}
