"""One NMEA sentence -> a typed `Sentence`: checksum, address, and the fields of each type Tally uses.

What makes a sentence say "fix" or "no fix" follows gpsd's driver_nmea0183.c (the reference
these parsers are tested against, see tests/test_nmea_gpsd_agreement.py).
"""

from __future__ import annotations

import re
from datetime import date
from functools import reduce
from operator import xor

from .fields import _bad, _ddmmyy, _float, _get, _int, _position, _time, _track, _unsigned
from .sentence import KNOT, KNOWN, NmeaError, Sentence

_HEX = frozenset("0123456789ABCDEFabcdef")
_ADDRESS = re.compile(r"[A-Z][A-Z0-9]{4}\Z")
_VENDOR = re.compile(r"[A-Z][A-Z0-9]{1,15}\Z")


def checksum(body: str | bytes) -> int:
    """XOR of the characters between "$" and "*"."""
    data = body.encode("latin-1", "replace") if isinstance(body, str) else body
    return reduce(xor, data, 0)  # half the time of a Python loop over the bytes


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
        if _VENDOR.match(address):  # e.g. Royaltek's $LOG108: checksummed, just not standard
            raise NmeaError("unknown", f"{address} is a vendor sentence, not talker + sentence type")
        raise NmeaError("malformed", f"address field {address[:8]!r} is not talker + sentence type")
    kind = address[2:]
    if kind not in KNOWN:
        raise NmeaError("unknown", f"{address} is not a sentence type Tally uses")
    return _PARSERS[kind](address[:2], kind, tuple(fields[1:]))


def _placed(kind: str, f: tuple[str, ...], at: int, fix: bool | None) -> tuple[float | None, float | None]:
    """The position; in a sentence that says "no fix" a placeholder position is no error (MTK
    receivers send 89 deg 60 min until their first fix, gpsd reads past it)."""
    if fix is not False:
        return _position(kind, f, at)
    try:
        return _position(kind, f, at)
    except NmeaError:
        return None, None


def _gga(talker: str, kind: str, f: tuple[str, ...]) -> Sentence:
    quality = _int(kind, "fix quality", _get(f, 5))
    sats = _int(kind, "satellites", _get(f, 6))
    # 1-5 measured (GPS, DGPS, PPS, RTK fixed/float), 6 dead reckoning; 7 manual input and
    # 8 simulator are not positions the vehicle was measured at. As in gpsd: a missing quality
    # is no fix, and so is a position from fewer than 3 satellites (receivers send their first
    # guesses with quality 1 and 0 satellites used for seconds after a cold start).
    fix = quality is not None and 1 <= quality <= 6 and sats is not None and sats >= 3
    lat, lon = _placed(kind, f, 1, fix)
    return Sentence(talker, kind, f, time_ms=_time(kind, _get(f, 0)), lat=lat, lon=lon, fix=fix,
                    quality=quality, sats=sats,
                    hdop=_unsigned(kind, "HDOP", _get(f, 7)), alt=_float(kind, "altitude", _get(f, 8)))


_FIX_MODES = frozenset("ADPRFE")  # autonomous, differential, precise, RTK fixed/float, estimated


def _status(kind: str, status: str, mode: str) -> bool:
    """RMC/GLL: status A (D: differential, old receivers) and an FAA mode that is a fix, if any."""
    if status not in ("A", "D", "V", ""):
        raise _bad(kind, "status", status)
    if status in ("V", ""):  # gpsd: a missing status is no fix
        return False
    return mode == "" or mode in _FIX_MODES


def _rmc(talker: str, kind: str, f: tuple[str, ...]) -> Sentence:
    fix = _status(kind, _get(f, 1), _get(f, 11))
    lat, lon = _placed(kind, f, 2, fix)
    knots = _unsigned(kind, "speed", _get(f, 6))
    return Sentence(talker, kind, f, time_ms=_time(kind, _get(f, 0)), date=_ddmmyy(kind, _get(f, 8)),
                    lat=lat, lon=lon, fix=fix,
                    speed=None if knots is None else knots * KNOT, track=_track(kind, _get(f, 7)))


def _gll(talker: str, kind: str, f: tuple[str, ...]) -> Sentence:
    fix = _status(kind, _get(f, 5), _get(f, 6))
    lat, lon = _placed(kind, f, 0, fix)
    return Sentence(talker, kind, f, time_ms=_time(kind, _get(f, 4)), lat=lat, lon=lon, fix=fix)


def _gns(talker: str, kind: str, f: tuple[str, ...]) -> Sentence:
    lat, lon = _position(kind, f, 1)
    modes = _get(f, 5)
    if modes and not modes.isalpha():
        raise _bad(kind, "mode indicator", modes)
    # One letter per constellation (GPS, GLONASS, Galileo, BeiDou, QZSS, NavIC); gpsd reads only
    # the first, so a fix it is only if that one says so. NMEA 4.10 per-constellation GNS lines
    # leave mode and position empty: they say nothing.
    fix = None if not modes else modes[0] in _FIX_MODES
    if fix and _get(f, 12) in ("U", "V"):
        # NMEA 4.1 navigational status unsafe / not valid: gpsd skips this sentence's position
        # (u-blox always sends V, "no status given"; its GGA and RMC then carry the fix).
        lat = lon = fix = None
    alt = _float(kind, "altitude", _get(f, 8))
    return Sentence(talker, kind, f, time_ms=_time(kind, _get(f, 0)), lat=lat, lon=lon, fix=fix,
                    sats=_int(kind, "satellites", _get(f, 6)), hdop=_unsigned(kind, "HDOP", _get(f, 7)),
                    alt=None if lat is None else alt)


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
