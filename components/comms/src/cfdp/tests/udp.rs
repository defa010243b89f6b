//! The ground drivers over real UDP through the sim board's `LinkEmulator` (10 % seeded loss,
//! both directions): an uplink to a node thread running the receiver on a file-backed sim
//! flash, and a downlink of a result file from a node thread running a sender.

use super::harness::data;
use crate::cfdp::ground::{UploadJob, download, upload};
use crate::cfdp::packet::{self, MAX_PDU};
use crate::cfdp::{CfdpLayout, Receiver, ReceiverConfig, SendState, Sender, SenderConfig};
use board_sim::flash::SimFlash;
use board_sim::link::{LinkConfig, LinkEmulator};
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn link(node: &UdpSocket, ground: &UdpSocket, seed: u64) -> LinkEmulator {
    LinkEmulator::start(
        node.local_addr().unwrap(),
        ground.local_addr().unwrap(),
        LinkConfig {
            seed,
            loss_ppm: 100_000,
            latency: Duration::from_millis(2),
            ..LinkConfig::default()
        },
    )
    .unwrap()
}

fn fast_rx() -> ReceiverConfig {
    ReceiverConfig {
        nak_interval: Duration::from_millis(50),
        ack_interval: Duration::from_millis(50),
        ..ReceiverConfig::default()
    }
}

fn fast_tx() -> SenderConfig {
    SenderConfig {
        rate_bps: Some(40_000_000),
        ack_interval: Duration::from_millis(100),
        inactivity: Duration::from_millis(300),
        ack_limit: 100,
        ..SenderConfig::default()
    }
}

#[test]
fn upload_over_the_sim_radio_with_progress() {
    let dir = tempfile::tempdir().unwrap();
    let node_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let ground_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let link = link(&node_sock, &ground_sock, 5);
    let file = data(128 * 1024 + 5, 8);
    let stop = Arc::new(AtomicBool::new(false));
    let node = {
        let (stop, relay, path) = (stop.clone(), link.node_side(), dir.path().join("flash.img"));
        std::thread::spawn(move || {
            let cap = 512 * 1024;
            let mut flash: SimFlash = SimFlash::create(&path, cap).unwrap();
            let mut rx =
                Receiver::open(&mut flash, fast_rx(), CfdpLayout::comms(cap as u32)).unwrap();
            node_sock
                .set_read_timeout(Some(Duration::from_millis(1)))
                .unwrap();
            let (t0, mut buf, mut out) = (Instant::now(), [0u8; 4096], [0u8; MAX_PDU + 16]);
            let mut got = None;
            while !stop.load(Ordering::Relaxed) {
                if let Ok((n, _)) = node_sock.recv_from(&mut buf)
                    && let Ok(p) = packet::unwrap(&buf[..n])
                {
                    let _ = rx.on_pdu(&mut flash, p, t0.elapsed());
                }
                rx.poll(&mut flash, t0.elapsed(), |p| {
                    let n = packet::wrap(p, 0, false, &mut out).unwrap();
                    node_sock.send_to(&out[..n], relay).unwrap();
                })
                .unwrap();
                if let Some(f) = rx.take_received(&mut flash).unwrap() {
                    let mut bytes = vec![0u8; f.size as usize];
                    rx.read_received(&mut flash, 0, &mut bytes).unwrap();
                    got = Some((f.name().to_vec(), bytes));
                }
            }
            got
        })
    };
    let mut seen = Vec::new();
    let job = UploadJob {
        node: link.ground_side(),
        cfg: fast_tx(),
        seq: 1,
        name: "sign-batch.bin",
        data: &file,
        timeout: Duration::from_secs(60),
    };
    let p = upload(&ground_sock, &job, |p| seen.push((p.acknowledged, p.total))).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let (name, bytes) = node.join().unwrap().expect("the node received the file");
    assert_eq!(name, b"sign-batch.bin");
    assert_eq!(bytes, file);
    assert_eq!(p.acknowledged, file.len() as u64);
    assert!(
        link.uplink().lost.load(Ordering::Relaxed) > 0,
        "the link lost nothing"
    );
    assert!(p.retransmitted > 0);
    // The progress bar only moves forward and ends full.
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0));
    assert_eq!(seen.last(), Some(&(file.len() as u64, file.len() as u64)));
}

#[test]
fn download_of_a_result_file_over_the_sim_radio() {
    let node_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let ground_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let link = link(&node_sock, &ground_sock, 6);
    let file = data(40 * 1024 + 1, 4);
    let node = {
        let (relay, file) = (link.node_side(), file.clone());
        std::thread::spawn(move || {
            // The node sends as entity 1 to the ground's entity 2.
            let cfg = SenderConfig {
                local_id: 1,
                remote_id: 2,
                ..fast_tx()
            };
            let mut tx = Sender::new(cfg, 9, b"results.bin", &file).unwrap();
            node_sock
                .set_read_timeout(Some(Duration::from_millis(1)))
                .unwrap();
            let (t0, mut buf, mut out) = (Instant::now(), [0u8; 4096], [0u8; MAX_PDU + 16]);
            while tx.state() == SendState::Active && t0.elapsed() < Duration::from_secs(60) {
                tx.poll(t0.elapsed(), &file, |p| {
                    let n = packet::wrap(p, 0, false, &mut out).unwrap();
                    node_sock.send_to(&out[..n], relay).unwrap();
                })
                .unwrap();
                if let Ok((n, _)) = node_sock.recv_from(&mut buf)
                    && let Ok(p) = packet::unwrap(&buf[..n])
                {
                    let _ = tx.on_pdu(p, t0.elapsed());
                }
            }
            // Answer a repeated Finished with its ACK for a moment.
            let end = Instant::now();
            while end.elapsed() < Duration::from_millis(300) {
                if let Ok((n, _)) = node_sock.recv_from(&mut buf)
                    && let Ok(p) = packet::unwrap(&buf[..n])
                {
                    let _ = tx.on_pdu(p, t0.elapsed());
                }
                tx.poll(t0.elapsed(), &file, |p| {
                    let n = packet::wrap(p, 0, false, &mut out).unwrap();
                    node_sock.send_to(&out[..n], relay).unwrap();
                })
                .unwrap();
            }
            tx.state()
        })
    };
    let cfg = ReceiverConfig {
        local_id: 2,
        ..fast_rx()
    };
    let (name, bytes) = download(
        &ground_sock,
        link.ground_side(),
        cfg,
        1024 * 1024,
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(name, b"results.bin");
    assert_eq!(bytes, file);
    assert_eq!(node.join().unwrap(), SendState::Delivered);
}
