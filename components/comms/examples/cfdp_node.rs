//! The node-side CFDP entity on a UDP socket, writing each received file to a directory.
//!
//!     cargo run -p comms --features std --example cfdp_node -- \
//!         --bind 127.0.0.1:5111 --out DIR [--flash FILE] [--local-id 1] [--once]
//!
//! Every datagram is one CCSDS space packet with APID 0x0CF carrying one CFDP PDU; replies go to
//! the address the last PDU came from. The transfer state lives on a sim NOR flash image
//! (`--flash`, default DIR/comms-flash.img, 2 MiB), so a killed and restarted node resumes an
//! interrupted transfer. This example carries raw PDUs: in the node, the comms partition wraps
//! them in SDLS like all other traffic. With `--once` it exits after the first file (after a
//! short linger so the sender's ACK of the Finished can arrive). Used by scripts/interop_cfdp.py.

use board_sim::flash::SimFlash;
use comms::cfdp::packet::{self, MAX_PDU};
use comms::cfdp::{CfdpLayout, Receiver, ReceiverConfig};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const FLASH_BYTES: usize = 2 * 1024 * 1024;

struct Args {
    bind: SocketAddr,
    out: PathBuf,
    flash: Option<PathBuf>,
    local_id: u64,
    once: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut bind = None;
    let mut out = None;
    let mut flash = None;
    let mut local_id = 1;
    let mut once = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--bind" => bind = Some(val()?.parse().map_err(|e| format!("--bind: {e}"))?),
            "--out" => out = Some(PathBuf::from(val()?)),
            "--flash" => flash = Some(PathBuf::from(val()?)),
            "--local-id" => local_id = val()?.parse().map_err(|e| format!("--local-id: {e}"))?,
            "--once" => once = true,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    Ok(Args {
        bind: bind.ok_or("--bind ADDR is required")?,
        out: out.ok_or("--out DIR is required")?,
        flash,
        local_id,
        once,
    })
}

/// A received name as a plain file name: the last path component, printable ASCII only.
fn safe_name(raw: &[u8], seq: u64) -> String {
    let s = String::from_utf8_lossy(raw);
    let base = s.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    if clean.is_empty() || clean.starts_with('.') {
        format!("file-{seq}")
    } else {
        clean
    }
}

fn run(args: Args) -> Result<(), String> {
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let flash_path = args
        .flash
        .clone()
        .unwrap_or_else(|| args.out.join("comms-flash.img"));
    let mut flash: SimFlash = SimFlash::open_or_create(&flash_path, FLASH_BYTES)
        .map_err(|e| format!("{}: {e}", flash_path.display()))?;
    let cfg = ReceiverConfig {
        local_id: args.local_id,
        ..ReceiverConfig::default()
    };
    let layout = CfdpLayout::comms(FLASH_BYTES as u32);
    let mut rx = Receiver::open(&mut flash, cfg, layout).map_err(|e| format!("open: {e}"))?;
    if let Some(p) = rx.progress() {
        eprintln!(
            "cfdp_node: journal holds a transfer ({} of {} bytes, {:?})",
            p.received, p.size, p.phase
        );
    }
    let sock = UdpSocket::bind(args.bind).map_err(|e| format!("bind {}: {e}", args.bind))?;
    sock.set_read_timeout(Some(Duration::from_millis(5)))
        .map_err(|e| e.to_string())?;
    eprintln!("cfdp_node: listening on {}", args.bind);
    let start = Instant::now();
    let mut peer: Option<SocketAddr> = None;
    let mut inbuf = [0u8; 4096];
    let mut out = [0u8; MAX_PDU + 16];
    let mut seq = 0u16;
    let mut done_at: Option<Instant> = None;
    loop {
        if let Ok((n, from)) = sock.recv_from(&mut inbuf) {
            match packet::unwrap(&inbuf[..n]) {
                Ok(pdu) => {
                    peer = Some(from);
                    if let Err(e) = rx.on_pdu(&mut flash, pdu, start.elapsed()) {
                        eprintln!("cfdp_node: PDU refused: {e}");
                    }
                }
                Err(e) => eprintln!("cfdp_node: datagram refused: {e}"),
            }
        }
        if let Some(to) = peer {
            let mut send_err = None;
            rx.poll(&mut flash, start.elapsed(), |pdu| {
                if let Ok(n) = packet::wrap(pdu, seq, false, &mut out) {
                    seq = seq.wrapping_add(1);
                    if let Err(e) = sock.send_to(&out[..n], to) {
                        send_err = Some(e);
                    }
                }
            })
            .map_err(|e| format!("poll: {e}"))?;
            if let Some(e) = send_err {
                eprintln!("cfdp_node: send: {e}");
            }
        }
        if let Some(f) = rx.take_received(&mut flash).map_err(|e| e.to_string())? {
            let mut bytes = vec![0u8; f.size as usize];
            rx.read_received(&mut flash, 0, &mut bytes)
                .map_err(|e| e.to_string())?;
            let path = args.out.join(safe_name(f.name(), f.seq));
            std::fs::write(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            println!(
                "received {} ({} bytes) from entity {} transaction {}",
                path.display(),
                f.size,
                f.source_id,
                f.seq
            );
            if args.once {
                done_at = Some(Instant::now());
            }
        }
        if done_at.is_some_and(|t| t.elapsed() > Duration::from_secs(2)) {
            return Ok(());
        }
    }
}

fn main() {
    match parse_args().and_then(run) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("cfdp_node: {e}");
            std::process::exit(1);
        }
    }
}
