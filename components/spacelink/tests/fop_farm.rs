//! FOP-1 (ground) against this crate's FARM-1 (node) over a lossy, reordering, duplicating
//! channel in both directions, with every TC frame secured by SDLS on the way: all data must
//! arrive exactly once and in order, whatever the channel does. Each (re)transmission is
//! secured afresh; the last test shows why a stored secured frame cannot be retransmitted.

use std::collections::VecDeque;

use spacelink::clcw::Clcw;
use spacelink::farm::{Farm, FarmAction};
use spacelink::fop::{Directive, Fop, FopState, Output, TimeoutType};
use spacelink::sdls::{
    self, DEFAULT_TC_MASK, DEFAULT_TM_MASK, SaConfig, SdlsError, SecurityAssociation, Suite,
};
use spacelink::tc::{FrameType, SegmentHeader, SeqFlags, TcHeader, TcLayout};

const SCID: u16 = 0x1F0;
const VC: u8 = 1;
const LAYOUT: TcLayout = TcLayout {
    segment_header: true,
    fecf: true,
};
const SEG: SegmentHeader = SegmentHeader {
    flags: SeqFlags::Unsegmented,
    map_id: 0,
};
/// Ticks the ground waits for an acknowledgement before retransmitting.
const T1: u64 = 6;

fn sa(suite: Suite, window: u64) -> SecurityAssociation {
    SecurityAssociation::new(SaConfig {
        spi: 5,
        suite,
        key: [9; 32],
        scid: SCID,
        vcid: VC,
        iv_fixed: [1, 2, 3, 4],
        window,
        tc_mask: DEFAULT_TC_MASK,
        tm_mask: DEFAULT_TM_MASK,
    })
    .unwrap()
}

/// xorshift64*: a fixed-seed generator for the channel's whims.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A one-way channel that loses, duplicates and (if `reorder`) swaps neighbours.
struct Channel<T> {
    queue: VecDeque<T>,
    loss: u64,
    reorder: bool,
}
impl<T: Clone> Channel<T> {
    fn send(&mut self, item: T, rng: &mut Rng) {
        if rng.chance(self.loss) {
            return;
        }
        if self.loss > 0 && rng.chance(5) {
            self.queue.push_back(item.clone());
        }
        self.queue.push_back(item);
        let n = self.queue.len();
        if self.reorder && n >= 2 && rng.chance(15) {
            self.queue.swap(n - 1, n - 2);
        }
    }
}

fn secure(tx: &mut SecurityAssociation, output: Output<'_>) -> Vec<u8> {
    let (frame_type, seq, data, segment): (_, _, Vec<u8>, _) = match output {
        Output::Ad { ns, data } => (FrameType::Ad, ns, data.to_vec(), Some(SEG)),
        Output::Bd(data) => (FrameType::Bd, 0, data.to_vec(), Some(SEG)),
        Output::Bc(Directive::Unlock) => (FrameType::Bc, 0, vec![0], None),
        Output::Bc(Directive::SetVr(vr)) => (FrameType::Bc, 0, vec![0x82, 0, vr], None),
    };
    let header = TcHeader {
        frame_type,
        scid: SCID,
        vcid: VC,
        seq,
    };
    let mut out = vec![0u8; 1024];
    let len = sdls::apply_tc(tx, &header, LAYOUT, segment, &data, &mut out).unwrap();
    out.truncate(len);
    out
}

struct Outcome {
    delivered: Vec<Vec<u8>>,
    ticks: u64,
    refused_by_sdls: usize,
    retransmissions: u64,
}

fn run(seed: u64, loss: u64, items: usize, suite: Suite) -> Outcome {
    let mut rng = Rng(seed | 1);
    let mut fop = Fop::<8, 32>::new(VC, 6, 30, TimeoutType::Alert).unwrap();
    let mut farm = Farm::new(VC, 16).unwrap();
    let (mut tx, mut rx) = (sa(suite, 64), [sa(suite, 64)]);
    let mut up = Channel {
        queue: VecDeque::new(),
        loss,
        reorder: loss > 0,
    };
    // CLCWs come down in TM frames, which a physical channel loses but does not reorder (a
    // stale N(R) below NN(R) is E13, an alert, by the standard).
    let mut down = Channel {
        queue: VecDeque::new(),
        loss,
        reorder: false,
    };
    let data: Vec<Vec<u8>> = (0..items)
        .map(|i| format!("telecommand {i}").into_bytes())
        .collect();
    let mut next_item = 0;
    let mut deadline: Option<(u32, u64)> = None;
    let mut out = Outcome {
        delivered: Vec::new(),
        ticks: 0,
        refused_by_sdls: 0,
        retransmissions: 0,
    };
    let mut highest_sent: Option<u8> = None;
    // The node's V(R) starts at 0; the ground sets it with the Set V(R) directive.
    fop.initiate_with_set_vr(0).unwrap();
    for tick in 0..20_000u64 {
        out.ticks = tick;
        if out.delivered.len() == items && fop.outstanding() == 0 {
            break;
        }
        assert_ne!(
            fop.state(),
            FopState::Initial,
            "seed {seed}: FOP-1 gave up: {:?}",
            fop.alert()
        );
        if next_item < items && fop.transfer_ad(&data[next_item]).is_ok() {
            next_item += 1;
        }
        // The radio takes one frame per tick, as the node handles one.
        if let Some(output) = fop.next_output() {
            if let Output::Ad { ns, .. } = output {
                if highest_sent.is_some_and(|h| ns.wrapping_sub(h) > 128 || ns == h) {
                    out.retransmissions += 1;
                } else {
                    highest_sent = Some(ns);
                }
            }
            let frame = secure(&mut tx, output);
            up.send(frame, &mut rng);
        }
        if let Some(epoch) = fop.timer() {
            match deadline {
                Some((e, _)) if e == epoch => {}
                _ => deadline = Some((epoch, tick + T1)),
            }
        }
        if let Some((epoch, at)) = deadline
            && at <= tick
        {
            fop.timer_expired(epoch);
            deadline = None;
        }
        // The node: one frame per tick; on a bad channel its buffer is sometimes full (FARM's
        // Wait).
        if let Some(mut frame) = up.queue.pop_front() {
            match sdls::process_tc(&mut rx, &mut frame, LAYOUT) {
                Ok((secured, _)) => {
                    let buffer = loss == 0 || !rng.chance(10);
                    if farm.frame(&secured.frame, buffer) == FarmAction::AcceptData
                        && secured.frame.header.frame_type == FrameType::Ad
                    {
                        out.delivered.push(secured.frame.data.to_vec());
                    }
                }
                Err(SdlsError::Replay { .. }) => out.refused_by_sdls += 1,
                Err(e) => panic!("seed {seed}: unexpected refusal {e}"),
            }
        }
        if rng.chance(50) {
            farm.buffer_release();
        }
        down.send(farm.clcw().to_bytes(), &mut rng);
        if let Some(word) = down.queue.pop_front() {
            fop.clcw(&Clcw::from_bytes(word).unwrap()).unwrap();
        }
    }
    out
}

#[test]
fn every_telecommand_arrives_once_in_order_over_a_bad_channel() {
    for suite in [Suite::Aes256Gcm, Suite::HmacSha256] {
        let mut total = (0, 0, 0);
        for seed in 1..=20u64 {
            let out = run(seed * 7919, 20, 60, suite);
            let want: Vec<Vec<u8>> = (0..60)
                .map(|i| format!("telecommand {i}").into_bytes())
                .collect();
            assert_eq!(out.delivered, want, "seed {seed} {suite:?}");
            total.0 += out.ticks;
            total.1 += out.refused_by_sdls;
            total.2 += out.retransmissions;
        }
        // The channel did its worst: frames were retransmitted and replays refused.
        assert!(total.1 > 0 && total.2 > 0, "{total:?}");
        println!(
            "{suite:?}: 20 runs of 60 telecommands at 20 % loss: {} ticks, {} retransmissions, {} replays refused",
            total.0, total.2, total.1
        );
    }
}

#[test]
fn a_clean_channel_needs_no_retransmission() {
    let out = run(42, 0, 100, Suite::Aes256Gcm);
    assert_eq!(out.delivered.len(), 100);
    assert_eq!(out.retransmissions, 0);
}

/// Why the FOP hands out data and the caller secures every transmission: a stored secured
/// frame retransmitted after a later one was accepted is a replay to SDLS.
#[test]
fn a_retransmission_under_its_old_sequence_number_is_refused() {
    let (mut tx, mut rx) = (sa(Suite::HmacSha256, 64), [sa(Suite::HmacSha256, 64)]);
    let first = secure(&mut tx, Output::Ad { ns: 0, data: b"a" });
    let mut second = secure(&mut tx, Output::Ad { ns: 1, data: b"b" });
    // The first is lost; the second is accepted by SDLS (then FARM would discard it: a gap).
    assert!(sdls::process_tc(&mut rx, &mut second, LAYOUT).is_ok());
    let mut again = first.clone();
    assert!(matches!(
        sdls::process_tc(&mut rx, &mut again, LAYOUT),
        Err(SdlsError::Replay {
            seq: 1,
            last: 2,
            ..
        })
    ));
    let mut fresh = secure(&mut tx, Output::Ad { ns: 0, data: b"a" });
    assert!(sdls::process_tc(&mut rx, &mut fresh, LAYOUT).is_ok());
}
