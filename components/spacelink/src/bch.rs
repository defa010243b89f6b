//! The BCH(63,56) code of CCSDS 231.0 §3: one code block is 56 information bits, 7 parity bits
//! (complemented) and a filler bit 0, eight bytes in all. The generator polynomial is
//! g(x) = x^7 + x^6 + x^2 + 1 = (x + 1)(x^6 + x + 1), so the code corrects any single-bit error
//! and detects (never mis-corrects) any two-bit error; three or more may be mis-corrected, which
//! the transfer frame's CRC-16 catches above this layer.
//!
//! Avoids: tables built at run time, heap, panics (every length is fixed by the types).

/// g(x) without its x^7 term: x^6 + x^2 + 1.
const G_LOW: u8 = 0b100_0101;

/// Information bytes in one code block.
pub const INFO_LEN: usize = 7;
/// Bytes in one code block (information, parity byte with the filler bit).
pub const BLOCK_LEN: usize = 8;

/// What decoding one code block found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockStatus {
    /// No error.
    Clean,
    /// One bit was wrong and has been corrected (its index in the 64-bit block, 0 = first bit
    /// sent).
    Corrected(u8),
    /// More errors than the code corrects: the block is not decoded (231.0 ends the CLTU here).
    Uncorrectable,
}

/// The 7-bit remainder of `info(x) * x^7` divided by g(x) (not yet complemented).
fn remainder(info: &[u8; INFO_LEN]) -> u8 {
    let mut reg: u8 = 0;
    for byte in info {
        for bit in (0..8).rev() {
            let feedback = ((byte >> bit) & 1) ^ ((reg >> 6) & 1);
            reg = (reg << 1) & 0x7F;
            if feedback != 0 {
                reg ^= G_LOW;
            }
        }
    }
    reg
}

/// x^d mod g(x) for d in 0..63: the syndrome a single error at codeword degree `d` produces.
const SYNDROMES: [u8; 63] = {
    let mut table = [0u8; 63];
    let mut value: u8 = 1;
    let mut d = 0;
    while d < 63 {
        table[d] = value;
        let carry = value & 0x40;
        value = (value << 1) & 0x7F;
        if carry != 0 {
            value ^= G_LOW;
        }
        d += 1;
    }
    table
};

/// Encodes seven information bytes into one eight-byte code block.
pub fn encode(info: &[u8; INFO_LEN]) -> [u8; BLOCK_LEN] {
    let mut block = [0u8; BLOCK_LEN];
    block[..INFO_LEN].copy_from_slice(info);
    // Parity complemented (231.0 §3.3), then the filler bit 0.
    block[INFO_LEN] = (!remainder(info) & 0x7F) << 1;
    block
}

/// Decodes one code block in place: corrects a single-bit error, reports more as
/// [`BlockStatus::Uncorrectable`]. The filler bit is not part of the code and is ignored.
pub fn decode(block: &mut [u8; BLOCK_LEN]) -> BlockStatus {
    let mut info = [0u8; INFO_LEN];
    info.copy_from_slice(&block[..INFO_LEN]);
    let received = (!(block[INFO_LEN] >> 1)) & 0x7F;
    let syndrome = remainder(&info) ^ received;
    if syndrome == 0 {
        return BlockStatus::Clean;
    }
    let Some(degree) = SYNDROMES.iter().position(|&s| s == syndrome) else {
        return BlockStatus::Uncorrectable;
    };
    // Degree 62 is the first bit sent (bit 7 of byte 0); degree 0 the last parity bit.
    let index = 62 - degree;
    block[index / 8] ^= 0x80 >> (index % 8);
    // `index` < 63, so the cast is exact.
    BlockStatus::Corrected(index as u8)
}
