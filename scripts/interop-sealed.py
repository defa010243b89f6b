#!/usr/bin/env python3
"""Interop check of comms' sealed SDLS key record against an independent AES-GCM-SIV.

The record format is documented in components/comms/src/sdls/sealed.rs (payload) and
components/store/src/format.rs (the store's copy header); the flash map in
components/comms-partition/src/flash_map.rs. This script is written from those documents, with
PyPI `cryptography`'s AESGCMSIV (RFC 8452) and Python's hmac/hashlib, not from the Rust code.

Steps, against the real `spacenode` binary:
1. `provision-link --generate` a key file, `provision-link --state` it into a fresh board;
2. `spacenode run` the board until comms says it sealed the keys, then stop it;
3. read both copies of the key record from comms-flash.flash and open each with AESGCMSIV under
   HMAC-SHA3-256(sim sealing secret, "spacenode/sdls-keys/seal/v1"): the plaintext must be the
   key file byte for byte; a flipped ciphertext bit or a changed header byte must fail the tag;
4. the inbox must be erased and no master key may lie in clear anywhere on the flash.

Usage: interop-sealed.py SPACENODE_BINARY WORKDIR
"""

import hashlib
import hmac
import os
import signal
import socket
import subprocess
import sys
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

# boards/sim/src/drivers.rs: the sim board's public sealing secret.
SIM_SEAL_SECRET = b"spacenode sim board seal (PUBLIC"
LABEL = b"spacenode/sdls-keys/seal/v1"
KEYS_COPIES = (32 * 1024, 40 * 1024)  # keys_layout(): two copies of 8 KiB
INBOX = (48 * 1024, 56 * 1024)  # inbox_layout(): two copies of 4 KiB


def fail(msg):
    print(f"interop-sealed: FAIL: {msg}")
    sys.exit(1)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def store_payload(flash, base):
    """The payload of the record copy at `base` (store format: little-endian header)."""
    if flash[base:base + 4] != b"SNR1" or flash[base + 4:base + 8] != b"LKEY":
        fail(f"no LKEY record copy at {base:#x}: {flash[base:base + 8]!r}")
    n = int.from_bytes(flash[base + 16:base + 20], "little")
    return flash[base + 20:base + 20 + n]


def open_sealed(payload, key):
    """Open a sealed payload (sealed.rs): returns (origin, generation, plaintext)."""
    head = payload[:12]
    if head[:4] != b"SNLK" or head[4] != 1:
        fail(f"bad sealed header {head!r}")
    origin, generation = head[5], int.from_bytes(head[6:10], "big")
    n = int.from_bytes(head[10:12], "big")
    if len(payload) != 12 + n + 16:
        fail(f"sealed payload of {len(payload)} bytes announces {n}")
    nonce = b"SNLK" + bytes(4) + generation.to_bytes(4, "big")
    plain = AESGCMSIV(key).decrypt(nonce, payload[12:], head)
    return origin, generation, plain


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    keyfile = os.path.join(work, "link.keys")
    state = os.path.join(work, "node")
    for f in (keyfile,):
        if os.path.exists(f):
            os.remove(f)
    subprocess.run([binary, "provision-link", "--generate", keyfile], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([binary, "provision-link", "--state", state, keyfile], check=True,
                   stdout=subprocess.DEVNULL)
    file_bytes = open(keyfile, "rb").read()

    log_path = os.path.join(work, "node.log")
    with open(log_path, "w") as log:
        node = subprocess.Popen(
            [binary, "run", "--state", state, "--radio-uplink", f"127.0.0.1:{free_port()}",
             "--ground", f"127.0.0.1:{free_port()}"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        sealed_line = "SDLS keys: provisioned from the inbox, sealed on comms-flash"
        while time.time() < deadline and sealed_line not in open(log_path).read():
            time.sleep(0.1)
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=30)
    if sealed_line not in open(log_path).read():
        print(open(log_path).read())
        fail("comms did not seal the provisioned keys")

    flash = open(os.path.join(state, "comms-flash.flash"), "rb").read()
    key = hmac.new(SIM_SEAL_SECRET, LABEL, hashlib.sha3_256).digest()
    for base in KEYS_COPIES:
        payload = store_payload(flash, base)
        origin, generation, plain = open_sealed(payload, key)
        if (origin, generation) != (1, 1):
            fail(f"copy at {base:#x}: origin {origin}, generation {generation}, expected 1, 1")
        if plain != file_bytes:
            fail(f"copy at {base:#x}: the sealed plaintext is not the key file")
        for at in (5, 13, len(payload) - 1):
            bad = bytearray(payload)
            bad[at] ^= 1
            try:
                open_sealed(bytes(bad), key)
                fail(f"copy at {base:#x}: byte {at} changed and the tag still verified")
            except InvalidTag:
                pass
        try:
            open_sealed(payload, hmac.new(b"another board", LABEL, hashlib.sha3_256).digest())
            fail("another board's sealing secret opened the record")
        except InvalidTag:
            pass
    if flash[INBOX[0]:INBOX[1]] != b"\xff" * (INBOX[1] - INBOX[0]):
        fail("the provisioning inbox was not erased after sealing")
    # provision.rs: 6-byte header, then 40-byte entries with the key at offset 8.
    count = file_bytes[5]
    for i in range(count):
        master = file_bytes[6 + 40 * i + 8:6 + 40 * i + 40]
        if master in flash:
            fail(f"master key of association {i} lies in clear on comms-flash")
    print(f"interop-sealed: ok: both copies of the sealed key record open with AES-GCM-SIV "
          f"(cryptography) to the {len(file_bytes)}-byte key file; tampering and another "
          f"board's secret are refused; inbox erased; no key in clear")


if __name__ == "__main__":
    main()
