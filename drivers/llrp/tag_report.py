"""TagReportData (§16.2.7.3): one tag sighting in an RO_ACCESS_REPORT. The hot path: one per tag read."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .encoding import (
    ACCESS_SPEC_ID,
    ANTENNA_ID,
    C1G2_CRC,
    C1G2_PC,
    CHANNEL_INDEX,
    EPC_96,
    EPC_DATA,
    FIRST_SEEN_UPTIME,
    FIRST_SEEN_UTC,
    INVENTORY_PARAMETER_SPEC_ID,
    LAST_SEEN_UPTIME,
    LAST_SEEN_UTC,
    PEAK_RSSI,
    ROSPEC_ID,
    SPEC_INDEX,
    TAG_REPORT_DATA,
    TAG_SEEN_COUNT,
    TV_SIZES,
    U16,
    U16_U16,
    U32,
    U64,
    LlrpProtocolError,
    RawParam,
    need,
    tlv,
)


@dataclass(slots=True)
class TagReport:
    """One TagReportData: a tag's EPC and whatever the TagReportContentSelector asked for.

    Timestamps are microseconds (UTC since the epoch, or since reader boot for *_uptime).
    `epc_bits` is None when the EPC came as the compact EPC-96 TV parameter.
    """

    epc: bytes
    epc_bits: int | None = None
    antenna_id: int | None = None
    peak_rssi: int | None = None
    channel_index: int | None = None
    first_seen_utc: int | None = None
    first_seen_uptime: int | None = None
    last_seen_utc: int | None = None
    last_seen_uptime: int | None = None
    seen_count: int | None = None
    rospec_id: int | None = None
    spec_index: int | None = None
    inventory_parameter_spec_id: int | None = None
    pc_bits: int | None = None
    crc: int | None = None
    access_spec_id: int | None = None
    extra: tuple[RawParam, ...] = ()

    @property
    def epc_hex(self) -> str:
        return self.epc.hex().upper()

    def encode(self) -> bytes:
        if self.epc_bits is None and len(self.epc) == 12:
            body = b"\x8d" + self.epc
        else:
            bits = self.epc_bits if self.epc_bits is not None else len(self.epc) * 8
            body = tlv(EPC_DATA, U16.pack(bits) + self.epc)
        # TLV order from the spec; each optional TV parameter only when present
        if self.rospec_id is not None:
            body += b"\x89" + U32.pack(self.rospec_id)
        if self.spec_index is not None:
            body += b"\x8e" + U16.pack(self.spec_index)
        if self.inventory_parameter_spec_id is not None:
            body += b"\x8a" + U16.pack(self.inventory_parameter_spec_id)
        if self.antenna_id is not None:
            body += b"\x81" + U16.pack(self.antenna_id)
        if self.peak_rssi is not None:
            body += b"\x86" + struct.pack("!b", self.peak_rssi)
        if self.channel_index is not None:
            body += b"\x87" + U16.pack(self.channel_index)
        if self.first_seen_utc is not None:
            body += b"\x82" + U64.pack(self.first_seen_utc)
        if self.first_seen_uptime is not None:
            body += b"\x83" + U64.pack(self.first_seen_uptime)
        if self.last_seen_utc is not None:
            body += b"\x84" + U64.pack(self.last_seen_utc)
        if self.last_seen_uptime is not None:
            body += b"\x85" + U64.pack(self.last_seen_uptime)
        if self.seen_count is not None:
            body += b"\x88" + U16.pack(self.seen_count)
        if self.pc_bits is not None:
            body += b"\x8c" + U16.pack(self.pc_bits)
        if self.crc is not None:
            body += b"\x8b" + U16.pack(self.crc)
        if self.access_spec_id is not None:
            body += b"\x90" + U32.pack(self.access_spec_id)
        body += b"".join(p.encode() for p in self.extra)
        return tlv(TAG_REPORT_DATA, body)


_TV_FIELD = {
    ANTENNA_ID: "antenna_id", PEAK_RSSI: "peak_rssi", CHANNEL_INDEX: "channel_index",
    FIRST_SEEN_UTC: "first_seen_utc", FIRST_SEEN_UPTIME: "first_seen_uptime", LAST_SEEN_UTC: "last_seen_utc",
    LAST_SEEN_UPTIME: "last_seen_uptime", TAG_SEEN_COUNT: "seen_count", ROSPEC_ID: "rospec_id",
    SPEC_INDEX: "spec_index", INVENTORY_PARAMETER_SPEC_ID: "inventory_parameter_spec_id", C1G2_PC: "pc_bits",
    C1G2_CRC: "crc", ACCESS_SPEC_ID: "access_spec_id",
}
_from_bytes = int.from_bytes


def decode_tag_report(data: bytes, pos: int, end: int) -> TagReport:
    """TagReportData body → TagReport. Written as one flat loop: it runs once per tag read."""
    report = TagReport(b"")
    have_epc = False
    extra: list[RawParam] | None = None
    while pos < end:
        first = data[pos]
        if first & 0x80:
            ptype = first & 0x7F
            size = TV_SIZES.get(ptype)
            if size is None:
                raise LlrpProtocolError(f"TagReportData: unknown TV parameter type {ptype} at offset {pos}")
            stop = pos + 1 + size
            if stop > end:
                raise LlrpProtocolError(f"TagReportData: TV parameter {ptype} truncated at offset {pos}")
            if ptype == EPC_96:
                if have_epc:
                    raise LlrpProtocolError("TagReportData: more than one EPC")
                report.epc = data[pos + 1:stop]
                have_epc = True
            elif ptype == PEAK_RSSI:
                rssi = data[pos + 1]
                report.peak_rssi = rssi - 256 if rssi > 127 else rssi
            else:
                name = _TV_FIELD.get(ptype)
                if name is not None:
                    setattr(report, name, _from_bytes(data[pos + 1:stop], "big"))
            pos = stop
            continue
        if pos + 4 > end:
            raise LlrpProtocolError(f"TagReportData: {end - pos} stray bytes at offset {pos}")
        header, length = U16_U16.unpack_from(data, pos)
        stop = pos + length
        if length < 4 or stop > end:
            raise LlrpProtocolError(f"TagReportData: bad parameter length {length} at offset {pos}")
        ptype = header & 0x3FF
        if ptype < 128:
            raise LlrpProtocolError(f"TagReportData: TLV parameter at offset {pos} has reserved type {ptype}")
        if ptype == EPC_DATA:
            if have_epc:
                raise LlrpProtocolError("TagReportData: more than one EPC")
            need(data, pos + 4, 2, stop, "EPCData")
            (bits,) = U16.unpack_from(data, pos + 4)
            nbytes = (bits + 7) // 8
            need(data, pos + 6, nbytes, stop, "EPCData")
            report.epc = data[pos + 6:pos + 6 + nbytes]
            report.epc_bits = bits
            have_epc = True
        else:
            if extra is None:
                extra = []
            extra.append(RawParam(ptype, data[pos + 4:stop]))
        pos = stop
    if not have_epc:
        raise LlrpProtocolError("TagReportData: no EPC parameter")
    if extra:
        report.extra = tuple(extra)
    return report
