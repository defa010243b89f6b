//! Prints every frame the engine sends during one scripted session with the `ppproto` client,
//! one line per frame: `LABEL HEX`, HEX being the raw line octets (flags and escapes included).
//! `scripts/interop-ppp.py` decodes them with scapy's PPP, LCP and IPCP layers.
//!
//! The session: LCP and IPCP negotiation with ppproto (no latency), one IPv4/UDP datagram from
//! the node, an IPv6 frame from the peer (answered with a Protocol-Reject), an echo interval of
//! silence (Echo-Request), and an administrative Close (Terminate-Request). The label names the
//! step of the session the frame was sent in, not what the frame is: the decoder says that.

use ppp::{Config, Ppp};
use ppproto::pppos::{PPPoS, PPPoSAction};

struct Session {
    now: u64,
    node: Ppp,
    client: PPPoS<'static>,
    rx: Vec<u8>,
    tx: Vec<u8>,
    /// Sent by the node after the last exchange's input, already printed, not yet delivered.
    queued: Vec<u8>,
}

impl Session {
    /// Moves bytes both ways once; prints what the node sent, under `label`.
    fn exchange(&mut self, label: &str, extra_to_node: &[u8]) {
        self.node.poll(self.now);
        let fresh = self.drain_node(label);
        let mut to_client = core::mem::take(&mut self.queued);
        to_client.extend(fresh);
        let mut to_node = Vec::new();
        let mut data = &to_client[..];
        loop {
            let k = self.client.consume(data, &mut self.rx);
            data = &data[k..];
            loop {
                match self.client.poll(&mut self.tx, &mut self.rx) {
                    PPPoSAction::None => break,
                    PPPoSAction::Transmit(m) => to_node.extend_from_slice(&self.tx[..m]),
                    PPPoSAction::Received(_) => {}
                }
            }
            if data.is_empty() {
                break;
            }
        }
        to_node.extend_from_slice(extra_to_node);
        self.node.receive(&to_node, self.now, &mut |_| {});
        self.queued = self.drain_node(label);
        self.now += 10;
    }

    /// Takes what the node has to send and prints it under `label`.
    fn drain_node(&mut self, label: &str) -> Vec<u8> {
        let mut out = vec![0u8; self.node.pending_tx()];
        let n = self.node.transmit(&mut out);
        out.truncate(n);
        print_frames(label, &out);
        out
    }
}

fn print_frames(label: &str, bytes: &[u8]) {
    let mut start = None;
    for (i, &b) in bytes.iter().enumerate() {
        if b != 0x7E {
            continue;
        }
        match start {
            Some(s) if i > s + 1 => {
                let hex: String = bytes[s..=i].iter().map(|b| format!("{b:02x}")).collect();
                println!("{label} {hex}");
                start = None;
            }
            _ => start = Some(i),
        }
    }
}

fn main() {
    let mut cfg = Config::new([10, 16, 0, 1], [10, 16, 0, 2], 0x5EED_0001);
    cfg.echo_interval_ms = 1_000;
    let mut node = Ppp::new(cfg).expect("valid config");
    node.open(0);
    node.up(0);
    let mut client = PPPoS::new(ppproto::Config {
        username: b"",
        password: b"",
    });
    client.open().expect("ppproto opens");
    let mut s = Session {
        now: 0,
        node,
        client,
        rx: vec![0; 2048],
        tx: vec![0; 4096],
        queued: Vec::new(),
    };

    // ppproto answers a Configure-Request that arrives before it opened with a Terminate-Ack,
    // so the first exchange usually completes on the node's retransmission (3 s).
    while !s.node.status().network_up && s.now < 20_000 {
        s.exchange("negotiation", &[]);
    }
    assert!(
        s.node.status().network_up,
        "the session did not open: {:?}",
        s.node.status()
    );

    // One IPv4/UDP datagram 10.16.0.1:4000 -> 10.16.0.2:5000, payload with flag and escape octets.
    let payload = b"standby \x7e\x7d\x03 link";
    let total = 28 + payload.len();
    let mut d = vec![
        0x45,
        0,
        0,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        17,
        0,
        0,
        10,
        16,
        0,
        1,
        10,
        16,
        0,
        2,
    ];
    d.extend_from_slice(&[0x0F, 0xA0, 0x13, 0x88, 0, (8 + payload.len()) as u8, 0, 0]);
    d.extend_from_slice(payload);
    s.node.send_ip(&d).expect("network up");
    s.exchange("datagram", &[]);

    // An IPv6 frame (protocol 0x0057) from the peer: not negotiated, so Protocol-Reject.
    let mut q = ppp::frame::TxQueue::new();
    q.push(
        ppp::frame::SendOptions::DEFAULT,
        0x0057,
        &[&[0x60, 0, 0, 0]],
    )
    .expect("fits");
    let mut v6 = vec![0u8; q.len()];
    q.drain(&mut v6);
    s.exchange("ipv6-from-peer", &v6);

    // Two echo intervals of silence (the first one still counts the IPv6 frame as proof of
    // life): the node asks.
    for _ in 0..2 {
        s.now += 1_000;
        s.node.poll(s.now);
    }
    s.drain_node("silence");

    s.node.close(s.now);
    s.drain_node("close");
}
