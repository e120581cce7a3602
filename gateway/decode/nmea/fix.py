"""`Fix`: one position a receiver vouches for, shaped like gpsd's TPV report, and its JSON form."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from .. import DecodeError


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
