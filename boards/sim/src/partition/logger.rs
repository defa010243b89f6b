//! The `log` facade in a component process: one `write(2)` per record on descriptor 2, the
//! component's log pipe; the monitor adds the component's name in front.
//!
//! Avoids: buffering across records (a killed process loses at most the record being written)
//! and any descriptor but 2.

use std::io::Write;

struct PipeLogger;

static LOGGER: PipeLogger = PipeLogger;

impl log::Log for PipeLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!("{:<5} {}\n", record.level(), record.args());
        let _ = std::io::stderr().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Installs the logger at `level` (once per process; later calls do nothing).
pub fn init(level: log::LevelFilter) {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
