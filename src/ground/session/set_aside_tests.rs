//! A command's wait keeps what is not its telemetry: the node's CFDP packets that come while
//! the ground waits for a ping's reports are handed to [`Session::recv_any`] afterwards, not
//! dropped (nor counted as refused downlink). The node here is comms' real [`Node`] on a
//! loopback UDP socket, answering on units with the sim board's keys.

use super::*;
use comms::cfdp::packet;
use comms::link::FailoverConfig;
use comms::node::{Downlink, ForwardError, Forwarder, Node, NodeConfig, Now, Outbound};
use comms::router::RouteTable;
use comms::sdls::MemoryPersist;
use comms::sdls::sim_default::{SIM_OPS_SPI, sim_default_bytes};
use protocol::LinkId;

/// Units the node sends, in order.
#[derive(Default)]
struct Sink(Vec<Vec<u8>>);
impl Downlink for Sink {
    fn send(&mut self, _link: LinkId, unit: &[u8]) {
        self.0.push(unit.to_vec());
    }
}

/// No component behind the node: a ping is answered by comms itself.
struct NoComponents;
impl Forwarder for NoComponents {
    fn forward(&mut self, _channel: usize, _msg: Outbound<'_>) -> Result<(), ForwardError> {
        Err(ForwardError::Full)
    }
}

/// Serves one node on `sock` until a second passes in silence: before it answers each unit,
/// it sends `cfdp` (as a result file's PDU would come down while the ground waits).
fn serve(sock: &UdpSocket, provisioning: &Provisioning, cfdp: &[u8]) -> usize {
    let cfg = NodeConfig {
        apid: DEFAULT_APID,
        reserve_block: 16,
        failover: FailoverConfig::default(),
        auth_event_period_ms: 1000,
    };
    let routes = RouteTable::build(std::iter::empty());
    let mut node = Node::boot(cfg, provisioning, MemoryPersist::default(), routes).expect("node");
    let now = Now {
        mono: hal::time::Instant::from_micros(5_000_000),
        mission_us: None,
    };
    sock.set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    let mut served = 0;
    while let Ok((k, from)) = sock.recv_from(&mut buf) {
        let mut sink = Sink::default();
        node.send_packet(SIM_OPS_SPI, cfdp, &mut sink);
        node.on_unit(
            LinkId::Primary,
            &buf[..k],
            now,
            &mut NoComponents,
            &mut sink,
        );
        for unit in &sink.0 {
            sock.send_to(unit, from).expect("send");
        }
        served += 1;
    }
    served
}

#[test]
fn a_cfdp_packet_that_comes_during_a_commands_wait_is_kept_for_recv_any() {
    let bytes = sim_default_bytes().expect("sim keys");
    let provisioning = Provisioning::parse(&bytes).expect("sim provisioning");
    let mut cfdp = [0u8; 64];
    let n = packet::wrap(b"a result file's PDU", 7, false, &mut cfdp).expect("packet");
    let cfdp = cfdp[..n].to_vec();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("node socket");
    let node_addr = sock.local_addr().expect("addr");
    let node = {
        let cfdp = cfdp.clone();
        std::thread::spawn(move || serve(&sock, &provisioning, &cfdp))
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut session = Session::open(SessionConfig {
        node: node_addr,
        listen: "127.0.0.1:0".parse().expect("addr"),
        state_dir: dir.path().to_path_buf(),
        provisioning: bytes.to_vec(),
        spi: SIM_OPS_SPI,
        timeout: Duration::from_secs(2),
        attempts: 1,
        link: LinkChoice::Units,
    })
    .expect("session");

    let answer = session.command(17, 1, &[]).expect("the ping is answered");
    assert!(answer.reports.iter().any(Answer::is_final), "{answer:?}");
    match session.recv_any(Duration::from_millis(200)) {
        Ok(Some(Incoming::Packet(p))) => assert_eq!(p, cfdp),
        other => panic!("the CFDP packet that came during the ping's wait was lost: {other:?}"),
    }
    assert_eq!(
        session.refused_downlink, 0,
        "a CFDP packet is not refused downlink"
    );
    assert!(
        matches!(session.recv_any(Duration::from_millis(50)), Ok(None)),
        "kept once, handed over once"
    );
    drop(session);
    assert_eq!(node.join().expect("node thread"), 1, "one unit went up");
}
