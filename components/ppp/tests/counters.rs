//! The RFC 1661 counters and packet rules, against a peer written by hand: Max-Configure with the
//! backed-off Restart timer, Max-Terminate, Max-Failure, Identifier matching, Code-Reject,
//! Protocol-Reject, and IPCP soliciting an address from a peer that asked for none.

mod common;
use common::*;
use ppp::deframe::{Deframer, Step};
use ppp::frame::{SendOptions, TxQueue};
use ppp::fsm::State;
use ppp::packet::Packet;
use ppp::{DownReason, Ppp};

fn frame(protocol: u16, pkt: &[u8]) -> Vec<u8> {
    let mut q = TxQueue::new();
    q.push(SendOptions::DEFAULT, protocol, &[pkt]).unwrap();
    let mut out = vec![0u8; q.len()];
    q.drain(&mut out);
    out
}

/// Everything the engine sent, as (protocol, information field).
fn sent(p: &mut Ppp) -> Vec<(u16, Vec<u8>)> {
    let bytes = drain(p);
    let mut d = Deframer::new();
    let mut out = Vec::new();
    for b in bytes {
        match d.feed(b, 0) {
            Step::Frame {
                protocol,
                start,
                end,
            } => out.push((protocol, d.buffer()[start..end].to_vec())),
            Step::Dropped(e) => panic!("engine sent a bad frame: {e}"),
            Step::Pending => {}
        }
    }
    out
}

fn started() -> Ppp {
    let mut p = Ppp::new(config(3)).unwrap();
    p.open(0);
    p.up(0);
    p
}

/// Opens LCP by hand: acknowledge the engine's request, send an empty one.
fn open_lcp(p: &mut Ppp) -> Vec<(u16, Vec<u8>)> {
    let req = sent(p)
        .into_iter()
        .find(|(pr, i)| *pr == 0xC021 && i[0] == 1)
        .expect("a Configure-Request");
    let mut ack = req.1.clone();
    ack[0] = 2;
    p.receive(&frame(0xC021, &ack), 10, &mut |_| {});
    p.receive(&frame(0xC021, &[1, 0x77, 0, 4]), 10, &mut |_| {});
    assert_eq!(p.status().lcp, State::Opened);
    sent(p)
}

#[test]
fn max_configure_requests_with_backed_off_timer_then_stopped() {
    let mut p = started();
    let mut times = Vec::new();
    let mut now = 0;
    while now <= 400_000 {
        p.poll(now);
        times.extend(
            sent(&mut p)
                .iter()
                .filter(|(pr, i)| *pr == 0xC021 && i[0] == 1)
                .map(|_| now),
        );
        now += 100;
    }
    assert_eq!(times.len(), 10, "Max-Configure is 10: {times:?}");
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(
        gaps,
        [
            3_000, 6_000, 12_000, 24_000, 24_000, 24_000, 24_000, 24_000, 24_000
        ]
    );
    assert_eq!(
        p.status().lcp,
        State::Stopped,
        "TO- after the last one: tlf/3"
    );
}

#[test]
fn close_sends_max_terminate_requests_then_closed() {
    let mut p = started();
    sent(&mut p);
    p.close(100);
    let mut count = 0;
    let mut now = 100;
    while now < 20_000 {
        p.poll(now);
        count += sent(&mut p)
            .iter()
            .filter(|(pr, i)| *pr == 0xC021 && i[0] == 5)
            .count();
        now += 100;
    }
    assert_eq!(count, 2, "Max-Terminate is 2");
    assert_eq!(p.status().lcp, State::Closed);
    assert_eq!(p.last_down(), Some(DownReason::Local));
}

#[test]
fn max_failure_naks_then_rejects() {
    let mut p = started();
    sent(&mut p);
    let mut codes = Vec::new();
    for id in 0..7u8 {
        // MRU 10: below what we accept, Nak'd with 64.
        p.receive(&frame(0xC021, &[1, id, 0, 8, 1, 4, 0, 10]), 10, &mut |_| {});
        let reply = sent(&mut p)
            .into_iter()
            .find(|(_, i)| i[1] == id && i[0] != 1)
            .unwrap()
            .1;
        if reply[0] == 3 {
            assert_eq!(&reply[4..], &[1, 4, 0, 64]);
        } else {
            assert_eq!(&reply[4..], &[1, 4, 0, 10], "the Reject repeats the option");
        }
        codes.push(reply[0]);
    }
    assert_eq!(
        codes,
        [3, 3, 3, 3, 3, 4, 4],
        "Max-Failure 5 Naks, then Reject"
    );
}

#[test]
fn replies_with_a_wrong_identifier_or_content_are_dropped() {
    let mut p = started();
    let req = sent(&mut p).into_iter().find(|(_, i)| i[0] == 1).unwrap().1;
    let mut ack = req.clone();
    ack[0] = 2;
    ack[1] = ack[1].wrapping_add(1);
    p.receive(&frame(0xC021, &ack), 10, &mut |_| {});
    let mut changed = req.clone();
    changed[0] = 2;
    *changed.last_mut().unwrap() ^= 1;
    p.receive(&frame(0xC021, &changed), 10, &mut |_| {});
    let mut nak = vec![3, req[1].wrapping_sub(1), 0, 4];
    nak[3] = 4;
    p.receive(&frame(0xC021, &nak), 10, &mut |_| {});
    assert_eq!(p.cp_stats().0.stale_replies, 3);
    assert_eq!(p.status().lcp, State::ReqSent);
    ack = req;
    ack[0] = 2;
    p.receive(&frame(0xC021, &ack), 10, &mut |_| {});
    assert_eq!(p.status().lcp, State::AckRcvd);
}

#[test]
fn unknown_code_gets_a_code_reject_and_a_catastrophic_one_stops_lcp() {
    let mut p = started();
    sent(&mut p);
    p.receive(
        &frame(0xC021, &[0x20, 9, 0, 6, 0xAB, 0xCD]),
        10,
        &mut |_| {},
    );
    let out = sent(&mut p);
    let rej = out.iter().find(|(_, i)| i[0] == 7).expect("Code-Reject");
    assert_eq!(&rej.1[4..], &[0x20, 9, 0, 6, 0xAB, 0xCD]);
    // The peer rejects Configure-Request itself: nothing can be negotiated (RXJ-, tlf/3).
    p.receive(&frame(0xC021, &[7, 1, 0, 8, 1, 1, 0, 4]), 20, &mut |_| {});
    assert_eq!(p.status().lcp, State::Stopped);
}

#[test]
fn malformed_control_packets_are_dropped_and_counted() {
    let mut p = started();
    sent(&mut p);
    for bad in [
        &[1u8, 1, 0][..],
        &[1, 1, 0, 2],
        &[1, 1, 0, 9, 1],
        &[1, 1, 0, 6, 1, 1],
    ] {
        p.receive(&frame(0xC021, bad), 10, &mut |_| {});
    }
    let malformed = p.stats().malformed + p.cp_stats().0.malformed;
    assert_eq!(malformed, 4);
    assert!(sent(&mut p).is_empty(), "nothing is answered");
    assert_eq!(p.status().lcp, State::ReqSent);
}

#[test]
fn ipcp_solicits_an_address_and_a_protocol_reject_of_ipcp_stops_it() {
    let mut p = started();
    let out = open_lcp(&mut p);
    assert!(
        out.iter().any(|(pr, i)| *pr == 0x8021 && i[0] == 1),
        "IPCP starts when LCP is up"
    );
    // A peer that asks for no address is told which one to use.
    p.receive(&frame(0x8021, &[1, 5, 0, 4]), 20, &mut |_| {});
    let nak = sent(&mut p)
        .into_iter()
        .find(|(pr, i)| *pr == 0x8021 && i[0] == 3)
        .expect("IPCP Nak");
    let pkt = Packet::parse(&nak.1).unwrap();
    assert_eq!(pkt.data, &[3, 6, 10, 16, 0, 2]);
    // The peer does not speak IPCP at all.
    p.receive(
        &frame(0xC021, &[8, 1, 0, 8, 0x80, 0x21, 1, 5]),
        30,
        &mut |_| {},
    );
    assert_eq!(p.status().ipcp, State::Stopped);
    assert_eq!(p.status().lcp, State::Opened);
    assert_eq!(p.send_ip(&[0x45; 20]), Err(ppp::SendError::NotUp));
}

#[test]
fn an_unknown_protocol_on_an_open_link_is_protocol_rejected_and_ip_before_ipcp_is_dropped() {
    let mut p = started();
    open_lcp(&mut p);
    let mut got = 0;
    p.receive(&frame(0x0021, &[0x45, 0, 0, 20]), 20, &mut |_| got += 1);
    assert_eq!(got, 0);
    assert_eq!(p.stats().not_up, 1);
    p.receive(&frame(0x0057, &[0x60, 1, 2, 3]), 20, &mut |_| {});
    let rej = sent(&mut p)
        .into_iter()
        .find(|(pr, i)| *pr == 0xC021 && i[0] == 8)
        .expect("Protocol-Reject");
    assert_eq!(&rej.1[4..], &[0x00, 0x57, 0x60, 1, 2, 3]);
}

#[test]
fn a_zero_magic_number_is_nakked_but_is_not_a_loop() {
    let mut p = started();
    sent(&mut p);
    for id in 0..8u8 {
        p.receive(
            &frame(0xC021, &[1, id, 0, 10, 5, 6, 0, 0, 0, 0]),
            10,
            &mut |_| {},
        );
        let reply = sent(&mut p)
            .into_iter()
            .find(|(_, i)| i[1] == id && i[0] != 1)
            .unwrap()
            .1;
        if id < 5 {
            assert_eq!(reply[0], 3, "Nak");
            assert_ne!(
                &reply[6..10],
                &[0, 0, 0, 0],
                "a non-zero number is suggested"
            );
        } else {
            assert_eq!(reply[0], 4, "Reject after Max-Failure");
        }
    }
    assert!(!p.status().looped);
    assert_eq!(p.status().lcp, State::ReqSent);
}
