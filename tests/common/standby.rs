//! The standby link's ground end for whole-system tests that build their own units (forged,
//! replayed, raw): a thread runs the PPP client ([`comms::standby::StandbyLine`] as
//! [`Endpoints::GROUND`], the same code as `spacenode ground --link serial:`) on the node's pty,
//! with units in and out over channels.

use board_sim::serial::PtySerial;
use comms::standby::{Endpoints, StandbyLine, Step};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A PPP session on the node's standby line, run by a thread.
pub struct PppGround {
    /// Units to send to the node.
    pub tx: mpsc::Sender<Vec<u8>>,
    /// Units the node sent.
    pub rx: mpsc::Receiver<Vec<u8>>,
}

/// The pty path in `spacenode run`'s log ("serial line, ground side at PATH").
pub fn pty_path(log: &[String]) -> PathBuf {
    log.iter()
        .find_map(|l| l.split("serial line, ground side at ").nth(1))
        .and_then(|rest| rest.split([',', ' ']).next())
        .map(PathBuf::from)
        .expect("pty path in the boot log")
}

impl PppGround {
    /// Opens `pty` and negotiates PPP; panics if IPCP is not Opened within 15 s.
    pub fn connect(pty: &Path) -> PppGround {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(pty)
            .expect("open the standby link's ground end");
        let mut serial = PtySerial::from_fd(file.into());
        let (tx, to_node) = mpsc::channel::<Vec<u8>>();
        let (from_node, rx) = mpsc::channel();
        let (up_tx, up_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let epoch = Instant::now();
            let cfg =
                Endpoints::GROUND.ppp_config(0x600D_5EED, &comms::standby::StandbyLink::DEFAULT);
            let mut line = StandbyLine::new(Endpoints::GROUND, cfg, 0).expect("PPP config");
            let mut told = false;
            loop {
                let now = epoch.elapsed().as_millis() as u64;
                if line.is_up() && !told {
                    told = up_tx.send(()).is_ok();
                }
                loop {
                    match to_node.try_recv() {
                        Ok(u) => {
                            let _ = line.send(&mut serial, &u);
                        }
                        Err(mpsc::TryRecvError::Empty) => break,
                        Err(mpsc::TryRecvError::Disconnected) => return,
                    }
                }
                match line.step(&mut serial, now) {
                    Step::Unit => {
                        if from_node.send(line.unit().to_vec()).is_err() {
                            return;
                        }
                        continue;
                    }
                    Step::Failed => return,
                    Step::Idle => {}
                }
                line.poll(&mut serial, now);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        up_rx
            .recv_timeout(Duration::from_secs(15))
            .expect("PPP up on the standby line within 15 s");
        PppGround { tx, rx }
    }

    /// Queues one unit for the node.
    pub fn send(&self, unit: &[u8]) {
        self.tx.send(unit.to_vec()).expect("PPP thread alive");
    }
}

/// A cuttable radio: a UDP relay between the ground tools and the node's radio. The ground
/// sends to [`RadioRelay::uplink`] and listens where it always does; the node's `--ground` is
/// [`RadioRelay::downlink`]. While cut, every datagram in both directions is dropped (the
/// radio is dead), and restoring it passes them again.
pub struct RadioRelay {
    /// Where the ground sends its uplink (give it as `--node`).
    pub uplink: std::net::SocketAddr,
    /// Where the node sends its downlink (give it as the node's `--ground`).
    pub downlink: std::net::SocketAddr,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl RadioRelay {
    /// Relays to the node's `--radio-uplink` `node` and to the ground's `--listen` `ground`.
    pub fn start(node: std::net::SocketAddr, ground: std::net::SocketAddr) -> RadioRelay {
        use std::net::UdpSocket;
        use std::sync::atomic::Ordering;
        let up = UdpSocket::bind("127.0.0.1:0").expect("relay uplink socket");
        let down = UdpSocket::bind("127.0.0.1:0").expect("relay downlink socket");
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let relay = RadioRelay {
            uplink: up.local_addr().expect("addr"),
            downlink: down.local_addr().expect("addr"),
            cut: cut.clone(),
        };
        for (from, to, sender) in [
            (
                up.try_clone().expect("clone"),
                node,
                down.try_clone().expect("clone"),
            ),
            (down, ground, up),
        ] {
            let cut = cut.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while let Ok((n, _)) = from.recv_from(&mut buf) {
                    if !cut.load(Ordering::Relaxed) {
                        let _ = sender.send_to(&buf[..n], to);
                    }
                }
            });
        }
        relay
    }

    /// Cuts (`true`) or restores (`false`) the radio.
    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, std::sync::atomic::Ordering::Relaxed);
    }
}
