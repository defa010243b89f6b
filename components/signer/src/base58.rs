//! Base58Check (Bitcoin alphabet, 4-byte double-SHA-256 checksum) for extended keys and WIF, on
//! fixed buffers.
//!
//! Payloads are at most [`MAX_PAYLOAD`] bytes (an extended key is 78). Decoding rejects
//! characters outside the alphabet, oversize input and bad checksums with typed errors. Buffers
//! that may have held key material are zeroized before they go out of scope.

use crate::hash::sha256d;
use zeroize::Zeroize;

/// Largest payload handled (checksum excluded).
pub const MAX_PAYLOAD: usize = 82;
/// Largest encoded string length produced or accepted.
pub const MAX_ENCODED: usize = 128;

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Why a Base58Check string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Base58Error {
    /// A character outside the Base58 alphabet.
    #[error("invalid base58 character")]
    InvalidCharacter,
    /// The string or payload is longer than any supported object.
    #[error("base58 string too long")]
    TooLong,
    /// Fewer than four bytes: no room for a checksum.
    #[error("base58 string too short")]
    TooShort,
    /// The checksum does not match the payload.
    #[error("base58 checksum mismatch")]
    BadChecksum,
}

/// An encoded string in a fixed buffer; zeroized on drop (it may spell a private key).
#[derive(Clone, Zeroize, zeroize::ZeroizeOnDrop)]
pub struct Encoded {
    buf: [u8; MAX_ENCODED],
    len: usize,
}

impl Encoded {
    /// The encoded text.
    pub fn as_str(&self) -> &str {
        // Only alphabet bytes are ever written, so this is valid UTF-8.
        core::str::from_utf8(self.buf.get(..self.len).unwrap_or(&[])).unwrap_or("")
    }
}

impl core::fmt::Debug for Encoded {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Encoded(..)")
    }
}

/// A decoded payload in a fixed buffer; zeroized on drop.
#[derive(Clone, Zeroize, zeroize::ZeroizeOnDrop)]
pub struct Decoded {
    buf: [u8; MAX_PAYLOAD + 4],
    len: usize,
}

impl Decoded {
    /// The payload, checksum removed.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// Encodes `payload` with a checksum appended.
pub fn encode_check(payload: &[u8]) -> Result<Encoded, Base58Error> {
    if payload.len() > MAX_PAYLOAD {
        return Err(Base58Error::TooLong);
    }
    let mut data = [0u8; MAX_PAYLOAD + 4];
    data[..payload.len()].copy_from_slice(payload);
    let sum = sha256d(payload);
    data[payload.len()..payload.len() + 4].copy_from_slice(&sum[..4]);
    let input = &data[..payload.len() + 4];
    // Base-58 digits, little-endian, built by repeated multiply-add.
    let mut digits = [0u8; MAX_ENCODED];
    let mut n_digits = 0usize;
    for &byte in input {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut().take(n_digits) {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            let slot = digits.get_mut(n_digits).ok_or(Base58Error::TooLong)?;
            *slot = (carry % 58) as u8;
            n_digits += 1;
            carry /= 58;
        }
    }
    let zeros = input.iter().take_while(|&&b| b == 0).count();
    let mut out = Encoded {
        buf: [0u8; MAX_ENCODED],
        len: 0,
    };
    if zeros + n_digits > MAX_ENCODED {
        return Err(Base58Error::TooLong);
    }
    for i in 0..zeros {
        out.buf[i] = b'1';
    }
    for i in 0..n_digits {
        out.buf[zeros + i] = ALPHABET[usize::from(digits[n_digits - 1 - i])];
    }
    out.len = zeros + n_digits;
    data.zeroize();
    digits.zeroize();
    Ok(out)
}

/// Decodes a Base58Check string and verifies its checksum.
pub fn decode_check(s: &str) -> Result<Decoded, Base58Error> {
    let text = s.as_bytes();
    if text.len() > MAX_ENCODED {
        return Err(Base58Error::TooLong);
    }
    let mut bytes = [0u8; MAX_PAYLOAD + 4];
    let mut n = 0usize; // little-endian bytes in use
    for &c in text {
        let mut carry = ALPHABET
            .iter()
            .position(|&a| a == c)
            .ok_or(Base58Error::InvalidCharacter)? as u32;
        for b in bytes.iter_mut().take(n) {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            let slot = bytes.get_mut(n).ok_or(Base58Error::TooLong)?;
            *slot = (carry & 0xff) as u8;
            n += 1;
            carry >>= 8;
        }
    }
    let zeros = text.iter().take_while(|&&c| c == b'1').count();
    let total = zeros + n;
    if total > MAX_PAYLOAD + 4 {
        bytes.zeroize();
        return Err(Base58Error::TooLong);
    }
    if total < 4 {
        bytes.zeroize();
        return Err(Base58Error::TooShort);
    }
    let mut out = Decoded {
        buf: [0u8; MAX_PAYLOAD + 4],
        len: 0,
    };
    for i in 0..n {
        out.buf[zeros + i] = bytes[n - 1 - i];
    }
    bytes.zeroize();
    let payload_len = total - 4;
    let sum = sha256d(&out.buf[..payload_len]);
    if sum[..4] != out.buf[payload_len..total] {
        return Err(Base58Error::BadChecksum);
    }
    out.buf[payload_len..total].fill(0);
    out.len = payload_len;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_with_leading_zeros() {
        let payload = [0u8, 0, 1, 2, 3, 255];
        let enc = encode_check(&payload).expect("encode");
        assert!(enc.as_str().starts_with("11"));
        assert_eq!(
            decode_check(enc.as_str()).expect("decode").as_bytes(),
            &payload
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(
            decode_check("0OIl").err(),
            Some(Base58Error::InvalidCharacter)
        );
        assert_eq!(decode_check("1").err(), Some(Base58Error::TooShort));
        let enc = encode_check(b"hello").expect("encode");
        let mut s = [0u8; MAX_ENCODED];
        let t = enc.as_str().as_bytes();
        s[..t.len()].copy_from_slice(t);
        s[t.len() - 1] = if s[t.len() - 1] == b'2' { b'3' } else { b'2' };
        let bad = core::str::from_utf8(&s[..t.len()]).expect("ascii");
        assert_eq!(decode_check(bad).err(), Some(Base58Error::BadChecksum));
        let long = [b'z'; 200];
        assert_eq!(
            decode_check(core::str::from_utf8(&long).expect("ascii")).err(),
            Some(Base58Error::TooLong)
        );
    }
}
