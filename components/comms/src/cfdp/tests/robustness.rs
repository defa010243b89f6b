//! Hostile and disorderly input: garbage, truncation, bit flips, duplicates, reordering.

use super::harness::{Run, data, flash_for, rand, rx_cfg, tx_cfg};
use crate::cfdp::error::CfdpError;
use crate::cfdp::pdu;
use crate::cfdp::receiver::Receiver;
use crate::cfdp::sender::{SendState, Sender};
use spacepackets::cfdp::ChecksumType;
use std::time::Duration;

/// Valid PDUs of every kind a receiver and a sender see.
fn samples() -> Vec<Vec<u8>> {
    let file = data(3000, 5);
    let mut out = Vec::new();
    let mut tx = Sender::new(tx_cfg(), 3, b"f", &file).unwrap();
    tx.poll(Duration::from_millis(1), &file, |p| out.push(p.to_vec()))
        .unwrap();
    let (mut flash, layout) = flash_for(4096);
    let mut rx = Receiver::open(&mut flash, rx_cfg(), layout).unwrap();
    for p in out.clone() {
        let _ = rx.on_pdu(&mut flash, &p, Duration::from_millis(2));
    }
    rx.poll(&mut flash, Duration::from_millis(3), |p| {
        out.push(p.to_vec())
    })
    .unwrap();
    out
}

#[test]
fn garbage_truncated_and_flipped_pdus_are_refused_without_panic() {
    let samples = samples();
    assert!(samples.len() > 4);
    let (mut flash, layout) = flash_for(8192);
    let mut rx = Receiver::open(&mut flash, rx_cfg(), layout).unwrap();
    let file = data(10, 1);
    let mut tx = Sender::new(tx_cfg(), 3, b"f", &file).unwrap();
    let mut rng = 77u64;
    let now = Duration::from_millis(5);
    for s in &samples {
        for cut in 0..s.len() {
            assert!(rx.on_pdu(&mut flash, &s[..cut], now).is_err());
            let _ = tx.on_pdu(&s[..cut], now);
        }
        for _ in 0..200 {
            let mut m = s.clone();
            let i = (rand(&mut rng) as usize) % m.len();
            m[i] ^= 1 << (rand(&mut rng) % 8);
            let _ = rx.on_pdu(&mut flash, &m, now);
            let _ = tx.on_pdu(&m, now);
        }
    }
    for _ in 0..2000 {
        let len = (rand(&mut rng) % 64) as usize;
        let g: Vec<u8> = (0..len).map(|_| rand(&mut rng) as u8).collect();
        let _ = rx.on_pdu(&mut flash, &g, now);
        let _ = tx.on_pdu(&g, now);
    }
    rx.poll(&mut flash, now, |_| {}).unwrap();
    assert!(rx.counters().bad_pdus > 1000);
}

#[test]
fn pdus_for_other_entities_or_unknown_transactions_are_refused() {
    let file = data(5000, 2);
    let mut out = Vec::new();
    let mut cfg = tx_cfg();
    cfg.remote_id = 99;
    let mut tx = Sender::new(cfg, 1, b"x", &file).unwrap();
    tx.poll(Duration::ZERO, &file, |p| out.push(p.to_vec()))
        .unwrap();
    let (mut flash, layout) = flash_for(8192);
    let mut rx = Receiver::open(&mut flash, rx_cfg(), layout).unwrap();
    assert_eq!(
        rx.on_pdu(&mut flash, &out[0], Duration::ZERO),
        Err(CfdpError::WrongEntity(99))
    );
    // File data before any metadata: refused, and the metadata is asked for.
    let mut tx = Sender::new(tx_cfg(), 1, b"x", &file).unwrap();
    let mut out = Vec::new();
    tx.poll(Duration::ZERO, &file, |p| out.push(p.to_vec()))
        .unwrap();
    assert_eq!(
        rx.on_pdu(&mut flash, &out[1], Duration::ZERO),
        Err(CfdpError::UnknownTransaction)
    );
    let mut naks = Vec::new();
    rx.poll(&mut flash, Duration::ZERO, |p| naks.push(p.to_vec()))
        .unwrap();
    assert_eq!(naks.len(), 1);
    tx.on_pdu(&naks[0], Duration::ZERO).unwrap();
    let mut again = Vec::new();
    tx.poll(Duration::from_millis(1), &file, |p| again.push(p.to_vec()))
        .unwrap();
    assert!(matches!(
        pdu::parse(&again[0]).unwrap().pdu,
        pdu::Pdu::Metadata { .. }
    ));
}

#[test]
fn oversized_file_is_refused_with_a_finished() {
    let (mut flash, layout) = flash_for(4096);
    let mut rx = Receiver::open(&mut flash, rx_cfg(), layout).unwrap();
    let big = vec![0u8; layout.data_size as usize + 1];
    let mut tx = Sender::new(tx_cfg(), 4, b"big", &big).unwrap();
    let mut out = Vec::new();
    tx.poll(Duration::ZERO, &big, |p| out.push(p.to_vec()))
        .unwrap();
    assert!(matches!(
        rx.on_pdu(&mut flash, &out[0], Duration::ZERO),
        Err(CfdpError::FileTooLarge { .. })
    ));
    let mut back = Vec::new();
    rx.poll(&mut flash, Duration::ZERO, |p| back.push(p.to_vec()))
        .unwrap();
    assert_eq!(back.len(), 1);
    tx.on_pdu(&back[0], Duration::ZERO).unwrap();
    assert!(matches!(tx.state(), SendState::Failed(_)));
}

#[test]
fn duplicates_and_reordering_still_deliver_exactly() {
    let file = data(100 * 1024 + 1, 31);
    let mut run = Run::new(file.clone(), 5, 31);
    for ch in [&mut run.up, &mut run.down] {
        ch.dup_pct = 20;
        ch.reorder_pct = 30;
    }
    assert!(run.run(Duration::from_secs(600)));
    assert_eq!(run.tx.state(), SendState::Delivered);
    assert_eq!(run.take_file(), file);
    assert!(run.rx.counters().duplicate_bytes > 0);
}

#[test]
fn every_checksum_type_round_trips_and_a_wrong_checksum_fails() {
    for ck in [
        ChecksumType::Modular,
        ChecksumType::Crc32C,
        ChecksumType::NullChecksum,
    ] {
        let file = data(9999, 3);
        let mut run = Run::new(file.clone(), 0, 3);
        let mut cfg = tx_cfg();
        cfg.checksum = ck;
        run.tx = Sender::new(cfg, 7, b"batch.bin", &file).unwrap();
        assert!(run.run(Duration::from_secs(60)));
        assert_eq!(run.tx.state(), SendState::Delivered, "{ck:?}");
        assert_eq!(run.take_file(), file);
    }
    // A sender whose data changes under it (checksum of one file, bytes of another).
    let file = data(9999, 3);
    let mut run = Run::new(file.clone(), 0, 3);
    let mut other = file.clone();
    other[5000] ^= 0xFF;
    run.data = other;
    assert!(run.run(Duration::from_secs(60)));
    assert!(matches!(run.tx.state(), SendState::Failed(_)));
    assert_eq!(run.rx.counters().failed, 1);
    assert!(run.rx.received().is_none());
}

/// Regression (found by the cfdp_receiver fuzz target): `spacepackets` 0.19 slices a PDU's
/// offset field before checking it fits, so a large-file file data PDU with a 5-byte data field
/// panicked inside `FileDataPdu::from_bytes`. `pdu::parse` checks field lengths first.
#[test]
fn short_offset_field_is_an_error_not_a_panic() {
    use spacepackets::cfdp::pdu::CommonPduConfig;
    use spacepackets::cfdp::{CrcFlag, Direction, LargeFileFlag, TransmissionMode};
    use spacepackets::util::UnsignedByteField;
    let conf = CommonPduConfig::new(
        UnsignedByteField::new(2, 2),
        UnsignedByteField::new(2, 1),
        UnsignedByteField::new(4, 1),
        TransmissionMode::Acknowledged,
        LargeFileFlag::Large,
        CrcFlag::NoCrc,
        Direction::TowardsReceiver,
    )
    .unwrap();
    let mut buf = [0u8; 64];
    let n = pdu::file_data(conf, 0, &[7], &mut buf).unwrap();
    assert!(pdu::parse(&buf[..n]).is_ok());
    // Shrink the data field (header bytes 1..3) from 9 bytes (8-byte offset, 1 data byte) to 5.
    buf[1..3].copy_from_slice(&5u16.to_be_bytes());
    assert!(pdu::parse(&buf[..n - 4]).is_err());
    // The same for every directive's fixed fields: each shortened by one byte is refused.
    let mut out = Vec::new();
    let file = data(100, 1);
    let mut tx = Sender::new(tx_cfg(), 3, b"name", &file).unwrap();
    tx.poll(Duration::ZERO, &file, |p| out.push(p.to_vec()))
        .unwrap();
    for p in out {
        for cut in 1..p.len().saturating_sub(4) {
            let mut q = p[..p.len() - cut].to_vec();
            let field = u16::from_be_bytes([q[1], q[2]]).saturating_sub(cut as u16);
            q[1..3].copy_from_slice(&field.to_be_bytes());
            let _ = pdu::parse(&q);
        }
    }
}

#[test]
fn empty_file_is_delivered() {
    let mut run = Run::new(Vec::new(), 0, 12);
    assert!(run.run(Duration::from_secs(60)));
    assert_eq!(run.tx.state(), SendState::Delivered);
    assert_eq!(run.take_file(), Vec::<u8>::new());
}

/// Tiny segments over heavy loss make more disjoint pieces than the receiver's range map holds
/// (256): the pieces it cannot record are dropped and asked for again, and the file still
/// arrives exact.
#[test]
fn a_full_range_map_costs_retransmissions_not_correctness() {
    let file = data(48 * 1024, 13);
    let mut run = Run::new(file.clone(), 40, 13);
    let mut cfg = tx_cfg();
    cfg.segment_len = 32;
    cfg.burst = 64;
    run.tx = Sender::new(cfg, 7, b"batch.bin", &file).unwrap();
    assert!(run.run(Duration::from_secs(600)));
    assert_eq!(run.tx.state(), SendState::Delivered);
    assert_eq!(run.take_file(), file);
    assert!(
        run.rx.counters().ranges_full > 0,
        "the map never filled: the test is too easy"
    );
}
