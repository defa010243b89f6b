"""The CCSDS channel coding, written from the standards' text, shared by the Python peers
(interop-link.py, which writes the vectors the Rust crate is checked against, and
interop-radio.py, a ground station for a real node). Standard library only, so it runs in
either venv. It shares no code with the Rust crates.

  - CCSDS 231.0 CLTU: BCH(63,56) parity by polynomial long division over bit lists with
    g(x) = x^7 + x^6 + x^2 + 1, parity complemented, filler bit 0, start EB90, fill 55,
    tail C5C5C5C5C5C5C579;
  - CCSDS 131.0 pseudo-randomiser: h(x) = x^8 + x^7 + x^5 + x^3 + 1 as a Galois-style register
    stepping the recurrence on a list of bits; the attached sync marker 1ACFFC1D;
  - the frames' FECF: Python's own binascii.crc_hqx (CRC-16/CCITT, preset 0xFFFF as the
    standards define).
"""

import binascii

ASM = bytes.fromhex("1ACFFC1D")


def bits_of(data):
    return [(b >> (7 - i)) & 1 for b in data for i in range(8)]


def bytes_of(bits):
    return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))


def crc16(data):
    return binascii.crc_hqx(data, 0xFFFF).to_bytes(2, "big")


# ---- 231.0 BCH(63,56) and CLTU -------------------------------------------------------------
G = [1, 1, 0, 0, 0, 1, 0, 1]  # x^7 + x^6 + x^2 + 1, highest degree first


def bch_block(info7):
    dividend = bits_of(info7) + [0] * 7
    for i in range(56):
        if dividend[i]:
            for j, g in enumerate(G):
                dividend[i + j] ^= g
    parity = [1 - b for b in dividend[56:]]  # complemented
    return bytes_of(bits_of(info7) + parity + [0])


def cltu(data):
    padded = data + b"\x55" * (-len(data) % 7)
    body = b"".join(bch_block(padded[i:i + 7]) for i in range(0, len(padded), 7))
    return b"\xEB\x90" + body + bytes.fromhex("C5C5C5C5C5C5C579")


# ---- 131.0 randomiser ----------------------------------------------------------------------
def pn_sequence(n):
    seq = [1] * 8
    while len(seq) < n * 8:
        k = len(seq) - 8
        seq.append(seq[k + 7] ^ seq[k + 5] ^ seq[k + 3] ^ seq[k])
    return bytes_of(seq[: n * 8])


PN = pn_sequence(255)


def randomise(frame):
    """Applies (or, being an XOR, removes) the pseudo-randomiser."""
    return bytes(b ^ PN[i % 255] for i, b in enumerate(frame))
