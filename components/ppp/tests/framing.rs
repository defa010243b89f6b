//! RFC 1662 framing: encoder and decoder round trip under every negotiated option, and each
//! receive rule on hand-built octet streams.

use ppp::deframe::{Deframer, RxError, Step};
use ppp::fcs::fcs16;
use ppp::frame::{SendOptions, TxQueue};
use proptest::prelude::*;

fn encode(opts: SendOptions, protocol: u16, info: &[u8]) -> Vec<u8> {
    let mut q = TxQueue::new();
    q.push(opts, protocol, &[info]).unwrap();
    let mut out = vec![0u8; q.len()];
    q.drain(&mut out);
    out
}

/// Every step the decoder reports for `bytes`, frames as (protocol, info).
fn decode(bytes: &[u8], rx_accm: u32) -> Vec<Result<(u16, Vec<u8>), RxError>> {
    let mut d = Deframer::new();
    let mut out = Vec::new();
    for &b in bytes {
        match d.feed(b, rx_accm) {
            Step::Pending => {}
            Step::Frame {
                protocol,
                start,
                end,
            } => out.push(Ok((protocol, d.buffer()[start..end].to_vec()))),
            Step::Dropped(e) => out.push(Err(e)),
        }
    }
    out
}

/// A frame written by hand: flag, body with FCS, flag, escaping only 7E/7D.
fn raw_frame(body: &[u8]) -> Vec<u8> {
    let mut whole = body.to_vec();
    whole.extend(fcs16(body).to_le_bytes());
    let mut out = vec![0x7E];
    for b in whole {
        if b == 0x7E || b == 0x7D {
            out.extend([0x7D, b ^ 0x20]);
        } else {
            out.push(b);
        }
    }
    out.push(0x7E);
    out
}

proptest! {
    #[test]
    fn round_trip(info in proptest::collection::vec(any::<u8>(), 0..1500), accm: u32, acfc: bool, pfc: bool,
                  proto in prop_oneof![Just(0x0021u16), Just(0x8021), Just(0xC021), Just(0x0057)]) {
        let opts = SendOptions { accm, acfc, pfc };
        let wire = encode(opts, proto, &info);
        // No unescaped control character the ACCM flags, and no flag inside.
        for &b in &wire[1..wire.len() - 1] {
            prop_assert!(b != 0x7E);
            prop_assert!(!(b < 0x20 && accm & (1 << b) != 0));
        }
        // The receiver drops unescaped octets flagged in *its* ACCM: use the one the sender honoured.
        prop_assert_eq!(decode(&wire, accm), vec![Ok((proto, info))]);
    }
}

#[test]
fn any_escaped_octet_is_accepted() {
    // "A" (0x41) sent escaped as 7D 61 although nothing asked for it.
    let mut wire = raw_frame(&[0xFF, 0x03, 0x00, 0x21, 0x41]);
    let at = wire.iter().position(|&b| b == 0x41).unwrap();
    wire.splice(at..=at, [0x7D, 0x61]);
    assert_eq!(decode(&wire, 0), vec![Ok((0x0021, vec![0x41]))]);
}

#[test]
fn unescaped_control_characters_in_our_accm_are_removed() {
    // XON (0x11) inserted by a modem in the middle of a frame.
    let mut wire = raw_frame(&[0xFF, 0x03, 0x00, 0x21, 0x42, 0x43]);
    wire.insert(5, 0x11);
    assert_eq!(
        decode(&wire, 1 << 0x11),
        vec![Ok((0x0021, vec![0x42, 0x43]))]
    );
    // Not in the ACCM: the octet is data, so the FCS fails.
    assert_eq!(decode(&wire, 0), vec![Err(RxError::Fcs)]);
}

#[test]
fn abort_sequence_drops_the_frame_and_the_next_one_is_received() {
    let mut wire = vec![0x7E, 0xFF, 0x03, 0x00, 0x21, 0x99, 0x7D, 0x7E];
    wire.extend(raw_frame(&[0xFF, 0x03, 0x00, 0x21, 0x55]));
    assert_eq!(
        decode(&wire, 0),
        vec![Err(RxError::Aborted), Ok((0x0021, vec![0x55]))]
    );
}

#[test]
fn compressed_address_and_protocol_are_accepted() {
    assert_eq!(
        decode(&raw_frame(&[0x21, 0x01]), 0),
        vec![Ok((0x0021, vec![0x01]))]
    );
    assert_eq!(
        decode(&raw_frame(&[0xC0, 0x21, 0x09]), 0),
        vec![Ok((0xC021, vec![0x09]))]
    );
}

#[test]
fn bad_headers_are_refused() {
    // Control not 03.
    assert_eq!(
        decode(&raw_frame(&[0xFF, 0x13, 0x00, 0x21]), 0),
        vec![Err(RxError::BadHeader)]
    );
    // Protocol with an even low octet (RFC 1661 §2).
    assert_eq!(
        decode(&raw_frame(&[0xFF, 0x03, 0x00, 0x20, 1]), 0),
        vec![Err(RxError::BadHeader)]
    );
    // Two octets between flags.
    assert_eq!(
        decode(&[0x7E, 0x01, 0x02, 0x7E], 0),
        vec![Err(RxError::TooShort)]
    );
}

#[test]
fn frames_beyond_the_mru_are_dropped_and_the_decoder_recovers() {
    let mut body = vec![0xFF, 0x03, 0x00, 0x21];
    body.extend(vec![0x5A; ppp::MAX_INFO + 1]);
    let mut wire = raw_frame(&body);
    wire.extend(raw_frame(&[0xFF, 0x03, 0x00, 0x21, 0x01]));
    assert_eq!(
        decode(&wire, 0),
        vec![Err(RxError::TooLong), Ok((0x0021, vec![0x01]))]
    );
    // Exactly the MRU is fine.
    let mut body = vec![0xFF, 0x03, 0x00, 0x21];
    body.extend(vec![0x5A; ppp::MAX_INFO]);
    assert_eq!(
        decode(&raw_frame(&body), 0),
        vec![Ok((0x0021, vec![0x5A; ppp::MAX_INFO]))]
    );
}

#[test]
fn idle_flags_are_not_errors() {
    let mut wire = vec![0x7E; 5];
    wire.extend(raw_frame(&[0xFF, 0x03, 0x00, 0x21, 0x07]));
    wire.extend([0x7E; 3]);
    assert_eq!(decode(&wire, 0), vec![Ok((0x0021, vec![0x07]))]);
}

#[test]
fn engine_size_is_bounded() {
    // Fixed memory, no heap: the receive buffer (MRU + headers) and two worst-case transmit
    // frames dominate.
    let size = core::mem::size_of::<ppp::Ppp>();
    eprintln!("size_of::<Ppp>() = {size}");
    assert!(
        size < ppp::frame::TX_CAPACITY + ppp::MAX_INFO + 1024,
        "{size}"
    );
}
