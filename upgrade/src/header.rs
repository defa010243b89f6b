//! The bundle header: magic, declared length, format, the root chain and the signed manifest.
//! Everything before the image. The length is in the first [`PREFIX_LEN`] bytes so a receiver
//! knows where the image starts before it has the rest. Parsed in place; no allocation.

use crate::error::FormatError;
use crate::key::{Algorithm, KeyId};
use crate::limits::{MAX_HEADER_LEN, MAX_ROOT_CHAIN, MAX_SIGNATURES};
use crate::wire::Reader;

/// The first 8 bytes of every bundle.
pub const MAGIC: &[u8; 8] = b"SNBUNDLE";
/// The bundle format this crate reads and writes.
pub const FORMAT: u16 = 1;
/// Bytes needed to learn the header length: magic (8) and length (4).
pub const PREFIX_LEN: usize = 12;

/// The header length declared by the first [`PREFIX_LEN`] bytes of a bundle, checked against
/// [`MAX_HEADER_LEN`]. The image starts at this offset.
pub fn header_len(prefix: &[u8]) -> Result<usize, FormatError> {
    let mut r = Reader::new(prefix);
    if r.take(8, "magic")? != MAGIC {
        return Err(FormatError::BadMagic);
    }
    let len = r.u32("header length")? as usize;
    if len > MAX_HEADER_LEN {
        return Err(FormatError::HeaderTooLong {
            len,
            max: MAX_HEADER_LEN,
        });
    }
    if len < PREFIX_LEN + 4 {
        return Err(FormatError::HeaderLength {
            declared: len,
            actual: PREFIX_LEN + 4,
        });
    }
    Ok(len)
}

/// One signature entry: which key, which algorithm, the signature bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature<'a> {
    /// The signing key's id.
    pub key: KeyId,
    /// The algorithm the signer claims; must equal the key's.
    pub alg: Algorithm,
    /// The signature (64 bytes for both algorithms of format 1).
    pub bytes: &'a [u8],
}

/// A signed block: a body and the signatures over it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Signed<'a> {
    /// The signed bytes (a root or manifest body).
    pub body: &'a [u8],
    sigs: &'a [u8],
    sig_count: usize,
}

impl<'a> Signed<'a> {
    /// Reads `body_len (u32) || body || sig_count (u8) || signatures`.
    pub(crate) fn read(r: &mut Reader<'a>) -> Result<Self, FormatError> {
        let body_len = r.u32("body length")? as usize;
        let body = r.take(body_len, "signed body")?;
        let sig_count = r.u8("signature count")? as usize;
        if sig_count > MAX_SIGNATURES {
            return Err(FormatError::TooMany {
                what: "signatures on one block",
                count: sig_count,
                max: MAX_SIGNATURES,
            });
        }
        let start = r.pos();
        for _ in 0..sig_count {
            read_signature(r)?;
        }
        let sigs = r.since(start);
        Ok(Signed {
            body,
            sigs,
            sig_count,
        })
    }

    /// Parses a stand-alone signed block (the CLI's root and manifest files), refusing trailing bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let s = Signed::read(&mut r)?;
        r.finish("signed block")?;
        Ok(s)
    }

    /// The signatures, in order.
    pub fn signatures(&self) -> impl Iterator<Item = Signature<'a>> + 'a {
        let mut r = Reader::new(self.sigs);
        // Validated in `read`, so this yields exactly `sig_count` entries.
        (0..self.sig_count).map_while(move |_| read_signature(&mut r).ok())
    }
}

fn read_signature<'a>(r: &mut Reader<'a>) -> Result<Signature<'a>, FormatError> {
    let key = KeyId(r.array("signature key id")?);
    let alg = Algorithm::from_wire(r.u8("signature algorithm")?)?;
    let len = r.u16("signature length")? as usize;
    if len != alg.sig_len() {
        return Err(FormatError::SignatureLength { alg, len });
    }
    Ok(Signature {
        key,
        alg,
        bytes: r.take(len, "signature")?,
    })
}

/// A parsed bundle header.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    roots: [Signed<'a>; MAX_ROOT_CHAIN],
    root_count: usize,
    /// The signed manifest.
    pub manifest: Signed<'a>,
    /// The header length (the image starts here).
    pub len: usize,
}

impl<'a> Header<'a> {
    /// Parses the header at the start of `bytes` (which may continue with the image).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let len = header_len(bytes)?;
        if bytes.len() < len {
            return Err(FormatError::Truncated {
                what: "header",
                at: bytes.len(),
            });
        }
        let mut r = Reader::new(&bytes[..len]);
        r.take(PREFIX_LEN, "prefix")?;
        let format = r.u16("format")?;
        if format != FORMAT {
            return Err(FormatError::UnsupportedFormat(format));
        }
        let root_count = r.u8("root count")? as usize;
        if r.u8("reserved")? != 0 {
            return Err(FormatError::Reserved);
        }
        if root_count == 0 {
            return Err(FormatError::NoRoot);
        }
        if root_count > MAX_ROOT_CHAIN {
            return Err(FormatError::TooMany {
                what: "root versions",
                count: root_count,
                max: MAX_ROOT_CHAIN,
            });
        }
        let mut roots = [Signed::default(); MAX_ROOT_CHAIN];
        for slot in roots.iter_mut().take(root_count) {
            *slot = Signed::read(&mut r)?;
        }
        let manifest = Signed::read(&mut r)?;
        if r.remaining() != 0 {
            return Err(FormatError::HeaderLength {
                declared: len,
                actual: r.pos(),
            });
        }
        Ok(Header {
            roots,
            root_count,
            manifest,
            len,
        })
    }

    /// The signed root versions, oldest first.
    pub fn roots(&self) -> &[Signed<'a>] {
        &self.roots[..self.root_count]
    }
}
