"""CCSDS 232.0 TC transfer frames for the Python peers (interop-link.py, interop-fop.py),
written from the standard's text, and their carry-over into a spacepackets USLP frame for the
PyPI package ccsds-cop, whose FARM-1 speaks USLP: each TC frame's bypass and control flags,
spacecraft id, virtual channel and sequence number go into the USLP header fields of the same
meaning. Needs spacepackets >= 0.30.1 (the CFDP venv).
"""

from spacepackets.uslp import (
    BypassSequenceControlFlag,
    PrimaryHeader,
    ProtocolCommandFlag,
    SourceOrDestField,
    TfdzConstructionRules,
    TransferFrame,
    TransferFrameDataField,
    UslpProtocolIdentifier,
)

from ccsds_coding import crc16

TYPE_FLAGS = {"AD": (0, 0), "BD": (1, 0), "BC": (1, 1)}


def tc_frame(ftype, scid, vcid, seq, seg, data, fecf):
    """A TC frame of type AD, BD or BC, with the segment header `seg` if not None and the FECF
    if `fecf`."""
    bypass, ctrl = TYPE_FLAGS[ftype]
    body = (bytes([seg]) if seg is not None else b"") + data
    length = 5 + len(body) + (2 if fecf else 0)
    word0 = (bypass << 13) | (ctrl << 12) | scid
    word1 = (vcid << 10) | (length - 1)
    frame = word0.to_bytes(2, "big") + word1.to_bytes(2, "big") + bytes([seq]) + body
    return frame + (crc16(frame) if fecf else b"")


def tc_fields(frame):
    """Reads back the header as 232.0 lays it out (for the FARM peer)."""
    bypass = (frame[0] >> 5) & 1
    ctrl = (frame[0] >> 4) & 1
    scid = ((frame[0] & 3) << 8) | frame[1]
    vcid = frame[2] >> 2
    length = (((frame[2] & 3) << 8) | frame[3]) + 1
    assert length == len(frame), (length, len(frame))
    return bypass, ctrl, scid, vcid, frame[4]


def uslp_of(tc):
    """The TC frame `tc` (with its FECF) as the USLP frame ccsds-cop's FARM-1 takes."""
    bypass, ctrl, scid, vcid, seq = tc_fields(tc)
    return TransferFrame(
        header=PrimaryHeader(
            scid=scid, map_id=0, vcid=vcid, src_dest=SourceOrDestField.DEST,
            frame_len=len(tc) - 1, vcf_count_len=1, vcf_count=seq, op_ctrl_flag=False,
            prot_ctrl_cmd_flag=ProtocolCommandFlag(ctrl),
            bypass_seq_ctrl_flag=BypassSequenceControlFlag(bypass),
        ),
        tfdf=TransferFrameDataField(
            tfdz_cnstr_rules=TfdzConstructionRules.VpNoSegmentation,
            uslp_ident=(UslpProtocolIdentifier.COP_1_CTRL_COMMANDS if ctrl
                        else UslpProtocolIdentifier.SPACE_PACKETS_ENCAPSULATION_PACKETS),
            tfdz=tc[5:-2],
        ),
    )
