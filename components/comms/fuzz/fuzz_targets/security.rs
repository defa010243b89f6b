//! Fuzz target: the security layer and the node behind it. The input is split into units; each
//! goes through a node with fixed test keys. Forged input must never be accepted: a unit is only
//! accepted if it was produced with the keys (the fuzzer cannot), so `accepted` stays 0 for any
//! input that does not contain a unit this target wrapped itself. Half the runs wrap the input's
//! first unit properly first, so the parser and the node behind SDLS are reached too (with a
//! sign channel and an admin channel with its staging buffer, so the admin chunk reassembly is
//! reached as well).
#![no_main]

use comms::link::FailoverConfig;
use comms::node::{Downlink, ForwardError, Forwarder, Node, NodeConfig, Now, Outbound};
use comms::router::{RouteTable, SendChannel};
use comms::sdls::{Key, MemoryPersist, Permissions, ProvisionedSa, Provisioning, SecurityEngine};
use hal::time::Instant;
use libfuzzer_sys::fuzz_target;
use protocol::LinkId;

struct Null;
impl Downlink for Null {
    fn send(&mut self, _: LinkId, unit: &[u8]) {
        assert!(unit.len() >= comms::sdls::OVERHEAD);
    }
}
impl Forwarder for Null {
    fn forward(&mut self, _: usize, _: Outbound<'_>) -> Result<(), ForwardError> {
        Ok(())
    }
}

/// The channels, with the admin staging buffer the partition lends.
struct Channels(Vec<u8>);
impl Forwarder for Channels {
    fn forward(&mut self, _: usize, _: Outbound<'_>) -> Result<(), ForwardError> {
        Ok(())
    }
    fn admin_staging(&mut self) -> Option<&mut [u8]> {
        Some(&mut self.0)
    }
}

fn provisioning() -> Provisioning {
    let sa = ProvisionedSa {
        spi: 1,
        permissions: Permissions::ALL,
        window: 16,
        telemetry: true,
        master: Key::from_bytes([7; 32]),
        state: comms::sdls::KeyState::Active,
        suite: comms::sdls::Suite::Aes256Gcm,
        key_id: 0,
    };
    let mut buf = [0u8; 64];
    let n = Provisioning::encode(&[sa], &mut buf).expect("provisioning encodes");
    Provisioning::parse(&buf[..n]).expect("provisioning parses")
}

fuzz_target!(|data: &[u8]| {
    let _ = Provisioning::parse(data);
    let _ = comms::sdls::state::decode(data);
    let prov = provisioning();
    let cfg = NodeConfig {
        apid: 0x0A0,
        reserve_block: 4,
        failover: FailoverConfig::default(),
        auth_event_period_ms: 0,
    };
    let routes = RouteTable::build([
        SendChannel {
            index: 0,
            kind: "sign-request",
        },
        SendChannel {
            index: 1,
            kind: "admin-request",
        },
    ]);
    let mut channels = Channels(vec![0; protocol::ADMIN_COMMAND_MAX]);
    let mut node = Node::boot(cfg, &prov, MemoryPersist::default(), routes).expect("boots");
    let now = Now {
        mono: Instant::from_micros(1),
        mission_us: None,
    };
    let (wrap_first, rest) = data
        .split_first()
        .map_or((false, data), |(b, r)| (b & 1 == 1, r));
    let mut wrapped = 0u32;
    if wrap_first {
        let mut g = SecurityEngine::ground(&prov, None, u64::MAX).expect("ground");
        let take = rest.len().min(comms::sdls::MAX_DATA_LEN);
        let mut out = vec![0u8; take + comms::sdls::OVERHEAD];
        if let Ok(n) = g.protect(1, &rest[..take], &mut out, &mut MemoryPersist::default()) {
            let _ = node.on_unit(LinkId::Primary, &out[..n], now, &mut channels, &mut Null);
            wrapped = 1;
        }
    }
    for unit in rest.split(|&b| b == 0x7E) {
        let _ = node.on_unit(LinkId::Standby, unit, now, &mut channels, &mut Null);
    }
    node.tick(now, &mut Null);
    assert!(node.security().counters().accepted <= wrapped);
});
