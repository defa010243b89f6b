#!/usr/bin/env python3
"""Independent peer of spacenode's signed upgrade bundles, written from upgrade/README.md alone.

Uses PyPI `cryptography` for Ed25519 and ECDSA P-256 and the standard library for SHA-256.
Both directions:

  python -> spacenode: Python makes the keys, root version 1, a rotation to root version 2, a
      manifest signed by two release keys (Ed25519 + P-256) and the bundle; `spacenode bundle
      verify` must accept it, and must refuse a damaged image and a manifest short of the
      release threshold.
  spacenode -> python: `spacenode bundle keygen/root/release/create` make a bundle; this script
      parses and verifies it (root chain, thresholds of distinct keys, chunk and image hashes)
      and must refuse it after one signature byte is flipped.

Usage: interop-bundle.py SPACENODE_BINARY WORK_DIR. Prints PASS/FAIL lines; exits 1 on a failure.
"""

import hashlib
import os
import struct
import subprocess
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DOMAIN = b"spacenode/upgrade/v1"
ED25519, P256 = 1, 2
FAILED = []


def sha256(b):
    return hashlib.sha256(b).digest()


def report(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} bundle: {name}{': ' + detail if detail and not ok else ''}")
    if not ok:
        FAILED.append(name)


# ---- writing (the README's "Encoding") ---------------------------------------------------------

class Key:
    def __init__(self, alg):
        self.alg = alg
        self.sk = ed25519.Ed25519PrivateKey.generate() if alg == ED25519 else ec.generate_private_key(ec.SECP256R1())

    def public(self):
        pk = self.sk.public_key()
        if self.alg == ED25519:
            return pk.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return pk.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    def record(self):
        return key_record(self.alg, self.public())

    def key_id(self):
        return sha256(self.record())

    def sign(self, body):
        msg = DOMAIN + bytes([self.alg]) + sha256(body)
        if self.alg == ED25519:
            return self.sk.sign(msg)
        r, s = decode_dss_signature(self.sk.sign(msg, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def key_record(alg, key):
    return bytes([alg]) + struct.pack("<H", len(key)) + key


def root_body(version, root_threshold, root_keys, release_threshold, release_keys):
    out = bytes([1]) + struct.pack("<I", version)
    for threshold, keys in ((root_threshold, root_keys), (release_threshold, release_keys)):
        out += bytes([threshold, len(keys)]) + b"".join(k.record() for k in keys)
    return out


def manifest_body(board, hardware, version, counter, expires, image, log2):
    size = 1 << log2
    chunks = [sha256(image[i:i + size]) for i in range(0, len(image), size)]
    out = bytes([2, len(board)]) + board + bytes([len(hardware)]) + hardware
    out += struct.pack("<HHHIQQB", *version, counter, expires, len(image), log2)
    out += struct.pack("<I", len(chunks)) + sha256(b"".join(chunks)) + b"".join(chunks)
    return out


def signed_block(body, signers):
    out = struct.pack("<I", len(body)) + body + bytes([len(signers)])
    for k in signers:
        sig = k.sign(body)
        out += k.key_id() + bytes([k.alg]) + struct.pack("<H", len(sig)) + sig
    return out


def bundle(root_blocks, manifest_block, image):
    rest = struct.pack("<HBB", 1, len(root_blocks), 0) + b"".join(root_blocks) + manifest_block
    return b"SNBUNDLE" + struct.pack("<I", 12 + len(rest)) + rest + image


# ---- reading and verifying (the README's "Verification") --------------------------------------

class Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        if self.p + n > len(self.b):
            raise ValueError("truncated")
        out = self.b[self.p:self.p + n]
        self.p += n
        return out

    def u(self, fmt):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))[0]

    def end(self):
        if self.p != len(self.b):
            raise ValueError("trailing bytes")


def read_signed(r):
    body = r.take(r.u("I"))
    sigs = []
    for _ in range(r.u("B")):
        kid, alg = r.take(32), r.u("B")
        sigs.append((kid, alg, r.take(r.u("H"))))
    return body, sigs


def read_role(r):
    threshold, count = r.u("B"), r.u("B")
    keys = {}
    for _ in range(count):
        alg = r.u("B")
        key = r.take(r.u("H"))
        keys[sha256(key_record(alg, key))] = (alg, key)
    if not 1 <= threshold <= len(keys):
        raise ValueError("threshold out of range")
    return threshold, keys


def parse_root(body):
    r = Reader(body)
    if r.u("B") != 1:
        raise ValueError("not a root")
    version = r.u("I")
    root_role, release_role = read_role(r), read_role(r)
    r.end()
    return version, root_role, release_role


def verify_sig(alg, key, body, sig):
    msg = DOMAIN + bytes([alg]) + sha256(body)
    try:
        if alg == ED25519:
            ed25519.Ed25519PublicKey.from_public_bytes(key).verify(sig, msg)
        else:
            pk = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            pk.verify(der, msg, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False


def meets(body, sigs, role):
    threshold, keys = role
    good = set()
    for kid, alg, sig in sigs:
        if kid in keys:
            if keys[kid][0] != alg:
                raise ValueError("signature algorithm differs from its key's")
            if verify_sig(alg, keys[kid][1], body, sig):
                good.add(kid)
    return len(good) >= threshold


def verify_bundle(data, anchor, board, hardware):
    r = Reader(data)
    if r.take(8) != b"SNBUNDLE":
        raise ValueError("bad magic")
    header_len = r.u("I")
    r = Reader(data[:header_len])
    r.take(12)
    if r.u("H") != 1 or not 1 <= (count := r.u("B")) <= 8 or r.u("B") != 0:
        raise ValueError("bad header fields")
    roots = [read_signed(r) for _ in range(count)]
    mbody, msigs = read_signed(r)
    r.end()
    if sha256(roots[0][0]) != anchor:
        raise ValueError("root 1 does not match the anchor")
    current = parse_root(roots[0][0])
    if current[0] != 1 or not meets(*roots[0], current[1]):
        raise ValueError("root 1 not self-signed")
    for body, sigs in roots[1:]:
        nxt = parse_root(body)
        if nxt[0] != current[0] + 1:
            raise ValueError("root versions not consecutive")
        if not (meets(body, sigs, current[1]) and meets(body, sigs, nxt[1])):
            raise ValueError(f"root {nxt[0]} not signed by old and new thresholds")
        current = nxt
    if not meets(mbody, msigs, current[2]):
        raise ValueError("manifest below the release threshold")
    m = Reader(mbody)
    if m.u("B") != 2:
        raise ValueError("not a manifest")
    mboard, mhw = m.take(m.u("B")), m.take(m.u("B"))
    if (mboard, mhw) != (board, hardware):
        raise ValueError("wrong board or hardware")
    version = (m.u("H"), m.u("H"), m.u("H"))
    counter, _expires, length, log2, nchunks = m.u("I"), m.u("Q"), m.u("Q"), m.u("B"), m.u("I")
    image_hash = m.take(32)
    chunk_hashes = [m.take(32) for _ in range(nchunks)]
    m.end()
    image = data[header_len:]
    size = 1 << log2
    if len(image) != length or nchunks != -(-length // size):
        raise ValueError("image length mismatch")
    for i, h in enumerate(chunk_hashes):
        if sha256(image[i * size:(i + 1) * size]) != h:
            raise ValueError(f"chunk {i} hash mismatch")
    if sha256(b"".join(chunk_hashes)) != image_hash:
        raise ValueError("image hash mismatch")
    return version, counter, current[0]


# ---- the cases ---------------------------------------------------------------------------------

def run(binary, *args, cwd):
    return subprocess.run([binary, "bundle", *args], cwd=cwd, capture_output=True, text=True)


def python_to_spacenode(binary, work):
    d = os.path.join(work, "py")
    os.makedirs(d, exist_ok=True)
    root_a, root_b = Key(ED25519), Key(P256)
    rel_ed, rel_ec = Key(ED25519), Key(P256)
    image = os.urandom(200_000)
    root1 = root_body(1, 1, [root_a], 2, [rel_ed, rel_ec])
    root2 = root_body(2, 1, [root_b], 2, [rel_ed, rel_ec])
    chain = [signed_block(root1, [root_a]), signed_block(root2, [root_a, root_b])]
    mbody = manifest_body(b"sim", b"x86_64-linux", (1, 2, 3), 3, 10_000, image, 16)
    anchor = sha256(root1).hex()
    common = ["--anchor", anchor, "--board", "sim", "--hardware", "x86_64-linux",
              "--node-version", "1.0.0", "--node-counter", "1", "--now", "5", "--slot-size", "1048576"]

    good = bundle(chain, signed_block(mbody, [rel_ed, rel_ec]), image)
    open(os.path.join(d, "good.bundle"), "wb").write(good)
    p = run(binary, "verify", "good.bundle", *common, cwd=d)
    report("a Python bundle (root rotated, Ed25519 + P-256 release keys) verifies with spacenode",
           p.returncode == 0 and "VERIFIED" in p.stdout, p.stdout + p.stderr)

    damaged = bytearray(good)
    damaged[-1000] ^= 1
    open(os.path.join(d, "damaged.bundle"), "wb").write(damaged)
    p = run(binary, "verify", "damaged.bundle", *common, cwd=d)
    report("spacenode refuses the Python bundle with one image bit flipped",
           p.returncode == 1 and "chunk 3 does not match" in p.stderr, p.stdout + p.stderr)

    short = bundle(chain, signed_block(mbody, [rel_ec]), image)
    open(os.path.join(d, "short.bundle"), "wb").write(short)
    p = run(binary, "verify", "short.bundle", *common, cwd=d)
    report("spacenode refuses a Python manifest signed by 1 of the 2 release keys",
           p.returncode == 1 and "signed by 1 of the 2 required keys" in p.stderr, p.stdout + p.stderr)

    # Python's key files are read by spacenode too (README "Files").
    open(os.path.join(d, "rel.pub"), "wb").write(b"SNPUBKEY" + rel_ec.record())
    p = run(binary, "inspect", "--json", "rel.pub", cwd=d)
    report("spacenode reads a Python public key file with the same key id",
           p.returncode == 0 and rel_ec.key_id().hex() in p.stdout, p.stdout + p.stderr)


def spacenode_to_python(binary, work):
    d = os.path.join(work, "rs")
    os.makedirs(d, exist_ok=True)
    steps = [
        ["keygen", "--alg", "ed25519", "--out", "root"],
        ["keygen", "--alg", "p256", "--out", "rel1"],
        ["keygen", "--alg", "ed25519", "--out", "rel2"],
        ["root", "init", "--root-key", "root.pub", "--root-threshold", "1",
         "--release-key", "rel1.pub", "--release-key", "rel2.pub", "--release-threshold", "2", "--out", "root-1"],
        ["root", "sign", "--key", "root", "root-1"],
        ["release", "new", "--image", "image", "--board", "sim", "--hardware", "x86_64-linux",
         "--version", "2.0.0", "--security-counter", "4", "--expires", "99999", "--chunk-size", "4096",
         "--node-version", "1.9.0", "--node-counter", "4", "--out", "manifest"],
        ["release", "sign", "--key", "rel1", "manifest"],
        ["release", "sign", "--key", "rel2", "manifest"],
        ["create", "--root", "root-1", "--manifest", "manifest", "--image", "image", "--out", "bundle"],
    ]
    open(os.path.join(d, "image"), "wb").write(os.urandom(50_001))
    for s in steps:
        p = run(binary, *s, cwd=d)
        if p.returncode != 0:
            report("spacenode bundle " + " ".join(s[:2]), False, p.stdout + p.stderr)
            return
    mode = os.stat(os.path.join(d, "root")).st_mode & 0o777
    report("spacenode writes secret key files with mode 0600", mode == 0o600, oct(mode))
    root_file = open(os.path.join(d, "root-1"), "rb").read()
    anchor = sha256(read_signed(Reader(root_file))[0])
    data = open(os.path.join(d, "bundle"), "rb").read()
    try:
        got = verify_bundle(data, anchor, b"sim", b"x86_64-linux")
        report("a spacenode bundle (P-256 + Ed25519 release keys) verifies in Python",
               got == ((2, 0, 0), 4, 1), repr(got))
    except ValueError as e:
        report("a spacenode bundle verifies in Python", False, str(e))
    tampered = bytearray(data)
    header_len = struct.unpack_from("<I", data, 8)[0]
    tampered[header_len - 1] ^= 1  # the last byte of the manifest's last signature
    try:
        verify_bundle(bytes(tampered), anchor, b"sim", b"x86_64-linux")
        report("Python refuses the spacenode bundle with a signature byte flipped", False, "accepted")
    except ValueError as e:
        report("Python refuses the spacenode bundle with a signature byte flipped",
               "release threshold" in str(e), str(e))


def main():
    binary, work = os.path.abspath(sys.argv[1]), sys.argv[2]
    python_to_spacenode(binary, work)
    spacenode_to_python(binary, work)
    if FAILED:
        print(f"bundle interop: {len(FAILED)} case(s) failed")
        sys.exit(1)
    print("bundle interop: all cases passed")


if __name__ == "__main__":
    main()
