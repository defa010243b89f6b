//! Ground side (std): blocking CFDP over UDP with progress callbacks, for the ground CLI and the
//! benchmark.
//!
//! [`upload`] runs a [`Sender`] against a node over a UDP socket (PDUs in space packets with
//! [`CFDP_APID`]) until the node's Finished, calling back with [`TxProgress`] (bytes acknowledged
//! / total) for a progress bar. [`download`] runs a [`Receiver`] on a [`RamFlash`] until a file
//! arrives (the node's results). Avoids: threads and async runtimes; one socket, one loop.

use super::error::CfdpError;
use super::layout::CfdpLayout;
use super::packet::{self, CFDP_APID, MAX_PDU};
use super::receiver::{Receiver, ReceiverConfig};
use super::sender::{SendState, Sender, SenderConfig, TxProgress};
use hal::flash::{
    ErasedValue, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use spacepackets::cfdp::ConditionCode;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Why a ground transfer did not complete.
#[derive(Debug, thiserror::Error)]
pub enum GroundError {
    /// The socket failed.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    /// The CFDP entity refused to start (bad configuration or file).
    #[error("CFDP: {0}")]
    Cfdp(#[from] CfdpError),
    /// The node reported a failure, or never acknowledged the EOF.
    #[error("the node ended the transfer with condition {0:?}")]
    Failed(ConditionCode),
    /// Nothing completed before the deadline.
    #[error("no answer from the node within {0:?}")]
    Timeout(Duration),
}

/// One file to send.
#[derive(Debug, Clone, Copy)]
pub struct UploadJob<'a> {
    /// The node's (or the link relay's) address.
    pub node: SocketAddr,
    /// Sender settings (entity IDs, segment size, pacing, timers).
    pub cfg: SenderConfig,
    /// Transaction sequence number (unique per transfer from this ground entity).
    pub seq: u32,
    /// Destination file name.
    pub name: &'a str,
    /// The file.
    pub data: &'a [u8],
    /// Give up after this long.
    pub timeout: Duration,
}

/// Send a file to the node; returns the final progress. `progress` is called after every
/// exchange that changed the acknowledged byte count.
pub fn upload(
    socket: &UdpSocket,
    job: &UploadJob<'_>,
    mut progress: impl FnMut(TxProgress),
) -> Result<TxProgress, GroundError> {
    let UploadJob {
        node,
        cfg,
        seq,
        name,
        data,
        timeout,
    } = *job;
    let mut sender = Sender::new(cfg, seq, name.as_bytes(), data)?;
    let start = Instant::now();
    let mut pkt_seq = 0u16;
    let mut out = [0u8; MAX_PDU + 16];
    let mut inbuf = [0u8; 4096];
    let mut last_acked = u64::MAX;
    let mut io_err = None;
    socket.set_read_timeout(Some(Duration::from_micros(500)))?;
    loop {
        let now = start.elapsed();
        sender.poll(now, data, |pdu| {
            if let Ok(n) = packet::wrap(pdu, pkt_seq, true, &mut out) {
                pkt_seq = pkt_seq.wrapping_add(1);
                if let Err(e) = socket.send_to(out.get(..n).unwrap_or(&[]), node) {
                    // A full socket buffer is a lost frame; CFDP recovers it.
                    if e.kind() != ErrorKind::WouldBlock {
                        io_err = Some(e);
                    }
                }
            }
        })?;
        if let Some(e) = io_err.take() {
            return Err(e.into());
        }
        match socket.recv_from(&mut inbuf) {
            Ok((n, from)) if from == node => {
                if let Ok(pdu) = packet::unwrap(inbuf.get(..n).unwrap_or(&[])) {
                    let _ = sender.on_pdu(pdu, start.elapsed());
                }
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.into()),
        }
        let p = sender.progress();
        if p.acknowledged != last_acked {
            last_acked = p.acknowledged;
            progress(p);
        }
        match sender.state() {
            SendState::Delivered => {
                // Make sure the ACK of the Finished leaves.
                sender.poll(start.elapsed(), data, |pdu| {
                    if let Ok(n) = packet::wrap(pdu, pkt_seq, true, &mut out) {
                        let _ = socket.send_to(out.get(..n).unwrap_or(&[]), node);
                    }
                })?;
                return Ok(sender.progress());
            }
            SendState::Failed(c) => return Err(GroundError::Failed(c)),
            SendState::Active if start.elapsed() > timeout => {
                return Err(GroundError::Timeout(timeout));
            }
            SendState::Active => {}
        }
    }
}

/// Receive one file from the node over `socket`; returns its name and bytes.
pub fn download(
    socket: &UdpSocket,
    node: SocketAddr,
    cfg: ReceiverConfig,
    max_size: usize,
    timeout: Duration,
) -> Result<(Vec<u8>, Vec<u8>), GroundError> {
    let layout = CfdpLayout::comms(0);
    let capacity = (layout.data_base as usize + max_size).div_ceil(RamFlash::ERASE_SIZE)
        * RamFlash::ERASE_SIZE;
    let mut flash = RamFlash::new(capacity);
    let layout = CfdpLayout::comms(capacity as u32);
    let mut rx = Receiver::open(&mut flash, cfg, layout)?;
    let start = Instant::now();
    let mut pkt_seq = 0u16;
    let mut out = [0u8; MAX_PDU + 16];
    let mut inbuf = [0u8; 4096];
    socket.set_read_timeout(Some(Duration::from_millis(1)))?;
    loop {
        match socket.recv_from(&mut inbuf) {
            Ok((n, from)) if from == node => {
                if let Ok(pdu) = packet::unwrap(inbuf.get(..n).unwrap_or(&[])) {
                    let _ = rx.on_pdu(&mut flash, pdu, start.elapsed());
                }
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.into()),
        }
        rx.poll(&mut flash, start.elapsed(), |pdu| {
            if let Ok(n) = packet::wrap(pdu, pkt_seq, false, &mut out) {
                pkt_seq = pkt_seq.wrapping_add(1);
                let _ = socket.send_to(out.get(..n).unwrap_or(&[]), node);
            }
        })?;
        if let Some(f) = rx.take_received(&mut flash)? {
            let mut bytes = vec![0u8; usize::try_from(f.size).map_err(|_| CfdpError::BadRequest)?];
            rx.read_received(&mut flash, 0, &mut bytes)?;
            // Answer the Finished's ACK window briefly so the node hears our Finished again if
            // the first was lost.
            let linger = Instant::now();
            while linger.elapsed() < Duration::from_millis(200) {
                if let Ok((n, from)) = socket.recv_from(&mut inbuf)
                    && from == node
                    && let Ok(pdu) = packet::unwrap(inbuf.get(..n).unwrap_or(&[]))
                {
                    let _ = rx.on_pdu(&mut flash, pdu, start.elapsed());
                }
                rx.poll(&mut flash, start.elapsed(), |pdu| {
                    if let Ok(n) = packet::wrap(pdu, pkt_seq, false, &mut out) {
                        pkt_seq = pkt_seq.wrapping_add(1);
                        let _ = socket.send_to(out.get(..n).unwrap_or(&[]), node);
                    }
                })?;
            }
            return Ok((f.name().to_vec(), bytes));
        }
        if start.elapsed() > timeout {
            return Err(GroundError::Timeout(timeout));
        }
    }
}

/// The APID the ground sends CFDP on (re-exported for the CLI).
pub const APID: u16 = CFDP_APID;

/// A NOR flash in RAM with the same rules as the sim flash (erase to 0xFF, writes only clear
/// bits), for a ground-side [`Receiver`].
pub struct RamFlash {
    mem: Vec<u8>,
}

impl RamFlash {
    /// An erased flash of `capacity` bytes (rounded up to whole sectors).
    pub fn new(capacity: usize) -> Self {
        RamFlash {
            mem: vec![0xFF; capacity.div_ceil(Self::ERASE_SIZE) * Self::ERASE_SIZE],
        }
    }
}

/// A [`RamFlash`] operation outside the device or breaking NOR rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RamFlashError {
    /// Out of bounds.
    OutOfBounds,
    /// Misaligned.
    NotAligned,
    /// A write that would set a bit.
    WriteToUnerased,
}

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            RamFlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            RamFlashError::NotAligned => NorFlashErrorKind::NotAligned,
            RamFlashError::WriteToUnerased => NorFlashErrorKind::Other,
        }
    }
}

impl ErrorType for RamFlash {
    type Error = RamFlashError;
}

impl ReadNorFlash for RamFlash {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), RamFlashError> {
        let s = offset as usize;
        let src = self
            .mem
            .get(s..s + bytes.len())
            .ok_or(RamFlashError::OutOfBounds)?;
        bytes.copy_from_slice(src);
        Ok(())
    }
    fn capacity(&self) -> usize {
        self.mem.len()
    }
}

/// Erases to `0xFF`, as the NOR flash it stands in for.
impl ErasedValue for RamFlash {
    const ERASED: u8 = 0xFF;
}

impl NorFlash for RamFlash {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = 4096;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), RamFlashError> {
        let (f, t) = (from as usize, to as usize);
        if !f.is_multiple_of(Self::ERASE_SIZE) || !t.is_multiple_of(Self::ERASE_SIZE) || f > t {
            return Err(RamFlashError::NotAligned);
        }
        self.mem
            .get_mut(f..t)
            .ok_or(RamFlashError::OutOfBounds)?
            .fill(0xFF);
        Ok(())
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), RamFlashError> {
        let s = offset as usize;
        if !s.is_multiple_of(Self::WRITE_SIZE) || !bytes.len().is_multiple_of(Self::WRITE_SIZE) {
            return Err(RamFlashError::NotAligned);
        }
        let dst = self
            .mem
            .get_mut(s..s + bytes.len())
            .ok_or(RamFlashError::OutOfBounds)?;
        if dst.iter().zip(bytes).any(|(d, b)| b & !d != 0) {
            return Err(RamFlashError::WriteToUnerased);
        }
        dst.copy_from_slice(bytes);
        Ok(())
    }
}
