"""The module's side of the MagicRF M100 serial protocol, written from the module's user protocol
document and not from drivers/m100_protocol.py, so that a framing bug in the driver shows up in
the end-to-end tests instead of being mirrored by the simulator.

Frame layout (M100 user protocol, "frame format"):

    0xBB | type | command | PL (2 bytes, MSB first) | parameter (PL bytes) | checksum | 0x7E

type 0x00 command (host → module), 0x01 response, 0x02 notice; the checksum is the low byte of
the sum of type, command, PL and parameter. A tag notice (command 0x22) carries RSSI (1 byte,
two's complement dBm), PC (2), EPC, and the tag's CRC-16 over PC + EPC.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass

START, STOP = b"\xbb", b"\x7e"
COMMAND, RESPONSE, NOTICE = 0x00, 0x01, 0x02

GET_INFO, SINGLE_POLL, MULTI_POLL, STOP_MULTI_POLL = 0x03, 0x22, 0x27, 0x28
SET_POWER, GET_POWER, ERROR = 0xB6, 0xB7, 0xFF
HARDWARE, SOFTWARE, MANUFACTURER = 0x00, 0x01, 0x02
NO_TAG, INVALID_COMMAND = 0x15, 0x17


@dataclass(frozen=True)
class Command:
    """A frame the host sent."""

    type: int
    command: int
    payload: bytes


def frame(kind: int, command: int, parameter: bytes = b"") -> bytes:
    header = struct.pack(">BBH", kind, command, len(parameter))
    return START + header + parameter + bytes([sum(header + parameter) % 256]) + STOP


def error(code: int) -> bytes:
    return frame(RESPONSE, ERROR, bytes([code]))


def gen2_crc16(data: bytes) -> int:
    """EPC Gen2 CRC-16: CRC-CCITT (x^16 + x^12 + x^5 + 1), preset 0xFFFF, sent ones-complemented."""
    return binascii.crc_hqx(data, 0xFFFF) ^ 0xFFFF


def tag_notice(rssi: int, epc: bytes, pc_flags: int = 0) -> bytes:
    """`pc_flags`: the PC's low 11 bits (bit 10 = UMI, the tag has user memory)."""
    # PC bits 15-11: the EPC length in 16-bit words
    pc = struct.pack(">H", (len(epc) // 2) << 11 | pc_flags)
    body = struct.pack(">b", rssi) + pc + epc + struct.pack(">H", gen2_crc16(pc + epc))
    return frame(NOTICE, SINGLE_POLL, body)


class CommandReader:
    """Bytes from the host → Commands. A module ignores what it cannot frame, and so does this."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, data: bytes) -> list[Command]:
        self.pending += data
        out = []
        while True:
            at = self.pending.find(START)
            if at < 0:
                self.pending = b""
                return out
            self.pending = self.pending[at:]
            if len(self.pending) < 7:
                return out
            kind, command, length = struct.unpack(">BBH", self.pending[1:5])
            end = 5 + length
            if length > 1024:
                self.pending = self.pending[1:]
                continue
            if len(self.pending) < end + 2:
                return out
            body, check, stop = self.pending[1:end], self.pending[end], self.pending[end + 1:end + 2]
            if stop != STOP or sum(body) % 256 != check:
                self.pending = self.pending[1:]
                continue
            out.append(Command(kind, command, bytes(self.pending[5:end])))
            self.pending = self.pending[end + 2:]
