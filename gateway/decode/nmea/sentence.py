"""One checked NMEA sentence as typed values, and the error that says why a line is not one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .. import DecodeError

KNOT = 1852.0 / 3600.0  # m/s

#: the sentence types a position is assembled from
KNOWN = frozenset({"GGA", "RMC", "GSA", "GSV", "VTG", "GLL", "GNS", "ZDA"})
#: the ones that carry the time of day (they delimit receiver epochs)
TIMED = frozenset({"GGA", "RMC", "GLL", "GNS", "ZDA"})


class NmeaError(DecodeError):
    """A sentence that cannot be used; `reason` says which counter it belongs to."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Sentence:
    """One checked sentence, fields typed; None where the receiver left a field empty."""

    talker: str
    kind: str
    fields: tuple[str, ...]
    time_ms: int | None = None  # milliseconds since 00:00 UTC
    date: date | None = None
    lat: float | None = None
    lon: float | None = None
    #: True: the receiver says this is a fix; False: it says there is none; None: it does not say
    fix: bool | None = None
    quality: int | None = None  # GGA fix quality
    mode: int | None = None  # GSA 1 = none, 2 = 2D, 3 = 3D
    sats: int | None = None  # satellites used
    hdop: float | None = None
    alt: float | None = None  # metres above mean sea level
    speed: float | None = None  # m/s over ground
    track: float | None = None  # degrees true
    system_id: int | None = None  # NMEA 4.10 GNSS system of a GSA / GSV
    prns: tuple[int, ...] = ()  # GSA satellites used
    part: tuple[int, int] | None = None  # GSV (message number, of how many)

    @property
    def address(self) -> str:
        return self.talker + self.kind
