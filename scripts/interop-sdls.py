#!/usr/bin/env python3
"""Independent SDLS peer for components/spacelink (issue 19 point 3).

Written from CCSDS 355.0 (Space Data Link Security), 232.0 (TC frames) and 132.0 (TM frames),
sharing no code with the Rust crate. The cryptography is PyPI `cryptography`: AESGCM for the
AES-256-GCM suite, its HMAC with SHA-256 (MAC = the leftmost 128 bits) for the authentication
suite. The FECF is ccsds_coding.py's (Python's own binascii.crc_hqx, CRC-16/CCITT, preset 0xFFFF).

Secured frame layout (both ends configure it per security association):
  TC: primary header (5) | segment header (1) | SPI (2) | IV (12, GCM) or ARSN (8, HMAC)
      | data | MAC (16) | FECF (2)
  TM: primary header (6) | SPI (2) | IV or ARSN | data | MAC (16) | OCF (4) | FECF (2)
  GCM IV = the association's 4-byte fixed field | the 8-byte sequence number.
  Authenticated: the primary header ANDed with the association's mask (a managed parameter:
  these cases leave out the TC frame sequence number N(S), to exercise a partial mask, and
  the TM master channel frame count), the segment header, the security header, and (HMAC)
  the data; GCM encrypts the data and authenticates the rest as AAD.
  Receiving: SPI known, association for this spacecraft and virtual channel, IV fixed field,
  MAC, then the anti-replay window (accept last < seq <= last + W), in that order.

The cases follow NASA CryptoLib's EXERCISE_ARSN / EXERCISE_IV tests: next number, replay,
the window's edge, a skipped number arriving late, one past the window, a wrong key, an unknown
SPI, a frame moved to another channel, header bits inside and outside the mask, number 0.

Usage:
  interop-sdls.py all           what scripts/interop runs (from the repository root): gen into a
                                temporary file and compare it with the committed vectors, run the
                                crate's `sdls_peer` test, then check the frames of the
                                `sdls_apply` example; exits non-zero on any difference
  interop-sdls.py gen OUT       write the cases with the frames this peer applies (deterministic;
                                CI compares OUT with the committed
                                components/spacelink/tests/vectors/sdls-peer.txt; the crate's
                                `sdls_peer` test processes them and applies the same byte for byte)
  interop-sdls.py check CASES RUST_FRAMES
                                process the frames the Rust crate applied
                                (`target/debug/examples/sdls_apply CASES`, built by
                                scripts/interop-setup) and
                                expect every case's verdict and plain data
"""

import filecmp
import hmac as pyhmac
import os
import random
import subprocess
import sys
import tempfile

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as chmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from ccsds_coding import crc16

SCID = 0x2AB
TC_VC = 3
TM_VC = 1
TM_FRAME_LEN = 64
OCF = bytes.fromhex("010C0005")
MAC_LEN = 16
TC_MASK = bytes.fromhex("FFFFFFFF00")
TM_MASK = bytes.fromhex("FFFF00FFFFFF")


class Sa:
    def __init__(self, name, suite, spi, vcid, key, iv_fixed, window):
        self.name, self.suite, self.spi, self.vcid = name, suite, spi, vcid
        self.key, self.iv_fixed, self.window = key, iv_fixed, window
        self.last = 0

    def header_len(self):
        return 2 + (12 if self.suite == "gcm" else 8)

    def line(self):
        return (f"sa {self.name} {self.suite} {self.spi} {SCID} {self.vcid} {self.key.hex()} "
                f"{self.iv_fixed.hex()} {self.window} {TC_MASK.hex()} {TM_MASK.hex()}")


def mask(primary, m):
    return bytes(a & b for a, b in zip(primary, m))


def seal(suite, key, iv_fixed, seq, aad, data):
    """Returns (data as sent, MAC)."""
    if suite == "gcm":
        out = AESGCM(key).encrypt(iv_fixed + seq.to_bytes(8, "big"), data, aad)
        return out[:-MAC_LEN], out[-MAC_LEN:]
    h = chmac.HMAC(key, hashes.SHA256())
    h.update(aad + data)
    return data, h.finalize()[:MAC_LEN]


def security_header(suite, spi, iv_fixed, seq):
    field = iv_fixed + seq.to_bytes(8, "big") if suite == "gcm" else seq.to_bytes(8, "big")
    return spi.to_bytes(2, "big") + field


# ---- ApplySecurity ---------------------------------------------------------------------------
def apply_tc(sa, key, spi, seq, ftype, ns, vcid, data):
    bypass, control = {"ad": (0, 0), "bd": (1, 0)}[ftype]
    sec = security_header(sa.suite, spi, sa.iv_fixed, seq)
    length = 5 + 1 + len(sec) + len(data) + MAC_LEN + 2
    primary = bytes([
        (bypass << 5) | (control << 4) | (SCID >> 8),
        SCID & 0xFF,
        (vcid << 2) | ((length - 1) >> 8),
        (length - 1) & 0xFF,
        ns,
    ])
    segment = bytes([0xC0 | 9])  # unsegmented, MAP 9
    body, mac = seal(sa.suite, key, sa.iv_fixed, seq, mask(primary, TC_MASK) + segment + sec, data)
    frame = primary + segment + sec + body + mac
    return frame + crc16(frame)


def apply_tm(sa, key, spi, seq, counts, vcid, data):
    mc, vc = counts
    primary = bytes([
        (SCID >> 4) & 0x3F,
        ((SCID & 0x0F) << 4) | (vcid << 1) | 1,
        mc,
        vc,
        0x18, 0x00,  # no secondary header, sync 0, order 0, segment length id 11, FHP 0
    ])
    sec = security_header(sa.suite, spi, sa.iv_fixed, seq)
    body, mac = seal(sa.suite, key, sa.iv_fixed, seq, mask(primary, TM_MASK) + sec, data)
    frame = primary + sec + body + mac + OCF
    return frame + crc16(frame)


# ---- ProcessSecurity -------------------------------------------------------------------------
def process(sas, frame, kind):
    """Returns (verdict, plain data or None); changes an association's window only on 'ok'."""
    if crc16(frame[:-2]) != frame[-2:]:
        return "crc", None
    if kind == "tc":
        primary, prefix, m = frame[:5], 6, TC_MASK
        vcid = primary[2] >> 2
        scid = ((primary[0] & 3) << 8) | primary[1]
        body = frame[6:-2]
    else:
        primary, prefix, m = frame[:6], 6, TM_MASK
        vcid = (primary[1] >> 1) & 7
        scid = ((primary[0] & 0x3F) << 4) | (primary[1] >> 4)
        body = frame[6:-6]
    spi = int.from_bytes(body[:2], "big")
    sa = next((s for s in sas if s.spi == spi), None)
    if sa is None:
        return "unknown", None
    if scid != SCID or vcid != sa.vcid:
        return "channel", None
    hl = sa.header_len()
    sec, data, mac = body[:hl], body[hl:-MAC_LEN], body[-MAC_LEN:]
    seq = int.from_bytes(sec[-8:], "big")
    aad = mask(primary, m) + frame[len(primary):prefix] + sec
    if sa.suite == "gcm":
        if sec[2:6] != sa.iv_fixed:
            return "ivfield", None
        try:
            plain = AESGCM(sa.key).decrypt(sec[2:], data + mac, aad)
        except InvalidTag:
            return "badmac", None
    else:
        h = chmac.HMAC(sa.key, hashes.SHA256())
        h.update(aad + data)
        if not pyhmac.compare_digest(h.finalize()[:MAC_LEN], mac):
            return "badmac", None
        plain = data
    if seq <= sa.last:
        return "replay", None
    if seq - sa.last > sa.window:
        return "outside", None
    sa.last = seq
    return "ok", plain


# ---- The cases -------------------------------------------------------------------------------
def associations(rng):
    def key():
        return bytes(rng.getrandbits(8) for _ in range(32))
    return [
        Sa("tc-gcm", "gcm", 0x0101, TC_VC, key(), bytes.fromhex("47524E44"), 5),
        Sa("tc-hmac", "hmac", 0x0102, TC_VC, key(), bytes(4), 5),
        Sa("tm-gcm", "gcm", 0x0201, TM_VC, key(), bytes.fromhex("4E4F4445"), 5),
        Sa("tm-hmac", "hmac", 0x0202, TM_VC, key(), bytes(4), 5),
    ]


# (sequence number, what differs from an honest frame, expected verdict), in receiving order.
# As in CryptoLib's EXERCISE_ARSN: window W = 5.
SCRIPT = [
    (1, "-", "ok"),
    (1, "-", "replay"),           # the same number again
    (2, "-", "ok"),
    (7, "-", "ok"),               # last + W: the window's edge
    (5, "-", "replay"),           # skipped, arriving after a higher one
    (13, "-", "outside"),         # last + W + 1
    (8, "key", "badmac"),         # wrong key
    (8, "spi", "unknown"),        # an SPI nobody holds
    (8, "vcid", "channel"),       # the association's frame on another virtual channel
    (8, "ivfield", "ivfield"),    # GCM: another sender's IV fixed field (HMAC: plain frame)
    (8, "covered", "badmac"),     # a header bit inside the mask changed after sealing
    (8, "-", "ok"),
    (9, "uncovered", "ok"),       # a header bit outside the mask changed after sealing
    (9, "-", "replay"),
    (2**64 - 1, "-", "outside"),
    (12, "-", "ok"),
    (14, "-", "ok"),
    (0, "-", "replay"),           # number 0 is never accepted (last: the crate never sends 0)
]


def frame_for(sa, kind, seq, change, data, counts, rng_ns):
    key = sa.key if change != "key" else bytes(b ^ 0xFF for b in sa.key)
    spi = sa.spi if change != "spi" else 0x0999
    vcid = sa.vcid if change != "vcid" else sa.vcid + 1
    saved = sa.iv_fixed
    if change == "ivfield":
        sa.iv_fixed = bytes.fromhex("FFFFFFFF")
    if kind == "tc":
        frame = apply_tc(sa, key, spi, seq, "ad", rng_ns, vcid, data)
    else:
        frame = apply_tm(sa, key, spi, seq, counts, vcid, data)
    sa.iv_fixed = saved
    frame = bytearray(frame)
    if change == "covered":
        # TC: the bypass flag (AD becomes BD); TM: the virtual channel frame count.
        frame[0 if kind == "tc" else 3] ^= 0x20 if kind == "tc" else 0x01
    elif change == "uncovered":
        # TC: N(S); TM: the master channel frame count.
        frame[4 if kind == "tc" else 2] ^= 0x5A
    if change in ("covered", "uncovered"):
        frame[-2:] = crc16(bytes(frame[:-2]))
    return bytes(frame)


def tamper_of(change, kind):
    """The byte change after sealing, as 'index:xor' (FECF recomputed), or '-'."""
    if change == "covered":
        return "0:20" if kind == "tc" else "3:01"
    if change == "uncovered":
        return "4:5a" if kind == "tc" else "2:5a"
    return "-"


def gen(path):
    rng = random.Random(355)
    sas = associations(rng)
    receivers = associations(random.Random(355))
    lines = [
        "# SDLS cases and frames from scripts/interop-sdls.py (gen). One 'sa' line per security",
        "# association (name suite spi scid vcid key iv_fixed window tc_mask tm_mask), then one",
        "# 'frame' line per frame in receiving order:",
        "# frame KIND SA SEQ CHANGE SEND_KEY SEND_SPI SEND_VCID SEND_IV_FIXED NS|MC,VC TAMPER",
        "#       DATA FRAME VERDICT",
        "# TAMPER is index:xor applied after sealing (FECF recomputed), or '-'.",
    ]
    lines += [sa.line() for sa in sas]
    for sa, rx in zip(sas, receivers):
        kind = sa.name[:2]
        tm_data_len = TM_FRAME_LEN - 6 - sa.header_len() - MAC_LEN - 4 - 2
        vc_counts = {}
        mc_count = 0
        for i, (seq, change, expect) in enumerate(SCRIPT):
            if change == "ivfield" and sa.suite != "gcm":
                continue  # no IV in an HMAC association
            n = rng.randrange(1, 40) if kind == "tc" else tm_data_len
            data = bytes(rng.getrandbits(8) for _ in range(n))
            ns = rng.randrange(256)
            # One TM framer per association: the master count counts every frame, each
            # virtual channel's count its own frames.
            vcid = sa.vcid if change != "vcid" else sa.vcid + 1
            counts = (mc_count, vc_counts.get(vcid, 0))
            vc_counts[vcid] = (counts[1] + 1) % 256
            mc_count = (mc_count + 1) % 256
            frame = frame_for(sa, kind, seq, change, data, counts, ns)
            verdict, plain = process([rx], frame, kind)
            if verdict != expect:
                sys.exit(f"interop-sdls: own case {sa.name} #{i} gives {verdict}, expected {expect}")
            if verdict == "ok" and plain != data:
                sys.exit(f"interop-sdls: own case {sa.name} #{i} decrypts wrongly")
            key = sa.key if change != "key" else bytes(b ^ 0xFF for b in sa.key)
            spi = sa.spi if change != "spi" else 0x0999
            iv_fixed = sa.iv_fixed if change != "ivfield" else bytes.fromhex("FFFFFFFF")
            where = str(ns) if kind == "tc" else f"{counts[0]},{counts[1]}"
            lines.append(
                f"frame {kind} {sa.name} {seq} {change} {key.hex()} {spi} {vcid} {iv_fixed.hex()} "
                f"{where} {tamper_of(change, kind)} {data.hex()} {frame.hex()} {verdict}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"interop-sdls: wrote {sum(1 for l in lines if l.startswith('frame'))} cases to {path}")


def check(cases_path, rust_path):
    sas = {}
    cases = []
    for line in open(cases_path):
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        if f[0] == "sa":
            sas[f[1]] = Sa(f[1], f[2], int(f[3]), int(f[5]), bytes.fromhex(f[6]),
                           bytes.fromhex(f[7]), int(f[8]))
        else:
            cases.append(f)
    rust = [l.strip() for l in open(rust_path) if l.strip()]
    if len(rust) != len(cases):
        sys.exit(f"interop-sdls: FAIL {len(rust)} Rust frames for {len(cases)} cases")
    passed = skipped = 0
    for case, frame_hex in zip(cases, rust):
        if frame_hex == "-":
            # The crate refuses to send this case (sequence number 0): nothing to process.
            skipped += 1
            continue
        kind, name, data, expect = case[1], case[2], bytes.fromhex(case[11]), case[13]
        verdict, plain = process([sas[name]], bytes.fromhex(frame_hex), kind)
        if verdict != expect or (verdict == "ok" and plain != data):
            sys.exit(f"interop-sdls: FAIL {name} seq {case[3]} ({case[4]}): the peer says "
                     f"{verdict} to the Rust frame, expected {expect}")
        passed += 1
    print(f"interop-sdls: PASS the Python peer processed {passed} Rust-applied frames "
          f"(TC and TM, AES-256-GCM and HMAC-SHA-256) with the expected verdicts; {skipped} "
          f"cases (sequence number 0) the crate rightly refuses to send")


COMMITTED = "components/spacelink/tests/vectors/sdls-peer.txt"


def run_all():
    with tempfile.TemporaryDirectory() as tmp:
        fresh = os.path.join(tmp, "sdls-peer.txt")
        gen(fresh)
        if not filecmp.cmp(fresh, COMMITTED, shallow=False):
            sys.exit(f"interop-sdls: FAIL the peer's frames differ from the committed {COMMITTED}")
        # --workspace: the features `cargo test --workspace` built with (scripts/interop-setup)
        subprocess.run(["cargo", "test", "-q", "--workspace", "--test", "sdls_peer"], check=True)
        rust = os.path.join(tmp, "rust-frames.txt")
        with open(rust, "w") as out:
            subprocess.run(["target/debug/examples/sdls_apply", COMMITTED], check=True, stdout=out)
        check(COMMITTED, rust)


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "all":
        run_all()
    elif len(sys.argv) == 3 and sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
