"""What an NMEA stream accepted and why it refused the rest: one counter per reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class NmeaCounters:
    """What a stream accepted and why it refused the rest. Shared by framer and assembler."""

    sentences: int = 0  # accepted sentences of a type Tally uses
    fixes: int = 0
    checksum: int = 0  # checksum present but wrong
    truncated: int = 0  # cut short: no checksum, or a new "$" before the line end
    garbage: int = 0  # runs of bytes that are not a sentence (noise, binary, over-long lines)
    unknown: int = 0  # well-formed sentences of types Tally does not use (PUBX, TXT, AIS, ...)
    malformed: int = 0  # right type, checksum fine, fields that make no sense
    no_fix: int = 0  # epochs in which the receiver said it had no fix
    undated: int = 0  # fixes dropped because no RMC/ZDA had told the date when their epoch began
    overflow: int = 0  # sentences dropped because one epoch grew past its bound (no time, or a stuck one)

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @property
    def bad(self) -> int:
        return self.checksum + self.truncated + self.garbage + self.malformed

    def summary(self) -> str:
        """One line for humans: 'nmea: 1200 sentences, 3 fixes, 2 bad checksums, 1 garbage'."""
        parts = [f"{self.sentences} sentences", f"{self.fixes} fixes"]
        for key, label in (("checksum", "bad checksums"), ("truncated", "truncated"), ("garbage", "garbage"),
                           ("malformed", "malformed"), ("unknown", "unknown sentences"),
                           ("no_fix", "epochs without fix"), ("undated", "fixes without a date"),
                           ("overflow", "sentences over the epoch bound")):
            value = getattr(self, key)
            if value:
                parts.append(f"{value} {label}")
        return "nmea: " + ", ".join(parts)
