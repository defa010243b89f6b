//! The pty serial line: 8-bit clean both ways, non-blocking readiness, errors when the peer is gone.

use board_sim::serial::PtySerial;
use hal::serial::{Read, ReadReady, Write};

fn read_n(port: &mut PtySerial, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    let mut buf = [0u8; 512];
    while out.len() < n {
        let k = port
            .read(&mut buf[..(n - out.len()).min(512)])
            .expect("read");
        assert!(k > 0, "EOF before {n} bytes");
        out.extend_from_slice(&buf[..k]);
    }
    out
}

#[test]
fn every_byte_value_round_trips_unchanged_in_both_directions() {
    let (mut master, mut slave, path) = PtySerial::pair().expect("pty");
    assert!(path.starts_with("/dev/pts"), "{path:?}");
    assert!(!master.read_ready().expect("ready"));
    assert!(!slave.read_ready().expect("ready"));
    // All 256 values, including CR, LF, ^C, ^D, ^S, ^Q, ^Z and 0xFF, several times over.
    let data: Vec<u8> = (0..4).flat_map(|_| 0u8..=255).collect();
    master.write_all(&data).expect("write master");
    assert_eq!(read_n(&mut slave, data.len()), data);
    let back: Vec<u8> = data.iter().rev().copied().collect();
    slave.write_all(&back).expect("write slave");
    assert_eq!(read_n(&mut master, back.len()), back);
    // No echo came back to the writer.
    assert!(!master.read_ready().expect("ready"));
    assert!(!slave.read_ready().expect("ready"));
}

#[test]
fn the_path_opens_like_a_serial_port_and_a_closed_peer_is_an_error() {
    let (mut master, slave, path) = PtySerial::pair().expect("pty");
    let mut ground = std::fs::File::options()
        .read(true)
        .write(true)
        .open(&path)
        .expect("open path");
    std::io::Write::write_all(&mut ground, b"\x7e\x01\x02\x7e").expect("write");
    assert_eq!(read_n(&mut master, 4), b"\x7e\x01\x02\x7e");
    drop(ground);
    drop(slave);
    // Nothing holds the slave any more: the master is ready, and reading reports the hang-up.
    assert!(master.read_ready().expect("ready"));
    let mut buf = [0u8; 8];
    assert!(master.read(&mut buf).is_err());
}
