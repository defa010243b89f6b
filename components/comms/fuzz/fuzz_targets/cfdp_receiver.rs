//! Fuzz target: the node-side CFDP receiver's PDU input. The input drives one receiver on a RAM
//! NOR flash (same rules as the sim flash): each step is either raw fuzzer bytes handed to
//! `on_pdu` as a PDU (or as a space packet through `packet::unwrap`), or a well-formed file data
//! / EOF PDU built from fuzzer-chosen offsets, lengths and checksums, so the data path behind the
//! parser is reached. Half the runs start with a valid metadata PDU of a fuzzer-chosen size.
//! The raw steps also go to a `Sender` (the node's results downlink reads the same link).
//! Properties: no panic; every PDU either entity emits parses; bytes held never exceed the file.
#![no_main]

use comms::cfdp::ground::RamFlash;
use comms::cfdp::{pdu, packet, CfdpLayout, Receiver, ReceiverConfig, Sender, SenderConfig};
use libfuzzer_sys::fuzz_target;
use spacepackets::cfdp::pdu::CommonPduConfig;
use spacepackets::cfdp::{ChecksumType, CrcFlag, Direction, LargeFileFlag, TransmissionMode};
use spacepackets::util::UnsignedByteField;
use std::time::Duration;

const CAP: usize = 80 * 1024 + 64 * 1024;

fn conf(seq: u64) -> CommonPduConfig {
    CommonPduConfig::new(
        UnsignedByteField::new(2, 2),
        UnsignedByteField::new(2, 1),
        UnsignedByteField::new(4, seq),
        TransmissionMode::Acknowledged,
        LargeFileFlag::Normal,
        CrcFlag::WithCrc,
        Direction::TowardsReceiver,
    )
    .expect("valid config")
}

fuzz_target!(|data: &[u8]| {
    let mut flash = RamFlash::new(CAP);
    let cfg = ReceiverConfig {
        checkpoint_bytes: 4096,
        ..ReceiverConfig::default()
    };
    let mut rx = Receiver::open(&mut flash, cfg, CfdpLayout::comms(CAP as u32)).expect("open");
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    // The node's sender: entity 1 to the ground's entity 2, as the raw PDUs may address.
    let results = [0x5Au8; 3000];
    let tx_cfg = SenderConfig {
        local_id: 1,
        remote_id: 2,
        ..SenderConfig::default()
    };
    let mut tx = Sender::new(tx_cfg, u32::from(mode), b"results", &results).expect("sender");
    let mut now = Duration::ZERO;
    let mut buf = [0u8; 2048];
    let c = conf(u64::from(mode >> 4));
    if mode & 1 == 1 && rest.len() >= 2 {
        let size = u64::from(u16::from_le_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        let n = pdu::metadata(c, size, ChecksumType::Crc32, b"f", b"f", &mut buf).expect("build");
        let _ = rx.on_pdu(&mut flash, &buf[..n], now);
    }
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        now += Duration::from_millis(u64::from(op & 0x3F) * 10);
        match op >> 6 {
            // Raw bytes as a PDU: [len][bytes].
            0 | 1 => {
                let Some((&len, tail)) = rest.split_first() else { break };
                let len = (len as usize).min(tail.len());
                let (raw, tail) = tail.split_at(len);
                rest = tail;
                if op >> 6 == 0 {
                    let _ = rx.on_pdu(&mut flash, raw, now);
                    let _ = tx.on_pdu(raw, now);
                } else if let Ok(p) = packet::unwrap(raw) {
                    let _ = rx.on_pdu(&mut flash, p, now);
                }
            }
            // A well-formed file data PDU: [offset u16][len u8], data from the input.
            2 => {
                if rest.len() < 3 {
                    break;
                }
                let offset = u64::from(u16::from_le_bytes([rest[0], rest[1]]));
                let len = (rest[2] as usize).min(rest.len() - 3);
                let bytes = &rest[3..3 + len];
                rest = &rest[3 + len..];
                let n = pdu::file_data(c, offset, bytes, &mut buf).expect("build");
                let _ = rx.on_pdu(&mut flash, &buf[..n], now);
            }
            // A well-formed EOF: [size u16][checksum u32].
            _ => {
                if rest.len() < 6 {
                    break;
                }
                let size = u64::from(u16::from_le_bytes([rest[0], rest[1]]));
                let sum = u32::from_le_bytes([rest[2], rest[3], rest[4], rest[5]]);
                rest = &rest[6..];
                let n = pdu::eof(c, sum, size, &mut buf).expect("build");
                let _ = rx.on_pdu(&mut flash, &buf[..n], now);
            }
        }
        rx.poll(&mut flash, now, |out| {
            assert!(pdu::parse(out).is_ok(), "receiver emitted an unparsable PDU");
        })
        .ok();
        tx.poll(now, &results, |out| {
            assert!(pdu::parse(out).is_ok(), "sender emitted an unparsable PDU");
        })
        .expect("sender poll");
        if let Some(p) = rx.progress() {
            assert!(p.received <= p.size);
        }
    }
});
