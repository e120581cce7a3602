"""Line-oriented RFID readers on a serial port: one tag per line or per STX…ETX frame.

Covers UHF readers in "output EPC as text" mode (hex EPC per line) and 125 kHz readers
(EM4100/RDM6300 style STX + 10 hex digits + 2 hex XOR checksum + ETX, or 10-digit decimal card
numbers ended by CR/LF as desktop readers type them). `AsciiFramer` is the sans-I/O part.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from .base import Driver, Option, Read, in_range, one_of
from .serial_port import close_port, open_port, read_available

log = logging.getLogger(__name__)

STX, ETX = 0x02, 0x03
_HEX = re.compile(r"[0-9A-F]+")
_DIGITS = re.compile(r"[0-9]+")
_NOISE = re.compile(r"[\s:-]+")


class AsciiFramer:
    """Bytes → frame texts. `line`: ended by CR, LF or CRLF (blank lines skipped); `stx-etx`:
    what lies between STX and ETX (anything outside a frame is noise). Frames longer than
    `max_length` are dropped whole. Never raises; drops are counted in `dropped`."""

    def __init__(self, framing: str = "line", max_length: int = 128):
        if framing not in ("line", "stx-etx"):
            raise ValueError(f"unknown framing {framing!r}")
        self.framing = framing
        self.max_length = max_length
        self._current = bytearray()
        self._inside = framing == "line"
        self._overflow = False
        self.dropped = 0

    def feed(self, data: bytes) -> list[str]:
        frames: list[str] = []
        for byte in data:
            if self.framing == "line":
                if byte in (0x0D, 0x0A):
                    self._finish(frames)
                else:
                    self._add(byte)
            elif byte == STX:
                if self._current or self._overflow:
                    self.dropped += 1  # a frame that never saw its ETX
                self._current.clear()
                self._overflow = False
                self._inside = True
            elif byte == ETX:
                if self._inside:
                    self._finish(frames)
                self._inside = False
            elif self._inside and byte not in (0x0D, 0x0A):
                self._add(byte)
        return frames

    def _add(self, byte: int) -> None:
        if self._overflow:
            return
        if len(self._current) >= self.max_length:
            self._overflow = True
            self._current.clear()
            return
        self._current.append(byte)

    def _finish(self, frames: list[str]) -> None:
        if self._overflow:
            self.dropped += 1
        elif self._current:
            frames.append(self._current.decode("latin-1"))
        self._current.clear()
        self._overflow = False

    def flush(self) -> list[str]:
        """A line reader's last line without its terminator (shutdown)."""
        if self.framing == "line" and self._current and not self._overflow:
            text = self._current.decode("latin-1")
            self._current.clear()
            return [text]
        return []


def normalize(text: str, fmt: str, strip_prefix: str = "") -> tuple[str | None, dict[str, Any]]:
    """(payload, meta) for one frame, or (None, {"error": why}) if it is not a tag number."""
    text = text.strip()
    if strip_prefix and text.startswith(strip_prefix):
        text = text[len(strip_prefix):].strip()
    if not text:
        return None, {"error": "empty frame"}
    # auto: a short all-digit frame is a card number as desktop readers type it; other hex is an EPC/UID
    short_number = bool(_DIGITS.fullmatch(text)) and len(text) <= 10
    if fmt in ("hex", "em4100") or (fmt == "auto" and not short_number
                                    and _HEX.fullmatch(_NOISE.sub("", text).upper() or "-")):
        digits = _NOISE.sub("", text).upper()
        if digits[:2] == "0X":
            digits = digits[2:]
        if not _HEX.fullmatch(digits):
            return None, {"error": f"not hexadecimal: {text[:40]!r}"}
        if fmt != "em4100":
            return digits, {"format": "hex"}
        if len(digits) != 12:
            return None, {"error": f"EM4100 frame needs 10 data + 2 checksum hex digits, got {len(digits)}"}
        data = bytes.fromhex(digits[:10])
        check = 0
        for b in data:
            check ^= b
        if check != int(digits[10:], 16):
            return None, {"error": f"EM4100 checksum mismatch in {digits}"}
        return digits[:10], {"format": "em4100", "card_number": f"{int.from_bytes(data[1:], 'big'):010d}"}
    if fmt == "decimal" or (fmt == "auto" and short_number):
        if not _DIGITS.fullmatch(text):
            return None, {"error": f"not a decimal card number: {text[:40]!r}"}
        return text, {"format": "decimal"}
    printable = "".join(ch for ch in text if ch.isprintable())
    return (printable or None), ({"format": "text"} if printable else {"error": "unprintable frame"})


class AsciiRfidReader(Driver):
    name = "ascii-rfid"
    content = "epc"
    options = {
        "port": Option(str, doc="e.g. /dev/ttyUSB0"),
        "baudrate": Option(int, 9600, one_of(1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)),
        "framing": Option(str, "line", one_of("line", "stx-etx"), doc="line: CR/LF ended; stx-etx: 0x02 … 0x03"),
        "format": Option(str, "auto", one_of("auto", "hex", "decimal", "em4100"),
                         doc="hex EPC, decimal card number, EM4100 (10 hex + XOR checksum), or auto"),
        "strip_prefix": Option(str, "", doc="removed from the start of each frame, e.g. 'EPC:'"),
        "max_length": Option(int, 128, in_range(4, 4096)),
    }

    def __init__(self, device: str, settings: dict[str, Any]):
        super().__init__(device, settings)
        self.serial = None
        self.framer = self._framer()

    def _framer(self) -> AsciiFramer:
        return AsciiFramer(self.settings["framing"], self.settings["max_length"])

    def describe(self) -> str:
        s = self.settings
        return f"{s['port']} @ {s['baudrate']} baud ({s['framing']}, {s['format']})"

    def open(self) -> None:
        self.serial = open_port(self.settings["port"], baudrate=self.settings["baudrate"])
        self.framer = self._framer()

    def read(self, timeout: float) -> list[Read]:
        deadline = time.monotonic() + timeout
        reads: list[Read] = []
        while True:
            data = read_available(self.serial, self.settings["port"])
            if data:
                reads.extend(r for r in map(self._to_read, self.framer.feed(data)) if r is not None)
            if reads or time.monotonic() >= deadline:
                return reads

    def _to_read(self, text: str) -> Read | None:
        payload, meta = normalize(text, self.settings["format"], self.settings["strip_prefix"])
        if payload is None:
            log.warning("%s: ignored a frame: %s", self.device, meta.get("error"))
            return None
        return self.make_read(payload, **meta)

    def flush(self) -> list[Read]:
        return [r for r in map(self._to_read, self.framer.flush()) if r is not None]

    def close(self) -> None:
        close_port(self.serial)
        self.serial = None
