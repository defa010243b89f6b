//! What the radio speaks in this partition, from the description's `[link]` section as the
//! board handed it over ([`runtime::CapSet::radio_link`]): comms' units (the default), or the
//! CCSDS space link ([`comms::radio_ccsds`]), whose state then lives in the node.
//!
//! On the CCSDS radio a received datagram is a piece of the uplink byte stream (the CLTU
//! decoder keeps its place across datagrams) and the CFDP packets it completes are handed to
//! the batches after the node is done with the datagram, at most [`CFDP_PER_DATAGRAM`] per
//! datagram (the rest, and any longer than one TC frame's packet, counted as dropped: the
//! ground's CFDP cuts its PDUs to one frame and retransmits what is lost).
//!
//! Avoids: the heap; any change to the unit path.

use comms::node::UnitOutcome;
use comms::radio_ccsds::{CcsdsConfig, CcsdsRadio, MAX_TC_PACKET};
use runtime::RadioLink;

/// CFDP packets one radio datagram can deliver (one CLTU carries a frame or two).
pub const CFDP_PER_DATAGRAM: usize = 2;

/// The node's CCSDS radio for `link`, `None` for units. A configuration the link layers
/// refuse (the description checker's ranges let it through) is an error naming it.
pub fn radio_for(
    link: RadioLink,
) -> Result<Option<CcsdsRadio>, comms::radio_ccsds::CcsdsConfigError> {
    let RadioLink::Ccsds(l) = link else {
        return Ok(None);
    };
    let cfg = CcsdsConfig {
        scid: l.spacecraft_id,
        tc_vcid: l.tc_virtual_channel,
        tm_vcid: l.tm_virtual_channel,
        tm_frame_len: usize::from(l.tm_frame_length),
    };
    CcsdsRadio::new(cfg).map(Some)
}

/// CFDP packets taken off one datagram, for the batches once the node is free again.
pub struct CfdpHeld {
    held: [(u16, usize, [u8; MAX_TC_PACKET]); CFDP_PER_DATAGRAM],
    n: usize,
    /// Packets that did not fit (dropped; the ground retransmits).
    pub dropped: u32,
}

impl CfdpHeld {
    /// Nothing held.
    pub const fn new() -> Self {
        Self {
            held: [(0, 0, [0; MAX_TC_PACKET]); CFDP_PER_DATAGRAM],
            n: 0,
            dropped: 0,
        }
    }

    /// Keeps the packet of a [`UnitOutcome::Cfdp`] (`buf`: the frame buffer its offsets
    /// refer to); anything else is ignored.
    pub fn keep(&mut self, o: UnitOutcome, buf: &[u8]) {
        let UnitOutcome::Cfdp { spi, start, len } = o else {
            return;
        };
        let packet = buf.get(start..start.saturating_add(len));
        let slot = self.held.get_mut(self.n);
        let Some((packet, (s, n, bytes))) = packet.zip(slot) else {
            self.dropped = self.dropped.wrapping_add(1);
            return;
        };
        let Some(dst) = bytes.get_mut(..packet.len()) else {
            self.dropped = self.dropped.wrapping_add(1);
            return;
        };
        dst.copy_from_slice(packet);
        (*s, *n) = (spi, packet.len());
        self.n += 1;
    }

    /// The packets held, in arrival order, as (SPI, packet).
    pub fn packets(&self) -> impl Iterator<Item = (u16, &[u8])> {
        self.held
            .iter()
            .take(self.n)
            .map(|(spi, len, p)| (*spi, p.get(..*len).unwrap_or(&[])))
    }
}

impl Default for CfdpHeld {
    fn default() -> Self {
        Self::new()
    }
}
