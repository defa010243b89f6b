//! The two ground links as the node sees them: the primary datagram radio (one secured unit per
//! frame) and the standby serial line (one secured unit per UDP datagram over IPv4 over PPP,
//! [`comms::standby`]).
//!
//! [`Links`] is the node's [`Downlink`]: it never blocks. A radio whose transmit queue is full,
//! a frame over the radio MTU, or a PPP link that is not up, over its MRU or with its transmit
//! queue full drops the unit and counts it ([`TxStats`]); the ground's retransmission and the
//! SDLS sequence numbers handle the rest. The PPP engine keeps the octets the serial line has not
//! taken yet and writes them as it becomes ready ([`comms::standby::StandbyLine`]), so a frame is
//! delayed, never cut.
//!
//! Avoids: blocking reads or writes, the heap.

use comms::node::Downlink;
use comms::standby::StandbyLine;
use hal::radio::{Radio, RadioError};
use hal::serial::{Serial, WriteReady};
use protocol::LinkId;

/// Downlink counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxStats {
    /// Units sent on the radio.
    pub radio_sent: u32,
    /// Units the radio refused (queue full, too long, device error), or that had no radio.
    pub radio_dropped: u32,
    /// Units queued on the serial line's PPP link.
    pub serial_sent: u32,
    /// Units the PPP link refused (not up, too long, queue full).
    pub serial_dropped: u32,
}

/// The transmit side of both links, borrowed for one handler call.
pub struct Links<'a, R, S> {
    /// The radio (`None` on a board without one: its units are counted as dropped).
    pub radio: &'a mut Option<R>,
    /// The serial line.
    pub serial: &'a mut S,
    /// The PPP link on it.
    pub line: &'a mut StandbyLine,
    /// Counters.
    pub stats: &'a mut TxStats,
}

impl<R: Radio, S: Serial + WriteReady> Downlink for Links<'_, R, S> {
    fn send(&mut self, link: LinkId, unit: &[u8]) {
        match link {
            LinkId::Primary => match self.radio.as_mut().map(|r| r.try_send(unit)) {
                Some(Ok(())) => self.stats.radio_sent = self.stats.radio_sent.wrapping_add(1),
                None
                | Some(Err(RadioError::WouldBlock | RadioError::FrameTooLong { .. }))
                | Some(Err(RadioError::EmptyFrame | RadioError::BufferTooSmall { .. }))
                | Some(Err(RadioError::Device(_))) => {
                    self.stats.radio_dropped = self.stats.radio_dropped.wrapping_add(1)
                }
            },
            LinkId::Standby => match self.line.send(self.serial, unit) {
                Ok(()) => self.stats.serial_sent = self.stats.serial_sent.wrapping_add(1),
                Err(_) => self.stats.serial_dropped = self.stats.serial_dropped.wrapping_add(1),
            },
        }
    }
}
