//! Fuzz target: every parser that reads ground or node bytes after authentication — PUS-C TC
//! and TM parsing, verification report decoding, housekeeping and function argument decoding,
//! routing — and the standby link's IPv4/UDP unwrapping of a datagram PPP delivered (the PPP
//! receive path itself is fuzzed in `components/ppp/fuzz`). None may panic; a TC that parses must
//! re-encode to the same bytes.
#![no_main]

use comms::standby::{Endpoints, udp};
use comms::pus::tc::{self, TcSpec};
use comms::pus::{function, hk, tm, verification};
use comms::router::{RouteTable, SendChannel};
use comms::sdls::Permissions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let apid = tc::RequestId::from_packet(data).map_or(0, |r| r.apid());
    if let Ok(t) = tc::parse(data, apid) {
        let mut out = vec![0u8; data.len()];
        let n = tc::build(
            &TcSpec {
                apid,
                seq_count: t.request_id.seq_count(),
                service: t.service,
                subservice: t.subservice,
                source_id: t.source_id,
                ack: t.ack,
                app_data: t.app_data,
            },
            &mut out,
        )
        .expect("a parsed TC re-encodes");
        assert_eq!(&out[..n], data);
        let table = RouteTable::build([
            SendChannel {
                index: 3,
                kind: "sign-request",
            },
            SendChannel {
                index: 5,
                kind: "upgrade-chunk",
            },
        ]);
        let _ = table.route(&t, Permissions::ALL);
    }
    if let Ok(v) = tm::parse(data) {
        let _ = verification::decode(v.subservice, v.source);
        let _ = hk::decode_security(v.source);
    }
    let _ = hk::parse_request(data);
    if let Ok((_, args)) = function::split(data) {
        if let Ok(c) = function::decode_chunk(args) {
            let _ = function::sign_request(&c, 1);
        }
    }
    let _ = function::decode_rotate(data);
    let _ = function::decode_floor(data);
    for ep in [Endpoints::NODE, Endpoints::GROUND] {
        if let Ok(unit) = udp::unwrap(&ep, data) {
            assert!(unit.len() + comms::standby::IP_UDP_HEADER <= data.len());
        }
    }
});
