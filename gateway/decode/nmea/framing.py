"""Bytes from a serial line -> NMEA sentence strings, sans-I/O; what is not a sentence is counted."""

from __future__ import annotations

import re

from .counters import NmeaCounters

#: NMEA 0183 says 82 characters including "$" and CR LF; u-blox and Quectel NMEA 4.11 output
#: (GSV with signal ids, GNS with nav status, PUBX) runs past that, gpsd accepts ~100. 128
#: leaves room while a lost line ending cannot swallow more than one following sentence.
MAX_SENTENCE = 128

_PRINTABLE = re.compile(rb"[\x20-\x7e]*\Z")
_EOL = re.compile(rb"[\r\n]")
_START = re.compile(rb"[$!]")
_FILLER = frozenset(b" \t\x00")


class NmeaFramer:
    """Bytes from a serial line -> sentence strings. Never raises; rejects go to `counters`.

    A sentence runs from "$" (or "!") to CR or LF. Bytes outside sentences are garbage
    (one count per run), a new "$" before the line end means the previous sentence was cut
    (truncated), and a line with non-printable bytes or longer than `max_length` is garbage.
    """

    def __init__(self, counters: NmeaCounters | None = None, max_length: int = MAX_SENTENCE):
        self.counters = counters if counters is not None else NmeaCounters()
        self.max_length = max_length
        self._pending = b""
        self._skipping = False  # inside an over-long run already counted

    def feed(self, data: bytes) -> list[str]:
        if not data:
            return []
        buffer = self._pending + bytes(data)
        out: list[str] = []
        pos = 0
        for m in _EOL.finditer(buffer):
            end = m.start()
            if end > pos:
                self._line(buffer[pos:end], out)
            self._skipping = False
            pos = m.end()
        self._pending = buffer[pos:]
        if len(self._pending) > self.max_length:
            self._overflow()
        return out

    def flush(self) -> list[str]:
        """End of input: whatever is pending was cut short."""
        out: list[str] = []
        if self._pending:
            self._line(self._pending, out)
        self._pending = b""
        self._skipping = False
        return out

    def _overflow(self) -> None:
        # No line end within max_length: keep the last start if what follows it may still be a
        # sentence, else drop the lot and count one garbage run.
        pending = self._pending
        last = max(pending.rfind(b"$"), pending.rfind(b"!"))
        if last > 0 and len(pending) - last <= self.max_length:
            self._line(pending[:last], [], cut=True)
            self._pending = pending[last:]
            return
        if not self._skipping:
            self.counters.garbage += 1
        self._skipping = True
        self._pending = b""

    def _line(self, line: bytes, out: list[str], cut: bool = False) -> None:
        starts = [m.start() for m in _START.finditer(line)]
        head = line[:starts[0]] if starts else line
        if head and not self._skipping and any(b not in _FILLER for b in head):
            self.counters.garbage += 1
        self._skipping = False
        for i, start in enumerate(starts):
            last = i == len(starts) - 1
            piece = line[start:starts[i + 1]] if not last else line[start:]
            if not last or cut:
                self.counters.truncated += 1
                continue
            piece = piece.rstrip(b" \t\x00")
            if len(piece) > self.max_length or not _PRINTABLE.match(piece):
                self.counters.garbage += 1
                continue
            out.append(piece.decode("ascii"))
