//! Bitcoin consensus encoding on borrowed bytes: a bounds-checked [`Reader`] over an input slice,
//! and a [`Writer`] into a caller-provided fixed buffer.
//!
//! Everything here returns [`DecodeError`] or [`WriteError`] instead of panicking: slicing goes
//! through `get`, lengths are checked before use, and CompactSize integers must be minimally
//! encoded (as Bitcoin Core requires). Nothing allocates.

use thiserror::Error;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before the structure did.
    #[error("unexpected end of data")]
    UnexpectedEnd,
    /// A CompactSize integer was not in its shortest form.
    #[error("non-minimal CompactSize integer")]
    NonMinimalCompactSize,
    /// A length or count does not fit this platform or exceeds a fixed limit.
    #[error("length or count too large")]
    TooLarge,
    /// Bytes were left over after the structure ended.
    #[error("trailing bytes after the structure")]
    TrailingBytes,
    /// A structural rule of the format was broken.
    #[error("invalid structure")]
    Invalid,
}

/// Why bytes could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WriteError {
    /// The output buffer is too small.
    #[error("output buffer too small")]
    BufferTooSmall,
}

/// A cursor over a byte slice; every read is bounds-checked.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// The offset of the next byte to be read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Number of bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// True once every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The whole underlying slice.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Reads `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::TooLarge)?;
        let s = self
            .data
            .get(self.pos..end)
            .ok_or(DecodeError::UnexpectedEnd)?;
        self.pos = end;
        Ok(s)
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a little-endian u16.
    pub fn u16_le(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian u32.
    pub fn u32_le(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian u64.
    pub fn u64_le(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads a minimally encoded CompactSize integer.
    pub fn compact_size(&mut self) -> Result<u64, DecodeError> {
        let first = self.u8()?;
        match first {
            0..=0xfc => Ok(u64::from(first)),
            0xfd => {
                let v = u64::from(self.u16_le()?);
                if v < 0xfd {
                    return Err(DecodeError::NonMinimalCompactSize);
                }
                Ok(v)
            }
            0xfe => {
                let v = u64::from(self.u32_le()?);
                if v <= 0xffff {
                    return Err(DecodeError::NonMinimalCompactSize);
                }
                Ok(v)
            }
            0xff => {
                let v = self.u64_le()?;
                if v <= 0xffff_ffff {
                    return Err(DecodeError::NonMinimalCompactSize);
                }
                Ok(v)
            }
        }
    }

    /// Reads a CompactSize length and that many bytes.
    pub fn var_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.compact_size()?;
        let len = usize::try_from(len).map_err(|_| DecodeError::TooLarge)?;
        self.take(len)
    }

    /// Fails unless every byte has been read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

/// Number of bytes the CompactSize encoding of `n` takes.
pub fn compact_size_len(n: u64) -> usize {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Writes the CompactSize encoding of `n` into `out`, returning how many bytes it used.
pub fn encode_compact_size(n: u64, out: &mut [u8; 9]) -> usize {
    match n {
        0..=0xfc => {
            out[0] = n as u8;
            1
        }
        0xfd..=0xffff => {
            out[0] = 0xfd;
            out[1..3].copy_from_slice(&(n as u16).to_le_bytes());
            3
        }
        0x1_0000..=0xffff_ffff => {
            out[0] = 0xfe;
            out[1..5].copy_from_slice(&(n as u32).to_le_bytes());
            5
        }
        _ => {
            out[0] = 0xff;
            out[1..9].copy_from_slice(&n.to_le_bytes());
            9
        }
    }
}

/// A sink for bytes: a fixed buffer ([`Writer`]) or a hash engine.
pub trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]) -> Result<(), WriteError>;

    /// Appends a CompactSize integer.
    fn put_compact_size(&mut self, n: u64) -> Result<(), WriteError> {
        let mut buf = [0u8; 9];
        let len = encode_compact_size(n, &mut buf);
        self.put(&buf[..len])
    }

    /// Appends a CompactSize length followed by the bytes.
    fn put_var_bytes(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        self.put_compact_size(bytes.len() as u64)?;
        self.put(bytes)
    }
}

/// Text goes in as its UTF-8 bytes, so the canonical text formats (registry, provisioning) write
/// into the same bounded buffer writer as the binary ones.
impl core::fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        Sink::put(self, s.as_bytes()).map_err(|_| core::fmt::Error)
    }
}

/// Writes into a caller-provided buffer; never grows, fails with [`WriteError::BufferTooSmall`].
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// Starts writing at the beginning of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Number of bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

impl Sink for Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(WriteError::BufferTooSmall)?;
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(WriteError::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_size_roundtrip_and_minimality() {
        for n in [
            0u64,
            0xfc,
            0xfd,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX,
        ] {
            let mut buf = [0u8; 9];
            let len = encode_compact_size(n, &mut buf);
            assert_eq!(len, compact_size_len(n));
            let mut r = Reader::new(&buf[..len]);
            assert_eq!(r.compact_size(), Ok(n));
            assert!(r.is_empty());
        }
        assert_eq!(
            Reader::new(&[0xfd, 0xfc, 0x00]).compact_size(),
            Err(DecodeError::NonMinimalCompactSize)
        );
        assert_eq!(
            Reader::new(&[0xfe, 0xff, 0xff, 0, 0]).compact_size(),
            Err(DecodeError::NonMinimalCompactSize)
        );
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).compact_size(),
            Err(DecodeError::NonMinimalCompactSize)
        );
        assert_eq!(
            Reader::new(&[0xfd, 0x00]).compact_size(),
            Err(DecodeError::UnexpectedEnd)
        );
    }

    #[test]
    fn var_bytes_beyond_end_is_an_error() {
        assert_eq!(
            Reader::new(&[0x05, 1, 2]).var_bytes(),
            Err(DecodeError::UnexpectedEnd)
        );
        let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(Reader::new(&huge).var_bytes().is_err());
    }

    #[test]
    fn writer_refuses_overflow() {
        let mut buf = [0u8; 3];
        let mut w = Writer::new(&mut buf);
        assert_eq!(w.put(&[1, 2]), Ok(()));
        assert_eq!(w.put(&[3, 4]), Err(WriteError::BufferTooSmall));
        assert_eq!(w.written(), &[1, 2]);
    }
}
