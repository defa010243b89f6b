//! `spacenode run` as a user runs it: boots the shipped description on the sim board with every
//! component in its own sandboxed process, prints the boot log, and stops cleanly on SIGTERM.
//! Waits are bounded (20 s) so a broken build fails instead of hanging; no timing is asserted.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn run_boots_every_component_sandboxed_and_stops_on_sigterm() {
    let state = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(["run", "--radio-uplink", "127.0.0.1:0", "--state"])
        .arg(state.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn spacenode run");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let mut pids = Vec::new();
    let mut ready = 0;
    // The upgrade agent's start line, the signer's boot report, the watchdog's start and its
    // first health status line, comms' last security association.
    while ready < 5 {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("boot log incomplete:\n{}", lines.join("\n"))
            });
        // The upgrade agent names the slots; the signer reports its boot (keys created, not
        // provisioned); the watchdog its start and its first status line; comms its security
        // associations (the last one, SA 2, ends its boot).
        if line.contains("[upgrade] INFO  slot A running (confirmed A)")
            || line.contains("[signer] WARN  not provisioned and the provisioning inbox is empty")
            || line.contains("[watchdog] INFO  watching 4 components")
            || line.contains("[watchdog] INFO  health #0 up")
            || line.contains("[comms] INFO  SA 2:")
        {
            ready += 1;
        }
        if let Some(rest) = line.split(" started (pid ").nth(1) {
            pids.push(
                rest.split(')')
                    .next()
                    .unwrap_or("")
                    .parse::<u32>()
                    .expect("pid"),
            );
            assert!(
                !line.ends_with(
                    "no application logic yet (its partition runs the event loop, answering pings if it is pinged)"
                ),
                "every shipped component runs its logic: {line}"
            );
        }
        lines.push(line);
    }
    assert_eq!(
        pids.len(),
        4,
        "watchdog, comms, signer, upgrade:\n{}",
        lines.join("\n")
    );
    assert!(lines[0].contains("state in"));
    assert!(lines.iter().any(|l| l.contains("power-on #1")));
    assert!(lines.iter().any(
        |l| l.contains("reset counter on health-flash; first boot: 0 resets")
            && l.ends_with("normal boot")
    ));
    assert!(lines.iter().any(|l| l.contains("signer started")
        && l.contains("receive sign-requests (copy-in)")
        && l.contains("device key-flash")));
    for pid in &pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        assert!(
            status.contains("Seccomp:\t2"),
            "{pid} is under a seccomp filter"
        );
        assert!(status.contains("NoNewPrivs:\t1"));
        let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .expect("fds")
            .filter_map(|e| Some(e.ok()?.file_name().to_str()?.to_string()))
            .collect();
        assert!(
            !fds.iter().any(|f| f == "0" || f == "1" || f == "3"),
            "{pid}: {fds:?}"
        );
    }
    assert!(state.path().join("key-flash.flash").exists());
    assert!(state.path().join("boot.flash").exists());
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).expect("pid"),
        rustix::process::Signal::TERM,
    )
    .expect("SIGTERM");
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    // The process has exited: its stdout reaches EOF and the reader thread ends.
    let rest: Vec<String> = rx.iter().collect();
    assert!(
        rest.iter().any(|l| l.contains("stopped 4 components")),
        "{rest:?}"
    );
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "{pid} left behind"
        );
    }
}

#[test]
fn run_refuses_other_boards_and_pd_refuses_to_run_by_hand() {
    let out = Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(["run", "--board", "flight"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("only `--board sim` and `--board qemu-x86` run here")
    );
    // The qemu-x86 board keeps no state: a state directory is refused, not ignored.
    let out = Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(["run", "--board", "qemu-x86", "--state", "/nonexistent"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("apply to the sim board only"));
    let out = Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(["pd", "signer"])
        .stdin(Stdio::null())
        .output()
        .expect("pd");
    assert_eq!(out.status.code(), Some(70));
    assert!(String::from_utf8_lossy(&out.stderr).contains("started by the monitor only"));
}
