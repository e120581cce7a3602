"""Bytes -> fixes: framer and assembler together (`tally nmea`, tests)."""

from __future__ import annotations

from datetime import date

from .assembler import NmeaAssembler
from .counters import NmeaCounters
from .fix import Fix
from .framing import MAX_SENTENCE, NmeaFramer


class NmeaStream:
    """Bytes -> fixes: `feed(data) -> list[Fix]`, `flush()` at end of input. Never raises."""

    def __init__(self, max_length: int = MAX_SENTENCE, date_hint: date | None = None):
        self.counters = NmeaCounters()
        self.framer = NmeaFramer(self.counters, max_length)
        self.assembler = NmeaAssembler(self.counters, date_hint)

    def feed(self, data: bytes) -> list[Fix]:
        return self.assembler.feed_many(self.framer.feed(data))

    def flush(self) -> list[Fix]:
        fixes = self.assembler.feed_many(self.framer.flush())
        return fixes + self.assembler.flush()
