//! The conformance suite on the dev board's drivers, each on the register model of its
//! peripheral, in virtual time.

use board_conformance::{clock, watchdog};
use board_devboard::pm_wdt::PmWatchdog;
use board_devboard::system_timer::SystemTimer;
use board_models::VirtualTime;
use board_models::pm_wdt::PmWdtModel;
use board_models::system_timer::SystemTimerModel;
use std::time::Duration;

struct Wdt<'m> {
    time: VirtualTime,
    model: &'m PmWdtModel,
    dut: PmWatchdog<&'m PmWdtModel>,
}

impl<'m> watchdog::WatchdogRig for Wdt<'m> {
    type Dut = PmWatchdog<&'m PmWdtModel>;
    fn dut(&mut self) -> &mut Self::Dut {
        &mut self.dut
    }
    fn advance(&mut self, d: Duration) {
        self.time.advance(d);
    }
    fn resets(&mut self) -> u32 {
        self.model.resets()
    }
    /// One tick: 1/65536 s.
    fn granularity(&self) -> Duration {
        Duration::from_nanos(15_259)
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(1)
    }
}

#[test]
fn the_pm_watchdog_on_its_model_conforms() {
    let time = VirtualTime::new();
    let model = PmWdtModel::new(time.clone());
    let dut = PmWatchdog::new(&model);
    watchdog::run(&mut Wdt {
        time,
        model: &model,
        dut,
    });
    assert_eq!(
        model.ignored_writes(),
        0,
        "the driver wrote without the password"
    );
}

struct Timer<'m> {
    time: VirtualTime,
    dut: SystemTimer<&'m SystemTimerModel>,
}

impl<'m> clock::ClockRig for Timer<'m> {
    type Dut = SystemTimer<&'m SystemTimerModel>;
    fn dut(&self) -> &Self::Dut {
        &self.dut
    }
    fn advance(&mut self, d: Duration) {
        self.time.advance(d);
    }
    fn resolution(&self) -> Duration {
        Duration::from_micros(1)
    }
    fn exact(&self) -> bool {
        true
    }
    fn long_run(&self) -> Option<(Duration, u32)> {
        Some((Duration::from_secs(600), 10))
    }
}

#[test]
fn the_system_timer_on_its_model_conforms_across_the_32_bit_carry() {
    let time = VirtualTime::new();
    // 10 us before CLO wraps into CHI: the carry happens during the checks.
    let model = SystemTimerModel::new(time.clone(), 0xFFFF_FFFF - 10);
    let dut = SystemTimer::start(&model);
    clock::run(&mut Timer { time, dut });
}

#[test]
fn the_devboard_slot_layout_is_the_devboard_files_storage() {
    use board_devboard::slots::DEVBOARD_SLOT_LAYOUT;
    use kernel_config::{load_board, shipped};
    let board = load_board(&shipped::board("devboard").expect("devboard")).expect("valid");
    assert_eq!(
        u64::from(DEVBOARD_SLOT_LAYOUT.slot_size),
        board.storage.slot_size
    );
    assert!(DEVBOARD_SLOT_LAYOUT.flash_len() <= board.storage.bundle_capacity);
    assert_eq!(board.storage.bundles, "slot-flash");
}
