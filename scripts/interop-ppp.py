#!/usr/bin/env python3
"""Independent decoder check of the PPP engine's frames (issue 16).

Reads the `LABEL HEX` lines `cargo run -p ppp --example capture` prints (every frame the engine
sent during a scripted session with the ppproto client), undoes the RFC 1662 octet stuffing,
checks each FCS with crcmod's catalogued X-25 CRC (not the engine's code), and decodes the frame
with scapy's HDLC, PPP, LCP and IPCP layers. The session's frames must decode to exactly what
that session should produce: the LCP and IPCP negotiation (ACCM, Magic-Number until ppproto
rejects it, the DNS options rejected, the peer's address Nak'd then acknowledged), one IPv4/UDP
datagram, a Protocol-Reject of IPv6, an Echo-Request and a Terminate-Request. Configure and
Terminate packets must have every control character escaped on the wire (RFC 1662 §7.1); frames
after LCP Opened must use the negotiated ACCM 0 (control characters sent as they are).

Prints a PASS/FAIL line per check; exits non-zero on any failure.

    interop-ppp.py CAPTURE_FILE
"""
import sys

import crcmod.predefined
from scapy.layers.inet import IP, UDP
from scapy.layers.ppp import (
    HDLC,
    PPP,
    PPP_IPCP,
    PPP_LCP_Configure,
    PPP_LCP_Echo,
    PPP_LCP_Protocol_Reject,
    PPP_LCP_Terminate,
)

X25 = crcmod.predefined.mkCrcFun("x-25")
NODE, GROUND = "10.16.0.1", "10.16.0.2"
failures = 0


def check(name, ok, detail=""):
    global failures
    print(f"{'PASS' if ok else 'FAIL'} ppp: {name}" + (f" ({detail})" if detail and not ok else ""))
    if not ok:
        failures += 1


def unstuff(octets):
    out, esc = bytearray(), False
    for b in octets:
        if esc:
            out.append(b ^ 0x20)
            esc = False
        elif b == 0x7D:
            esc = True
        else:
            out.append(b)
    return bytes(out)


def opts(layer):
    return [(o.type, bytes(o)[2:]) for o in layer.options]


frames = []
with open(sys.argv[1]) as f:
    for line in f:
        label, hexed = line.split()
        raw = bytes.fromhex(hexed)
        check(f"{label}: flags", raw[0] == 0x7E and raw[-1] == 0x7E and 0x7E not in raw[1:-1])
        body = unstuff(raw[1:-1])
        data, fcs = body[:-2], body[-2:]
        check(f"{label}: FCS-16 (crcmod x-25)", X25(data) == int.from_bytes(fcs, "little"))
        pkt = HDLC(data)
        check(f"{label}: address/control FF 03", pkt.address == 0xFF and pkt.control == 0x03)
        frames.append((label, raw, pkt))

check("frames captured", len(frames) >= 10, str(len(frames)))


def find(cls, code=None, proto=None):
    out = []
    for label, raw, pkt in frames:
        if proto is not None and pkt[PPP].proto != proto:
            continue
        if cls in pkt and (code is None or pkt[cls].code == code):
            out.append((label, raw, pkt[cls]))
    return out


def all_escaped(raw):
    return all(b >= 0x20 for b in raw[1:-1])


# LCP Configure-Requests: ACCM 0 and a Magic-Number, then (ppproto rejects Magic-Number) ACCM only.
reqs = find(PPP_LCP_Configure, 1)
check("LCP Configure-Requests sent", len(reqs) >= 2, str(len(reqs)))
first = opts(reqs[0][2])
check("first LCP request asks ACCM 0 and a Magic-Number",
      [t for t, _ in first] == [2, 5] and first[0][1] == b"\0\0\0\0" and first[1][1] != b"\0\0\0\0", str(first))
check("last LCP request drops the rejected Magic-Number", opts(reqs[-1][2]) == [(2, b"\0\0\0\0")])
check("LCP request identifiers change on retransmission", len({r[2].id for r in reqs}) == len(reqs))
acks = find(PPP_LCP_Configure, 2)
check("LCP Configure-Ack of ppproto's ACCM 0", any(opts(a[2]) == [(2, b"\0\0\0\0")] for a in acks))
check("LCP Configure packets have every control character escaped", all(all_escaped(r) for _, r, _ in reqs + acks))

# IPCP: our address; DNS options rejected; the peer's address assigned by Nak, then acknowledged.
ipcp = lambda code: find(PPP_IPCP, code, proto=0x8021)  # noqa: E731
req = ipcp(1)
check("IPCP Configure-Request with the node's address",
      any(opts(r[2]) == [(3, bytes(map(int, NODE.split("."))))] for r in req))
rej = ipcp(4)
check("IPCP Configure-Reject of the DNS options (129, 131)", any([t for t, _ in opts(r[2])] == [129, 131] for r in rej))
nak = ipcp(3)
check("IPCP Configure-Nak assigns the ground's address",
      any(r[2].options[0].data == GROUND for r in nak if r[2].options))
ack = ipcp(2)
check("IPCP Configure-Ack of the ground's address", any(r[2].options and r[2].options[0].data == GROUND for r in ack))

# The IPv4/UDP datagram, and ACCM 0 in force after LCP Opened.
ips = [(raw, pkt) for _, raw, pkt in frames if pkt[PPP].proto == 0x0021]
check("one IPv4 frame", len(ips) == 1, str(len(ips)))
if ips:
    raw, pkt = ips[0]
    ip = pkt[IP]
    check("IPv4 addresses", (ip.src, ip.dst) == (NODE, GROUND), f"{ip.src} -> {ip.dst}")
    check("UDP ports and payload", UDP in ip and (ip[UDP].sport, ip[UDP].dport) == (4000, 5000)
          and bytes(ip[UDP].payload) == b"standby \x7e\x7d\x03 link")
    check("IPv4 frame uses the negotiated ACCM 0 (03 unescaped)", b"\x03" in raw[3:-1])

prej = find(PPP_LCP_Protocol_Reject, 8)
check("Protocol-Reject of IPv6 (0x0057) carrying the rejected packet",
      len(prej) == 1 and prej[0][2].rejected_protocol == 0x0057
      and bytes(prej[0][2].rejected_information) == b"\x60\0\0\0")
echo = find(PPP_LCP_Echo, 9)
check("Echo-Request with Magic-Number 0 (none negotiated)", len(echo) == 1 and echo[0][2].magic_number == 0)
term = find(PPP_LCP_Terminate, 5)
check("Terminate-Request on Close, all control characters escaped", len(term) == 1 and all_escaped(term[0][1]))

print(f"ppp: {len(frames)} frames decoded by scapy, {failures} failure(s)")
sys.exit(1 if failures else 0)
