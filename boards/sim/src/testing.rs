//! A running sim board for whole-system tests, demos and benchmarks: the monitor on a thread of
//! the calling process, every event it reports timestamped when it happened and kept in order,
//! and waits that search forward from the last match, each bounded so that a broken build fails
//! with the events it saw instead of hanging.
//!
//! ```text
//! let mut board = TestBoard::boot(config)?;
//! let (t0, _) = board.wait_for("signer started", BOUND, |e| ...)?;   // advances the cursor
//! board.signal("signer", Signal::STOP)?;                             // freeze it
//! let (t1, _) = board.wait_log("watchdog", "FAILED signer", BOUND)?;  // a later event only
//! let events = board.stop()?;                                        // every event, in order
//! ```
//!
//! Avoids: asserting anything (callers decide what a bound means) and any wall-clock sleeps:
//! every wait is for an event.

use crate::monitor::{MonitorConfig, MonitorEvent, run_board};
use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A board running on a thread. Dropping it without [`TestBoard::stop`] stops it too.
pub struct TestBoard {
    stop: OwnedFd,
    events: mpsc::Receiver<(Instant, MonitorEvent)>,
    seen: Vec<(Instant, MonitorEvent)>,
    cursor: usize,
    pids: HashMap<String, u32>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl TestBoard {
    /// Powers the board on (on a new thread) with `config`.
    pub fn boot(config: MonitorConfig) -> std::io::Result<TestBoard> {
        let stop = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC)?;
        let stop_for_thread = rustix::io::fcntl_dupfd_cloexec(&stop, 0)?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            run_board(&config, stop_for_thread.as_fd(), &mut |e| {
                let _ = tx.send((Instant::now(), e));
            })
            .map_err(|e| e.to_string())
        });
        Ok(TestBoard {
            stop,
            events: rx,
            seen: Vec::new(),
            cursor: 0,
            pids: HashMap::new(),
            thread: Some(thread),
        })
    }

    fn take(&mut self, e: (Instant, MonitorEvent)) {
        if let MonitorEvent::Started { component, pid, .. } = &e.1 {
            self.pids.insert(component.clone(), *pid);
        }
        self.seen.push(e);
    }

    /// Waits (at most `bound`) for the first event after the last match that satisfies `pred`;
    /// returns when it happened and the event, and moves the cursor past it. The error lists
    /// every event seen.
    pub fn wait_for(
        &mut self,
        what: &str,
        bound: Duration,
        pred: impl Fn(&MonitorEvent) -> bool,
    ) -> Result<(Instant, MonitorEvent), String> {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(i) = self.seen[self.cursor..].iter().position(|(_, e)| pred(e)) {
                let hit = self.cursor + i;
                self.cursor = hit + 1;
                return Ok(self.seen[hit].clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) => self.take(e),
                Err(_) => {
                    let mut text = format!("never saw {what} within {bound:?}; events seen:\n");
                    for (_, e) in &self.seen {
                        text.push_str(&format!("  {e}\n"));
                    }
                    return Err(text);
                }
            }
        }
    }

    /// Waits for a log line of `component` containing `contains`; returns when and the line.
    pub fn wait_log(
        &mut self,
        component: &str,
        contains: &str,
        bound: Duration,
    ) -> Result<(Instant, String), String> {
        let (t, e) = self.wait_for(&format!("[{component}] ...{contains}..."), bound, |e| {
            matches!(e, MonitorEvent::Log { component: c, line } if c == component && line.contains(contains))
        })?;
        match e {
            MonitorEvent::Log { line, .. } => Ok((t, line)),
            other => Err(format!("matched a non-log event: {other}")),
        }
    }

    /// The cursor's position, to [`TestBoard::rewind`] to later (to look for events that may
    /// come in any order relative to the ones waited for in between).
    pub fn mark(&self) -> usize {
        self.cursor
    }

    /// Moves the cursor back to `mark`.
    pub fn rewind(&mut self, mark: usize) {
        self.cursor = mark.min(self.seen.len());
    }

    /// Takes every event that has arrived, without waiting.
    pub fn poll(&mut self) {
        while let Ok(e) = self.events.try_recv() {
            self.take(e);
        }
    }

    /// Every event so far, in order, with when it happened.
    pub fn events(&mut self) -> &[(Instant, MonitorEvent)] {
        self.poll();
        &self.seen
    }

    /// The events after the cursor (not yet matched by a wait).
    pub fn unmatched(&mut self) -> &[(Instant, MonitorEvent)] {
        self.poll();
        &self.seen[self.cursor..]
    }

    /// The pid of the latest start of `component`, if it started.
    pub fn pid(&mut self, component: &str) -> Option<u32> {
        self.poll();
        self.pids.get(component).copied()
    }

    /// Sends `signal` to the latest process of `component`.
    pub fn signal(
        &mut self,
        component: &str,
        signal: rustix::process::Signal,
    ) -> Result<u32, String> {
        let pid = self
            .pid(component)
            .ok_or_else(|| format!("{component} has not started"))?;
        let p = rustix::process::Pid::from_raw(pid as i32)
            .ok_or_else(|| format!("{component} has pid 0"))?;
        rustix::process::kill_process(p, signal)
            .map_err(|e| format!("signal {signal:?} to {component} (pid {pid}): {e}"))?;
        Ok(pid)
    }

    /// Stops the board, waits for the monitor, and returns every event.
    pub fn stop(mut self) -> Result<Vec<(Instant, MonitorEvent)>, String> {
        self.halt()?;
        self.poll();
        Ok(std::mem::take(&mut self.seen))
    }

    fn halt(&mut self) -> Result<(), String> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        rustix::io::write(&self.stop, &1u64.to_ne_bytes()).map_err(|e| e.to_string())?;
        thread
            .join()
            .map_err(|_| "the monitor thread panicked".to_string())?
    }
}

impl Drop for TestBoard {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

/// The progress counters of a watchdog status line (`...; progress monitor 31 comms 30 ...`),
/// by component name.
pub fn progress_of(line: &str) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    if let Some((_, rest)) = line.split_once("; progress") {
        let words: Vec<&str> = rest.split_whitespace().collect();
        for pair in words.chunks_exact(2) {
            if let [name, n] = pair
                && let Ok(n) = n.parse()
            {
                out.insert((*name).to_string(), n);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lists_parse_and_junk_is_skipped() {
        let p = progress_of("health #3 | signer ok 1us ; progress monitor 31 comms 30 signer x");
        assert_eq!(p.get("monitor"), Some(&31));
        assert_eq!(p.get("comms"), Some(&30));
        assert_eq!(p.get("signer"), None);
        assert!(progress_of("no list here").is_empty());
    }
}
