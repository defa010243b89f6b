//! Uplink time of a 4 MiB upgrade through the whole system: a fresh node under `spacenode run`
//! (boot stage, comms, the upgrade agent in its partition) behind the sim radio's link emulator
//! with the CFDP benchmark's link model (`components/comms/benches/cfdp_link.rs`: 2 Mbit/s per
//! direction, 10 ms one-way, seeded loss in both directions), and `spacenode ground upgrade`
//! sending a bundle whose 4 MiB image shares no chunk with the running one (so all of it goes
//! up). Measured: from the ground's "bundle ..." line (sending starts) to its "image written"
//! line (the agent verified the whole image in the inactive slot); the node is then killed
//! (the trial boot is not part of the uplink).
//!
//! Each link is measured with its own baseline, in the same run:
//! - `uplink_4mib/...`: the node and the ground on comms' units (`--radio-link units`, `--link
//!   units`). Baseline `ideal_link`: the same number of SDLS units of the same size as the
//!   ground's transfer messages;
//! - `uplink_4mib_frames/...`: the shipped default, the CCSDS space link: each message goes up
//!   as two segments in SDLS-secured (AES-256-GCM) type-AD TC frames in CLTUs under FOP-1.
//!   Baseline `ideal_link`: two CLTUs per message of the lengths those segments' frames code
//!   to.
//!
//! A baseline sends its datagrams through a link emulator with the same settings and no loss,
//! paced so its queue never drops: the link's own time for the bytes, counting every header,
//! MAC and (on frames) the CLTU's coding the link carries. The ideal at loss `p` is that time
//! / (1 - p); the goal is within 1.2x of it at 10 % loss.
//!
//!     cargo bench --bench uplink -- --warm-up-time 1 --measurement-time 3
//!
//! Every iteration starts a fresh node (seconds of set-up outside the measured time), so a run
//! takes several minutes. Not run by CI. Each sample's uplink time is printed (`loss_P sample:`)
//! so the slowest one can be compared with the goal, not only criterion's mean, with what the
//! machine's load can do to it (components whose CPU budget the kernel refused, partitions
//! restarted for missed pings); the node's whole log of a sample slower than [`SLOW`] is kept
//! in `target/uplink-bench/` to find why.

use board_sim::link::{LinkConfig, LinkEmulator};
use comms::ground::Ground;
use comms::node::DEFAULT_APID;
use comms::pus::function::{self, Chunk, FN_UPGRADE_CHUNK};
use comms::radio_ccsds::MAX_TC_PACKET;
use comms::sdls::{MAX_UNIT_LEN, Provisioning};
use criterion::{Criterion, criterion_group, criterion_main};
use protocol::ChunkPosition;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use upgrade::Version;

#[path = "../src/boot/sim_release.rs"]
mod sim;

/// The image uplinked.
const IMAGE: usize = 4 << 20;
/// Bundle bytes per transfer message (`spacenode ground upgrade`'s).
const PIECE: usize = 1_800;
const KBPS: u64 = 2_000;
const LATENCY_MS: u64 = 10;
/// Bound on any one wait.
const BOUND: Duration = Duration::from_secs(300);
/// A sample this slow keeps its node's log.
const SLOW: Duration = Duration::from_secs(60);

fn free_addr() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr")
}

fn random(len: usize, mut s: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect()
}

/// A child's stdout lines, as they come.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    rx
}

/// Waits for a line containing `what`; every line read is added to `seen`.
fn wait_for(rx: &mpsc::Receiver<String>, what: &str, seen: &mut Vec<String>) -> Instant {
    let deadline = Instant::now() + BOUND;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => {
                let found = l.contains(what);
                seen.push(l);
                if found {
                    return Instant::now();
                }
            }
            Err(e) => panic!("no `{what}` ({e})"),
        }
    }
}

/// The radio's link layer a sample runs on.
#[derive(Clone, Copy)]
enum Link {
    /// comms' own units (`--radio-link units`, `--link units`).
    Units,
    /// The shipped default: the CCSDS space link.
    Frames,
}

impl Link {
    /// The arguments selecting it, for the node and for the ground.
    fn args(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Link::Units => (&["--radio-link", "units"], &["--link", "units"]),
            Link::Frames => (&[], &[]),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Link::Units => "units",
            Link::Frames => "frames",
        }
    }
}

/// One upgrade on a fresh node over `link` losing `loss_pct` %; the uplink's duration.
fn one(exe: &str, bundle: &std::path::Path, link: Link, loss_pct: u32, seed: u64) -> Duration {
    let (node_link, ground_link) = link.args();
    let dir = tempfile::tempdir().expect("tempdir");
    let (uplink, ground) = (free_addr(), free_addr());
    let loss = format!("{}", f64::from(loss_pct) / 100.0);
    let mut node = Command::new(exe)
        .arg("run")
        .arg("--state")
        .arg(dir.path().join("node"))
        .args(["--radio-loss", &loss, "--radio-seed", &seed.to_string()])
        .args(["--radio-kbps", &KBPS.to_string()])
        .args(["--radio-latency-ms", &LATENCY_MS.to_string()])
        .args(["--radio-uplink", &uplink.to_string()])
        .args(["--ground", &ground.to_string()])
        .args(node_link)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spacenode run");
    let node_lines = lines(&mut node);
    let mut log = Vec::new();
    wait_for(&node_lines, "[upgrade] INFO  slot A running", &mut log);
    let mut up = Command::new(exe)
        .args(["ground", "upgrade", "--node", &uplink.to_string()])
        .args(ground_link)
        .args(["--listen", &ground.to_string()])
        .arg("--state")
        .arg(dir.path().join("ground"))
        .arg(bundle)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spacenode ground upgrade");
    let up_lines = lines(&mut up);
    let mut ground_log = Vec::new();
    let t0 = wait_for(&up_lines, "bundle 0x", &mut ground_log);
    let t1 = wait_for(&up_lines, "image written", &mut ground_log);
    for mut c in [up, node] {
        let _ = c.kill();
        let _ = c.wait();
    }
    let took = t1 - t0;
    log.extend(node_lines.try_iter());
    // What the machine's load can do to a sample: budgets the kernel refused (the component
    // then runs under the normal scheduler) and partitions restarted for missed pings.
    let count = |what: &str| log.iter().filter(|l| l.contains(what)).count();
    eprintln!(
        "{} loss_{loss_pct} sample: {:.2} s (seed {seed}); budgets not enforced: {}, restarts: {}",
        link.name(),
        took.as_secs_f64(),
        count("NOT enforced"),
        count(" restarted (pid ")
    );
    if took > SLOW {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/uplink-bench");
        let path = dir.join(format!(
            "slow-{}-loss{loss_pct}-seed{seed}.log",
            link.name()
        ));
        let kept =
            std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, log.join("\n")));
        eprintln!("  slow sample: node log {} ({kept:?})", path.display());
    }
    took
}

/// The size of one transfer message's SDLS unit, as the ground builds it.
fn unit_len(bundle_len: usize) -> usize {
    let bytes = comms::sdls::sim_default::sim_default_bytes().expect("sim provisioning");
    let prov = Provisioning::parse(&bytes).expect("provisioning");
    let spi = prov.associations().next().expect("an association").spi;
    let mut g = Ground::new(&prov, None, DEFAULT_APID).expect("ground");
    let data = vec![0u8; PIECE];
    let chunk = Chunk {
        id: 1,
        position: ChunkPosition {
            index: 1,
            count: bundle_len.div_ceil(PIECE) as u32,
            offset: PIECE as u32,
            total_len: bundle_len as u32,
        },
        data: &data,
    };
    let mut app = vec![0u8; 2 + function::CHUNK_ARGS_LEN + PIECE];
    app[..2].copy_from_slice(&FN_UPGRADE_CHUNK.to_be_bytes());
    function::encode_chunk(&chunk, &mut app[2..]);
    let mut unit = vec![0u8; MAX_UNIT_LEN];
    g.uplink(spi, 8, 1, 0, &app, &mut unit).expect("unit").0
}

/// The datagrams one transfer message is on the CCSDS link: its packet (the unit less its
/// SDLS header and MAC) in two segments, each in a TC frame (primary header 5, segment header
/// 1, the AES-256-GCM security header and MAC, FECF 2) coded into a CLTU.
fn frame_datagrams(unit_len: usize) -> Vec<usize> {
    let packet = unit_len - comms::sdls::engine::OVERHEAD;
    let overhead = spacelink::sdls::overhead(spacelink::sdls::Suite::Aes256Gcm);
    let mut out = Vec::new();
    let mut left = packet;
    while left > 0 {
        let segment = left.min(MAX_TC_PACKET);
        out.push(spacelink::cltu::encoded_len(5 + 1 + overhead + segment + 2));
        left -= segment;
    }
    out
}

/// `count` messages, each the datagrams of `lens` bytes, through the link model without loss:
/// first send to last arrival, at most 32 datagrams in flight (more would overflow the relay
/// socket's receive buffer, not the link).
fn ideal_link(count: usize, lens: &[usize]) -> Duration {
    let sink = UdpSocket::bind("127.0.0.1:0").expect("sink");
    let ground = UdpSocket::bind("127.0.0.1:0").expect("ground");
    let link = LinkEmulator::start(
        sink.local_addr().expect("addr"),
        ground.local_addr().expect("addr"),
        LinkConfig {
            latency: Duration::from_millis(LATENCY_MS),
            bandwidth_bps: Some(KBPS * 1000),
            ..LinkConfig::default()
        },
    )
    .expect("link");
    sink.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let datagrams: Vec<Vec<u8>> = lens.iter().map(|&n| vec![0x5Au8; n]).collect();
    let count = count * datagrams.len();
    let mut buf = vec![0u8; 4096];
    let (mut sent, mut got) = (0usize, 0usize);
    let start = Instant::now();
    while got < count {
        while sent < count && sent - got < 32 {
            let d = &datagrams[sent % datagrams.len()];
            ground.send_to(d, link.ground_side()).expect("send");
            sent += 1;
        }
        sink.recv_from(&mut buf).expect("a unit arrives");
        got += 1;
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let exe = env!("CARGO_BIN_EXE_spacenode");
    let dir = tempfile::tempdir().expect("tempdir");
    let image = random(IMAGE, 0x5EED);
    let bundle = sim::sim_release(&image, Version::new(2, 0, 0), 1).expect("bundle");
    let path = dir.path().join("v2.bundle");
    std::fs::write(&path, &bundle).expect("write");
    let count = bundle.len().div_ceil(PIECE);
    let len = unit_len(bundle.len());
    let frames = frame_datagrams(len);
    eprintln!(
        "bundle {} bytes (image {IMAGE}), {count} messages; on units an SDLS unit of {len} bytes \
         each ({} on the link); on frames CLTUs of {frames:?} bytes each ({} on the link)",
        bundle.len(),
        count * len,
        count * frames.iter().sum::<usize>()
    );
    for (link, lens, group) in [
        (Link::Units, vec![len], "uplink_4mib"),
        (Link::Frames, frames, "uplink_4mib_frames"),
    ] {
        let mut g = c.benchmark_group(group);
        g.sample_size(10);
        g.bench_function("ideal_link", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| ideal_link(count, &lens)).sum())
        });
        for loss in [0u32, 10, 30] {
            let mut seed = 1000 + u64::from(loss);
            g.bench_function(format!("loss_{loss}"), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            seed += 7919;
                            one(exe, &path, link, loss, seed)
                        })
                        .sum()
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
