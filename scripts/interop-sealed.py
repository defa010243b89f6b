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
4. the inbox must be erased and no master key may lie in clear anywhere on the flash;
5. run the board again, activate the spare association 3 (`--generate --spare`, key in
   pre-activation) with `spacenode ground keys activate --target 3`, stop it: both copies must
   now open as generation 2 to the key file with only association 3's key-state bits (flags
   bits 1..=2, provision.rs) changed from 1 (pre-activation) to 0 (active) and a CRC-32C
   (computed here) that matches, and the ground's key file now equal to it (the ground follows);
6. OTAR (TC 130,6, components/comms/src/sdls/otar.rs): `spacenode ground keys rekey` of a fresh
   key file, sent as a unit (`--link units`) to a UDP socket of this script instead of a node. The captured unit's PUS TC
   (130,6) is unwrapped with `cryptography`'s AESGCM under the file's key-encryption key
   (provision.rs version 3): it must carry SPI 3, the next key id (above the KEK's last KID and
   every key id in the file: 5 for a generated file, whose keys are ids 2, 3 and 4) and the key the tool kept in
   `FILE.next` (its answer never came, so FILE itself must be unchanged);
7. on the real board: deactivate association 2, rekey it (OTAR, then activate): both copies of
   the record must open as generation 5 to exactly the ground's key file, which must hold a new
   key for association 2 under key id 5, and the KEK's last key id 5.

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
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESGCMSIV

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


def crc32c(data):
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def run_node(binary, state, log_path, until, *grounds):
    """Run the board until its log holds `until`, then run each of `grounds` (lists of
    arguments to `spacenode ground`, with the link options added) while they succeed, then stop
    it. Returns the last ground command's completed process, or None."""
    uplink, down = free_port(), free_port()
    done = None
    with open(log_path, "w") as log:
        node = subprocess.Popen(
            [binary, "run", "--state", state, "--radio-uplink", f"127.0.0.1:{uplink}",
             "--ground", f"127.0.0.1:{down}"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline and until not in open(log_path).read():
            time.sleep(0.1)
        for ground in grounds:
            if until not in open(log_path).read() or (done and done.returncode != 0):
                break
            done = subprocess.run(
                [binary, "ground", *ground, "--node", f"127.0.0.1:{uplink}",
                 "--listen", f"127.0.0.1:{down}"], capture_output=True, text=True)
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=30)
    if until not in open(log_path).read():
        print(open(log_path).read())
        fail(f"the node never logged {until!r}")
    return done


ENTRIES = 7 + 36  # version 3: header, the "KEK follows" byte (1), then the KEK block
ENTRY = 42  # version 3 association entry: 40 bytes as in version 2 (byte 7: the suite), key id


def expect_record(state, seal_key, generation, plaintext, what):
    """Both copies of the key record on the board at `state` must open, under `seal_key`, as
    generation `generation` to `plaintext`. Returns the flash image."""
    flash = open(os.path.join(state, "comms-flash.flash"), "rb").read()
    for base in KEYS_COPIES:
        origin, got, plain = open_sealed(store_payload(flash, base), seal_key)
        if (origin, got) != (1, generation):
            fail(f"{what}, copy at {base:#x}: origin {origin}, generation {got}, expected 1, "
                 f"{generation}")
        if plain != plaintext:
            fail(f"{what}, copy at {base:#x}: the sealed file is not the expected one")
    return flash


def kek_of(file_bytes):
    """(MKID, last KID, KEK) of a version 3 provisioning file with a KEK."""
    return (int.from_bytes(file_bytes[7:9], "big"), int.from_bytes(file_bytes[9:11], "big"),
            file_bytes[11:43])


def master_of(file_bytes, i):
    return file_bytes[ENTRIES + ENTRY * i + 8:ENTRIES + ENTRY * i + 40]


def suite_and_key_id(file_bytes, i):
    """(suite code, key id) of entry i: 1 AES-256-GCM, 2 HMAC-SHA-256 (provision.rs)."""
    at = ENTRIES + ENTRY * i
    return file_bytes[at + 7], int.from_bytes(file_bytes[at + 40:at + 42], "big")


def index_of_spi(file_bytes, spi):
    for i in range(file_bytes[5]):
        if int.from_bytes(file_bytes[ENTRIES + ENTRY * i:ENTRIES + ENTRY * i + 2], "big") == spi:
            return i
    fail(f"no association {spi} in the key file")


def master_of_spi(file_bytes, spi):
    return master_of(file_bytes, index_of_spi(file_bytes, spi))


def otar_capture(binary, work):
    """Step 6: capture `ground keys rekey`'s unit on a socket and unwrap it. Returns its
    application data's length."""
    keyfile = os.path.join(work, "capture.keys")
    for f in (keyfile, keyfile + ".next"):
        if os.path.exists(f):
            os.remove(f)
    subprocess.run([binary, "provision-link", "--generate", "--spare", keyfile], check=True,
                   stdout=subprocess.DEVNULL)
    before = open(keyfile, "rb").read()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    ground = subprocess.Popen(
        [binary, "ground", "keys", "rekey", "--target", "3", "--spi", "1", "--provisioning",
         keyfile, "--state", os.path.join(work, "capture-ground"), "--node",
         f"127.0.0.1:{sock.getsockname()[1]}", "--listen", f"127.0.0.1:{free_port()}",
         # Units, so the telecommand itself goes out at once: on the CCSDS radio FOP-1 first
         # sends Set V(R) and waits for a CLCW that no node here will send.
         "--link", "units", "--attempts", "1", "--timeout-ms", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    unit, _ = sock.recvfrom(65536)
    out, _ = ground.communicate(timeout=30)
    if ground.returncode != 1 or "may or may not hold the new key of SA 3" not in out:
        fail(f"rekey without an answer: exit {ground.returncode}: {out}")
    if open(keyfile, "rb").read() != before:
        fail("the ground replaced its key file although the node never answered")
    kept = open(keyfile + ".next", "rb").read()
    # engine.rs: SPI (2) | ARSN (8) | space packet | MAC (16). The packet: primary header (6),
    # PUS-C TC secondary header (5: version and flags, service, subservice, source id), data,
    # CRC (2).
    packet = unit[10:-16]
    if int.from_bytes(unit[:2], "big") != 1 or packet[7] != 130 or packet[8] != 6:
        fail(f"the captured unit is not a TC 130,6 under SPI 1: {unit[:20].hex()}")
    app = packet[11:-2]
    mkid, last_kid, kek = kek_of(before)
    if int.from_bytes(app[:2], "big") != mkid:
        fail(f"the OTAR names MKID {int.from_bytes(app[:2], 'big')}, the file's KEK is {mkid}")
    iv, wrapped = app[2:14], app[14:]
    plain = AESGCM(kek).decrypt(iv, wrapped, app[:2])
    if len(plain) != 36:
        fail(f"the OTAR carries {len(plain)} bytes of keys, expected one 36-byte entry")
    spi, kid, new = int.from_bytes(plain[:2], "big"), int.from_bytes(plain[2:4], "big"), plain[4:]
    in_use = max(suite_and_key_id(before, i)[1] for i in range(before[5]))
    want = max(last_kid, in_use) + 1
    if (spi, kid) != (3, want):
        fail(f"the OTAR installs SPI {spi} key id {kid}, expected SPI 3 key id {want}")
    if new != master_of_spi(kept, 3) or new == master_of_spi(before, 3):
        fail("the unwrapped key is not the new key the ground kept in FILE.next")
    if kek_of(kept)[1] != kid or suite_and_key_id(kept, index_of_spi(kept, 3))[1] != kid:
        fail("FILE.next does not record the new key id (the KEK's last KID and SPI 3's key id)")
    bad = bytearray(app)
    bad[20] ^= 1
    try:
        AESGCM(kek).decrypt(bytes(bad[2:14]), bytes(bad[14:]), bytes(bad[:2]))
        fail("a changed wrapped byte still verified")
    except InvalidTag:
        pass
    return len(app), kid


def after_otar(binary, work, state, keyfile, seal_key):
    """Step 7: deactivate association 2, rekey it on the real board; open the record."""
    before = open(keyfile, "rb").read()
    link = ["--provisioning", keyfile, "--state", os.path.join(work, "ground"),
            "--timeout-ms", "1000"]
    done = run_node(binary, state, os.path.join(work, "node3.log"), "[comms] INFO  SA 3:",
                    ["keys", "deactivate", "--target", "2", "--spi", "1", *link],
                    ["keys", "rekey", "--target", "2", "--spi", "1", *link])
    if done is None or done.returncode != 0:
        fail(f"ground keys deactivate + rekey failed: {done and (done.stdout + done.stderr)}")
    after = open(keyfile, "rb").read()
    kid = suite_and_key_id(after, index_of_spi(after, 2))[1]
    if master_of_spi(after, 2) == master_of_spi(before, 2) or kek_of(after)[1] != 5 or kid != 5:
        fail("the ground's key file has no new key for association 2, or not under key id 5 "
             "(ids 2, 3, 4 are the generated file's)")
    if after[-4:] != crc32c(after[:-4]).to_bytes(4, "big"):
        fail("the ground's new key file's CRC-32C does not match")
    flash = expect_record(state, seal_key, 5, after, "after the OTAR (the ground's key file)")
    if master_of_spi(after, 2) in flash:
        fail("the new key lies in clear on comms-flash")


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    keyfile = os.path.join(work, "link.keys")
    state = os.path.join(work, "node")
    for f in (keyfile,):
        if os.path.exists(f):
            os.remove(f)
    subprocess.run([binary, "provision-link", "--generate", "--spare", keyfile], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([binary, "provision-link", "--state", state, keyfile], check=True,
                   stdout=subprocess.DEVNULL)
    file_bytes = open(keyfile, "rb").read()

    log_path = os.path.join(work, "node.log")
    run_node(binary, state, log_path,
             "SDLS keys: provisioned from the inbox, sealed on comms-flash")

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
    # provision.rs: 6-byte header, the "KEK follows" byte, the 36-byte KEK block (version 3),
    # then 42-byte entries with the suite at offset 7, the key at 8 and the key id at 40.
    count = file_bytes[5]
    if file_bytes[4] != 3 or file_bytes[6] != 1:
        fail(f"provision-link --generate wrote version {file_bytes[4]} (KEK byte "
             f"{file_bytes[6]}), expected 3 with a KEK")
    suites = [suite_and_key_id(file_bytes, i) for i in range(count)]
    if suites != [(1, 2), (2, 3), (1, 4)]:
        fail(f"the generated associations' (suite, key id) are {suites}, expected SPI 1 "
             f"AES-256-GCM id 2, SPI 2 HMAC-SHA-256 id 3, SPI 3 AES-256-GCM id 4")
    for secret in [kek_of(file_bytes)[2]] + [master_of(file_bytes, i) for i in range(count)]:
        if secret in flash:
            fail("a master key or the key-encryption key lies in clear on comms-flash")

    # Step 5: a key state change reseals the record as the next generation.
    ground = ["keys", "activate", "--target", "3", "--spi", "1", "--provisioning", keyfile,
              "--state", os.path.join(work, "ground"), "--timeout-ms", "1000"]
    done = run_node(binary, state, os.path.join(work, "node2.log"), "[comms] INFO  SA 3:",
                    ground)
    if done is None or done.returncode != 0:
        fail(f"ground keys activate failed: {done and (done.stdout + done.stderr)}")
    flags_at = ENTRIES + ENTRY * 2 + 6  # association 3's flags byte
    if count != 3 or (file_bytes[flags_at] >> 1) & 3 != 1:
        fail("the generated file has no spare association 3 in pre-activation")
    expected = bytearray(file_bytes)
    expected[flags_at] &= ~0b110 & 0xFF
    expected[-4:] = crc32c(bytes(expected[:-4])).to_bytes(4, "big")
    flash = expect_record(state, key, 2, bytes(expected),
                          "after activation (the key file with association 3 active)")
    for i in range(count):
        if master_of(file_bytes, i) in flash:
            fail(f"master key of association {i} lies in clear after the reseal")
    if open(keyfile, "rb").read() != bytes(expected):
        fail("the ground's key file did not follow the activation")

    captured, kid = otar_capture(binary, work)
    after_otar(binary, work, state, keyfile, key)
    print(f"interop-sealed: ok: both copies of the sealed key record open with AES-GCM-SIV "
          f"(cryptography) to the {len(file_bytes)}-byte key file; tampering and another "
          f"board's secret are refused; inbox erased; no key in clear; after `ground keys "
          f"activate` both open as generation 2 with only association 3's key state changed; "
          f"the OTAR the ground sent ({captured} bytes) unwraps with AES-GCM (cryptography) to "
          f"SPI 3, key id {kid} and the key it kept in FILE.next; after a real deactivate + rekey "
          f"the record opens as generation 5 to the ground's key file with the new key")


if __name__ == "__main__":
    main()
