//! Lowercase hex for the text formats (provisioning file, admin command bodies): decoding into
//! fixed-capacity buffers and writing through `core::fmt`. No allocation, no panics.

/// Decodes hex text (either case) into at most `N` bytes; `None` on odd length, a non-hex
/// character, or more than `N` bytes.
pub fn decode<const N: usize>(text: &str) -> Option<heapless::Vec<u8, N>> {
    let b = text.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    let mut out = heapless::Vec::new();
    for pair in b.chunks_exact(2) {
        let hi = nibble(*pair.first()?)?;
        let lo = nibble(*pair.get(1)?)?;
        out.push(hi << 4 | lo).ok()?;
    }
    Some(out)
}

/// Decodes exactly `N` bytes of hex.
pub fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let v = decode::<N>(text)?;
    v.as_slice().try_into().ok()
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Writes `bytes` as lowercase hex.
pub fn write(f: &mut impl core::fmt::Write, bytes: &[u8]) -> core::fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let v = decode::<4>("00ffA1").expect("hex");
        assert_eq!(v.as_slice(), &[0x00, 0xff, 0xa1]);
        let mut s: heapless::String<8> = heapless::String::new();
        write(&mut s, &v).expect("fits");
        assert_eq!(s.as_str(), "00ffa1");
        assert!(decode::<4>("abc").is_none());
        assert!(decode::<4>("zz").is_none());
        assert!(decode::<2>("000000").is_none());
        assert!(decode_array::<2>("00").is_none());
        assert_eq!(decode_array::<1>("7f"), Some([0x7f]));
    }
}
