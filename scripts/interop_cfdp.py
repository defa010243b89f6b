#!/usr/bin/env python3
"""cfdp-py (an independent CFDP implementation) uplinks files to the spacenode node-side entity.

    interop_cfdp.py NODE_BINARY WORKDIR

Starts NODE_BINARY (the `cfdp_node` example: the node's CFDP receiver on a UDP socket and a sim
flash) writing into WORKDIR/out, then runs a cfdp-py SourceHandler for an acknowledged (class 2)
Copy File of a 300 KiB random file with a CRC-32 checksum. PDUs travel raw in CCSDS space packets
(APID 0x0CF) over loopback UDP: on the node the comms partition wraps them in SDLS, this example
does not. The Python side drops every 7th file data PDU it sends, so the node's NAKs and cfdp-py's
retransmission are exercised too.

Case 1: a plain transfer. Case 2: the node process is killed (SIGKILL) when about 40 % of the file
data has gone out and restarted on the same flash image; it reloads the transfer from its journal
and cfdp-py's EOF retransmission and the node's NAKs fill only the gaps (checked: file data PDUs
sent stay well below two full transfers). Prints PASS/FAIL lines; exits non-zero unless every
check passes.
"""

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from cfdppy import CfdpState, PacketDestination, get_packet_destination
from cfdppy.handler.source import SourceHandler
from cfdppy.mib import (
    CheckTimerProvider,
    DefaultFaultHandlerBase,
    EntityType,
    IndicationConfig,
    LocalEntityConfig,
    RemoteEntityConfig,
    RemoteEntityConfigTable,
)
from cfdppy.request import PutRequest
from cfdppy.user import CfdpUserBase, TransactionFinishedParams
from spacepackets.ccsds.spacepacket import SpacePacket, SpacePacketHeader, PacketType
from spacepackets.cfdp import ChecksumType, ConditionCode, TransmissionMode
from spacepackets.cfdp.pdu import PduFactory
from spacepackets.cfdp.pdu.finished import DeliveryCode
from spacepackets.countdown import Countdown
from spacepackets.seqcount import SeqCountProvider
from spacepackets.util import ByteFieldU16

CFDP_APID = 0x0CF
GROUND_ID = ByteFieldU16(2)
NODE_ID = ByteFieldU16(1)


class Faults(DefaultFaultHandlerBase):
    def __init__(self):
        super().__init__()
        self.faults = []

    def notice_of_suspension_cb(self, transaction_id, cond, progress):
        self.faults.append(("suspension", cond))

    def notice_of_cancellation_cb(self, transaction_id, cond, progress):
        self.faults.append(("cancellation", cond))

    def abandoned_cb(self, transaction_id, cond, progress):
        self.faults.append(("abandoned", cond))

    def ignore_cb(self, transaction_id, cond, progress):
        self.faults.append(("ignored", cond))


class Timers(CheckTimerProvider):
    def provide_check_timer(self, local_entity_id, remote_entity_id, entity_type: EntityType):
        return Countdown(timedelta(seconds=1))


class User(CfdpUserBase):
    def __init__(self):
        super().__init__()
        self.finished = None

    def transaction_indication(self, transaction_indication_params):
        pass

    def eof_sent_indication(self, transaction_id):
        pass

    def transaction_finished_indication(self, params: TransactionFinishedParams):
        self.finished = params

    def metadata_recv_indication(self, params):
        pass

    def file_segment_recv_indication(self, params):
        pass

    def report_indication(self, transaction_id, status_report):
        pass

    def suspended_indication(self, transaction_id, cond_code):
        pass

    def resumed_indication(self, transaction_id, progress):
        pass

    def fault_indication(self, transaction_id, cond_code, progress):
        pass

    def abandoned_indication(self, transaction_id, cond_code, progress):
        pass

    def eof_recv_indication(self, transaction_id):
        pass


def wrap(pdu: bytes, seq: int) -> bytes:
    header = SpacePacketHeader(
        packet_type=PacketType.TC, apid=CFDP_APID, seq_count=seq & 0x3FFF, data_len=len(pdu) - 1
    )
    return SpacePacket(header, sec_header=None, user_data=pdu).pack()


def unwrap(datagram: bytes) -> bytes | None:
    if len(datagram) < 7:
        return None
    header = SpacePacketHeader.unpack(datagram[:6])
    if header.apid != CFDP_APID:
        return None
    return datagram[6 : 6 + header.data_len + 1]


def free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_node(node_bin: str, port: int, out_dir: Path, once: bool) -> subprocess.Popen:
    args = [node_bin, "--bind", f"127.0.0.1:{port}", "--out", str(out_dir)]
    if once:
        args.append("--once")
    node = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    return node


def transfer(node_bin: str, work: Path, seq: int, kill_at: float | None) -> int:
    """One cfdp-py Copy File to a fresh node; with kill_at, restart the node at that fraction."""
    out_dir = work / "out"
    src = work / f"batch-in-{seq}.bin"
    payload = os.urandom(300 * 1024 + 17)
    src.write_bytes(payload)
    segments = -(-len(payload) // 1024)
    port = free_port()
    node = start_node(node_bin, port, out_dir, once=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.002)
    node_addr = ("127.0.0.1", port)

    faults = Faults()
    user = User()
    remote = RemoteEntityConfig(
        entity_id=NODE_ID,
        max_file_segment_len=1024,
        max_packet_len=1200,
        closure_requested=True,
        crc_on_transmission=True,
        default_transmission_mode=TransmissionMode.ACKNOWLEDGED,
        crc_type=ChecksumType.CRC_32,
        positive_ack_timer_interval_seconds=0.5,
        positive_ack_timer_expiration_limit=20,
        nak_timer_interval_seconds=0.5,
    )
    seqs = SeqCountProvider(16)
    for _ in range(seq):
        seqs.get_and_increment()
    source = SourceHandler(
        cfg=LocalEntityConfig(GROUND_ID, IndicationConfig(), faults),
        user=user,
        remote_cfg_table=RemoteEntityConfigTable([remote]),
        check_timer_provider=Timers(),
        seq_num_provider=seqs,
    )
    ok = source.put_request(
        PutRequest(
            destination_id=NODE_ID,
            source_file=src,
            dest_file=Path(f"batch-{seq}.bin"),
            trans_mode=TransmissionMode.ACKNOWLEDGED,
            closure_requested=True,
        )
    )
    name = "resume after a node kill" if kill_at is not None else "plain transfer"
    if not ok:
        print(f"FAIL [{name}] cfdp-py refused the put request")
        node.kill()
        return 1

    sent_fd = 0
    dropped = 0
    restarted = False
    deadline = time.monotonic() + 90
    inbound = None
    while time.monotonic() < deadline:
        source.state_machine(inbound)
        inbound = None
        while source.packets_ready:
            holder = source.get_next_packet()
            raw = holder.pdu.pack()
            if holder.is_file_directive is False:
                sent_fd += 1
                if sent_fd % 7 == 0:
                    dropped += 1
                    continue
            sock.sendto(wrap(raw, sent_fd), node_addr)
        if kill_at is not None and not restarted and sent_fd >= kill_at * segments:
            # A node reset: the process dies mid-transfer, and comes back on the same flash.
            node.kill()
            node.communicate()
            node = start_node(node_bin, port, out_dir, once=True)
            restarted = True
        if source.states.state == CfdpState.IDLE:
            break
        try:
            data, _ = sock.recvfrom(4096)
        except (socket.timeout, BlockingIOError):
            continue
        pdu_bytes = unwrap(data)
        if pdu_bytes is None:
            continue
        packet = PduFactory.from_raw(pdu_bytes)
        if packet is not None and get_packet_destination(packet) == PacketDestination.SOURCE_HANDLER:
            inbound = packet

    try:
        node_out, node_err = node.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        node.kill()
        node_out, node_err = node.communicate()
    failures = 0

    def check(cond: bool, what: str) -> None:
        nonlocal failures
        print(("PASS " if cond else "FAIL ") + f"[{name}] " + what)
        failures += 0 if cond else 1

    fin = user.finished
    check(fin is not None, "cfdp-py saw the transaction finish")
    if fin is not None:
        check(
            fin.finished_params.condition_code == ConditionCode.NO_ERROR
            and fin.finished_params.delivery_code == DeliveryCode.DATA_COMPLETE,
            f"the node's Finished says complete, no error ({fin.finished_params})",
        )
    check(not faults.faults, f"no CFDP faults on the cfdp-py side ({faults.faults})")
    check(dropped > 0, f"{dropped} file data PDUs dropped on purpose and recovered by NAK")
    received = out_dir / f"batch-{seq}.bin"
    check(received.exists() and received.read_bytes() == payload, "the file is byte-identical")
    check(node.returncode == 0, f"the node exited cleanly ({node_out.strip()})")
    if kill_at is not None:
        check(restarted, "the node was killed and restarted mid-transfer")
        check("journal holds a transfer" in node_err, "the restarted node reloaded the transfer")
        check(
            sent_fd < 1.6 * segments,
            f"{sent_fd} file data PDUs for {segments} segments: resumed, not restarted",
        )
    return failures


def main() -> int:
    node_bin, work = sys.argv[1], Path(sys.argv[2])
    failures = transfer(node_bin, work, 0, None)
    failures += transfer(node_bin, work, 1, 0.4)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
