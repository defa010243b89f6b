//! The `log` facade for a partition on seL4: one line per record on the kernel's serial port, as
//! `[component] LEVEL message`, the sim board's format. Info and above.
//!
//! Avoids: buffering and allocation (it writes through `core::fmt` to the port).

use core::fmt::Write as _;
use sel4::console::Console;

struct Logger {
    name: &'static str,
}

static mut LOGGER: Logger = Logger { name: "?" };

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let _ = writeln!(
                Console,
                "[{}] {:<5} {}",
                self.name,
                record.level(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// Installs the logger for component `name`.
pub fn init(name: &'static str) {
    let logger = &raw mut LOGGER;
    // SAFETY: called once, by the only thread, before any record is logged; afterwards the
    // logger is only read.
    let logger: &'static Logger = unsafe {
        (*logger).name = name;
        &*logger
    };
    if log::set_logger(logger).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}
