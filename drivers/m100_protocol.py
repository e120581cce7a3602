"""MagicRF M100-family serial UHF modules (YRM100, JRD-100, M5Stack UHF unit, ...): frames, sans-I/O.

Frame: 0xBB, type (0x00 command, 0x01 response, 0x02 notice), command, payload length (2 bytes,
big-endian), payload, checksum (low byte of the sum of type..payload), 0x7E. The payload is not
escaped, so 0x7E and 0xBB can appear inside it: frames are cut by the length field and checked
by end byte and checksum, never by scanning for 0x7E.

A tag notice (command 0x22) carries RSSI (signed dBm), PC (2 bytes), EPC, and the tag's CRC-16
over PC+EPC. Error responses use command 0xFF with a one-byte code (0x15: no tag answered).
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = 0xBB
END = 0x7E
TYPE_COMMAND, TYPE_RESPONSE, TYPE_NOTICE = 0x00, 0x01, 0x02

CMD_GET_INFO = 0x03
CMD_SINGLE_POLL = 0x22
CMD_MULTI_POLL = 0x27
CMD_STOP_MULTI_POLL = 0x28
CMD_SET_POWER = 0xB6
CMD_GET_POWER = 0xB7
CMD_ERROR = 0xFF

INFO_HARDWARE, INFO_SOFTWARE, INFO_MANUFACTURER = 0x00, 0x01, 0x02

ERRORS = {
    0x09: "read failed",
    0x10: "write failed",
    0x12: "kill failed",
    0x13: "lock failed",
    0x15: "no tag answered the inventory",
    0x16: "access password wrong",
    0x17: "invalid command",
    0x20: "frequency hopping failed",
}
ERROR_NO_TAG = 0x15
ERROR_INVALID_COMMAND = 0x17

#: the largest payload any M100 frame carries is well below this; longer claims are line noise
MAX_PAYLOAD = 256


def checksum(body: bytes) -> int:
    return sum(body) & 0xFF


def encode_frame(frame_type: int, command: int, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise ValueError("M100 payload too long")
    body = bytes([frame_type, command]) + len(payload).to_bytes(2, "big") + payload
    return bytes([HEADER]) + body + bytes([checksum(body), END])


def single_poll() -> bytes:
    return encode_frame(TYPE_COMMAND, CMD_SINGLE_POLL)


def multi_poll(rounds: int = 10_000) -> bytes:
    """Run `rounds` inventory rounds (1-65535), reporting each tag as a notice."""
    return encode_frame(TYPE_COMMAND, CMD_MULTI_POLL, b"\x22" + max(1, min(rounds, 0xFFFF)).to_bytes(2, "big"))


def stop_multi_poll() -> bytes:
    return encode_frame(TYPE_COMMAND, CMD_STOP_MULTI_POLL)


def get_info(kind: int = INFO_HARDWARE) -> bytes:
    return encode_frame(TYPE_COMMAND, CMD_GET_INFO, bytes([kind]))


def set_power(dbm: float) -> bytes:
    """Transmit power in hundredths of dBm (e.g. 2000 = 20 dBm)."""
    return encode_frame(TYPE_COMMAND, CMD_SET_POWER, int(round(dbm * 100)).to_bytes(2, "big"))


def get_power() -> bytes:
    return encode_frame(TYPE_COMMAND, CMD_GET_POWER)


@dataclass(frozen=True, slots=True)
class Frame:
    type: int
    command: int
    payload: bytes

    def encode(self) -> bytes:
        return encode_frame(self.type, self.command, self.payload)

    @property
    def is_error(self) -> bool:
        return self.command == CMD_ERROR

    @property
    def error_code(self) -> int | None:
        return self.payload[0] if self.is_error and self.payload else None

    def describe_error(self) -> str:
        code = self.error_code
        return ERRORS.get(code, f"error 0x{code:02X}") if code is not None else "malformed error frame"


def crc16_gen2(data: bytes) -> int:
    """EPC Gen2 CRC-16 (CCITT polynomial 0x1021, preset 0xFFFF, result inverted)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc ^ 0xFFFF


class M100Error(ValueError):
    """A well-framed M100 frame whose content is not what its command promises."""


@dataclass(frozen=True, slots=True)
class TagNotice:
    rssi: int
    pc: int
    epc: bytes
    crc: int

    @property
    def crc_ok(self) -> bool:
        return crc16_gen2(self.pc.to_bytes(2, "big") + self.epc) == self.crc

    @property
    def epc_hex(self) -> str:
        return self.epc.hex().upper()


def tag_notice(rssi: int, epc: bytes, pc: int | None = None) -> bytes:
    """The notice frame a module sends for one tag (simulators, tests)."""
    if pc is None:
        pc = (len(epc) // 2) << 11
    crc = crc16_gen2(pc.to_bytes(2, "big") + epc)
    payload = (rssi & 0xFF).to_bytes(1, "big") + pc.to_bytes(2, "big") + epc + crc.to_bytes(2, "big")
    return encode_frame(TYPE_NOTICE, CMD_SINGLE_POLL, payload)


def parse_tag_notice(frame: Frame) -> TagNotice:
    """RSSI, PC, EPC and CRC out of a 0x22 notice. The PC's length bits must match the payload."""
    payload = frame.payload
    if frame.command != CMD_SINGLE_POLL or frame.type != TYPE_NOTICE:
        raise M100Error(f"not a tag notice (type 0x{frame.type:02X}, command 0x{frame.command:02X})")
    if len(payload) < 5:
        raise M100Error(f"tag notice too short ({len(payload)} bytes)")
    rssi = payload[0] - 256 if payload[0] > 127 else payload[0]
    pc = int.from_bytes(payload[1:3], "big")
    epc_len = len(payload) - 5
    if (pc >> 11) * 2 != epc_len:
        raise M100Error(f"PC says {(pc >> 11) * 2} EPC bytes, the notice carries {epc_len}")
    return TagNotice(rssi, pc, bytes(payload[3:3 + epc_len]), int.from_bytes(payload[-2:], "big"))


class M100Framer:
    """Bytes from the module → Frames. Noise, bad checksums and truncated frames are skipped
    (counted in `dropped_bytes` / `bad_frames`, last reason in `last_error`); it never raises."""

    def __init__(self, max_payload: int = MAX_PAYLOAD):
        self.max_payload = max_payload
        self._buffer = bytearray()
        self.dropped_bytes = 0
        self.bad_frames = 0
        self.last_error = ""

    def feed(self, data: bytes) -> list[Frame]:
        buffer = self._buffer
        buffer += data
        frames: list[Frame] = []
        while True:
            start = buffer.find(HEADER)
            if start < 0:
                self._drop(len(buffer), "bytes outside any frame")
                return frames
            if start:
                self._drop(start, "bytes outside any frame")
            if len(buffer) < 5:
                return frames
            frame_type, command = buffer[1], buffer[2]
            length = (buffer[3] << 8) | buffer[4]
            if frame_type > TYPE_NOTICE or length > self.max_payload:
                self._reject("not a frame header (type or length out of range)")
                continue
            total = 7 + length
            if len(buffer) < total:
                return frames
            if buffer[total - 1] != END:
                self._reject("frame does not end with 0x7E")
                continue
            if checksum(buffer[1:total - 2]) != buffer[total - 2]:
                self._reject("checksum mismatch")
                continue
            frames.append(Frame(frame_type, command, bytes(buffer[5:5 + length])))
            del buffer[:total]

    def _drop(self, count: int, reason: str) -> None:
        del self._buffer[:count]
        self.dropped_bytes += count
        self.last_error = reason

    def _reject(self, reason: str) -> None:
        # the 0xBB was not a frame start: skip it and look for the next one
        self.bad_frames += 1
        self._drop(1, reason)

    @property
    def buffered(self) -> int:
        return len(self._buffer)
