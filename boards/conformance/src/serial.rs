//! Serial conformance (`hal::serial`): nothing is ready before anything arrives; every byte value
//! passes both ways untouched and in order, including bursts longer than any FIFO; `write` may
//! take fewer bytes than offered but never none.

use hal::serial::{Read, ReadReady, Serial, Write};

/// A serial device and the far end of its line.
pub trait SerialRig {
    /// The device under test.
    type Dut: Serial;
    /// The device.
    fn dut(&mut self) -> &mut Self::Dut;
    /// The far end sends `bytes`.
    fn peer_send(&mut self, bytes: &[u8]);
    /// What the far end has received so far (taken).
    fn peer_take(&mut self) -> Vec<u8>;
    /// Lets the line carry what is in flight (virtual time on a model, a short wait on the sim).
    fn settle(&mut self);
}

/// Rounds of `settle` after which missing bytes count as lost.
const SETTLE_ROUNDS: usize = 200;

/// Runs every serial check.
pub fn run<R: SerialRig>(rig: &mut R) {
    nothing_is_ready_before_bytes_arrive(rig);
    every_byte_value_arrives_untouched(rig);
    every_byte_value_leaves_untouched(rig);
}

fn all_bytes() -> Vec<u8> {
    (0..=255u8).chain((0..=255u8).rev()).collect()
}

fn nothing_is_ready_before_bytes_arrive<R: SerialRig>(rig: &mut R) {
    rig.settle();
    assert!(
        !rig.dut().read_ready().expect("read_ready"),
        "read_ready with nothing sent"
    );
}

fn every_byte_value_arrives_untouched<R: SerialRig>(rig: &mut R) {
    let want = all_bytes();
    let mut got = Vec::new();
    for chunk in want.chunks(32) {
        rig.peer_send(chunk);
        let goal = got.len() + chunk.len();
        for _ in 0..SETTLE_ROUNDS {
            rig.settle();
            while rig.dut().read_ready().expect("read_ready") {
                let mut buf = [0u8; 16];
                let n = rig.dut().read(&mut buf).expect("read");
                assert!(n > 0, "read returned 0 bytes although read_ready said yes");
                got.extend_from_slice(&buf[..n]);
            }
            if got.len() >= goal {
                break;
            }
        }
        assert_eq!(got.len(), goal, "bytes lost on the way in");
    }
    assert_eq!(got, want, "bytes changed or reordered on the way in");
}

fn every_byte_value_leaves_untouched<R: SerialRig>(rig: &mut R) {
    let want = all_bytes();
    let mut sent = 0;
    let mut got = Vec::new();
    while sent < want.len() {
        let n = rig.dut().write(&want[sent..]).expect("write");
        assert!(n > 0, "write took no byte of a non-empty buffer");
        sent += n;
        rig.settle();
        got.extend(rig.peer_take());
    }
    rig.dut().flush().expect("flush");
    for _ in 0..SETTLE_ROUNDS {
        if got.len() >= want.len() {
            break;
        }
        rig.settle();
        got.extend(rig.peer_take());
    }
    assert_eq!(got, want, "bytes lost, changed or reordered on the way out");
}
