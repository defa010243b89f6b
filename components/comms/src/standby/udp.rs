//! One SDLS unit in one IPv4 + UDP datagram, on `smoltcp`'s wire layer: the headers are built
//! and parsed there, with the IPv4 header checksum and the UDP checksum (over the pseudo-header)
//! made on send and checked on receive.
//!
//! Only `smoltcp::wire` is used, not its `Interface`: the link carries one UDP flow between two
//! fixed addresses, so there is no routing, ARP or socket table to keep, and no buffers of
//! `'static` lifetime to set aside in the partition.
//!
//! Avoids: IP fragments (refused on receive; a unit too long for one datagram is refused on
//! send), IP options on send, and datagrams from or to anyone but the configured endpoints.

use super::{Endpoints, IP_UDP_HEADER};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpAddress, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr};

/// IPv4 time to live on send (the link is one hop).
const TTL: u8 = 64;

/// A unit could not be put in a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WrapError {
    /// The datagram would not fit the buffer (the PPP MRU).
    #[error(
        "a {unit}-byte unit does not fit one standby-link datagram (at most {max} bytes of unit): send it on the radio or split the command"
    )]
    TooLong {
        /// Unit length.
        unit: usize,
        /// Largest unit that fits.
        max: usize,
    },
}

/// A received datagram is not a unit for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnwrapError {
    /// Not a well-formed IPv4 packet, a fragment, or a bad header checksum.
    #[error(
        "standby link: not a whole, well-formed IPv4 datagram (bad header, checksum or a fragment)"
    )]
    Ipv4,
    /// Not UDP, or a bad UDP length or checksum.
    #[error("standby link: not a well-formed UDP datagram (bad length or checksum)")]
    Udp,
    /// From or to another address or port than the configured endpoints.
    #[error("standby link: datagram from or to an address or port other than the link's endpoints")]
    NotOurs,
}

fn ip(a: [u8; 4]) -> Ipv4Address {
    Ipv4Address::from(a)
}

/// Builds the datagram carrying `unit` from `ep.local` to `ep.peer` in `out`; returns its
/// length.
pub fn wrap(ep: &Endpoints, unit: &[u8], out: &mut [u8]) -> Result<usize, WrapError> {
    let total = unit.len().saturating_add(IP_UDP_HEADER);
    let Some(buf) = out.get_mut(..total) else {
        return Err(WrapError::TooLong {
            unit: unit.len(),
            max: out.len().saturating_sub(IP_UDP_HEADER),
        });
    };
    let (src, dst) = (ip(ep.local_ip), ip(ep.peer_ip));
    let caps = ChecksumCapabilities::default();
    let ip_repr = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Udp,
        payload_len: total - 20,
        hop_limit: TTL,
    };
    let mut packet = Ipv4Packet::new_unchecked(buf);
    ip_repr.emit(&mut packet, &caps);
    let udp_repr = UdpRepr {
        src_port: ep.local_port,
        dst_port: ep.peer_port,
    };
    let mut udp = UdpPacket::new_unchecked(packet.payload_mut());
    udp_repr.emit(
        &mut udp,
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(dst),
        unit.len(),
        |p| p.copy_from_slice(unit),
        &caps,
    );
    Ok(total)
}

/// The unit inside a datagram sent by `ep.peer` to `ep.local`.
pub fn unwrap<'a>(ep: &Endpoints, datagram: &'a [u8]) -> Result<&'a [u8], UnwrapError> {
    let caps = ChecksumCapabilities::default();
    let packet = Ipv4Packet::new_checked(datagram).map_err(|_| UnwrapError::Ipv4)?;
    let ip_repr = Ipv4Repr::parse(&packet, &caps).map_err(|_| UnwrapError::Ipv4)?;
    if ip_repr.next_header != IpProtocol::Udp {
        return Err(UnwrapError::Udp);
    }
    if ip_repr.src_addr != ip(ep.peer_ip) || ip_repr.dst_addr != ip(ep.local_ip) {
        return Err(UnwrapError::NotOurs);
    }
    // `new_checked` bounds the packet by its Total Length, so trailing octets are ignored.
    let payload = packet.payload();
    let udp = UdpPacket::new_checked(payload).map_err(|_| UnwrapError::Udp)?;
    let udp_repr = UdpRepr::parse(
        &udp,
        &IpAddress::Ipv4(ip_repr.src_addr),
        &IpAddress::Ipv4(ip_repr.dst_addr),
        &caps,
    )
    .map_err(|_| UnwrapError::Udp)?;
    if udp_repr.src_port != ep.peer_port || udp_repr.dst_port != ep.local_port {
        return Err(UnwrapError::NotOurs);
    }
    let len = usize::from(udp.len()).saturating_sub(8);
    // The slice of `datagram` itself (not of the parsed view) so it lives as long as the input.
    let start = usize::from(packet.header_len()) + 8;
    datagram.get(start..start + len).ok_or(UnwrapError::Udp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let unit: [u8; 300] = core::array::from_fn(|i| i as u8);
        let mut buf = [0u8; ppp::MAX_INFO];
        let n = wrap(&Endpoints::GROUND, &unit, &mut buf).unwrap();
        assert_eq!(n, 328);
        assert_eq!(unwrap(&Endpoints::NODE, &buf[..n]), Ok(&unit[..]));
        // The node's own datagram is not for the node.
        assert_eq!(
            unwrap(&Endpoints::GROUND, &buf[..n]),
            Err(UnwrapError::NotOurs)
        );
        // A flipped payload bit fails the UDP checksum; a flipped header bit the IPv4 one.
        let mut bad = buf;
        bad[100] ^= 1;
        assert_eq!(unwrap(&Endpoints::NODE, &bad[..n]), Err(UnwrapError::Udp));
        let mut bad = buf;
        bad[8] ^= 1;
        assert_eq!(unwrap(&Endpoints::NODE, &bad[..n]), Err(UnwrapError::Ipv4));
        // One byte too many for the MRU.
        let big = [0u8; super::super::MAX_STANDBY_UNIT + 1];
        assert!(matches!(
            wrap(&Endpoints::GROUND, &big, &mut buf),
            Err(WrapError::TooLong { max: 2072, .. })
        ));
    }
}
