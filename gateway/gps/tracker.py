"""The last good fix, how old it is, and the `geo:` URI (RFC 5870) a scan's readPoint gets from it."""

from __future__ import annotations

import math

from gateway.decode.nmea import Fix

#: metres of horizontal error per unit of HDOP (a typical single-frequency UERE, ~1 sigma).
#: An estimate for the `u=` parameter, not a guarantee: receivers report no error bound in NMEA GGA.
UERE_M = 5.0


def geo_uri(fix: Fix, uncertainty: bool = True) -> str:
    """`geo:52.373100,4.892200;u=5`: 6 decimals (~0.1 m), `u` from HDOP when known.

    No altitude: RFC 5870 wants height above the WGS-84 ellipsoid, NMEA gives it above mean sea
    level, and a readPoint does not need it.
    """
    lat = _fixed(fix.lat)
    lon = _fixed(fix.lon)
    uri = f"geo:{lat},{lon}"
    if uncertainty and fix.hdop is not None and math.isfinite(fix.hdop) and fix.hdop > 0:
        uri += f";u={max(1, round(fix.hdop * UERE_M))}"
    return uri


def _fixed(value: float) -> str:
    text = f"{value:.6f}"
    return "0.000000" if text == "-0.000000" else text


class FixTracker:
    """Keeps the newest fix; `current(now)` says how old it is and whether that is too old."""

    def __init__(self, max_age_s: float = 10.0):
        if max_age_s <= 0:
            raise ValueError("max_age_s must be positive")
        self.max_age_s = max_age_s
        self.fix: Fix | None = None
        self.received_at: float | None = None
        self.updates = 0

    def update(self, fix: Fix, now: float) -> None:
        """A new fix, received at monotonic time `now`. Older fixes than the one held are ignored."""
        if self.fix is not None and fix.time < self.fix.time:
            return
        self.fix, self.received_at = fix, now
        self.updates += 1

    def current(self, now: float) -> tuple[Fix | None, float | None, bool]:
        """(fix, age in seconds, stale); (None, None, True) before the first fix."""
        if self.fix is None or self.received_at is None:
            return None, None, True
        age = max(0.0, now - self.received_at)
        return self.fix, age, age > self.max_age_s

    def read_point(self, now: float) -> str | None:
        """The geo: URI of a fresh fix, None if there is none (a stale position is no read point)."""
        fix, _, stale = self.current(now)
        return None if fix is None or stale else geo_uri(fix)
