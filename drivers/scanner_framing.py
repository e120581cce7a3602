"""Sans-I/O framing for scanners that send text over a byte stream (serial, TCP).

Feed bytes and the time; get back complete scans. Scanners end a scan with CR,
LF or CRLF, or (configured "none") with silence: the inter-character timeout.
Total by construction: garbage, binary and oversized input become `Frame`s with
an `error`, never an exception, and the framer resynchronises at the next
terminator.
"""

from __future__ import annotations

from dataclasses import dataclass

TERMINATORS = ("any", "cr", "lf", "crlf", "none")


@dataclass(frozen=True, slots=True)
class Frame:
    text: str
    error: str | None = None
    aim: str | None = None  # AIM symbology identifier (]C1, ]d2, ...) when the scan starts with one


def split_aim(text: str) -> str | None:
    """The AIM symbology identifier at the start of a scan, if any (ISO/IEC 15424: ']' + code + modifier)."""
    if len(text) >= 3 and text[0] == "]" and text[1].isalpha() and text[2].isalnum():
        return text[:3]
    return None


class ScanFramer:
    def __init__(self, terminator: str = "any", char_timeout: float = 0.05, prefix: str = "", suffix: str = "",
                 max_length: int = 4096, encoding: str = "utf-8"):
        if terminator not in TERMINATORS:
            raise ValueError(f"terminator must be one of {TERMINATORS}")
        self.terminator = terminator
        self.char_timeout = char_timeout
        self.prefix = prefix.encode(encoding)
        self.suffix = suffix.encode(encoding)
        self.max_length = max_length
        self.encoding = encoding
        self._buf = bytearray()
        self._last = 0.0
        self._skipping = False  # discarding the rest of an oversized scan
        self._after_cr = False  # swallow the LF of a CRLF when splitting on "any"

    def feed(self, data: bytes, now: float) -> list[Frame]:
        frames: list[Frame] = []
        if self.terminator == "none" and self._buf and now - self._last >= self.char_timeout:
            frames.extend(self._emit())
        if data:
            self._last = now
        for byte in data:
            end = self._is_end(byte)
            if end is None:
                continue  # the second half of a CRLF
            if end:
                if self._skipping:
                    self._skipping = False
                    self._buf.clear()
                else:
                    frames.extend(self._emit())
                continue
            if self._skipping:
                continue
            self._buf.append(byte)
            if len(self._buf) > self.max_length:
                frames.append(Frame(self._text(bytes(self._buf[:64]))[0] + "…",
                                    f"oversized scan: more than {self.max_length} bytes without a terminator"))
                self._buf.clear()
                self._skipping = self.terminator != "none"
        return frames

    def _is_end(self, byte: int) -> bool | None:
        t = self.terminator
        if t == "none":
            return False
        if t == "cr":
            return byte == 0x0D
        if t == "lf":
            return byte == 0x0A
        if t == "crlf":
            if byte == 0x0A and self._buf.endswith(b"\r"):
                del self._buf[-1]
                return True
            return False
        # any: CR, LF or CRLF all end a scan, and CRLF ends it once
        if byte == 0x0A and self._after_cr:
            self._after_cr = False
            return None
        self._after_cr = byte == 0x0D
        return byte in (0x0D, 0x0A)

    def tick(self, now: float) -> list[Frame]:
        """Call when no bytes came: a scan without terminator ends after the inter-character timeout."""
        if self.terminator == "none" and self._buf and now - self._last >= self.char_timeout:
            return self._emit()
        return []

    def flush(self) -> list[Frame]:
        """End of stream: whatever is buffered counts (a scanner unplugged mid-scan sent it)."""
        if self._skipping:
            self._skipping = False
            self._buf.clear()
            return []
        return self._emit()

    def _text(self, raw: bytes) -> tuple[str, str | None]:
        try:
            return raw.decode(self.encoding), None
        except UnicodeDecodeError as exc:
            return raw.decode(self.encoding, "backslashreplace"), f"not {self.encoding} text ({exc.reason} at byte {exc.start})"

    def _emit(self) -> list[Frame]:
        raw = bytes(self._buf)
        self._buf.clear()
        if self.prefix and raw.startswith(self.prefix):
            raw = raw[len(self.prefix):]
        if self.suffix and raw.endswith(self.suffix):
            raw = raw[: -len(self.suffix)]
        if not raw.strip(b" \t\x00"):
            return []  # empty lines and keep-alive NULs are not scans
        text, error = self._text(raw)
        if error is None and any(ord(c) < 0x20 and c not in "\x1d\x1e\x04\t" for c in text):
            error = "control characters in scan"
        return [Frame(text, error, split_aim(text))]
