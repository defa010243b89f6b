//! Hex for the text formats (provisioning file, admin command bodies) through the project's one
//! hex codec, `hex-conservative` (its no_std API: no allocation): decoding into fixed-capacity
//! buffers, writing lowercase through `core::fmt`. It only adapts the crate to `heapless`
//! buffers and `Option`; it decodes and encodes nothing by hand. No panics.

use hex_conservative::{DisplayHex, FromHex, HexToBytesIter};

/// Decodes hex text (either case) into at most `N` bytes; `None` on odd length, any character
/// that is not a hex digit (a sign, whitespace), or more than `N` bytes.
pub fn decode<const N: usize>(text: &str) -> Option<heapless::Vec<u8, N>> {
    let mut out = heapless::Vec::new();
    for b in HexToBytesIter::new(text).ok()? {
        out.push(b.ok()?).ok()?;
    }
    Some(out)
}

/// Decodes exactly `N` bytes of hex.
pub fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    <[u8; N]>::from_hex(text).ok()
}

/// Writes `bytes` as lowercase hex.
pub fn write(f: &mut impl core::fmt::Write, bytes: &[u8]) -> core::fmt::Result {
    write!(f, "{:x}", bytes.as_hex())
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
        assert!(decode::<2>("000000").is_none());
        assert!(decode_array::<2>("00").is_none());
        assert_eq!(decode_array::<1>("7f"), Some([0x7f]));
    }

    #[test]
    fn malformed_hex_is_refused() {
        // A sign (which `from_str_radix` accepts: "+f" read as 0x0f), odd length, a non-hex
        // character, whitespace inside or around, and a non-ASCII character.
        for bad in [
            "+f", "+f00", "abc", "zz", "0g", " 00", "00 ", "0 0", "\t0", "é0",
        ] {
            assert!(decode::<4>(bad).is_none(), "{bad:?}");
            assert!(decode_array::<1>(bad).is_none(), "{bad:?}");
        }
    }
}
