//! Turning a child's end (from `waitid`) into the fault cause the watchdog is told.
//!
//! A child killed by `SIGSYS` was killed by its seccomp filter: component processes cannot send
//! signals (their filter forbids `kill`), and the monitor never sends `SIGSYS`. With
//! `SECCOMP_RET_KILL_PROCESS` the kernel does not report which system call it was, so the
//! syscall number is 0 ("unknown"), as `protocol::FaultCause` allows.
//!
//! Avoids: guessing; a status that is neither an exit nor a signal is reported as `None`.

use protocol::FaultCause;
use rustix::process::WaitIdStatus;

/// The cause for a child that exited or was killed, or `None` for other status changes.
pub fn cause_of(status: &WaitIdStatus) -> Option<FaultCause> {
    if let Some(code) = status.exit_status() {
        return Some(FaultCause::Exit { code });
    }
    let signal = status.terminating_signal()?;
    Some(from_signal(signal))
}

/// The cause for death by `signal`.
pub fn from_signal(signal: i32) -> FaultCause {
    if signal == libc::SIGSYS {
        FaultCause::SeccompViolation { syscall: 0 }
    } else {
        FaultCause::Signal {
            signal: u8::try_from(signal).unwrap_or(u8::MAX),
        }
    }
}

/// One line for the log: "exited with status 3", "killed by signal 9 (SIGKILL)", ...
pub fn describe(cause: &FaultCause) -> String {
    match cause {
        FaultCause::Exit { code } => format!("exited with status {code}"),
        FaultCause::Signal { signal } => {
            format!(
                "killed by signal {signal} ({})",
                signal_name(i32::from(*signal))
            )
        }
        FaultCause::SeccompViolation { .. } => {
            "killed by the kernel: system call outside its seccomp allow-list (SIGSYS)".into()
        }
        FaultCause::MissedPings { count } => format!("missed {count} pings"),
        FaultCause::WrongNonce { expected, received } => {
            format!("answered nonce {received:#x}, expected {expected:#x}")
        }
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigsys_is_a_seccomp_violation_and_other_signals_are_signals() {
        assert_eq!(
            from_signal(libc::SIGSYS),
            FaultCause::SeccompViolation { syscall: 0 }
        );
        assert_eq!(from_signal(9), FaultCause::Signal { signal: 9 });
        assert!(describe(&from_signal(9)).contains("SIGKILL"));
        assert!(describe(&FaultCause::Exit { code: 3 }).contains("status 3"));
    }
}
