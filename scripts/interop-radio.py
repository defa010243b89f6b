#!/usr/bin/env python3
"""An independent ground station for the node's CCSDS radio (issue 19 point 5): a real
`spacenode run --radio-link ccsds:421` node, and this script as its ground, sharing no code with
the Rust crates.

Written from the standards and the project's documented formats:
  - the key file: components/comms/src/sdls/provision.rs, format version 3 (each association's
    SPI, SDLS suite code 1 AES-256-GCM / 2 HMAC-SHA-256, master key, key id), as
    `spacenode provision-link --generate` writes it;
  - the session keys: components/comms/src/sdls/mac.rs (NIST SP 800-108 counter-mode KDF,
    PRF = HMAC-SHA3-256, one key per direction and key epoch), with Python's hmac and hashlib;
  - PUS-C telecommand 17,1 (ECSS-E-ST-70-41C) with its CRC-16/CCITT (binascii.crc_hqx);
  - a type-BD TC transfer frame (CCSDS 232.0) with the segment header and the FECF, secured by
    SDLS (355.0: security header SPI + IV (GCM: 4-byte fixed field 0 + the 8-byte sequence
    number) or ARSN (HMAC), the MAC after the data, the whole primary header and the segment
    header authenticated) with PyPI `cryptography`'s AESGCM and HMAC-SHA-256;
  - the CLTU, the attached sync marker and the pseudo-randomiser of ccsds_coding.py beside this
    script (231.0, 131.0);
  - the downlink: TM transfer frames (132.0, 1,115 bytes, OCF and FECF), SDLS ProcessSecurity with
    the node's downlink session key (the MC frame count left out of the MAC), space packets by
    the first header pointer, PUS-C TM service and subservice.

Steps: provision a fresh board with a generated key file (SPI 1 AES-256-GCM, SPI 2
HMAC-SHA-256); run it; send one CLTU with a secured ping under SPI 1 and one under SPI 2; each
must be answered by the node with 17,2 in TM frames this script authenticates under that
association's own suite (the HMAC frames' packets in clear, the GCM ones encrypted); a ping
under SPI 2 secured with AES-256-GCM (the wrong suite for that association) must get no 17,2.
Then the resynchronisation of a ground beyond the node's window (`resync`): a ping 5,000 ahead
gets no answer; a set-ARSN (TC 130,3) for its own frame under SPI 2 (no key management) is not
taken; under SPI 1 it is (1,7), and the next ping is answered.

Usage: interop-radio.py SPACENODE_BINARY WORKDIR
"""

import hashlib
import hmac
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import sibling
from ccsds_coding import ASM, cltu, crc16, randomise
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as chmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


# The key file's CRC-32C, as the sealed-keys peer computes it.
crc32c = sibling.load("interop-sealed.py").crc32c

SCID = 421
TM_FRAME_LEN = 1115
APID = 0x0A0
MAC_LEN = 16
TM_MASK = bytes.fromhex("FFFF00FFFFFF")


NAME = "interop-radio"  # what a failure line starts with (interop-farm.py sets its own)


def fail(msg):
    print(f"{NAME}: FAIL: {msg}")
    sys.exit(1)


# ---- the key file (provision.rs, version 3) ------------------------------------------------
def associations(blob):
    """{spi: (suite code, master key, key id)} of a version 3 file."""
    if blob[:4] != b"SNSA" or blob[4] != 3:
        fail(f"the key file is not SNSA version 3 (version byte {blob[4]})")
    if crc32c(blob[:-4]) != int.from_bytes(blob[-4:], "big"):
        fail("the key file's CRC-32C does not match")
    at = 7 + (36 if blob[6] == 1 else 0)
    out = {}
    for _ in range(blob[5]):
        e = blob[at:at + 42]
        out[int.from_bytes(e[:2], "big")] = (e[7], e[8:40], int.from_bytes(e[40:42], "big"))
        at += 42
    return out


def session_key(master, direction, spi, epoch=0):
    label = (b"\x01spacenode-sdls\x00" + direction + spi.to_bytes(2, "big")
             + epoch.to_bytes(4, "big") + b"\x01\x00")
    return hmac.new(master, label, hashlib.sha3_256).digest()


# ---- uplink: PUS TC, TC frame, SDLS, CLTU --------------------------------------------------
def telecommand(service, subservice, app, seq):
    """A PUS-C TC packet (version 2, all acknowledgements, source id 0x42) with sequence count
    `seq` and application data `app`."""
    body = bytes([0x2F, service, subservice, 0x00, 0x42]) + app
    length = len(body) + 2 - 1
    head = (0x1800 | APID).to_bytes(2, "big") + (0xC000 | seq).to_bytes(2, "big")
    packet = head + length.to_bytes(2, "big") + body
    return packet + crc16(packet)


def ping_tc(seq):
    return telecommand(17, 1, b"", seq)


def seal(suite, key, seq, aad, data):
    if suite == 1:
        out = AESGCM(key).encrypt(b"\x00" * 4 + seq.to_bytes(8, "big"), data, aad)
        return out[:-MAC_LEN], out[-MAC_LEN:]
    h = chmac.HMAC(key, hashes.SHA256())
    h.update(aad + data)
    return data, h.finalize()[:MAC_LEN]


def security_header(suite, spi, seq):
    return spi.to_bytes(2, "big") + (b"\x00" * 4 if suite == 1 else b"") + seq.to_bytes(8, "big")


def tc_frame(suite, key, spi, seq, packet, ftype="BD", ns=0):
    """A TC frame on virtual channel 0 secured under `suite`: type BD (the default) or AD
    (N(S) `ns`) with the segment header (unsegmented, MAP 0), or BC (a COP-1 directive, no
    segment header). The primary header, the segment header and the security header are
    authenticated."""
    bypass, ctrl = {"AD": (0, 0), "BD": (1, 0), "BC": (1, 1)}[ftype]
    segment = b"" if ftype == "BC" else b"\xC0"
    sec = security_header(suite, spi, seq)
    length = 5 + len(segment) + len(sec) + len(packet) + MAC_LEN + 2
    primary = bytes([(bypass << 5) | (ctrl << 4) | (SCID >> 8), SCID & 0xFF, (length - 1) >> 8,
                     (length - 1) & 0xFF, ns])
    data, mac = seal(suite, key, seq, primary + segment + sec, packet)
    frame = primary + segment + sec + data + mac
    return frame + crc16(frame)


def bd_frame(suite, key, spi, seq, packet):
    """A type-BD TC frame, unsegmented on MAP 0, secured under `suite`."""
    return tc_frame(suite, key, spi, seq, packet)


# ---- downlink: ASM, randomiser, TM frame, SDLS, packets ------------------------------------
def tm_packets(datagram, keys):
    """(spi, suite, seq, [packets], clcw) of one downlink datagram, or a reason it is refused.
    The CLCW is the operational control field's 4 bytes (not authenticated: 355.0 leaves the OCF
    out of the MAC)."""
    if datagram[:4] != ASM or len(datagram) != 4 + TM_FRAME_LEN:
        return "not ASM + one TM frame"
    frame = randomise(datagram[4:])
    if crc16(frame[:-2]) != frame[-2:]:
        return "FECF"
    primary = frame[:6]
    if ((primary[0] & 0x3F) << 4) | (primary[1] >> 4) != SCID:
        return "spacecraft id"
    spi = int.from_bytes(frame[6:8], "big")
    if spi not in keys:
        return f"unknown SPI {spi}"
    suite, key = keys[spi]
    hl = 2 + (12 if suite == 1 else 8)
    sec = frame[6:6 + hl]
    body, mac = frame[6 + hl:-6 - MAC_LEN], frame[-6 - MAC_LEN:-6]
    aad = bytes(a & m for a, m in zip(primary, TM_MASK)) + sec
    if suite == 1:
        if sec[2:6] != b"\x00" * 4:
            return "IV fixed field"
        try:
            data = AESGCM(key).decrypt(sec[2:], body + mac, aad)
        except InvalidTag:
            return "MAC (AES-256-GCM)"
    else:
        h = chmac.HMAC(key, hashes.SHA256())
        h.update(aad + body)
        if not hmac.compare_digest(h.finalize()[:MAC_LEN], mac):
            return "MAC (HMAC-SHA-256)"
        data = body
    fhp = int.from_bytes(primary[4:6], "big") & 0x7FF
    packets = []
    at = fhp if fhp < 0x7FE else len(data)
    while at + 6 <= len(data):
        n = int.from_bytes(data[at + 4:at + 6], "big") + 7
        p = data[at:at + n]
        if int.from_bytes(p[:2], "big") & 0x7FF != 0x7FF and len(p) == n:
            packets.append(p)
        at += n
    return spi, suite, int.from_bytes(sec[-8:], "big"), packets, frame[-6:-2]


def listen(sock, keys, seconds):
    """Every (spi, suite, service, subservice) the node sent within `seconds`."""
    got, refused = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            datagram = sock.recv(4096)
        except socket.timeout:
            break
        r = tm_packets(datagram, keys)
        if isinstance(r, str):
            refused.append(r)
            continue
        spi, suite, _, packets, _ = r
        for p in packets:
            if crc16(p[:-2]) != p[-2:]:
                fail(f"a TM packet under SPI {spi} has a bad PUS CRC")
            got.append((spi, suite, p[7], p[8]))
    return got, refused


def boot_node(binary, work):
    """A fresh board provisioned with a generated key file (SPI 1 AES-256-GCM, SPI 2
    HMAC-SHA-256), running on the CCSDS radio with this script as its ground: (node process,
    ground socket, the node's uplink address, {spi: (suite, uplink key)}, {spi: (suite,
    downlink key)}). Fails unless it boots within 60 s."""
    os.makedirs(work, exist_ok=True)
    keyfile, state = os.path.join(work, "link.keys"), os.path.join(work, "node")
    # A fresh board and key file each run (this script's own work directory).
    shutil.rmtree(state, ignore_errors=True)
    for f in [keyfile, keyfile + ".recovery"]:
        if os.path.exists(f):
            os.remove(f)
    subprocess.run([binary, "provision-link", "--generate", keyfile], check=True,
                   capture_output=True)
    subprocess.run([binary, "provision-link", "--state", state, keyfile], check=True,
                   capture_output=True)
    sas = associations(open(keyfile, "rb").read())
    if (sas[1][0], sas[1][2], sas[2][0], sas[2][2]) != (1, 2, 2, 3):
        fail(f"the generated file's suites and key ids are not SPI 1 GCM/2, SPI 2 HMAC/3: {sas}")
    up = {spi: (s, session_key(k, b"U", spi)) for spi, (s, k, _) in sas.items()}
    down = {spi: (s, session_key(k, b"D", spi)) for spi, (s, k, _) in sas.items()}

    ground = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ground.bind(("127.0.0.1", 0))
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    uplink = probe.getsockname()
    probe.close()
    log = open(os.path.join(work, "node.log"), "w")
    node = subprocess.Popen(
        [binary, "run", "--state", state, "--radio-link", f"ccsds:{SCID}",
         "--radio-uplink", f"{uplink[0]}:{uplink[1]}",
         "--ground", f"127.0.0.1:{ground.getsockname()[1]}"],
        stdout=subprocess.PIPE, stderr=log, text=True)
    booted = threading.Event()

    def drain():
        for line in node.stdout:
            log.write(line)
            if "[comms] INFO  SA 2:" in line:
                booted.set()

    threading.Thread(target=drain, daemon=True).start()
    if not booted.wait(60):
        stop_node(node)
        fail("the node did not boot within 60 s (see node.log)")
    return node, ground, uplink, up, down


def stop_node(node):
    node.terminate()
    try:
        node.wait(10)
    except subprocess.TimeoutExpired:
        node.kill()


def resync(ground, uplink, up, down):
    """A ground beyond the node's window (SDLS sequence number 5,000; the node's window is 512
    wide above 1): its ping is refused; SDLS-EP's set-ARSN (TC 130,3: the SPI and the
    sequence number of the very frame that carries it) in a type-BD frame is taken under SPI 1
    (AES-256-GCM, which may manage keys) and the window continues from there, but not under
    SPI 2 (HMAC-SHA-256, no key management)."""
    def send(spi, seq, packet, seconds=2.0):
        suite, key = up[spi]
        ground.sendto(cltu(bd_frame(suite, key, spi, seq, packet)), uplink)
        return listen(ground, down, seconds)[0]

    far = 5_000
    if any(g[2:] == (17, 2) for g in send(1, far, ping_tc(4))):
        fail("a ping 5,000 ahead of the node's window was answered")

    def set_arsn(spi, seq):
        return telecommand(130, 3, spi.to_bytes(2, "big") + seq.to_bytes(8, "big"), 5)

    got = send(2, far, set_arsn(2, far))
    if any(g[2] == 1 for g in got):
        fail(f"a set-ARSN under SPI 2 (no key management) beyond the window was taken: {got}")
    got = send(1, far + 1, set_arsn(1, far + 1), 3.0)
    if (1, 1, 1, 7) not in got:
        fail(f"a set-ARSN under SPI 1 for its own frame was not completed (1,7): {got}")
    got = send(1, far + 2, ping_tc(6), 3.0)
    if (1, 1, 17, 2) not in got:
        fail(f"a ping after the set-ARSN was not answered: {got}")
    return ("a ground 5,000 ahead was refused until a set-ARSN (130,3 in a GCM-secured BD "
            "frame) under SPI 1 moved the node's window; the same under SPI 2 (no key "
            "management) was not taken")


def main():
    binary, work = sys.argv[1], sys.argv[2]
    node, ground, uplink, up, down = boot_node(binary, work)
    try:
        results = []
        for spi, seq in [(1, 1), (2, 1)]:
            suite, key = up[spi]
            ground.sendto(cltu(bd_frame(suite, key, spi, seq, ping_tc(spi))), uplink)
            got, refused = listen(ground, down, 3.0)
            pongs = [g for g in got if g[2:] == (17, 2)]
            if not pongs or any(g[:2] != (spi, suite) for g in pongs):
                fail(f"ping under SPI {spi}: no 17,2 under SPI {spi} with suite {suite}: "
                     f"got {got}, refused {refused}")
            results.append(f"SPI {spi} ({'AES-256-GCM' if suite == 1 else 'HMAC-SHA-256'}): "
                           f"{len(got)} TM packets, {', '.join(f'{s},{t}' for *_, s, t in got)}")
        # SPI 2 is HMAC-SHA-256 on the node: the same ping under AES-256-GCM is refused.
        _, key = up[2]
        ground.sendto(cltu(bd_frame(1, key, 2, 2, ping_tc(3))), uplink)
        got, _ = listen(ground, down, 2.0)
        if any(g[2:] == (17, 2) for g in got):
            fail(f"a ping under SPI 2 secured with AES-256-GCM was answered: {got}")
        results.append(resync(ground, uplink, up, down))
    finally:
        stop_node(node)
    print("interop-radio: ok: a Python ground (cryptography, hashlib, from the standards) pinged "
          "a real node over its CCSDS radio in secured type-BD TC frames in CLTUs, and "
          "authenticated its secured TM frames: " + "; ".join(results)
          + "; a ping under SPI 2 with the wrong suite (AES-256-GCM) got no answer")


if __name__ == "__main__":
    main()
