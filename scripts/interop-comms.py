"""Interop of the spacenode comms link with the Python CCSDS/PUS ecosystem.

    interop-comms.py UPLINK_ADDR LISTEN_ADDR

A running node (`spacenode run --radio-link units --radio-uplink UPLINK_ADDR --ground
LISTEN_ADDR`, fresh state)
is sent PUS-C telecommands built by `spacepackets` (PusTc), each wrapped in the node's SDLS
unit by this script with Python's own hmac + hashlib.sha3_256, and the downlinked telemetry is
checked by this script's MAC verification, parsed by `spacepackets` (PusTm, Service1Tm) and
tracked by tmtccmd's `PusVerificator`.

SDLS unit (comms::sdls::engine), integers big-endian:
    SPI (2) | ARSN (8) | space packet | MAC (16)
    MAC = HMAC-SHA3-256(session key, SPI | ARSN | packet)[:16]
Session key (comms::sdls::mac), SP 800-108 counter mode, one iteration:
    HMAC-SHA3-256(master, 0x01 | "spacenode-sdls" | 0x00 | direction | SPI (2) | epoch (4) | 0x0100)
    direction 'U' (0x55) ground to node, 'D' (0x44) node to ground
Master key of the sim board's public default association SPI 1 (comms::sdls::sim_default):
    SHA3-256("spacenode sim board SDLS master key (PUBLIC) spi=1")

Cases (each prints PASS/FAIL; exit status 1 if any fails):
    1. 17,1 ping: PusVerificator sees acceptance, start and completion success, and a 17,2 arrives;
    2. a unit with a corrupted MAC gets no answer (only the node's rate-limited
       authentication-failure event 5,3 reports that something was refused);
    3. the same unit sent again (a replay) gets no answer;
    4. an unknown service (200,1) gets an acceptance failure with code 0x0201 (UnknownService).
"""

import hashlib
import hmac
import socket
import struct
import sys
import time

from spacepackets.ecss.pus_1_verification import Service1Tm, UnpackParams
from spacepackets.ecss.tc import PusTc
from spacepackets.ecss.tm import PusTm
from spacepackets.ecss.pus_verificator import StatusField
from tmtccmd.pus import PusVerificator

APID = 0x0A0
SPI = 1
EPOCH = 0
STAMP_LEN = 7
MAC_LEN = 16


def sha3_hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha3_256).digest()


def session_key(master: bytes, direction: bytes, spi: int, epoch: int) -> bytes:
    label = b"\x01" + b"spacenode-sdls" + b"\x00" + direction
    return sha3_hmac(master, label + struct.pack(">HI", spi, epoch) + b"\x01\x00")


MASTER = hashlib.sha3_256(b"spacenode sim board SDLS master key (PUBLIC) spi=1").digest()
UP_KEY = session_key(MASTER, b"U", SPI, EPOCH)
DOWN_KEY = session_key(MASTER, b"D", SPI, EPOCH)


def wrap(packet: bytes, arsn: int) -> bytes:
    head = struct.pack(">HQ", SPI, arsn) + packet
    return head + sha3_hmac(UP_KEY, head)[:MAC_LEN]


def unwrap(unit: bytes):
    """The TM packet of a downlink unit whose MAC verifies, else None."""
    if len(unit) < 10 + 1 + MAC_LEN:
        return None
    body, mac = unit[:-MAC_LEN], unit[-MAC_LEN:]
    spi, arsn = struct.unpack(">HQ", body[:10])
    if spi != SPI or not hmac.compare_digest(sha3_hmac(DOWN_KEY, body)[:MAC_LEN], mac):
        return None
    return arsn, body[10:]


def addr(text: str):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def main() -> int:
    node, listen = addr(sys.argv[1]), addr(sys.argv[2])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(listen)
    verificator = PusVerificator()
    failures = 0
    last_down_arsn = 0

    def collect(seconds: float):
        nonlocal last_down_arsn
        tms = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                unit, _ = sock.recvfrom(65536)
            except socket.timeout:
                break
            opened = unwrap(unit)
            if opened is None:
                print(f"  downlink unit with a bad MAC ignored ({len(unit)} bytes)")
                continue
            arsn, packet = opened
            if arsn <= last_down_arsn:
                print(f"  downlink ARSN {arsn} not increasing (last {last_down_arsn})")
                continue
            last_down_arsn = arsn
            tms.append(PusTm.unpack(packet, timestamp_len=STAMP_LEN))
        return tms

    def check(name: str, ok: bool, detail: str = ""):
        nonlocal failures
        print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
        if not ok:
            failures += 1

    arsn = 1
    # 1. Ping.
    ping = PusTc(service=17, subservice=1, apid=APID, seq_count=1, ack_flags=0b1111)
    verificator.add_tc(ping)
    ping_unit = wrap(ping.pack(), arsn)
    sock.sendto(ping_unit, node)
    tms = collect(2.0)
    pongs = [t for t in tms if t.service == 17 and t.subservice == 2]
    status = None
    for t in tms:
        if t.service == 1:
            res = verificator.add_tm(
                Service1Tm.from_tm(t, UnpackParams(STAMP_LEN, bytes_err_code=2))
            )
            if res is not None:
                status = res.status
    ok = (
        status is not None
        and status.accepted == StatusField.SUCCESS
        and status.started == StatusField.SUCCESS
        and status.completed == StatusField.SUCCESS
        and len(pongs) == 1
    )
    check(
        "PUS 17 ping: 1,1 1,3 1,7 tracked by PusVerificator and one 17,2",
        ok,
        f"status={status} pongs={len(pongs)} tms={[(t.service, t.subservice) for t in tms]}",
    )

    # 2. Corrupted MAC.
    arsn += 1
    forged = bytearray(wrap(PusTc(service=17, subservice=1, apid=APID, seq_count=2).pack(), arsn))
    forged[-1] ^= 0x01
    sock.sendto(bytes(forged), node)
    tms = collect(1.5)
    answers = [(t.service, t.subservice) for t in tms if t.service in (1, 17)]
    # The node answers nothing, but reports refusals in a rate-limited event (5,3, id 0x0003).
    events = [t for t in tms if t.service == 5 and t.source_data[:2] == b"\x00\x03"]
    check(
        "forged unit (bad MAC) unanswered, counted in the authentication-failure event",
        not answers and len(events) == 1,
        f"answers={answers} events={len(events)}",
    )

    # 3. Replay of the ping unit.
    sock.sendto(ping_unit, node)
    tms = collect(1.5)
    answers = [(t.service, t.subservice) for t in tms if t.service in (1, 17)]
    check("replayed unit unanswered", not answers, f"answers={answers}")

    # 4. Unknown service: acceptance failure with the node's failure code.
    arsn += 1
    unknown = PusTc(service=200, subservice=1, apid=APID, seq_count=3)
    verificator.add_tc(unknown)
    sock.sendto(wrap(unknown.pack(), arsn), node)
    tms = collect(1.0)
    codes = []
    for t in tms:
        if t.service == 1 and t.subservice == 2:
            s1 = Service1Tm.from_tm(t, UnpackParams(STAMP_LEN, bytes_err_code=2))
            verificator.add_tm(s1)
            codes.append(s1.error_code.val)
    check("unknown service refused with 1,2 code 0x0201", codes == [0x0201], f"codes={codes}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
