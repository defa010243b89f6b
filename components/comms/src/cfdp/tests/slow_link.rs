//! A slow downlink that queues: every PDU occupies it for one TM frame's time (0.56 s, the
//! 1,119-byte frame of the sim's 16 kbit/s radio), whatever its size, and a backlog of late
//! telemetry is ahead of the transfer. The node's result sender must still get its answer, and
//! an unanswered directive must not fill the link (the server's restart at 16 kbit/s).

use super::harness::{data, flash_for, rx_cfg};
use crate::cfdp::receiver::{Receiver, ReceiverConfig};
use crate::cfdp::sender::{SendState, Sender, SenderConfig};
use crate::cfdp::{CfdpLayout, pdu};
use spacepackets::cfdp::pdu::FileDirectiveType;
use std::collections::VecDeque;
use std::time::Duration;

/// One TM frame at 16 kbit/s.
const FRAME: Duration = Duration::from_millis(560);

/// A first-in first-out link that sends one PDU per `per_pdu`.
struct Queue {
    per_pdu: Duration,
    free_at: Duration,
    q: VecDeque<(Duration, Vec<u8>)>,
}

impl Queue {
    fn new(per_pdu: Duration) -> Self {
        Queue {
            per_pdu,
            free_at: Duration::ZERO,
            q: VecDeque::new(),
        }
    }

    fn send(&mut self, now: Duration, p: &[u8]) {
        self.free_at = self.free_at.max(now) + self.per_pdu;
        self.q.push_back((self.free_at, p.to_vec()));
    }

    fn due(&mut self, now: Duration) -> Option<Vec<u8>> {
        if self.q.front().is_some_and(|(t, _)| *t <= now) {
            self.q.pop_front().map(|(_, p)| p)
        } else {
            None
        }
    }
}

fn is_directive(p: &[u8], d: FileDirectiveType) -> bool {
    matches!(
        (pdu::parse(p).map(|x| x.pdu), d),
        (Ok(pdu::Pdu::Eof { .. }), FileDirectiveType::Eof)
            | (Ok(pdu::Pdu::Finished { .. }), FileDirectiveType::Finished)
    )
}

/// The node's result downlink with its defaults: node (entity 1) to ground (entity 2).
fn node_sender(file: &[u8]) -> Sender {
    let cfg = SenderConfig {
        local_id: 1,
        remote_id: 2,
        ..SenderConfig::default()
    };
    Sender::new(cfg, 5, b"result.snrf", file).unwrap()
}

fn ground_receiver() -> (Receiver, crate::cfdp::tests::harness::Flash) {
    let (mut flash, layout): (_, CfdpLayout) = flash_for(4096);
    let cfg = ReceiverConfig {
        local_id: 2,
        ..ReceiverConfig::default()
    };
    (Receiver::open(&mut flash, cfg, layout).unwrap(), flash)
}

#[test]
fn a_result_behind_a_backlog_on_a_slow_downlink_is_delivered_with_few_eofs() {
    let file = data(182, 3);
    let mut tx = node_sender(&file);
    let (mut rx, mut flash) = ground_receiver();
    let mut down = Queue::new(FRAME);
    // 20 s of earlier telemetry still queued on the downlink.
    for _ in 0..36 {
        down.send(Duration::ZERO, &[0u8; 8]);
    }
    let mut up = Queue::new(Duration::from_millis(50));
    let (mut eofs, mut now) = (0u32, Duration::ZERO);
    while tx.state() == SendState::Active && now < Duration::from_secs(200) {
        now += Duration::from_millis(5);
        tx.poll(now, &file, |p| {
            eofs += u32::from(is_directive(p, FileDirectiveType::Eof));
            down.send(now, p);
        })
        .unwrap();
        while let Some(p) = down.due(now) {
            let _ = rx.on_pdu(&mut flash, &p, now);
        }
        rx.poll(&mut flash, now, |p| up.send(now, p)).unwrap();
        while let Some(p) = up.due(now) {
            let _ = tx.on_pdu(&p, now);
        }
    }
    // With a fixed 500 ms timer the EOFs came faster than the link drained them, and the sender
    // gave up before the ground's answer, queued behind them, arrived.
    assert_eq!(tx.state(), SendState::Delivered, "after {now:?}");
    assert!(eofs <= 8, "{eofs} EOFs for one answer 20 s away");
    assert!(rx.take_received(&mut flash).unwrap().is_some());
}

#[test]
fn an_unanswered_eof_costs_a_few_frames_and_still_ends_in_the_fault() {
    let file = data(100, 4);
    let mut tx = node_sender(&file);
    let (mut sent_30s, mut eofs, mut now) = (0u32, 0u32, Duration::ZERO);
    while tx.state() == SendState::Active && now < Duration::from_secs(600) {
        now += Duration::from_millis(10);
        tx.poll(now, &file, |p| {
            if is_directive(p, FileDirectiveType::Eof) {
                eofs += 1;
                sent_30s += u32::from(now <= Duration::from_secs(30));
            }
        })
        .unwrap();
    }
    // 0, 0.5, 1.5, 3.5, 7.5, 15.5, 23.5 s: under 0.56 s x 8 of a 30 s downlink.
    assert!(sent_30s <= 8, "{sent_30s} EOFs in 30 s");
    assert_eq!(
        tx.state(),
        SendState::Failed(spacepackets::cfdp::ConditionCode::PositiveAckLimitReached)
    );
    assert_eq!(eofs, SenderConfig::default().ack_limit);
}

#[test]
fn an_unacknowledged_finished_is_repeated_with_a_growing_wait() {
    // The ground's upload to the node: the ground (sender) answers nothing after the EOF.
    let file = data(600, 5);
    let cfg = SenderConfig {
        segment_len: 512,
        ..SenderConfig::default()
    };
    let mut tx = Sender::new(cfg, 9, b"batch.bin", &file).unwrap();
    let (mut flash, layout) = flash_for(4096);
    let mut rx = Receiver::open(&mut flash, rx_cfg(), layout).unwrap();
    let mut to_node = Vec::new();
    tx.poll(Duration::from_millis(1), &file, |p| {
        to_node.push(p.to_vec())
    })
    .unwrap();
    for p in &to_node {
        rx.on_pdu(&mut flash, p, Duration::from_millis(2)).unwrap();
    }
    let (mut finished, mut now) = (Vec::new(), Duration::from_millis(2));
    while now < Duration::from_secs(30) {
        now += Duration::from_millis(10);
        rx.poll(&mut flash, now, |p| {
            if is_directive(p, FileDirectiveType::Finished) {
                finished.push(now);
            }
        })
        .unwrap();
    }
    assert!(rx.take_received(&mut flash).unwrap().is_some());
    // rx_cfg's 200 ms, doubling: 0, 0.2, 0.6, 1.4, 3.0, 6.2, 14.2, 22.2 s.
    assert!(
        (6..=9).contains(&finished.len()),
        "Finished sent at {finished:?}"
    );
    let gaps: Vec<Duration> = finished.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.windows(2).all(|g| g[1] >= g[0]), "{gaps:?}");
}

#[test]
fn the_metadata_of_a_transaction_known_only_by_its_eof_is_asked_for_with_a_growing_wait() {
    // A ground receiver that missed the result's metadata and data (they came while it was not
    // listening) and then hears its EOF: it asks for both, and each request draws the whole
    // file again, so a slow link's answer must not be asked for every NAK interval.
    let file = data(182, 6);
    let mut tx = node_sender(&file);
    let mut pdus = Vec::new();
    tx.poll(Duration::from_millis(1), &file, |p| pdus.push(p.to_vec()))
        .unwrap();
    let eof = pdus.last().unwrap().clone();
    assert!(is_directive(&eof, FileDirectiveType::Eof));
    let (mut rx, mut flash) = ground_receiver();
    let _ = rx.on_pdu(&mut flash, &eof, Duration::from_millis(2));
    let (mut naks, mut now) = (Vec::new(), Duration::from_millis(2));
    while now < Duration::from_secs(10) {
        now += Duration::from_millis(10);
        rx.poll(&mut flash, now, |p| {
            if matches!(pdu::parse(p).map(|x| x.pdu), Ok(pdu::Pdu::Nak(_))) {
                naks.push(now);
            }
        })
        .unwrap();
    }
    // Default 500 ms, doubling: 0, 0.5, 1.5, 3.5, 7.5 s (a fixed timer: 20 in 10 s).
    assert!(
        (3..=6).contains(&naks.len()),
        "metadata asked for at {naks:?}"
    );
}
