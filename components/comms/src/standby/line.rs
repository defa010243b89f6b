//! [`StandbyLine`]: the PPP engine on one serial line, carrying SDLS units in UDP datagrams.
//!
//! - **Receive** ([`StandbyLine::step`]): feeds buffered line octets to the engine one at a time
//!   until a datagram for our endpoint comes out, reading at most one [`READ_CHUNK`] block per
//!   call, so a call is bounded and the caller can handle the unit (and send replies on the same
//!   line) before the next one. LCP/IPCP/echo are answered inside the engine as they arrive.
//! - **Send** ([`StandbyLine::send`]): wraps the unit ([`super::udp::wrap`]) and queues it in the
//!   engine; a queue that is full, a link whose IPCP is not Opened or a unit too long for the
//!   MRU refuses the unit whole (counted), never a partial frame.
//! - **Timers** ([`StandbyLine::poll`]): the Restart timers and echo liveness, then a flush.
//! - **Flush**: engine output goes to the line in pieces of at most [`WRITE_PIECE`] octets, each
//!   only after the line says it is ready, and what the line did not take stays queued (in
//!   order) for the next flush: a full line delays frames, it never cuts one.
//!
//! Avoids: blocking (only `read_ready`/`write_ready`-guarded I/O), the heap.

use super::udp::{self, UnwrapError, WrapError};
use super::{Endpoints, MAX_STANDBY_UNIT};
use hal::serial::{Serial, WriteReady};
use ppp::{Ppp, SendError};

/// Octets read from the line at a time.
pub const READ_CHUNK: usize = 512;
/// Octets written to the line per readiness check.
pub const WRITE_PIECE: usize = 64;

/// What one receive step produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A unit is in [`StandbyLine::unit`].
    Unit,
    /// No complete unit in what the line had now.
    Idle,
    /// The line failed (the other end went away); nothing more now.
    Failed,
}

/// A unit was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StandbyError {
    /// Too long for one datagram.
    #[error(transparent)]
    Wrap(#[from] WrapError),
    /// The PPP link refused it (not up, queue full, over the peer's MRU).
    #[error(transparent)]
    Ppp(#[from] SendError),
}

/// Counters above the engine's own ([`Ppp::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineStats {
    /// Units received.
    pub units_in: u32,
    /// Units queued for sending.
    pub units_out: u32,
    /// Units refused on send.
    pub units_refused: u32,
    /// IPv4 datagrams received that were not a unit for us.
    pub datagrams_dropped: u32,
    /// Line read or write errors.
    pub line_errors: u32,
}

/// The PPP engine, its line buffers and the last unit received.
pub struct StandbyLine {
    ppp: Ppp,
    ep: Endpoints,
    read: [u8; READ_CHUNK],
    pos: usize,
    len: usize,
    piece: [u8; WRITE_PIECE],
    piece_pos: usize,
    piece_len: usize,
    unit: [u8; MAX_STANDBY_UNIT],
    unit_len: usize,
    datagram: [u8; ppp::MAX_INFO],
    stats: LineStats,
}

impl core::fmt::Debug for StandbyLine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StandbyLine")
            .field("ep", &self.ep)
            .field("status", &self.ppp.status())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl StandbyLine {
    /// A line for `ep` with the engine settings `cfg`, opened and up at `now_ms`: a client's
    /// first Configure-Request is queued; a passive server waits for it.
    pub fn new(ep: Endpoints, cfg: ppp::Config, now_ms: u64) -> Result<Self, ppp::ConfigError> {
        let mut ppp = Ppp::new(cfg)?;
        ppp.open(now_ms);
        ppp.up(now_ms);
        Ok(StandbyLine {
            ppp,
            ep,
            read: [0; READ_CHUNK],
            pos: 0,
            len: 0,
            piece: [0; WRITE_PIECE],
            piece_pos: 0,
            piece_len: 0,
            unit: [0; MAX_STANDBY_UNIT],
            unit_len: 0,
            datagram: [0; ppp::MAX_INFO],
            stats: LineStats::default(),
        })
    }

    /// The engine (status, counters, why it last went down).
    pub fn ppp(&self) -> &Ppp {
        &self.ppp
    }

    /// Counters of this layer.
    pub fn stats(&self) -> LineStats {
        self.stats
    }

    /// The addresses units travel between: IPCP's negotiated ones once it is open (a client
    /// that accepts addresses takes the node's), else the configured ones.
    pub fn endpoints(&self) -> Endpoints {
        let s = self.ppp.status();
        if !s.network_up {
            return self.ep;
        }
        Endpoints {
            local_ip: s.local_ip,
            peer_ip: s.peer_ip.unwrap_or(self.ep.peer_ip),
            ..self.ep
        }
    }

    /// IPv4 may flow (IPCP Opened).
    pub fn is_up(&self) -> bool {
        self.ppp.status().network_up
    }

    /// The unit the last [`Self::step`] returned [`Step::Unit`] for.
    pub fn unit(&self) -> &[u8] {
        self.unit.get(..self.unit_len).unwrap_or(&[])
    }

    /// Feeds buffered octets (reading one more block, without blocking, when they run out) until
    /// one unit comes out; control traffic is answered on the way (queued, then flushed).
    pub fn step<S: Serial + WriteReady>(&mut self, serial: &mut S, now_ms: u64) -> Step {
        let mut read_once = false;
        let step = loop {
            if self.feed_buffered(now_ms) {
                break Step::Unit;
            }
            if read_once {
                break Step::Idle;
            }
            read_once = true;
            match serial.read_ready() {
                Ok(true) => {}
                Ok(false) => break Step::Idle,
                Err(_) => break self.line_failed(),
            }
            match serial.read(&mut self.read) {
                Ok(0) => break Step::Idle,
                Ok(n) => {
                    self.pos = 0;
                    self.len = n.min(READ_CHUNK);
                }
                Err(_) => break self.line_failed(),
            }
        };
        self.flush(serial);
        step
    }

    fn line_failed(&mut self) -> Step {
        self.stats.line_errors = self.stats.line_errors.wrapping_add(1);
        Step::Failed
    }

    /// Feeds octets until a unit is delivered or the buffer is used up.
    fn feed_buffered(&mut self, now_ms: u64) -> bool {
        while self.pos < self.len {
            let Some(&b) = self.read.get(self.pos) else {
                break;
            };
            self.pos += 1;
            let ep = self.endpoints();
            let (ep, unit, unit_len, stats) =
                (&ep, &mut self.unit, &mut self.unit_len, &mut self.stats);
            let mut got = false;
            self.ppp
                .receive(&[b], now_ms, &mut |d| match udp::unwrap(ep, d) {
                    Ok(u) if let Some(dst) = unit.get_mut(..u.len()) => {
                        dst.copy_from_slice(u);
                        *unit_len = u.len();
                        stats.units_in = stats.units_in.wrapping_add(1);
                        got = true;
                    }
                    Ok(_) | Err(UnwrapError::Ipv4 | UnwrapError::Udp | UnwrapError::NotOurs) => {
                        stats.datagrams_dropped = stats.datagrams_dropped.wrapping_add(1);
                    }
                });
            if got {
                return true;
            }
        }
        false
    }

    /// Queues `unit` for the peer and flushes what the line takes now.
    pub fn send<S: Serial + WriteReady>(
        &mut self,
        serial: &mut S,
        unit: &[u8],
    ) -> Result<(), StandbyError> {
        let r = udp::wrap(&self.endpoints(), unit, &mut self.datagram)
            .map_err(StandbyError::from)
            .and_then(|n| {
                let d = self.datagram.get(..n).unwrap_or(&[]);
                self.ppp.send_ip(d).map_err(StandbyError::from)
            });
        match r {
            Ok(()) => self.stats.units_out = self.stats.units_out.wrapping_add(1),
            Err(_) => self.stats.units_refused = self.stats.units_refused.wrapping_add(1),
        }
        self.flush(serial);
        r
    }

    /// Runs the engine's timers at `now_ms` and flushes.
    pub fn poll<S: Serial + WriteReady>(&mut self, serial: &mut S, now_ms: u64) {
        self.ppp.poll(now_ms);
        self.flush(serial);
    }

    /// Octets queued for the line (in the engine and in the piece being written).
    pub fn pending(&self) -> usize {
        self.ppp.pending_tx() + (self.piece_len - self.piece_pos)
    }

    /// Writes queued octets while the line is ready; the rest waits for the next flush.
    pub fn flush<S: Serial + WriteReady>(&mut self, serial: &mut S) {
        loop {
            if self.piece_pos == self.piece_len {
                self.piece_len = self.ppp.transmit(&mut self.piece);
                self.piece_pos = 0;
                if self.piece_len == 0 {
                    return;
                }
            }
            match serial.write_ready() {
                Ok(true) => {}
                Ok(false) => return,
                Err(_) => {
                    self.line_failed();
                    return;
                }
            }
            let rest = self
                .piece
                .get(self.piece_pos..self.piece_len)
                .unwrap_or(&[]);
            match serial.write(rest) {
                Ok(0) => return,
                Ok(k) => self.piece_pos = (self.piece_pos + k).min(self.piece_len),
                Err(_) => {
                    self.line_failed();
                    return;
                }
            }
        }
    }
}
