//! CFDP PDUs in CCSDS space packets: the APID and the wrapping.
//!
//! Every CFDP PDU travels alone in the user data field of an unsegmented space packet with APID
//! [`CFDP_APID`], with no secondary header (CCSDS 727.0 annex B's "CFDP over space packets").
//! The comms partition hands the CFDP entity every packet with that APID, after SDLS has checked
//! it, and wraps and protects whatever PDUs the entity emits. Avoids: allocation; the header
//! format is the `spacepackets` crate's.

use super::error::CfdpError;
use arbitrary_int::{u11, u14};
use spacepackets::{CcsdsPacket, PacketType, SpHeader};

/// The APID of CFDP traffic, both directions: 0x0CF ("CF"), outside the PUS services' APID.
pub const CFDP_APID: u16 = 0x0CF;

/// Largest PDU carried in one packet (the sim link's MTU is 2048 bytes; SDLS adds its header
/// and MAC on the production path).
pub const MAX_PDU: usize = 1536;

/// Write `pdu` into `buf` as a space packet (telecommand type for `uplink`, telemetry for
/// downlink) and return the packet length.
pub fn wrap(pdu: &[u8], seq: u16, uplink: bool, buf: &mut [u8]) -> Result<usize, CfdpError> {
    let data_len = u16::try_from(pdu.len().checked_sub(1).ok_or(CfdpError::Encode)?)
        .map_err(|_| CfdpError::Encode)?;
    let apid = u11::new(CFDP_APID);
    let seq = u14::new(seq & 0x3FFF);
    let mut header = if uplink {
        SpHeader::new_for_unseg_tc(apid, seq, data_len)
    } else {
        SpHeader::new_for_unseg_tm(apid, seq, data_len)
    };
    header.set_packet_type(if uplink {
        PacketType::Tc
    } else {
        PacketType::Tm
    });
    let total = header.packet_len();
    let out = buf.get_mut(..total).ok_or(CfdpError::Encode)?;
    header.write_to_slice(out).map_err(|_| CfdpError::Encode)?;
    out.get_mut(SpHeader::LENGTH..)
        .ok_or(CfdpError::Encode)?
        .copy_from_slice(pdu);
    Ok(total)
}

/// Whether `packet` is a space packet with the CFDP APID (its header read, not its length).
pub fn is_cfdp(packet: &[u8]) -> bool {
    SpHeader::from_be_bytes(packet).is_ok_and(|(h, _)| h.apid().value() == CFDP_APID)
}

/// The PDU inside a space packet with the CFDP APID.
pub fn unwrap(packet: &[u8]) -> Result<&[u8], CfdpError> {
    let (header, rest) = SpHeader::from_be_bytes(packet).map_err(|_| CfdpError::BadPacket)?;
    if header.apid().value() != CFDP_APID {
        return Err(CfdpError::BadPacket);
    }
    let data_len = usize::from(header.data_len()) + 1;
    rest.get(..data_len).ok_or(CfdpError::BadPacket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap_round_trip_and_refusals() {
        let mut buf = [0u8; 64];
        let n = wrap(b"hello", 7, true, &mut buf).unwrap();
        assert_eq!(n, 11);
        assert_eq!(unwrap(&buf[..n]).unwrap(), b"hello");
        assert_eq!(unwrap(&buf[..n - 1]), Err(CfdpError::BadPacket));
        assert_eq!(unwrap(&buf[..3]), Err(CfdpError::BadPacket));
        let mut other = buf;
        other[1] ^= 0x01; // another APID
        assert_eq!(unwrap(&other[..n]), Err(CfdpError::BadPacket));
        assert_eq!(wrap(b"", 0, true, &mut buf), Err(CfdpError::Encode));
        assert_eq!(wrap(&[0u8; 100], 0, true, &mut buf), Err(CfdpError::Encode));
    }

    #[test]
    fn is_cfdp_reads_the_apid_from_the_header() {
        let mut buf = [0u8; 64];
        let n = wrap(b"hello", 7, false, &mut buf).unwrap();
        assert!(is_cfdp(&buf[..n]));
        assert!(is_cfdp(&buf[..6]), "the header alone names the APID");
        assert!(!is_cfdp(&buf[..5]), "no whole header");
        let mut other = buf;
        other[1] ^= 0x01; // another APID
        assert!(!is_cfdp(&other[..n]));
    }
}
