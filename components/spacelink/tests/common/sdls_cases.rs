//! The SDLS cases of `tests/vectors/sdls-peer.txt` (written by `scripts/interop-sdls.py gen`),
//! read and applied the crate's way. Shared by the `sdls_peer` test (the crate processes the
//! peer's frames and must build the same bytes) and the `sdls_apply` example (the crate's
//! frames, which the peer then processes).

use std::collections::HashMap;

use spacelink::fecf;
use spacelink::sdls::{self, SaConfig, SdlsError, SecurityAssociation, Suite};
use spacelink::tc::{FrameType, SegmentHeader, SeqFlags, TcHeader, TcLayout};
use spacelink::tm::{TmFramer, TmLayout};

pub const TC_LAYOUT: TcLayout = TcLayout {
    segment_header: true,
    fecf: true,
};
pub const TM_FRAME_LEN: usize = 64;
pub const OCF: [u8; 4] = [0x01, 0x0C, 0x00, 0x05];
const SEGMENT: SegmentHeader = SegmentHeader {
    flags: SeqFlags::Unsegmented,
    map_id: 9,
};

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One frame of the peer's script.
pub struct Case {
    pub tm: bool,
    pub sa: String,
    pub seq: u64,
    pub change: String,
    /// The sender's association (the receiver's, with the case's key, SPI, channel, IV).
    pub send: SaConfig,
    pub ns: u8,
    pub tamper: Option<(usize, u8)>,
    pub data: Vec<u8>,
    pub frame: Vec<u8>,
    pub verdict: String,
}

pub struct Cases {
    pub sas: Vec<(String, SaConfig)>,
    pub cases: Vec<Case>,
}

fn arr<const N: usize>(s: &str) -> [u8; N] {
    hex(s).try_into().expect("field length")
}

pub fn read(text: &str) -> Cases {
    let mut sas: Vec<(String, SaConfig)> = Vec::new();
    let mut cases = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f[0] == "sa" {
            let suite = match f[2] {
                "gcm" => Suite::Aes256Gcm,
                "hmac" => Suite::HmacSha256,
                other => panic!("suite {other}"),
            };
            let config = SaConfig {
                spi: f[3].parse().unwrap(),
                suite,
                key: arr(f[6]),
                scid: f[4].parse().unwrap(),
                vcid: f[5].parse().unwrap(),
                iv_fixed: arr(f[7]),
                window: f[8].parse().unwrap(),
                tc_mask: arr(f[9]),
                tm_mask: arr(f[10]),
            };
            sas.push((f[1].to_string(), config));
            continue;
        }
        let base = sas.iter().find(|(n, _)| n == f[2]).expect("sa").1.clone();
        let send = SaConfig {
            key: arr(f[5]),
            spi: f[6].parse().unwrap(),
            vcid: f[7].parse().unwrap(),
            iv_fixed: arr(f[8]),
            ..base
        };
        let tamper = (f[10] != "-").then(|| {
            let (at, x) = f[10].split_once(':').unwrap();
            (at.parse().unwrap(), u8::from_str_radix(x, 16).unwrap())
        });
        cases.push(Case {
            tm: f[1] == "tm",
            sa: f[2].to_string(),
            seq: f[3].parse().unwrap(),
            change: f[4].to_string(),
            send,
            ns: if f[1] == "tc" {
                f[9].parse().unwrap()
            } else {
                0
            },
            tamper,
            data: hex(f[11]),
            frame: hex(f[12]),
            verdict: f[13].to_string(),
        });
    }
    Cases { sas, cases }
}

pub fn tm_layout(scid: u16) -> TmLayout {
    TmLayout {
        scid,
        frame_len: TM_FRAME_LEN,
        ocf: true,
        fecf: true,
    }
}

/// Applies one case the crate's way: a sender association raised to the case's sequence
/// number (`None` for number 0, which the crate never sends), the association's TM framer
/// (`framers`, one per association, as the peer counts), then the case's tampering.
pub fn apply(case: &Case, framers: &mut HashMap<String, TmFramer>) -> Option<Vec<u8>> {
    let mut sa = SecurityAssociation::new(case.send.clone()).expect("association");
    sa.raise_next_seq(case.seq);
    if sa.next_seq() != Some(case.seq) {
        return None;
    }
    let mut out = if case.tm {
        let framer = framers
            .entry(case.sa.clone())
            .or_insert_with(|| TmFramer::new(tm_layout(case.send.scid)).unwrap());
        let mut out = vec![0u8; TM_FRAME_LEN];
        sdls::apply_tm(
            &mut sa,
            framer,
            case.send.vcid,
            &case.data,
            0,
            Some(OCF),
            &mut out,
        )
        .expect("apply_tm");
        out
    } else {
        let header = TcHeader {
            frame_type: FrameType::Ad,
            scid: case.send.scid,
            vcid: case.send.vcid,
            seq: case.ns,
        };
        let mut out = vec![0u8; 1024];
        let len = sdls::apply_tc(
            &mut sa,
            &header,
            TC_LAYOUT,
            Some(SEGMENT),
            &case.data,
            &mut out,
        )
        .expect("apply_tc");
        out.truncate(len);
        out
    };
    if let Some((at, x)) = case.tamper {
        out[at] ^= x;
        let end = out.len() - 2;
        let crc = fecf::compute(&out[..end]);
        out[end..].copy_from_slice(&crc.to_be_bytes());
    }
    Some(out)
}

/// The peer's word for a refusal.
pub fn verdict_of(e: &SdlsError) -> &'static str {
    match e {
        SdlsError::BadMac(_) => "badmac",
        SdlsError::Replay { .. } => "replay",
        SdlsError::OutsideWindow { .. } => "outside",
        SdlsError::UnknownSpi(_) => "unknown",
        SdlsError::WrongChannel { .. } => "channel",
        SdlsError::IvField(_) => "ivfield",
        SdlsError::Tc(spacelink::tc::TcError::Crc) | SdlsError::Tm(spacelink::tm::TmError::Crc) => {
            "crc"
        }
        _ => "other",
    }
}
