#!/usr/bin/env python3
"""COP-1 with a real node (issue 19 point 2): the PyPI package ccsds-cop's FOP-1 (its Fop1,
unmodified) drives the FARM-1 of a real `spacenode run` node over its CCSDS radio. The frames
go up secured (SDLS, SPI 1, AES-256-GCM) in CLTUs and the CLCWs come back in the operational
control field of the node's secured TM frames, all built and read by interop-radio.py's ground
station (written from the standards, sharing no code with the Rust crates).

Steps:
  1. Fop1 is told the lower layer is ready, its transmission limit is set to 10, and it
     initiates the AD service with Set V(R) 0 (a type-BC frame); the node's CLCW must confirm.
     ccsds-cop 0.1.2 keeps no copy of that BC frame on its Sent_Queue (232.1's "Transmit
     Type-BC Frame" action adds one), so it can neither retransmit it nor take the lower
     layer's BC_Accept response while initialising ("Look For Directive" reads the empty
     queue): the BC frame is never lost here, and its response is given once Fop1 is active.
     Its "Remove Acknowledged Frames from Sent_Queue" also confirms every frame on the queue
     and advances NN(R) by their number, whatever N(R) the CLCW reports (232.1: only the
     frames below N(R), and NN(R) := N(R)): a partial acknowledgement desynchronises it and it
     raises an N(R) alert. So its window K is 1 here: one frame is outstanding at a time, and
     every acknowledgement is whole.
  2. PINGS PUS-C pings (17,1) go through Fop1 as type-AD FDUs. Between Fop1 and the node the
     channel loses 20 % of the uplink CLTUs and ignores the CLCW of 20 % of the TM frames (the
     frames' packets are still read, so every answer can be counted); Fop1's own timer (T1 =
     0.5 s) has to recover. 10 % of the AD frames that get through arrive twice (the copy
     secured again, as a retransmission after a lost acknowledgement would be): FARM-1 must
     pass the first and discard the copy.
  3. Passes when Fop1 confirmed every FDU, raised no alert, retransmitted at least one frame,
     the node answered each ping with exactly one 17,2 (FARM-1 passed no frame twice and lost
     none), and the node's last CLCW reports V(R) = PINGS.

Usage: interop-farm.py SPACENODE_BINARY WORKDIR (runs in the venv with ccsds-cop and
cryptography).
"""

import random
import socket
import sys
import time

import sibling
from ccsds_coding import cltu
from ccsds_cop.cop_1 import ControlWord
from ccsds_cop.cop_1.common.ccsds import Gvcid
from ccsds_cop.cop_1.fop import (
    AbortRequest,
    AsyncNotification,
    DirectiveRequest,
    DirectiveType,
    Fop1,
    FopState,
    NotificationType,
    RequestToTransferFdu,
    Response,
    ResponseType,
    ServiceType,
    TransferNotification,
)
from spacepackets.uslp import BypassSequenceControlFlag, ProtocolCommandFlag

radio = sibling.load("interop-radio.py")
radio.NAME = "interop-farm"
fail = radio.fail

PINGS = 40
SPI = 1
UPLINK_LOSS = 0.2
CLCW_LOSS = 0.2
DUPLICATE = 0.1
DEADLINE_S = 60


class Link:
    """The channel between Fop1 and the node: secures and encodes what Fop1 hands down, loses
    some of it, and hands Fop1 the CLCWs (some ignored) and the packets of what comes down."""

    def __init__(self, node_addr, ground, up, down, seed):
        self.node_addr, self.ground, self.down = node_addr, ground, down
        self.rng = random.Random(seed)
        self.suite, self.key = up[SPI]
        self.seq = 0          # SDLS sequence number: every frame sent, retransmissions too
        self.sent = {"AD": 0, "BC": 0}
        self.lost = 0
        self.duplicated = 0
        self.pongs = 0
        self.accepted = 0     # PUS 1,1 reports: one per telecommand that got past FARM-1
        self.last_clcw = None

    def send(self, request):
        """One TransmitRequestForFrame of Fop1's: secured, in a CLTU, maybe lost."""
        if request.command_flag == ProtocolCommandFlag.PROTOCOL_INFORMATION:
            ftype = "BC"
            self.seq += 1
            frame = radio.tc_frame(self.suite, self.key, SPI, self.seq, request.tfdf, ftype)
            self.sent[ftype] += 1
            self.ground.sendto(cltu(frame), self.node_addr)  # never lost: see the docstring
            return ResponseType.BC_ACCEPTED
        elif request.bypass_flag == BypassSequenceControlFlag.SEQ_CTRLD_QOS:
            ftype = "AD"
        else:
            fail(f"Fop1 asked for a frame this run does not use: {request}")
        self.sent[ftype] += 1
        if self.rng.random() < UPLINK_LOSS:
            self.lost += 1
            return ResponseType.AD_ACCEPTED
        copies = 2 if self.rng.random() < DUPLICATE else 1
        self.duplicated += copies - 1
        for _ in range(copies):
            # A copy is secured again (a new SDLS sequence number), as a retransmission is:
            # the same bytes again would be refused by anti-replay before FARM-1 saw them.
            self.seq += 1
            self.ground.sendto(cltu(radio.tc_frame(self.suite, self.key, SPI, self.seq,
                                                   request.tfdf, ftype, request.v_s)),
                               self.node_addr)
        return ResponseType.AD_ACCEPTED

    def receive(self, fop, seconds):
        """What the node sends within `seconds`: CLCWs to Fop1 (some ignored), pongs counted."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.ground.settimeout(max(0.005, end - time.monotonic()))
            try:
                datagram = self.ground.recv(4096)
            except socket.timeout:
                return
            r = radio.tm_packets(datagram, self.down)
            if isinstance(r, str):
                fail(f"a TM frame from the node was refused: {r}")
            _, _, _, packets, clcw = r
            self.pongs += sum(1 for p in packets if (p[7], p[8]) == (17, 2))
            self.accepted += sum(1 for p in packets if (p[7], p[8]) == (1, 1))
            word = ControlWord.unpack(clcw)
            self.last_clcw = word
            if self.rng.random() >= CLCW_LOSS:
                fop.on_clcw_arrived(word)


class Higher:
    """Fop1's higher procedures: hands it the pings one at a time (it takes an FDU into its
    wait queue and says Accept when it sends it, or Reject while the wait queue is full), and
    reads its signals: alerts and negative confirms fail the run."""

    def __init__(self, fop, gvcid):
        self.fop = fop
        self.queued = [RequestToTransferFdu(gvcid, 100 + i, radio.ping_tc(i + 1),
                                            ServiceType.AD) for i in range(PINGS)]
        self.pending = None  # the FDU handed to Fop1, before its Accept or Reject
        self.confirmed = set()

    def offer(self):
        if self.pending is None and self.queued and self.fop.state == FopState.ACTIVE:
            self.pending = self.queued[0].request_id
            self.fop.on_receive_request_to_transfer_fdu(self.queued[0])

    def read(self):
        while self.fop.interface.to_higher:
            n = self.fop.interface.to_higher.pop()
            if isinstance(n, AsyncNotification):
                fail(f"Fop1 raised an alert: {n.notification_qualifier}")
            kind = n.notification_type
            if kind == NotificationType.NEGATIVE_CONFIRM:
                fail(f"Fop1 gave up request {n.request_id}: {n}")
            if kind == NotificationType.POSITIVE_CONFIRM:
                self.confirmed.add(n.request_id)
            elif isinstance(n, TransferNotification) and n.request_id == self.pending:
                if kind == NotificationType.ACCEPT:
                    self.queued.pop(0)
                self.pending = None

    def done(self):
        return not self.queued and all(100 + i in self.confirmed for i in range(PINGS))


def run(fop, link, gvcid):
    for ready in [ResponseType.AD_ACCEPTED, ResponseType.BC_ACCEPTED]:
        fop.on_receive_response_from_lower_layer(Response(gvcid, ready))
    fop.on_receive_directive(DirectiveRequest(gvcid, 1, DirectiveType.SET_TRANSMISSION_LIMIT, 10))
    fop.on_receive_directive(DirectiveRequest(gvcid, 2, DirectiveType.INITIATE_AD_WITH_SET_V_R, 0))
    higher = Higher(fop, gvcid)
    held = []  # lower-layer responses Fop1 cannot take yet (see the docstring)
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        if fop.state == FopState.ACTIVE:
            for response in held:
                fop.on_receive_response_from_lower_layer(Response(gvcid, response))
            held.clear()
        higher.offer()
        while fop.interface.to_lower:
            request = fop.interface.to_lower.pop()
            if isinstance(request, AbortRequest):
                continue  # this lower layer holds no frames back: nothing to abort
            response = link.send(request)
            if response == ResponseType.BC_ACCEPTED and fop.state != FopState.ACTIVE:
                held.append(response)
            else:
                fop.on_receive_response_from_lower_layer(Response(gvcid, response))
        link.receive(fop, 0.02)
        fop.drain_timer_events()
        higher.read()
        if higher.done():
            link.receive(fop, 1.0)  # the last answers
            return
    fail(f"not done after {DEADLINE_S} s: Fop1 {fop.state}, {len(higher.queued)} pings not "
         f"taken, {len(higher.confirmed)} requests confirmed")


def main():
    binary, work = sys.argv[1], sys.argv[2]
    node, ground, uplink, up, down = radio.boot_node(binary, work)
    try:
        gvcid = Gvcid(tfvn=0, scid=radio.SCID, vcid=0)
        fop = Fop1(gvcid, k=1, timer_initial_value=0.5)  # K=1: see the docstring
        link = Link(uplink, ground, up, down, seed=19)
        run(fop, link, gvcid)
    finally:
        radio.stop_node(node)
    retransmitted = link.sent["AD"] - PINGS
    if retransmitted < 1:
        fail(f"no AD frame was retransmitted ({link.lost} CLTUs lost): recovery not exercised")
    if link.duplicated < 1:
        fail("no AD frame arrived twice: FARM-1's discarding of a copy not exercised")
    # A copy that got past FARM-1 would not run twice (the node's duplicate check on the request
    # ID), but it would be reported again: one acceptance report per ping shows FARM-1 dropped
    # every copy.
    if (link.pongs, link.accepted) != (PINGS, PINGS):
        fail(f"{PINGS} pings went through FOP-1 but the node answered {link.pongs} times and "
             f"reported {link.accepted} telecommands accepted")
    if link.last_clcw is None or link.last_clcw.report_value != PINGS:
        fail(f"the node's last CLCW reports V(R) {link.last_clcw and link.last_clcw.report_value}"
             f", not {PINGS}")
    print(f"interop-farm: PASS ccsds-cop's FOP-1 delivered {PINGS} pings to a real node's FARM-1 "
          f"(secured AD frames in CLTUs, {int(UPLINK_LOSS * 100)} % of them lost, "
          f"{int(CLCW_LOSS * 100)} % of the CLCWs ignored): {link.sent['AD']} AD and "
          f"{link.sent['BC']} BC frames sent, {retransmitted} retransmissions, {link.lost} lost, "
          f"{link.duplicated} arrived twice; "
          f"each ping accepted (1,1) and answered (17,2) once; the node's CLCW reports V(R) {PINGS}")


if __name__ == "__main__":
    main()
