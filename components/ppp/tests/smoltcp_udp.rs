//! IPv4 + UDP over the engine: smoltcp on both ends, the node's stack over `ppp::Ppp` and the
//! ground's over the `ppproto` client, on the simulated serial line. The ground sends datagrams
//! (up to a 1500-octet IP packet, the MRU) to the node's UDP port; the node answers each.
//! smoltcp checks the IPv4 and UDP checksums on receive.

mod common;
use common::*;
use smoltcp::iface::{Config as IfConfig, Interface, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::udp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint};
use std::collections::VecDeque;

/// A smoltcp device made of two packet queues; the test moves packets to and from PPP.
#[derive(Default)]
struct Queues {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        self.0.push_back(buf);
        r
    }
}

impl Device for Queues {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;
    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        let p = self.rx.pop_front()?;
        Some((Rx(p), Tx(&mut self.tx)))
    }
    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }
    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ip;
        c.max_transmission_unit = ppp::MAX_INFO;
        c
    }
}

struct Host {
    dev: Queues,
    iface: Interface,
    sockets: SocketSet<'static>,
    udp: smoltcp::iface::SocketHandle,
}

impl Host {
    fn new(addr: [u8; 4], port: u16) -> Self {
        let mut dev = Queues::default();
        let mut iface = Interface::new(IfConfig::new(HardwareAddress::Ip), &mut dev, Instant::ZERO);
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(
                IpAddress::v4(addr[0], addr[1], addr[2], addr[3]),
                24,
            ))
            .unwrap()
        });
        let buf = || udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 8], vec![0; 8 * 1600]);
        let mut sock = udp::Socket::new(buf(), buf());
        sock.bind(port).unwrap();
        let mut sockets = SocketSet::new(vec![]);
        let udp = sockets.add(sock);
        Self {
            dev,
            iface,
            sockets,
            udp,
        }
    }
    fn poll(&mut self, now: u64) {
        self.iface.poll(
            Instant::from_millis(now as i64),
            &mut self.dev,
            &mut self.sockets,
        );
    }
    fn sock(&mut self) -> &mut udp::Socket<'static> {
        self.sockets.get_mut::<udp::Socket>(self.udp)
    }
}

#[test]
fn udp_round_trips_over_ppp_with_smoltcp_on_both_ends() {
    let mut w = World::new(config(21), 5);
    assert!(w.run_until(5_000, World::both_open));
    let mut node = Host::new(NODE_IP, 4000);
    let mut ground = Host::new(GROUND_IP, 5000);
    let node_ep = IpEndpoint::new(IpAddress::v4(10, 16, 0, 1), 4000);
    let sizes: Vec<usize> = (0..20).map(|i| 1 + i * 70).chain([1472]).collect();
    let mut answered = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let msg: Vec<u8> = (0..size).map(|k| (k + i) as u8).collect();
        ground.sock().send_slice(&msg, node_ep).unwrap();
        let end = w.now + 2_000;
        while w.now < end && answered.len() <= i {
            ground.poll(w.now);
            while let Some(d) = ground.dev.tx.pop_front() {
                let bytes = w.client.send_ip(&d);
                w.client_sends(bytes);
            }
            node.poll(w.now);
            while let Some(d) = node.dev.tx.pop_front() {
                w.node.send_ip(&d).expect("node sends");
            }
            if let Ok((data, meta)) = node.sock().recv() {
                let reply: Vec<u8> = data.iter().map(|b| !b).collect();
                let to = meta.endpoint;
                node.sock().send_slice(&reply, to).unwrap();
            }
            if let Ok((data, meta)) = ground.sock().recv() {
                assert_eq!(meta.endpoint, node_ep);
                answered.push(data.to_vec());
            }
            w.step();
            node.dev.rx.extend(w.node_ip_in.drain(..));
            ground.dev.rx.extend(w.client.ip_in.drain(..));
        }
        let want: Vec<u8> = msg.iter().map(|b| !b).collect();
        assert_eq!(
            answered.get(i),
            Some(&want),
            "datagram {i} of {size} octets"
        );
    }
    assert_eq!(answered.len(), sizes.len());
    let s = w.node.stats();
    assert_eq!((s.fcs_errors, s.malformed, s.tx_overflow), (0, 0, 0));
}
