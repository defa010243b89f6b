#!/usr/bin/env python3
"""Independent peer for components/spacelink: writes the vectors its `peer` test checks.

Written from the standards' text, sharing no code with the Rust crate:
  - the channel coding (231.0 CLTU, 131.0 pseudo-randomiser and ASM, the FECF) of
    ccsds_coding.py beside this script;
  - CCSDS 232.0 TC frames (ccsds_tc.py beside this script) and 132.0 TM frames;
  - space packets built by the `spacepackets` package;
  - COP-1 FARM-1 from the PyPI package `ccsds-cop` (its Farm1 driven frame by frame; it speaks
    USLP frames, so each TC frame's fields are carried over into a spacepackets USLP frame).

Usage: interop-link.py OUT_FILE. Deterministic (fixed seed), so CI compares the file it writes
with the committed components/spacelink/tests/vectors/peer.txt byte for byte.
"""

import random
import sys

from spacepackets.ccsds.spacepacket import PacketType, SpacePacket, SpacePacketHeader
from ccsds_coding import ASM, PN, bch_block, cltu, crc16, randomise
from ccsds_tc import tc_frame, uslp_of
from ccsds_cop.cop_1 import ControlWord
from ccsds_cop.cop_1.farm import Farm1

rng = random.Random(19)
out_lines = []


def emit(*fields):
    out_lines.append(" ".join(str(f) for f in fields))


# ---- 132.0 TM frames with packets ----------------------------------------------------------
def tm_frames(scid, vcid, frame_len, clcw, fecf, packets):
    ocf = clcw is not None
    field = frame_len - 6 - (4 if ocf else 0) - (2 if fecf else 0)
    stream = bytearray()
    starts = []
    for p in packets:
        starts.append(len(stream))
        stream += p
    room = -len(stream) % field
    if room:
        idle_len = room if room >= 7 else room + field
        starts.append(len(stream))
        stream += bytes([0x07, 0xFF, 0xC0, 0x00]) + (idle_len - 7).to_bytes(2, "big")
        stream += b"\x55" * (idle_len - 6)
    frames = []
    for n, at in enumerate(range(0, len(stream), field)):
        inside = [s - at for s in starts if at <= s < at + field]
        fhp = inside[0] if inside else 0x7FF
        head = bytes([(scid >> 4) & 0x3F, ((scid & 0xF) << 4) | (vcid << 1) | int(ocf), n % 256, n % 256])
        head += (0x1800 | fhp).to_bytes(2, "big")
        frame = head + bytes(stream[at:at + field]) + (clcw if ocf else b"")
        frames.append(frame + (crc16(frame) if fecf else b""))
    return frames


def space_packet(apid, seq, size):
    data = bytes(rng.randrange(256) for _ in range(size))
    header = SpacePacketHeader(packet_type=PacketType.TM, apid=apid, seq_count=seq, data_len=size - 1)
    return bytes(SpacePacket(header, None, data).pack())


# ---- COP-1 FARM-1 via ccsds-cop ------------------------------------------------------------
def farm_scenario(window, steps):
    farm = Farm1(w=window)
    emit("farm", window)
    for kind, arg in steps:
        if kind == "AD":
            tc = tc_frame("AD", 0x1AB, 0, arg, None, b"cmd", True)
        elif kind == "BD":
            tc = tc_frame("BD", 0x1AB, 0, 0, None, b"rescue", True)
        elif kind == "UNLOCK":
            tc = tc_frame("BC", 0x1AB, 0, 0, None, b"\x00", True)
        else:  # SETVR
            tc = tc_frame("BC", 0x1AB, 0, 0, None, bytes([0x82, 0x00, arg]), True)
        accepted = farm._process_frame(uslp_of(tc))
        farm.higher_interface.buffer.clear()
        farm.higher_interface.signal.clear()
        word = ControlWord(
            cop_in_effect=1, vcid=0, lockout=farm.lockout, wait=farm.wait,
            retransmit=farm.retransmit, farm_b_counter=farm.b_counter, report_value=farm.v_r,
        ).pack()
        emit("farm_step", tc.hex(), int(bool(accepted)), word.hex())


def main():
    emit("randomizer", PN.hex())
    for _ in range(64):
        info = bytes(rng.randrange(256) for _ in range(7))
        emit("bch", info.hex(), bch_block(info).hex())
    for size in (1, 6, 7, 8, 13, 14, 40, 255):
        data = bytes(rng.randrange(256) for _ in range(size))
        emit("cltu", data.hex(), cltu(data).hex())
    for size in (8, 48, 223):
        frame = bytes(rng.randrange(256) for _ in range(size))
        emit("asm_randomised", frame.hex(), (ASM + randomise(frame)).hex())
    cases = [("AD", 0x1AB, 3, 7, 0xC0 | 5, b"hello", True), ("BD", 0x3FF, 63, 0, 0xC0, b"x" * 40, True),
             ("BC", 1, 0, 0, None, b"\x00", True), ("BC", 2, 1, 0, None, b"\x82\x00\x2A", True),
             ("AD", 0x155, 9, 255, None, bytes(range(200)), False)]
    for ftype, scid, vcid, seq, seg, data, fecf in cases:
        frame = tc_frame(ftype, scid, vcid, seq, seg, data, fecf)
        seg_field = "-" if seg is None else seg
        emit("tc", ftype, scid, vcid, seq, seg_field, int(fecf), data.hex(), frame.hex())
    # A unit longer than one TC frame: segments of at most 1016 bytes (1024 - header 5 -
    # segment header 1 - FECF 2), flags first 01 / continuing 00 / last 10, on MAP 4.
    unit = bytes(rng.randrange(256) for _ in range(2500))
    pieces = [unit[i:i + 1016] for i in range(0, len(unit), 1016)]
    flags = [1] + [0] * (len(pieces) - 2) + [2]
    frames = [tc_frame("AD", 0x1AB, 1, n, (f << 6) | 4, piece, True)
              for n, (f, piece) in enumerate(zip(flags, pieces))]
    emit("tc_unit", unit.hex(), ",".join(f.hex() for f in frames))
    for frame_len, ocf, fecf, sizes in ((64, True, True, (7, 20, 100, 50, 58, 3)),
                                        (223, False, True, (300, 10, 10, 10, 500)),
                                        (40, True, False, (28, 30))):
        packets = [space_packet(0x100 + i, i, size) for i, size in enumerate(sizes)]
        clcw = bytes.fromhex("0100a05a") if ocf else None
        frames = tm_frames(0x2C5, 2, frame_len, clcw, fecf, packets)
        emit("tm", 0x2C5, 2, frame_len, int(ocf), int(fecf), clcw.hex() if ocf else "-",
             ",".join(p.hex() for p in packets), ",".join(f.hex() for f in frames))
    # FARM-1 in Open and Lockout: in-sequence, gap (retransmit), duplicate, outside the window
    # (lockout), refused in lockout, Set V(R) refused in lockout, Unlock, Set V(R), BD, wrap.
    farm_scenario(10, [("AD", 0), ("AD", 1), ("AD", 3), ("AD", 2), ("AD", 1), ("AD", 3),
                       ("BD", None), ("AD", 4), ("AD", 200), ("AD", 5), ("SETVR", 9), ("BD", None),
                       ("UNLOCK", None), ("AD", 5), ("SETVR", 254), ("AD", 254), ("AD", 255),
                       ("AD", 0), ("AD", 250), ("AD", 5), ("AD", 1), ("UNLOCK", None), ("AD", 1)])
    # The window's edges (W 10: positive and negative halves 5): ahead 4 is a gap, ahead 5
    # locks out; behind 5 is a duplicate, behind 6 locks out.
    farm_scenario(10, [("AD", 4), ("AD", 0), ("AD", 252), ("AD", 251), ("UNLOCK", None),
                       ("AD", 6), ("UNLOCK", None), ("AD", 5), ("AD", 1), ("AD", 2)])
    with open(sys.argv[1], "w") as f:
        f.write("\n".join(out_lines) + "\n")


if __name__ == "__main__":
    main()
