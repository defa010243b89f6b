//! The sim serial line's baud rate and seeded noise, through real ptys: what arrives is exactly
//! what the noise model says (same seed, same damage), at the model's rate, and no faster than
//! the baud rate allows.

use board_sim::link::Direction;
use board_sim::serial_line::{LineConfig, NoiseModel, SerialLine};
use hal::serial::{Read, ReadReady};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Sends `data` into the ground end and reads what reaches the node's end until `want` bytes
/// came or nothing came for 500 ms.
fn through(cfg: LineConfig, data: &[u8], want: usize) -> (Vec<u8>, Duration, SerialLine) {
    let (mut node, path, line) = SerialLine::pair(cfg).expect("line");
    let mut ground = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .expect("ground end");
    let start = Instant::now();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || ground.write_all(&data).expect("write"));
    let mut got = Vec::new();
    let mut quiet = Instant::now();
    let mut buf = [0u8; 4096];
    while got.len() < want && quiet.elapsed() < Duration::from_millis(500) {
        if node.read_ready().expect("ready") {
            let n = node.read(&mut buf).expect("read");
            got.extend_from_slice(&buf[..n]);
            quiet = Instant::now();
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let took = start.elapsed();
    writer.join().expect("writer");
    (got, took, line)
}

#[test]
fn noise_is_the_seeded_model_byte_for_byte_at_its_rate() {
    // At 115,200 baud the reader below (polling every millisecond) is never overrun.
    let cfg = LineConfig {
        baud: Some(115_200),
        bit_error_ppb: 1_000_000, // 1e-3
        drop_ppm: 1_000,
        seed: 7,
    };
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 + i / 256) as u8).collect();
    let model = NoiseModel::new(&cfg);
    let expected: Vec<u8> = data
        .iter()
        .enumerate()
        .filter_map(|(i, &b)| model.apply(Direction::Uplink, i as u64, b))
        .collect();
    let (got, _, line) = through(cfg, &data, expected.len());
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "the line did not apply the model");
    let dropped = data.len() - expected.len();
    let flipped: u32 = data
        .iter()
        .enumerate()
        .filter_map(|(i, &b)| Some((b ^ model.apply(Direction::Uplink, i as u64, b)?).count_ones()))
        .sum();
    // 20,000 bytes: 20 drops and 160 flipped bits expected; a 4-sigma band either way.
    assert!((5..=40).contains(&dropped), "{dropped} bytes dropped");
    assert!((110..=215).contains(&flipped), "{flipped} bits flipped");
    assert_eq!(line.up.dropped.load(Ordering::Relaxed), dropped as u64);
    assert_eq!(line.up.overrun.load(Ordering::Relaxed), 0);
    // Another seed damages other bytes.
    let other = NoiseModel::new(&LineConfig { seed: 8, ..cfg });
    assert!(
        (0..20_000u64)
            .any(|i| other.apply(Direction::Uplink, i, 0) != model.apply(Direction::Uplink, i, 0))
    );
}

#[test]
fn the_baud_rate_paces_the_line() {
    // 2,304 bytes at 115,200 baud, 10 bit times each: 200 ms on the line at the least.
    let data = vec![0x55u8; 2_304];
    let (got, took, _line) = through(LineConfig::clean(Some(115_200)), &data, data.len());
    assert_eq!(got, data);
    assert!(took >= Duration::from_millis(195), "took {took:?}");
}
