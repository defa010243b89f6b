//! The monitor's log on the kernel's serial port (COM1, the first QEMU serial port), through
//! `seL4_DebugPutChar`, in the sim board's format: `[<component>] <message>`.
//! No buffering and no allocation: `core::fmt` writes straight to the port.

use crate::seL4_DebugPutChar;
use core::fmt::{self, Write};

/// A `core::fmt` sink on the kernel's debug serial port.
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.bytes().for_each(seL4_DebugPutChar);
        Ok(())
    }
}

/// Logs one line as `[who] message`.
#[macro_export]
macro_rules! log {
    ($who:expr, $($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = write!($crate::console::Console, "[{}] ", $who);
        let _ = writeln!($crate::console::Console, $($arg)*);
    }};
}
