//! The CCSDS pseudo-randomiser of 131.0 §10: the sequence of h(x) = x^8 + x^7 + x^5 + x^3 + 1
//! from the all-ones state, period 255 bytes, XORed onto each transfer frame (never the attached
//! sync marker), restarting at every frame. The same operation undoes it.
//!
//! Avoids: an LFSR stepped per bit at run time (the 255-byte period is a `const` table).

/// One period of the sequence, starting `FF 48 0E C0 9A ...` as the standard prints it.
pub const SEQUENCE: [u8; 255] = {
    let mut out = [0u8; 255];
    // b(k+8) = b(k+7) ^ b(k+5) ^ b(k+3) ^ b(k), b(0..8) = 1; `state` holds b(k)..b(k+7),
    // b(k) in bit 7.
    let mut state: u8 = 0xFF;
    let mut i = 0;
    while i < 255 * 8 {
        let bit = (state >> 7) & 1;
        out[i / 8] |= bit << (7 - (i % 8));
        let next = (state ^ (state >> 2) ^ (state >> 4) ^ (state >> 7)) & 1;
        state = (state << 1) | next;
        i += 1;
    }
    out
};

/// XORs the sequence onto `frame` (randomises or derandomises; the two are the same).
pub fn apply(frame: &mut [u8]) {
    for (byte, r) in frame.iter_mut().zip(SEQUENCE.iter().cycle()) {
        *byte ^= r;
    }
}
