//! Fuzz target: the PPP engine's receive path. The input is a sequence of steps, each a tag
//! octet and a length-prefixed chunk: raw line octets for the deframer, or a chunk the harness
//! frames itself (correct FCS) as LCP, IPCP, IPv4 or another protocol so the packet parsers and
//! both automata are reached, or a jump of the clock so the Restart and echo timers fire.
//! Properties: no panic; every octet the engine sends deframes into good frames (FCS checks,
//! information field within the MRU); the link's reported state is consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ppp::deframe::{Deframer, Step};
use ppp::frame::{SendOptions, TxQueue};
use ppp::fsm::State;
use ppp::{Config, Ppp};

fn check_output(ppp: &mut Ppp) {
    let mut out = [0u8; ppp::frame::TX_CAPACITY];
    let n = ppp.transmit(&mut out);
    let mut d = Deframer::new();
    for &b in &out[..n] {
        match d.feed(b, 0) {
            Step::Pending => {}
            Step::Frame { start, end, .. } => assert!(end - start <= ppp::MAX_INFO),
            Step::Dropped(e) => panic!("the engine sent a bad frame: {e}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else { return };
    let mut cfg = Config::new([10, 0, 0, 1], [10, 0, 0, 2], 0x1234_5678 | u32::from(mode));
    cfg.echo_interval_ms = if mode & 1 == 1 { 1000 } else { 0 };
    cfg.request_compression = mode & 2 == 2;
    cfg.mru = if mode & 4 == 4 { 296 } else { 1500 };
    let mut ppp = Ppp::new(cfg).expect("valid config");
    let mut now = 0u64;
    ppp.open(now);
    ppp.up(now);
    check_output(&mut ppp);
    while let [tag, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (chunk, next) = tail.split_at(n);
        rest = next;
        let protocol = match tag % 6 {
            0 => None,
            1 => Some(0xC021),
            2 => Some(0x8021),
            3 => Some(0x0021),
            4 => Some(0x0057),
            _ => {
                now += u64::from(*len) * 100;
                ppp.poll(now);
                check_output(&mut ppp);
                continue;
            }
        };
        let mut delivered = 0usize;
        match protocol {
            None => ppp.receive(chunk, now, &mut |d| delivered += d.len()),
            Some(p) => {
                let mut q = TxQueue::new();
                let opts = SendOptions { accm: 0xFFFF_FFFF, acfc: tag & 0x40 != 0, pfc: tag & 0x80 != 0 };
                q.push(opts, p, &[chunk]).expect("one frame fits");
                let mut bytes = [0u8; ppp::frame::TX_CAPACITY];
                let m = q.drain(&mut bytes);
                ppp.receive(&bytes[..m], now, &mut |d| delivered += d.len());
                if delivered > 0 {
                    assert_eq!(p, 0x0021);
                    assert!(ppp.status().network_up);
                }
            }
        }
        check_output(&mut ppp);
        let st = ppp.status();
        assert!(!st.network_up || st.lcp == State::Opened, "IPCP up without LCP: {st:?}");
    }
});
