"""NMEA 0183 from GPS/GNSS receivers: framing, sentence parsing and fix assembly, sans-I/O.

Three layers, each usable alone:

    NmeaFramer     bytes in  -> sentence strings out ("$GNGGA,...*5B"), rejects counted
    NmeaAssembler  sentences -> `Fix` once per receiver epoch (the pipeline uses this on
                   the `nmea` Reads the serial driver frames)
    NmeaStream     framer + assembler: bytes in -> `Fix` out (`tally nmea`, tests)

`parse_sentence(line)` turns one sentence into a typed `Sentence` or raises `NmeaError`
(a `DecodeError` whose `reason` is one of checksum | truncated | garbage | unknown | malformed).

Why not pynmea2 for the fields (it is a dependency of the `gps` extra and the tests use it
as an oracle): it hands back raw strings when a field does not parse ("12a519" as a
timestamp, "310294" as a date), reads empty coordinates as 0.0 (a no-fix sentence lands on
Null Island), accepts minutes >= 60, latitudes of 99 degrees and "nan" altitudes, raises
plain ValueError lazily on attribute access, leaves GNS/GSA numbers as strings and has no
NMEA 4.10 GSA system id. Each of those would need a typed, validating layer over every field
anyway, which is all this module is, and the core install (`tally nmea`) then needs no extra.
Speed is not the reason: typed and checked, both parse ~120k sentences/s on a desktop core
(pynmea2 is faster only while its fields stay unread text); a receiver sends a few hundred.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from . import DecodeError

#: NMEA 0183 says 82 characters including "$" and CR LF; u-blox and Quectel NMEA 4.11 output
#: (GSV with signal ids, GNS with nav status, PUBX) runs past that, gpsd accepts ~100. 128
#: leaves room while a lost line ending cannot swallow more than one following sentence.
MAX_SENTENCE = 128

KNOT = 1852.0 / 3600.0  # m/s

#: the sentence types a position is assembled from
KNOWN = frozenset({"GGA", "RMC", "GSA", "GSV", "VTG", "GLL", "GNS", "ZDA"})
#: the ones that carry the time of day (they delimit receiver epochs)
TIMED = frozenset({"GGA", "RMC", "GLL", "GNS", "ZDA"})

_HEX = frozenset("0123456789ABCDEFabcdef")
_PRINTABLE = re.compile(rb"[\x20-\x7e]*\Z")
_EOL = re.compile(rb"[\r\n]")
_START = re.compile(rb"[$!]")
_ADDRESS = re.compile(r"[A-Z][A-Z0-9]{4}\Z")
_TIME = re.compile(r"(\d\d)(\d\d)(\d\d)(?:\.(\d*))?\Z")
_DATE = re.compile(r"(\d\d)(\d\d)(\d\d)\Z")
_COORD = re.compile(r"(\d{1,3}?)(\d\d(?:\.\d*)?)\Z")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)\Z")
_INT = re.compile(r"\d{1,3}\Z")
_FILLER = frozenset(b" \t\x00")


class NmeaError(DecodeError):
    """A sentence that cannot be used; `reason` says which counter it belongs to."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


# ---- values ---------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class Fix:
    """A position the receiver vouches for, once per epoch; shaped like gpsd's TPV."""

    time: datetime  # UTC, timezone-aware
    mode: int  # 2 or 3
    lat: float
    lon: float
    alt: float | None = None  # metres above mean sea level, 3D fixes only
    speed: float | None = None  # m/s
    track: float | None = None  # degrees true
    sats: int | None = None
    hdop: float | None = None

    @property
    def timestamp(self) -> float:
        """POSIX seconds, for arithmetic with `time.time()`."""
        return self.time.timestamp()

    def to_tpv(self) -> dict[str, Any]:
        tpv: dict[str, Any] = {"time": iso_utc(self.time), "mode": self.mode,
                               "lat": round(self.lat, 9), "lon": round(self.lon, 9)}
        if self.alt is not None:
            tpv["alt"] = round(self.alt, 3)
        if self.speed is not None:
            tpv["speed"] = round(self.speed, 3)
        if self.track is not None:
            tpv["track"] = round(self.track, 2)
        if self.sats is not None:
            tpv["sats"] = self.sats
        if self.hdop is not None:
            tpv["hdop"] = self.hdop
        return tpv

    @classmethod
    def from_tpv(cls, tpv: Mapping[str, Any]) -> "Fix":
        """The inverse of `to_tpv` (e.g. the `meta` of a gpsd driver's Read); DecodeError if unusable."""
        if not isinstance(tpv, Mapping):
            raise DecodeError("a TPV must be a JSON object")
        when = tpv.get("time")
        if not isinstance(when, str):
            raise DecodeError("TPV without a time")
        try:
            stamp = datetime.fromisoformat(when.replace("Z", "+00:00"))
            aware = stamp.tzinfo is not None
            stamp = stamp.astimezone(timezone.utc)
        except (ValueError, OverflowError):
            raise DecodeError(f"TPV time {when[:40]!r} is not ISO 8601") from None
        if not aware:
            raise DecodeError("TPV time has no UTC offset")
        mode = tpv.get("mode")
        if type(mode) is not int or mode not in (2, 3):
            raise DecodeError(f"TPV mode {str(mode)[:20]!r} is not a 2D or 3D fix")
        lat, lon = _number(tpv, "lat"), _number(tpv, "lon")
        if lat is None or lon is None:
            raise DecodeError("TPV without lat/lon")
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise DecodeError(f"TPV position {lat},{lon} is off the globe")
        sats = tpv.get("sats")
        return cls(time=stamp, mode=mode, lat=lat, lon=lon,
                   alt=_number(tpv, "alt") if mode == 3 else None, speed=_number(tpv, "speed"),
                   track=_number(tpv, "track"),
                   sats=sats if isinstance(sats, int) and not isinstance(sats, bool) and sats >= 0 else None,
                   hdop=_number(tpv, "hdop"))


def _number(tpv: Mapping[str, Any], key: str) -> float | None:
    value = tpv.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def iso_utc(when: datetime) -> str:
    """ISO 8601 UTC with milliseconds and Z, as gpsd writes TPV times."""
    when = when.astimezone(timezone.utc)
    return (f"{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:"
            f"{when.second:02d}.{when.microsecond // 1000:03d}Z")


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
    undated: int = 0  # fixes dropped because no RMC/ZDA has told the date yet

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
                           ("no_fix", "epochs without fix"), ("undated", "fixes without a date")):
            value = getattr(self, key)
            if value:
                parts.append(f"{value} {label}")
        return "nmea: " + ", ".join(parts)


# ---- one sentence ------------------------------------------------------------------------------


def checksum(body: str | bytes) -> int:
    """XOR of the characters between "$" and "*"."""
    data = body.encode("latin-1", "replace") if isinstance(body, str) else body
    value = 0
    for byte in data:
        value ^= byte
    return value


def parse_sentence(line: str) -> Sentence:
    """One sentence ("$GPGGA,...*hh", line ending optional) -> Sentence; NmeaError if unusable."""
    if not isinstance(line, str):
        raise NmeaError("garbage", "a sentence must be text")
    line = line.rstrip("\r\n")
    if not line:
        raise NmeaError("garbage", "empty line")
    if not line.isascii() or not line.isprintable():
        raise NmeaError("garbage", "a sentence is printable ASCII only")
    start = line[0]
    if start not in "$!":
        raise NmeaError("garbage", "a sentence starts with '$' or '!'")
    star = line.rfind("*")
    if star < 0:
        raise NmeaError("truncated", "no checksum (cut short?)")
    given = line[star + 1:]
    if len(given) < 2:
        raise NmeaError("truncated", "checksum cut short")
    if len(given) > 2 or given[0] not in _HEX or given[1] not in _HEX:
        raise NmeaError("malformed", f"checksum {given[:8]!r} is not two hex digits")
    body = line[1:star]
    if checksum(body) != int(given, 16):
        raise NmeaError("checksum", f"checksum {given.upper()} does not match {checksum(body):02X}")
    fields = body.split(",")
    address = fields[0]
    if start == "!":
        raise NmeaError("unknown", f"{address or 'encapsulated'} sentences (AIS) carry no position")
    if address[:1] == "P":
        raise NmeaError("unknown", f"proprietary sentence {address[:8]}")
    if not _ADDRESS.match(address):
        raise NmeaError("malformed", f"address field {address[:8]!r} is not talker + sentence type")
    kind = address[2:]
    if kind not in KNOWN:
        raise NmeaError("unknown", f"{address} is not a sentence type Tally uses")
    return _PARSERS[kind](address[:2], kind, tuple(fields[1:]))


def _get(fields: tuple[str, ...], index: int) -> str:
    return fields[index] if index < len(fields) else ""


def _bad(kind: str, what: str, value: str) -> NmeaError:
    return NmeaError("malformed", f"{kind}: {what} {value[:20]!r} is not valid")


def _time(kind: str, text: str) -> int | None:
    if not text:
        return None
    m = _TIME.match(text)
    if not m:
        raise _bad(kind, "time", text)
    hh, mm, ss = int(m[1]), int(m[2]), int(m[3])
    if hh > 23 or mm > 59 or ss > 60:  # 60: a leap second
        raise _bad(kind, "time", text)
    fraction = m[4] or ""
    millis = int((fraction + "000")[:3]) if fraction else 0
    return ((hh * 60 + mm) * 60 + ss) * 1000 + millis


def _ddmmyy(kind: str, text: str) -> date | None:
    if not text:
        return None
    m = _DATE.match(text)
    if not m:
        raise _bad(kind, "date", text)
    yy = int(m[3])
    # GPS began in 1980; a two-digit year 80..99 is last century (visibly wrong, never silently shifted).
    year = 1900 + yy if yy >= 80 else 2000 + yy
    try:
        return date(year, int(m[2]), int(m[1]))
    except ValueError:
        raise _bad(kind, "date", text) from None


def _coordinate(kind: str, text: str, hemi: str, positive: str, negative: str, limit: float) -> float | None:
    if not text and not hemi:
        return None
    m = _COORD.match(text)
    if not m or hemi not in (positive, negative):
        raise _bad(kind, "coordinate", f"{text},{hemi}")
    degrees = int(m[1]) if m[1] else 0
    minutes = float(m[2])
    if minutes >= 60.0:
        raise _bad(kind, "coordinate", text)
    value = degrees + minutes / 60.0
    if value > limit:
        raise _bad(kind, "coordinate", text)
    return -value if hemi == negative else value


def _position(kind: str, fields: tuple[str, ...], at: int) -> tuple[float | None, float | None]:
    lat = _coordinate(kind, _get(fields, at), _get(fields, at + 1), "N", "S", 90.0)
    lon = _coordinate(kind, _get(fields, at + 2), _get(fields, at + 3), "E", "W", 180.0)
    if (lat is None) != (lon is None):
        raise NmeaError("malformed", f"{kind}: latitude without longitude")
    return lat, lon


def _float(kind: str, what: str, text: str) -> float | None:
    if not text:
        return None
    if not _NUMBER.match(text):
        raise _bad(kind, what, text)
    return float(text)


def _int(kind: str, what: str, text: str) -> int | None:
    if not text:
        return None
    if not _INT.match(text):
        raise _bad(kind, what, text)
    return int(text)


def _unsigned(kind: str, what: str, text: str) -> float | None:
    value = _float(kind, what, text)
    if value is not None and value < 0:
        raise _bad(kind, what, text)
    return value


def _track(kind: str, text: str) -> float | None:
    value = _unsigned(kind, "track", text)
    if value is not None and value > 360.0:
        raise _bad(kind, "track", text)
    return None if value is None else value % 360.0


def _gga(talker: str, kind: str, f: tuple[str, ...]) -> Sentence:
    lat, lon = _position(kind, f, 1)
    quality = _int(kind, "fix quality", _get(f, 5))
    # 1-5 measured (GPS, DGPS, PPS, RTK fixed/float), 6 dead reckoning; 7 manual input and
    # 8 simulator are not positions the vehicle was measured at.
    fix = None if quality is None else 1 <= quality <= 6
    return Sentence(talker, kind, f, time_ms=_time(kind, _get(f, 0)), lat=lat, lon=lon, fix=fix,
                    quality=quality, sats=_int(kind, "satellites", _get(f, 6)),
                    hdop=_unsigned(kind, "HDOP", _get(f, 7)), alt=_float(kind, "altitude", _get(f, 8)))


_FIX_MODES = frozenset("ADPRFE")  # autonomous, differential, precise, RTK fixed/float, estimated


def _status(kind: str, status: str, mode: str) -> bool | None:
    if status not in ("A", "V", ""):
        raise _bad(kind, "status", status)
    if not status:
        return None
    if status == "V":
        return False
    return mode == "" or mode in _FIX_MODES


def _rmc(talker: str, kind: str, f: tuple[str, ...]) -> Sentence:
    lat, lon = _position(kind, f, 2)
    knots = _unsigned(kind, "speed", _get(f, 6))
    return Sentence(talker, kind, f, time_ms=_time(kind, _get(f, 0)), date=_ddmmyy(kind, _get(f, 8)),
                    lat=lat, lon=lon, fix=_status(kind, _get(f, 1), _get(f, 11)),
                    speed=None if knots is None else knots * KNOT, track=_track(kind, _get(f, 7)))


def _gll(talker: str, kind: str, f: tuple[str, ...]) -> Sentence:
    lat, lon = _position(kind, f, 0)
    return Sentence(talker, kind, f, time_ms=_time(kind, _get(f, 4)), lat=lat, lon=lon,
                    fix=_status(kind, _get(f, 5), _get(f, 6)))


def _gns(talker: str, kind: str, f: tuple[str, ...]) -> Sentence:
    lat, lon = _position(kind, f, 1)
    modes = _get(f, 5)
    if modes and not modes.isalpha():
        raise _bad(kind, "mode indicator", modes)
    # one letter per constellation (GPS, GLONASS, Galileo, BeiDou, QZSS, NavIC): a fix if any has one.
    # NMEA 4.10 per-constellation GNS lines leave mode and position empty: they say nothing.
    fix = None if not modes else any(c in _FIX_MODES for c in modes)
    return Sentence(talker, kind, f, time_ms=_time(kind, _get(f, 0)), lat=lat, lon=lon, fix=fix,
                    sats=_int(kind, "satellites", _get(f, 6)), hdop=_unsigned(kind, "HDOP", _get(f, 7)),
                    alt=_float(kind, "altitude", _get(f, 8)))


def _gsa(talker: str, kind: str, f: tuple[str, ...]) -> Sentence:
    selection = _get(f, 0)
    if selection not in ("A", "M", ""):
        raise _bad(kind, "selection mode", selection)
    mode = _int(kind, "fix type", _get(f, 1))
    if mode is not None and mode not in (1, 2, 3):
        raise _bad(kind, "fix type", _get(f, 1))
    # 12 PRN slots then PDOP, HDOP, VDOP; NMEA 4.10 appends the GNSS system id. Some receivers
    # list more than 12 PRNs, so the DOPs are found from the end.
    system_id = None
    rest = f[2:]
    if len(f) == 18:
        system_id = _int(kind, "system id", f[17])
        rest = f[2:17]
    prn_fields, dops = rest[:-3], rest[-3:]
    if len(dops) < 3:
        raise NmeaError("malformed", f"{kind}: too few fields")
    prns = tuple(p for p in (_int(kind, "PRN", x) for x in prn_fields) if p is not None)
    return Sentence(talker, kind, f, fix=None if mode is None else mode >= 2, mode=mode,
                    hdop=_unsigned(kind, "HDOP", dops[1]), system_id=system_id, prns=prns,
                    sats=len(prns) if mode is not None and mode >= 2 else None)


def _gsv(talker: str, kind: str, f: tuple[str, ...]) -> Sentence:
    count, number = _int(kind, "message count", _get(f, 0)), _int(kind, "message number", _get(f, 1))
    if count is None or number is None or not 1 <= number <= count:
        raise _bad(kind, "message number", f"{_get(f, 1)}/{_get(f, 0)}")
    _int(kind, "satellites in view", _get(f, 2))
    # Satellites in view say nothing about the fix; only the part numbers matter (a cycle's
    # last sentence is often the last GSV part).
    return Sentence(talker, kind, f, part=(number, count))


def _vtg(talker: str, kind: str, f: tuple[str, ...]) -> Sentence:
    if _get(f, 1) in ("T", ""):  # NMEA 2.x: value, unit letter pairs
        track, knots, kmh, mode = _get(f, 0), _get(f, 4), _get(f, 6), _get(f, 8)
    else:  # NMEA 1.5: four bare values
        track, knots, kmh, mode = _get(f, 0), _get(f, 2), _get(f, 3), ""
    speed = _unsigned(kind, "speed", kmh)
    if speed is not None:
        speed /= 3.6
    else:
        knots_value = _unsigned(kind, "speed", knots)
        speed = None if knots_value is None else knots_value * KNOT
    fix = None if not mode else mode in _FIX_MODES
    return Sentence(talker, kind, f, fix=fix, speed=speed, track=_track(kind, track))


def _zda(talker: str, kind: str, f: tuple[str, ...]) -> Sentence:
    day, month, year = _get(f, 1), _get(f, 2), _get(f, 3)
    when = None
    if day or month or year:
        if not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
            raise _bad(kind, "date", f"{day}/{month}/{year}")
        try:
            when = date(int(year), int(month), int(day))
        except ValueError:
            raise _bad(kind, "date", f"{day}/{month}/{year}") from None
    return Sentence(talker, kind, f, time_ms=_time(kind, _get(f, 0)), date=when)


_PARSERS = {"GGA": _gga, "RMC": _rmc, "GLL": _gll, "GNS": _gns, "GSA": _gsa, "GSV": _gsv, "VTG": _vtg,
            "ZDA": _zda}


# ---- bytes -> sentences ---------------------------------------------------------------------------


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


# ---- sentences -> fixes -----------------------------------------------------------------------------


_DAY_MS = 86_400_000
_HALF_DAY_MS = _DAY_MS // 2


class NmeaAssembler:
    """Sentences (strings) -> one `Fix` per receiver epoch. Never raises; rejects are counted.

    An epoch is the burst of sentences a receiver sends for one time of day. It ends when a
    sentence with another time arrives, or as soon as the sentence that ended the previous
    epoch comes again (learnt like gpsd does, so a fix is not held back a whole cycle).
    Sentences without a time (GSA, GSV, VTG) belong to the epoch they arrive in.

    Date: GGA, GLL and GNS carry only the time of day; the date comes from RMC or ZDA
    (same epoch, else the last one seen, rolled over at midnight), or `date_hint` for logs of
    GGA-only receivers. No date known -> the fix is dropped and counted as `undated`.
    No fix: any position sentence of the epoch saying so (RMC/GLL status V, GGA quality 0,
    GNS mode N, GSA fix type 1) -> no Fix, counted as `no_fix`.
    """

    def __init__(self, counters: NmeaCounters | None = None, date_hint: date | None = None):
        self.counters = counters if counters is not None else NmeaCounters()
        self._date_hint = date_hint
        self._date_ref: tuple[date, int] | None = None
        self._epoch: list[Sentence] = []
        self._epoch_time: int | None = None
        self._last_time: int | None = None  # time of the latest timed sentence
        self._emitted: int | None = None  # epoch time already reported
        self._seen: dict[str, int] = {}  # address -> occurrences since the last time change
        self._last_key: tuple[str, int] | None = None
        self._ender: tuple[str, int] | None = None

    def feed(self, line: str) -> list[Fix]:
        """One sentence string (as framed by NmeaFramer or carried by an `nmea` Read)."""
        try:
            sentence = parse_sentence(line)
        except NmeaError as exc:
            setattr(self.counters, exc.reason, getattr(self.counters, exc.reason) + 1)
            return []
        except Exception:  # pragma: no cover - parse_sentence is total; belt and braces for a daemon
            self.counters.malformed += 1
            return []
        return self.push(sentence)

    def feed_many(self, lines: Iterable[str]) -> list[Fix]:
        fixes: list[Fix] = []
        for line in lines:
            fixes.extend(self.feed(line))
        return fixes

    def push(self, sentence: Sentence) -> list[Fix]:
        """An already parsed sentence."""
        self.counters.sentences += 1
        fixes: list[Fix] = []
        t = sentence.time_ms if sentence.kind in TIMED else None
        if sentence.date is not None and t is not None:
            self._date_ref = (sentence.date, t)
        if t is not None and t != self._last_time:
            if self._last_time is not None and self._last_key is not None:
                self._ender = self._last_key  # what came last before the time changed
            self._seen = {}
            fixes += self._finish()
            self._last_time = t
        if t is not None and self._epoch_time is None and t != self._emitted:
            self._epoch_time = t
        if t is None or t == self._epoch_time or self._epoch_time is None:
            self._epoch.append(sentence)
        n = self._seen.get(sentence.address, 0) + 1
        self._seen[sentence.address] = n
        self._last_key = (sentence.address, n)
        if self._last_key == self._ender and self._epoch_time is not None:
            fixes += self._finish()
        return fixes

    def flush(self) -> list[Fix]:
        """End of input: report the epoch in progress."""
        return self._finish()

    def _finish(self) -> list[Fix]:
        epoch, t = self._epoch, self._epoch_time
        self._epoch, self._epoch_time = [], None
        if t is None:
            if epoch:  # timeless sentences only: keep them for the epoch they precede
                self._epoch = epoch
            return []
        self._emitted = t
        fix = self._build(epoch, t)
        if fix is None:
            return []
        self.counters.fixes += 1
        return [fix]

    def _build(self, epoch: list[Sentence], t: int) -> Fix | None:
        by_kind: dict[str, list[Sentence]] = {}
        for s in epoch:
            by_kind.setdefault(s.kind, []).append(s)
        positional = [s for k in ("GGA", "GNS", "RMC", "GLL") for s in by_kind.get(k, ()) if s.time_ms == t]
        gsas = [s for s in by_kind.get("GSA", ()) if s.mode is not None]
        says = [s.fix for s in positional if s.fix is not None]
        says += [s.fix for s in by_kind.get("VTG", ()) if s.fix is False]
        if gsas:
            says.append(any(s.fix for s in gsas))
        placed = [s for s in positional if s.lat is not None and s.fix is not False]
        if False in says or not placed:
            if says or positional:
                self.counters.no_fix += 1
            return None
        day = self._day(epoch, t)
        if day is None:
            self.counters.undated += 1
            return None
        where = placed[0]
        ggas = [s for s in positional if s.kind in ("GGA", "GNS") and s.fix is not False]
        alt = next((s.alt for s in ggas if s.alt is not None), None)
        mode = max((s.mode for s in gsas), default=None) or (3 if alt is not None else 2)
        motion = [s for s in positional if s.kind == "RMC"] + by_kind.get("VTG", [])
        speed = next((s.speed for s in motion if s.speed is not None), None)
        track = next((s.track for s in motion if s.track is not None), None)
        gns_sats = [s.sats for s in positional if s.kind == "GNS" and s.sats is not None and s.lat is not None]
        gga_sats = [s.sats for s in ggas if s.sats is not None]
        gsa_prns = {(s.system_id, p) for s in gsas for p in s.prns}
        sats = (gns_sats or gga_sats or [len(gsa_prns) if gsa_prns else None])[0]
        hdop = next((s.hdop for s in gsas if s.hdop is not None), None)
        if hdop is None:
            hdop = next((s.hdop for s in ggas if s.hdop is not None), None)
        when = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(milliseconds=t)
        assert where.lat is not None and where.lon is not None
        return Fix(time=when, mode=mode, lat=where.lat, lon=where.lon, alt=alt if mode == 3 else None,
                   speed=speed, track=track, sats=sats, hdop=hdop)

    def _day(self, epoch: list[Sentence], t: int) -> date | None:
        for s in epoch:
            if s.date is not None and s.time_ms == t:
                return s.date
        if self._date_ref is None:
            if self._date_hint is None:
                return None
            self._date_ref = (self._date_hint, t)  # the hint is the date of the first fix
        ref_day, ref_t = self._date_ref
        if t < ref_t - _HALF_DAY_MS:
            return ref_day + timedelta(days=1)  # past midnight since the last dated sentence
        if t > ref_t + _HALF_DAY_MS:
            return ref_day - timedelta(days=1)
        return ref_day


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


__all__ = ["Fix", "KNOWN", "MAX_SENTENCE", "NmeaAssembler", "NmeaCounters", "NmeaError", "NmeaFramer",
           "NmeaStream", "Sentence", "checksum", "iso_utc", "parse_sentence"]
