"""Typed readers (package-private) for NMEA fields: each returns None for an empty field or raises NmeaError("malformed")."""

from __future__ import annotations

import re
from datetime import date

from .sentence import NmeaError

_TIME = re.compile(r"(\d\d)(\d\d)(\d\d)(?:\.(\d*))?\Z")
_DATE = re.compile(r"(\d\d)(\d\d)(\d\d)\Z")
_COORD = re.compile(r"(\d{1,3}?)(\d\d(?:\.\d*)?)\Z")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)\Z")
_INT = re.compile(r"\d{1,3}\Z")


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
