//! What an eavesdropper without the keys can make of a recorded transmission (the demo's attack
//! step): the same bytes with one bit of the secured part changed, and every check an outsider
//! can recompute mended, so that only the MAC (which needs the key) can tell.
//!
//! - a unit (`--link units`, the standby line): the PUS service type of its telecommand (17,
//!   test, becomes 19), inside the HMAC;
//! - a CLTU on the CCSDS radio: the last byte of the TC frame's SDLS trailer (its MAC); the
//!   frame's FECF (CRC-16) is computed again and the CLTU re-encoded (BCH), so the frame passes
//!   the coding and framing checks and reaches SDLS.
//!
//! Avoids: anything but bit flips and public checksums (no key is used).

use comms::sdls::engine::HEADER_LEN;
use spacelink::cltu::{self, CltuDecoder};

/// Longest TC frame a CLTU here carries.
const MAX_FRAME: usize = spacelink::tc::MAX_FRAME_LEN;

/// `unit` (an SDLS unit) with its telecommand's service type changed.
pub fn unit(unit: &[u8]) -> Vec<u8> {
    let mut forged = unit.to_vec();
    // The PUS-C service type is the second byte of the TC's secondary header, after the SDLS
    // security header and the 6-byte space packet header.
    if let Some(b) = forged.get_mut(HEADER_LEN + 6 + 1) {
        *b ^= 0x02;
    }
    forged
}

/// `recorded` (one CLTU holding one TC frame) with the last bit of the frame's MAC changed and
/// its FECF and coding mended; `None` if it is not such a CLTU.
pub fn cltu(recorded: &[u8]) -> Option<Vec<u8>> {
    let mut decoder = CltuDecoder::<{ 2 * MAX_FRAME }>::new();
    let data = recorded
        .iter()
        .find_map(|&b| decoder.push(b).map(|c| c.data.to_vec()))?;
    // The frame length field: the low 10 bits of octets 2-3, the length less one.
    let len = usize::from(u16::from_be_bytes([*data.get(2)?, *data.get(3)?]) & 0x3FF) + 1;
    let mut frame = data.get(..len)?.to_vec();
    let mac_end = len.checked_sub(2)?;
    *frame.get_mut(mac_end.checked_sub(1)?)? ^= 0x01;
    let fecf = spacelink::fecf::compute(&frame[..mac_end]);
    frame[mac_end..].copy_from_slice(&fecf.to_be_bytes());
    let mut out = vec![0u8; cltu::encoded_len(len)];
    let n = cltu::encode(&frame, &mut out).ok()?;
    out.truncate(n);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forged_cltu_differs_from_the_recorded_one_in_one_frame_bit_and_passes_the_fecf() {
        let frame_len = 40;
        let mut frame = vec![0u8; frame_len];
        frame[0] = 0x20;
        frame[2..4].copy_from_slice(&((frame_len - 1) as u16).to_be_bytes());
        for (i, b) in frame.iter_mut().enumerate().skip(5).take(frame_len - 7) {
            *b = i as u8;
        }
        let fecf = spacelink::fecf::compute(&frame[..frame_len - 2]);
        frame[frame_len - 2..].copy_from_slice(&fecf.to_be_bytes());
        let mut recorded = vec![0u8; cltu::encoded_len(frame_len)];
        let n = cltu::encode(&frame, &mut recorded).unwrap();
        recorded.truncate(n);

        let forged = cltu(&recorded).expect("a CLTU");
        let mut decoder = CltuDecoder::<{ 2 * MAX_FRAME }>::new();
        let got = forged
            .iter()
            .find_map(|&b| decoder.push(b).map(|c| c.data[..frame_len].to_vec()))
            .expect("decodes");
        let differing: Vec<usize> = (0..frame_len - 2).filter(|&i| got[i] != frame[i]).collect();
        assert_eq!(differing, vec![frame_len - 3]);
        assert_eq!(got[frame_len - 3] ^ frame[frame_len - 3], 0x01);
        assert!(spacelink::fecf::check(&got));
        assert!(cltu(b"not a CLTU").is_none());
    }
}
