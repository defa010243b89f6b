//! The line side every UART model shares: a transmit FIFO that drains onto the line, and the
//! peer's bytes arriving, both at the line rate in virtual time. Each model keeps its own receive
//! FIFO and status bits, which differ (per-byte error bits, latching, clear-on-read).
//! Avoids: registers, and any rule of one UART.

use crate::time::Ticker;
use std::collections::VecDeque;

/// A UART's transmit FIFO and its line to the peer (the test).
#[derive(Debug, Default)]
pub(crate) struct Wire {
    /// The transmit FIFO (its depth is the model's).
    pub tx: VecDeque<u8>,
    line_out: Vec<u8>,
    line_in: VecDeque<u8>,
    clock: Ticker,
}

impl Wire {
    /// An idle line from `now_ns`.
    pub fn new(now_ns: u64) -> Self {
        Wire {
            clock: Ticker::new(now_ns),
            ..Wire::default()
        }
    }

    /// Moves the bytes of the time since the last call at `rate` bytes a second: as many leave
    /// the transmit FIFO (when `transmit`) and as many arrive from the peer, each handed to
    /// `receive` (which drops or stores it as its UART does). While `running` is false the time
    /// passes and nothing moves.
    pub fn step(
        &mut self,
        now_ns: u64,
        running: bool,
        rate: u64,
        transmit: bool,
        receive: impl FnMut(u8),
    ) {
        let n = usize::try_from(self.clock.ticks(now_ns, running, rate, 1)).unwrap_or(usize::MAX);
        if transmit {
            let sent = n.min(self.tx.len());
            self.line_out.extend(self.tx.drain(..sent));
        }
        let arrived = n.min(self.line_in.len());
        self.line_in.drain(..arrived).for_each(receive);
    }

    /// The peer sends `bytes`.
    pub fn peer_send(&mut self, bytes: &[u8]) {
        self.line_in.extend(bytes);
    }

    /// What the UART has put on the line so far (taken).
    pub fn take_sent(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.line_out)
    }
}
