//! The conformance suite on the sim board's devices: the pty serial line, the watchdog timer (on
//! the monitor's simulated instants), the host-backed clock (real time: lower bounds only), and
//! the file-backed NOR flash with its power-cut injection.

use board_conformance::{clock, flash, rng, serial, watchdog};
use board_sim::clock::SimClock;
use board_sim::flash::SimFlash;
use board_sim::flash::fault::PowerCut;
use board_sim::serial::PtySerial;
use board_sim::watchdog::{SimWatchdog, WatchdogHw, WatchdogStatus};
use hal::serial::{Read, ReadReady, Write};
use hal::time::Instant;
use std::time::Duration;

struct Pty {
    dut: PtySerial,
    peer: PtySerial,
}

impl serial::SerialRig for Pty {
    type Dut = PtySerial;
    fn dut(&mut self) -> &mut PtySerial {
        &mut self.dut
    }
    fn peer_send(&mut self, bytes: &[u8]) {
        self.peer.write_all(bytes).expect("peer write");
    }
    fn peer_take(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.peer.read_ready().expect("peer ready") {
            let mut buf = [0u8; 256];
            let n = self.peer.read(&mut buf).expect("peer read");
            out.extend_from_slice(&buf[..n]);
        }
        out
    }
    fn settle(&mut self) {
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn the_sim_pty_serial_conforms() {
    let (master, slave, _) = PtySerial::pair().expect("pty");
    serial::run(&mut Pty {
        dut: slave,
        peer: master,
    });
}

struct Wdt {
    hw: WatchdogHw,
    dut: SimWatchdog,
    now: Instant,
    resets: u32,
}

impl Wdt {
    fn service(&mut self) {
        if let WatchdogStatus::Expired { .. } = self.hw.service(self.now)
            && self.resets == 0
        {
            self.resets = 1;
        }
    }
}

impl watchdog::WatchdogRig for Wdt {
    type Dut = SimWatchdog;
    fn dut(&mut self) -> &mut SimWatchdog {
        &mut self.dut
    }
    fn advance(&mut self, d: Duration) {
        self.service();
        self.now = self.now.saturating_add(d);
        self.service();
    }
    fn resets(&mut self) -> u32 {
        self.service();
        self.resets
    }
    fn granularity(&self) -> Duration {
        Duration::from_micros(1)
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(1)
    }
}

#[test]
fn the_sim_watchdog_conforms() {
    let (hw, dut) = board_sim::watchdog::pair().expect("pair");
    watchdog::run(&mut Wdt {
        hw,
        dut,
        now: Instant::from_micros(1_000_000),
        resets: 0,
    });
}

struct Host {
    dut: SimClock,
}

impl clock::ClockRig for Host {
    type Dut = SimClock;
    fn dut(&self) -> &SimClock {
        &self.dut
    }
    fn advance(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
    fn resolution(&self) -> Duration {
        Duration::from_micros(1)
    }
    fn exact(&self) -> bool {
        false
    }
    fn long_run(&self) -> Option<(Duration, u32)> {
        None
    }
}

#[test]
fn the_sim_clock_conforms() {
    clock::run(&mut Host {
        dut: SimClock::power_on(),
    });
}

struct Flash {
    dut: SimFlash,
}

impl flash::FlashRig for Flash {
    type Dut = SimFlash;
    fn dut(&mut self) -> &mut SimFlash {
        &mut self.dut
    }
    fn cut_power(&mut self, at_op: u64, landed: usize) {
        let at_op = self.dut.ops() + at_op;
        self.dut.cut_power(PowerCut { at_op, landed });
    }
    fn power_cycle(&mut self) {
        self.dut.power_cycle();
    }
}

#[test]
fn the_sim_flash_conforms() {
    flash::run(&mut Flash {
        dut: SimFlash::anonymous(64 << 10).expect("flash"),
    });
}

struct HostRng {
    dut: board_sim::rng::OsRng,
}

impl rng::RngRig for HostRng {
    type Dut = board_sim::rng::OsRng;
    fn dut(&mut self) -> &mut Self::Dut {
        &mut self.dut
    }
    /// The host kernel's CSPRNG cannot be made to fail from here.
    fn fail_health_test(&mut self) -> bool {
        false
    }
}

#[test]
fn the_sim_rng_conforms() {
    rng::run(&mut HostRng {
        dut: board_sim::rng::OsRng,
    });
}
