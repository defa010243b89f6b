#!/usr/bin/env python3
"""COP-1 interop: the crate's FOP-1 (components/spacelink, through its `fop_peer` example)
against the PyPI package `ccsds-cop`'s FARM-1, over a channel that loses 20 % of the frames
and CLCWs, and duplicates and reorders the uplink.

The TC frames (232.0: no segment header, with the FECF) are built by ccsds_tc.py from what
FOP-1 hands out (N(S) and data, or the directive) and carried into spacepackets USLP frames for
ccsds-cop, as interop-link.py does; the CLCW comes back packed by ccsds-cop's own ControlWord. Every telecommand must reach ccsds-cop's higher-procedures buffer once and in
order, and FOP-1 must never give up (alert).

ccsds-cop's FARM-1 keeps its Wait flag set once its buffer was full (its E2 never enters the
Wait state, see components/spacelink/README.md), which FOP-1 rightly treats as a CLCW alert;
so its buffer is drained every step here and FARM's Wait is checked against the standard's
table in the crate's tests instead.

Usage: interop-fop.py FOP_PEER_BINARY
"""

import random
import subprocess
import sys

from ccsds_tc import tc_frame, uslp_of
from ccsds_cop.cop_1 import ControlWord
from ccsds_cop.cop_1.farm import Farm1

SCID = 0x1AB
WINDOW_K = 7    # FOP-1's window, below FARM's W/2
FARM_W = 16
LIMIT = 20
T1 = 6          # ticks
ITEMS = 80
SEEDS = 6


class Fop:
    def __init__(self, binary):
        self.p = subprocess.Popen([binary, str(WINDOW_K), str(LIMIT), str(T1)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        reply = self.p.stdout.readline().strip()
        if reply.startswith("err"):
            sys.exit(f"interop-fop: FAIL FOP-1 refused '{line}': {reply}")
        return reply

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def run(binary, seed):
    rng = random.Random(seed)
    fop = Fop(binary)
    farm = Farm1(w=FARM_W)
    items = [f"telecommand {seed}/{i}".encode() for i in range(ITEMS)]
    delivered, up, down = [], [], []
    next_item = retransmitted = 0
    highest = None
    fop.ask(f"setvr {rng.randrange(256)}")
    for tick in range(20000):
        status = fop.ask("status").split()
        if status[1] == "6":
            sys.exit(f"interop-fop: FAIL seed {seed}: FOP-1 gave up at tick {tick}: {status}")
        if len(delivered) == ITEMS and status[7] == "0":
            break
        if next_item < ITEMS and fop.ask(f"offer {items[next_item].hex()}") == "ok":
            next_item += 1
        out = fop.ask("pull").split()
        frame = None
        if out[0] == "ad":
            ns = int(out[1])
            if highest is not None and (ns - highest) % 256 >= 128 or ns == highest:
                retransmitted += 1
            else:
                highest = ns
            frame = tc_frame("AD", SCID, 0, ns, None, bytes.fromhex(out[2]), True)
        elif out[0] == "bc":
            data = b"\x00" if out[1] == "unlock" else bytes([0x82, 0x00, int(out[2])])
            frame = tc_frame("BC", SCID, 0, 0, None, data, True)
        if frame is not None and rng.random() >= 0.2:
            if rng.random() < 0.05:
                up.append(frame)
            up.append(frame)
            if len(up) >= 2 and rng.random() < 0.15:
                up[-1], up[-2] = up[-2], up[-1]
        if up:
            farm._process_frame(uslp_of(up.pop(0)))
            while len(farm.higher_interface.buffer):
                accepted = farm.higher_interface.buffer.pop()
                if not accepted.header.prot_ctrl_cmd_flag.value:
                    delivered.append(bytes(accepted.tfdf.tfdz))
            farm.higher_interface.signal.clear()
        word = ControlWord(
            cop_in_effect=1, vcid=0, lockout=farm.lockout, wait=farm.wait,
            retransmit=farm.retransmit, farm_b_counter=farm.b_counter, report_value=farm.v_r,
        ).pack()
        if rng.random() >= 0.2:
            down.append(word)
        if down:
            fop.ask(f"clcw {bytes(down.pop(0)).hex()}")
        fop.ask("tick")
    else:
        sys.exit(f"interop-fop: FAIL seed {seed}: not done after 20000 ticks")
    fop.close()
    if delivered != items:
        sys.exit(f"interop-fop: FAIL seed {seed}: ccsds-cop's FARM-1 received "
                 f"{len(delivered)} telecommands, not the {ITEMS} sent in order")
    return tick, retransmitted


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ticks = resent = 0
    for seed in range(1, SEEDS + 1):
        t, r = run(sys.argv[1], seed)
        ticks += t
        resent += r
    print(f"interop-fop: PASS FOP-1 delivered {SEEDS} x {ITEMS} telecommands once and in order "
          f"to ccsds-cop's FARM-1 at 20 % loss with reordering ({ticks} ticks, {resent} "
          f"retransmissions)")


main()
