//! Isolation tests of the sim board with real processes: the monitor runs in this process (on a
//! thread), and every component is this same executable started by the monitor as
//! `EXE pd NAME` (see `probes.rs`), with exactly the grants and sandbox a real component gets.
//!
//! A custom `main` (harness = false) because the executable must also be the components.
//! Each test boots the board from `system.toml`, waits for what it expects (each wait bounded
//! to 20 s so a broken build fails instead of hanging; nothing asserts how fast things happen),
//! stops the board and checks that no process is left behind.

mod probes;

use board_sim::grants::GrantTable;
use board_sim::monitor::{MonitorConfig, MonitorEvent, ResetCause, run_board};
use kernel_config::{Source, System};
use protocol::{FaultCause, RestartRefusal};
use std::collections::BTreeSet;
use std::os::fd::{AsFd, OwnedFd};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

const SYSTEM: &str = include_str!("system.toml");
const BOUND: Duration = Duration::from_secs(20);

struct Node {
    stop: OwnedFd,
    events: mpsc::Receiver<MonitorEvent>,
    seen: Vec<MonitorEvent>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
    _state: tempfile::TempDir,
}

fn description(text: &str) -> Source {
    Source::new("boards/sim/tests/isolation/system.toml", text)
}

fn system(text: &str) -> System {
    kernel_config::load(
        &description(text),
        &kernel_config::shipped::board("sim").expect("sim"),
    )
    .expect("test description loads")
}

impl Node {
    fn boot(text: &str) -> Node {
        let state = tempfile::tempdir().expect("tempdir");
        let exe = std::env::current_exe().expect("exe");
        let config = MonitorConfig::new(
            description(text),
            kernel_config::shipped::board("sim").expect("sim"),
            state.path().to_path_buf(),
            exe,
        );
        let stop =
            rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).expect("eventfd");
        let stop_for_thread = rustix::io::fcntl_dupfd_cloexec(&stop, 0).expect("dup");
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            run_board(&config, stop_for_thread.as_fd(), &mut |e| {
                let _ = tx.send(e);
            })
            .map_err(|e| e.to_string())
        });
        Node {
            stop,
            events: rx,
            seen: Vec::new(),
            thread: Some(thread),
            _state: state,
        }
    }

    /// Waits for an event matching `pred` (remembering every event seen).
    fn wait_for(&mut self, what: &str, pred: impl Fn(&MonitorEvent) -> bool) -> MonitorEvent {
        if let Some(e) = self.seen.iter().find(|e| pred(e)) {
            return e.clone();
        }
        let deadline = std::time::Instant::now() + BOUND;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) => {
                    let hit = pred(&e);
                    self.seen.push(e.clone());
                    if hit {
                        return e;
                    }
                }
                Err(_) => {
                    for e in &self.seen {
                        eprintln!("  seen: {e}");
                    }
                    panic!("never saw: {what}");
                }
            }
        }
    }

    fn log_line(&mut self, component: &str, contains: &str) -> String {
        let e = self.wait_for(&format!("[{component}] ...{contains}..."), |e| {
            matches!(e, MonitorEvent::Log { component: c, line } if c == component && line.contains(contains))
        });
        match e {
            MonitorEvent::Log { line, .. } => line,
            _ => unreachable!(),
        }
    }

    fn pid(&mut self, component: &str, restart: u16) -> u32 {
        match self.wait_for(&format!("{component} started #{restart}"), |e| {
            matches!(e, MonitorEvent::Started { component: c, restart: r, .. } if c == component && *r == restart)
        }) {
            MonitorEvent::Started { pid, .. } => pid,
            _ => unreachable!(),
        }
    }

    fn all_pids(&self) -> Vec<u32> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                MonitorEvent::Started { pid, .. } => Some(*pid),
                _ => None,
            })
            .collect()
    }

    /// Stops the board and checks every component process is gone.
    fn stop(mut self) {
        rustix::io::write(&self.stop, &1u64.to_ne_bytes()).expect("signal stop");
        let result = self
            .thread
            .take()
            .expect("thread")
            .join()
            .expect("monitor thread");
        assert_eq!(result, Ok(()));
        while let Ok(e) = self.events.try_recv() {
            self.seen.push(e);
        }
        assert!(matches!(
            self.seen.last(),
            Some(MonitorEvent::Stopped { .. })
        ));
        for pid in self.all_pids() {
            assert!(
                !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "process {pid} left behind"
            );
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = rustix::io::write(&self.stop, &1u64.to_ne_bytes());
            let _ = t.join();
        }
    }
}

fn fds_of(pid: u32) -> BTreeSet<i32> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("proc fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

fn channel_maps_of(pid: u32) -> BTreeSet<String> {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .expect("maps")
        .lines()
        .filter_map(|l| l.split("/memfd:spacenode-ch:").nth(1))
        .map(|rest| rest.split(' ').next().unwrap_or("").to_string())
        .collect()
}

fn status_field(pid: u32, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l[field.len()..].trim().to_string())
        .unwrap_or_default()
}

fn descriptors_and_mappings_are_exactly_the_grants() {
    let sys = system(SYSTEM);
    let mut node = Node::boot(SYSTEM);
    node.log_line("alpha", "exchanged 100");
    node.log_line("beta", "ready");
    node.log_line("watchdog", "ready");
    for name in ["watchdog", "alpha", "beta"] {
        let pid = node.pid(name, 0);
        let id = sys.component(name).expect("component").id;
        let table = GrantTable::for_component(&sys, id);
        let expected: BTreeSet<i32> = table.kept_fds().into_iter().collect();
        assert_eq!(fds_of(pid), expected, "{name}: open descriptors");
        let channels: BTreeSet<String> = sys
            .channels
            .iter()
            .filter(|c| c.sender == id || c.receiver == id)
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(
            channel_maps_of(pid),
            channels,
            "{name}: mapped channel regions"
        );
        for fd in expected.iter().filter(|&&fd| fd != 2) {
            let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).expect("link");
            assert_eq!(
                link.to_str(),
                Some("anon_inode:[eventfd]"),
                "{name} fd {fd}"
            );
        }
        assert_eq!(
            status_field(pid, "Seccomp:"),
            "2",
            "{name}: seccomp filter mode"
        );
        assert_eq!(status_field(pid, "NoNewPrivs:"), "1", "{name}");
        let restart_channel_holders: Vec<&str> = sys
            .channels
            .iter()
            .filter(|c| c.name == "restart-requests")
            .map(|c| sys.components[c.sender].name.as_str())
            .collect();
        assert_eq!(restart_channel_holders, ["watchdog"]);
        assert_eq!(
            channel_maps_of(pid).contains("restart-requests"),
            name == "watchdog",
            "only the watchdog can send a restart request"
        );
    }
    node.stop();
}

/// `(permissions, channel)` of every channel mapping of `pid`, e.g. `("r--s", "b-to-a")`.
fn channel_mapping_modes(pid: u32) -> BTreeSet<(String, String)> {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .expect("maps")
        .lines()
        .filter_map(|l| {
            let perms = l.split_whitespace().nth(1)?.to_string();
            let name = l.split("/memfd:spacenode-ch:").nth(1)?.split(' ').next()?;
            Some((perms, name.to_string()))
        })
        .collect()
}

fn uid_of(pid: u32) -> u32 {
    status_field(pid, "Uid:")
        .split_whitespace()
        .next()
        .and_then(|u| u.parse().ok())
        .expect("uid")
}

/// Nothing outside a component reads its memory: each runs as its own user (when the monitor is
/// root) and is not dumpable, so a process running as a sibling component's user can neither
/// open `/proc/PID/mem` of another component nor `ptrace` it (the `peek` mode of this
/// executable tries both). A receiver maps its ring's slots beyond the first page read-only, and
/// `mremap` and `madvise(MADV_REMOVE)` are refused with `EPERM` (the remapper probe).
fn siblings_cannot_trace_or_read_each_others_memory() {
    let sys = system(SYSTEM);
    let mut node = Node::boot(SYSTEM);
    node.log_line("alpha", "exchanged 100");
    node.log_line("beta", "ready");
    let (alpha, beta) = (node.pid("alpha", 0), node.pid("beta", 0));
    let root = rustix::process::geteuid().is_root();
    let (alpha_uid, beta_uid) = (uid_of(alpha), uid_of(beta));
    if root {
        for (name, uid) in [("alpha", alpha_uid), ("beta", beta_uid)] {
            let id = sys.component(name).expect("component").id as u32;
            assert_eq!(uid, board_sim::partition::identity::UID_BASE + id, "{name}");
            node.log_line(
                name,
                &format!("runs as its own user and group {uid}, not dumpable"),
            );
        }
    } else {
        node.log_line("alpha", "own user NOT applied");
    }
    let out = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args(["peek", &alpha.to_string(), &beta_uid.to_string()])
        .output()
        .expect("peek");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && said.contains("mem: refused") && said.contains("ptrace: refused"),
        "a process as beta's user (uid {beta_uid}) got into alpha (uid {alpha_uid}): {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // mremap and madvise(MADV_REMOVE) are answered EPERM (1), without a kill.
    node.log_line(
        "remapper",
        "mremap errno 1, madvise(MADV_REMOVE) errno 1, madvise(MADV_DONTNEED) returned 0; still running",
    );
    let modes = channel_mapping_modes(alpha);
    for m in [("rw-s", "b-to-a"), ("r--s", "b-to-a"), ("rw-s", "a-to-b")] {
        assert!(
            modes.contains(&(m.0.to_string(), m.1.to_string())),
            "alpha maps {m:?}: {modes:?}"
        );
    }
    assert!(
        !modes.contains(&("r--s".to_string(), "a-to-b".to_string())),
        "{modes:?}"
    );
    node.stop();
}

fn rule_breakers_are_killed_reported_and_the_others_keep_talking() {
    let sys = system(SYSTEM);
    let mut node = Node::boot(SYSTEM);
    for name in ["opener", "socketeer", "scribbler", "tracer", "peeker"] {
        let id = sys.component(name).expect("probe").id;
        let e = node.wait_for(
            &format!("fault of {name}"),
            |e| matches!(e, MonitorEvent::Fault { component, .. } if component == name),
        );
        let MonitorEvent::Fault {
            cause, notified, ..
        } = e
        else {
            unreachable!()
        };
        assert_eq!(cause, FaultCause::SeccompViolation { syscall: 0 }, "{name}");
        assert!(notified, "{name}: the fault notice went out on the channel");
        // The watchdog received it: proof the notice crossed the channel.
        node.log_line(
            "watchdog",
            &format!("notice component={id} cause=SeccompViolation"),
        );
        // The probe's own log line before the violation was forwarded with its name.
        node.wait_for(
            &format!("{name} log"),
            |e| matches!(e, MonitorEvent::Log { component, .. } if component == name),
        );
    }
    // The exchange goes on after all the kills, without a single bad echo.
    let before = node.log_line("alpha", "exchanged");
    let n_before: u32 = before
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("count");
    let target = format!("exchanged {}", (n_before / 100 + 3) * 100);
    let after = node.log_line("alpha", &target);
    assert!(after.ends_with("errors 0"), "{after}");
    node.log_line("watchdog", "pongs from alpha: 25");
    node.log_line("watchdog", "pongs from monitor: 25");
    assert!(
        !node.seen.iter().any(|e| matches!(e, MonitorEvent::Fault { component, .. } if ["alpha", "beta", "watchdog"].contains(&component.as_str()))),
        "no fault in the well-behaved components"
    );
    let errors: Vec<String> = node
        .seen
        .iter()
        .filter(|e| matches!(e, MonitorEvent::Log { line, .. } if line.contains("ERROR")))
        .map(ToString::to_string)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    node.stop();
}

fn crashes_restart_on_request_and_forged_requests_are_rejected() {
    let sys = system(SYSTEM);
    let crasher = sys.component("crasher").expect("crasher").id as u8;
    let mut node = Node::boot(SYSTEM);
    let first = node.pid("crasher", 0);
    let e = node.wait_for(
        "crasher fault",
        |e| matches!(e, MonitorEvent::Fault { component, .. } if component == "crasher"),
    );
    assert!(matches!(
        e,
        MonitorEvent::Fault {
            cause: FaultCause::Signal { signal: 6 },
            notified: true,
            ..
        }
    ));
    node.wait_for("restart of crasher", |e| {
        matches!(e, MonitorEvent::Restarted { component, restarts: 1, .. } if component == "crasher")
    });
    let second = node.pid("crasher", 1);
    assert_ne!(first, second);
    node.pid("crasher", 2);
    // Its budget is two restarts in 600 s: the third request is refused.
    node.wait_for("budget refusal", |e| {
        matches!(e, MonitorEvent::RestartRefused { target, reason: RestartRefusal::BudgetExhausted, .. } if *target == crasher)
    });
    node.log_line(
        "watchdog",
        &format!("component={crasher} outcome=Refused {{ reason: BudgetExhausted }}"),
    );
    // Forged requests from the holder of the channel: every one refused or rejected, counted.
    node.wait_for(
        "bad bytes rejected",
        |e| matches!(e, MonitorEvent::Rejected { channel, .. } if channel == "restart-requests"),
    );
    for (target, reason) in [
        (200u8, RestartRefusal::UnknownComponent),
        (0, RestartRefusal::NotAllowed),
        (1, RestartRefusal::NotAllowed),
        (2, RestartRefusal::NotRestartable),
    ] {
        node.wait_for(&format!("refusal {target} {reason:?}"), |e| {
            matches!(e, MonitorEvent::RestartRefused { target: t, reason: r, .. } if *t == target && *r == reason)
        });
    }
    node.log_line(
        "watchdog",
        "result request=1 component=200 outcome=Refused { reason: UnknownComponent }",
    );
    // The alpha/beta exchange is untouched by all of it.
    node.log_line("alpha", "exchanged 300 errors 0");
    assert!(
        !node.seen.iter().any(
            |e| matches!(e, MonitorEvent::Restarted { component, .. } if component != "crasher")
        )
    );
    node.stop();
}

fn a_stack_beyond_the_description_kills_only_that_component() {
    let mut node = Node::boot(SYSTEM);
    node.log_line("deep", "recursing through 512 KiB of stack");
    let e = node.wait_for(
        "fault of deep",
        |e| matches!(e, MonitorEvent::Fault { component, .. } if component == "deep"),
    );
    // The stack cannot grow past its limit: the kernel's SIGSEGV ends it (the partition put the
    // default action back, see `partition::sandbox`), reported as that, not as a violation.
    assert!(
        matches!(
            e,
            MonitorEvent::Fault {
                cause: FaultCause::Signal { signal: 11 },
                notified: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        !node
            .seen
            .iter()
            .any(|e| matches!(e, MonitorEvent::Log { line, .. } if line.contains("reached depth"))),
        "the recursion finished: the stack limit was not applied"
    );
    node.log_line("alpha", "exchanged 300 errors 0");
    node.stop();
}

/// User + system CPU time of `pid` so far, in clock ticks (`/proc/PID/stat` fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
}

/// A component that never blocks gets its description's CPU budget and no more, and the others
/// are untouched. Where the kernel does not let the board set budgets (no `CAP_SYS_NICE`), the
/// component says so in its log, with the reason, and this test checks that instead.
fn a_spinning_component_gets_its_cpu_budget_and_no_more() {
    let mut node = Node::boot(SYSTEM);
    let pid = node.pid("spinner", 0);
    let line = node.log_line("spinner", "CPU budget 1000 us every 10000 us");
    node.log_line("spinner", "spinning");
    if !line.contains(": enforced (SCHED_DEADLINE)") {
        assert!(
            line.contains("NOT enforced") && line.contains(", "),
            "unexplained: {line}"
        );
        println!("  note: {line}");
        node.log_line("alpha", "exchanged 300 errors 0");
        node.stop();
        return;
    }
    let a = board_sim::partition::cpu::get(pid).expect("sched_getattr");
    assert_eq!(a.policy, board_sim::partition::cpu::SCHED_DEADLINE);
    assert_eq!((a.runtime, a.period), (1_000_000, 10_000_000));
    // Its share of one CPU over a stretch: at most the budget (10 %), with room for tick
    // granularity (100 Hz) and deadline-scheduler slack; unthrottled it takes a whole CPU.
    let window = Duration::from_secs(2);
    let (t0, c0) = (std::time::Instant::now(), cpu_ticks(pid));
    std::thread::sleep(window);
    let (dt, dc) = (t0.elapsed(), cpu_ticks(pid) - c0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let share = dc as f64 / hz / dt.as_secs_f64();
    println!(
        "  spinner used {:.1} % of a CPU (budget 10 %)",
        share * 100.0
    );
    assert!(share <= 0.2, "spinner used {:.1} % of a CPU", share * 100.0);
    node.log_line("alpha", "exchanged 300 errors 0");
    node.stop();
}

fn hardware_watchdog_expiry_power_cycles_the_board() {
    let text = SYSTEM.replace(
        "summary = \"test watchdog: logs fault notices, requests restarts, sends forged requests\"",
        "summary = \"test watchdog\"\ndevices = [\"hw-watchdog\"]",
    );
    let mut node = Node::boot(&text);
    node.log_line("watchdog", "never kicking");
    let e = node.wait_for("reset", |e| matches!(e, MonitorEvent::Reset(_)));
    assert!(matches!(
        e,
        MonitorEvent::Reset(ResetCause::HardwareWatchdog { .. })
    ));
    let old: Vec<u32> = node.all_pids();
    node.wait_for("second power-on", |e| {
        matches!(
            e,
            MonitorEvent::PowerOn {
                cycle: 2,
                after: Some(ResetCause::HardwareWatchdog { .. }),
                ..
            }
        )
    });
    for pid in old {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "{pid} survived the reset"
        );
    }
    node.log_line("alpha", "ready");
    node.stop();
}

fn reboot_requests_power_cycle_the_board_and_forged_ones_are_refused() {
    let text = format!(
        "{SYSTEM}\n{}",
        r#"
[[component]]
name = "rebooter"
summary = "probe: asks the monitor for a reboot (a forged request first)"
priority = 50
budget-us = 500
period-us = 10000
stack-size = 0x4000
memory-size = 0x40_0000
integrity = "high"
restart = { policy = "hold" }

[[channel]]
name = "reboots"
from = "rebooter"
to = "monitor"
message = "reboot-request"
slots = 2
slot-size = 64
"#
    );
    let mut node = Node::boot(&text);
    let rejected = node.wait_for(
        "forged reboot refused",
        |e| matches!(e, MonitorEvent::Rejected { channel, .. } if channel == "reboots"),
    );
    assert!(
        format!("{rejected}").contains("is not the channel's sender"),
        "{rejected}"
    );
    let e = node.wait_for("reset", |e| matches!(e, MonitorEvent::Reset(_)));
    match e {
        MonitorEvent::Reset(ResetCause::RebootRequest {
            requester,
            request_id,
            ..
        }) => {
            assert_eq!((requester.as_str(), request_id), ("rebooter", 2));
        }
        other => panic!("unexpected reset: {other}"),
    }
    let old: Vec<u32> = node.all_pids();
    node.wait_for("second power-on after the reboot", |e| {
        matches!(
            e,
            MonitorEvent::PowerOn {
                cycle: 2,
                after: Some(ResetCause::RebootRequest { .. }),
                ..
            }
        )
    });
    for pid in old {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "{pid} survived the reboot"
        );
    }
    node.stop();
}

type Test = (&'static str, fn());

const TESTS: &[Test] = &[
    (
        "descriptors_and_mappings_are_exactly_the_grants",
        descriptors_and_mappings_are_exactly_the_grants,
    ),
    (
        "rule_breakers_are_killed_reported_and_the_others_keep_talking",
        rule_breakers_are_killed_reported_and_the_others_keep_talking,
    ),
    (
        "crashes_restart_on_request_and_forged_requests_are_rejected",
        crashes_restart_on_request_and_forged_requests_are_rejected,
    ),
    (
        "hardware_watchdog_expiry_power_cycles_the_board",
        hardware_watchdog_expiry_power_cycles_the_board,
    ),
    (
        "a_stack_beyond_the_description_kills_only_that_component",
        a_stack_beyond_the_description_kills_only_that_component,
    ),
    (
        "a_spinning_component_gets_its_cpu_budget_and_no_more",
        a_spinning_component_gets_its_cpu_budget_and_no_more,
    ),
    (
        "siblings_cannot_trace_or_read_each_others_memory",
        siblings_cannot_trace_or_read_each_others_memory,
    ),
    (
        "reboot_requests_power_cycle_the_board_and_forged_ones_are_refused",
        reboot_requests_power_cycle_the_board_and_forged_ones_are_refused,
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("pd") {
        return probes::run(args.get(2).map(String::as_str).unwrap_or(""));
    }
    if args.get(1).map(String::as_str) == Some("peek") {
        let arg = |i: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(0);
        return probes::peek(arg(2), arg(3));
    }
    let filters: Vec<&String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in TESTS {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let mut failed = 0;
    let mut ran = 0;
    for (name, test) in TESTS {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        print!("test {name} ... ");
        match std::panic::catch_unwind(test) {
            Ok(()) => println!("ok"),
            Err(_) => {
                println!("FAILED");
                failed += 1;
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        ran - failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
