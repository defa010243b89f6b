//! FOP-1 driven over stdin/stdout, for `scripts/interop-fop.py`, which runs the PyPI package
//! `ccsds-cop`'s FARM-1 on the other end of a lossy channel. One command per line, one reply
//! line each:
//!
//! - `setvr V`: Initiate AD service with Set V(R) = V → `ok` or `err REASON`
//! - `offer HEX`: Transfer AD request → `ok`, or `rejected REASON` (wait queue full, AD
//!   service not running yet: offer again later)
//! - `pull`: the next frame for the lower layer → `ad NS HEX`, `bd HEX`, `bc unlock`,
//!   `bc setvr V` or `none`
//! - `clcw HEX`: a CLCW (4 bytes) arrived → `ok ACKED`
//! - `tick`: one time step; the timer expires `T1` ticks after its last restart → `ok`
//! - `status` → `state S vs V nnr N out O alert A`
//!
//!     cargo run -p spacelink --example fop_peer -- WINDOW LIMIT T1

use std::io::{BufRead, Write};

use spacelink::clcw::Clcw;
use spacelink::fop::{Directive, Fop, Output, TimeoutType};

const VC: u8 = 0;

fn hex(s: &str) -> Option<Vec<u8>> {
    s.len()
        .is_multiple_of(2)
        .then(|| {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
                .collect()
        })
        .flatten()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap_or(0))
        .collect();
    let [window, limit, t1] = args[..] else {
        eprintln!("usage: fop_peer WINDOW LIMIT T1");
        std::process::exit(2);
    };
    let (Ok(window), Ok(limit)) = (u8::try_from(window), u8::try_from(limit)) else {
        eprintln!("fop_peer: WINDOW and LIMIT must be 1..=255");
        std::process::exit(2);
    };
    let mut fop = match Fop::<64, 256>::new(VC, window, limit, TimeoutType::Alert) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fop_peer: {e}");
            std::process::exit(2);
        }
    };
    let mut now = 0u64;
    let mut deadline: Option<(u32, u64)> = None;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let mut words = line.split_whitespace();
        let reply = match (words.next(), words.next()) {
            (Some("setvr"), Some(v)) => match v.parse().map(|v| fop.initiate_with_set_vr(v)) {
                Ok(Ok(())) => "ok".to_string(),
                Ok(Err(e)) => format!("err {e}"),
                Err(_) => "err V(R) must be 0..=255".to_string(),
            },
            (Some("offer"), Some(h)) => match hex(h).map(|d| fop.transfer_ad(&d)) {
                Some(Ok(())) => "ok".to_string(),
                Some(Err(e)) => format!("rejected {e}"),
                None => "err not hex".to_string(),
            },
            (Some("pull"), None) => match fop.next_output() {
                Some(Output::Ad { ns, data }) => format!("ad {ns} {}", to_hex(data)),
                Some(Output::Bd(data)) => format!("bd {}", to_hex(data)),
                Some(Output::Bc(Directive::Unlock)) => "bc unlock".to_string(),
                Some(Output::Bc(Directive::SetVr(v))) => format!("bc setvr {v}"),
                None => "none".to_string(),
            },
            (Some("clcw"), Some(h)) => match hex(h)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(Clcw::from_bytes)
            {
                Some(Ok(c)) => match fop.clcw(&c) {
                    Ok(acked) => format!("ok {acked}"),
                    Err(e) => format!("err {e}"),
                },
                Some(Err(e)) => format!("err {e}"),
                None => "err a CLCW is 4 bytes of hex".to_string(),
            },
            (Some("tick"), None) => {
                now += 1;
                if let Some(epoch) = fop.timer()
                    && deadline.is_none_or(|(e, _)| e != epoch)
                {
                    deadline = Some((epoch, now + t1));
                }
                if let Some((epoch, at)) = deadline
                    && at <= now
                {
                    fop.timer_expired(epoch);
                    deadline = None;
                }
                "ok".to_string()
            }
            (Some("status"), None) => format!(
                "state {} vs {} nnr {} out {} alert {:?}",
                fop.state().number(),
                fop.vs(),
                fop.nnr(),
                fop.outstanding(),
                fop.alert()
            ),
            _ => format!("err unknown command {line:?}"),
        };
        if writeln!(out, "{reply}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
}
