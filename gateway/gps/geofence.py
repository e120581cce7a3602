"""Named areas (depots, customer yards) and arrivals/departures at them, without flapping.

A fence is a circle (centre, radius) or a polygon of [lat, lon] points, optionally with the
EPCIS `read_point` / `biz_location` that scans inside it should carry.

Hysteresis, because a parked truck at the fence line jitters in and out with GPS noise:
- a fix counts as *inside* only when at least `margin_m` inside the edge, *outside* only
  when at least `margin_m` outside it; fixes in the band between count for neither side and
  break a streak;
- the state changes after `confirm_fixes` consecutive fixes on the other side;
- the crossing's time is the first fix of that streak (when the vehicle actually crossed);
- the first state after start-up is learnt silently: a restart inside the depot is not an
  arrival.
A fence narrower than twice the margin uses a margin of a quarter of its size instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

from gateway.decode.nmea import Fix

from .geo import haversine_m, polygon_signed_distance_m


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_m: float

    def signed_distance_m(self, lat: float, lon: float) -> float:
        return haversine_m(self.lat, self.lon, lat, lon) - self.radius_m

    @property
    def size_m(self) -> float:
        return 2 * self.radius_m


@dataclass(frozen=True)
class Polygon:
    points: tuple[tuple[float, float], ...]

    def signed_distance_m(self, lat: float, lon: float) -> float:
        return polygon_signed_distance_m(lat, lon, self.points)

    @property
    def size_m(self) -> float:
        """The smaller side of the bounding box, a lower bound for how wide the fence is."""
        lats = [p[0] for p in self.points]
        lons = [p[1] for p in self.points]
        mid = (min(lats) + max(lats)) / 2
        ns = haversine_m(min(lats), lons[0], max(lats), lons[0])
        ew = haversine_m(mid, min(lons), mid, max(lons))
        return min(ns, ew)


@dataclass(frozen=True)
class Geofence:
    name: str
    shape: Circle | Polygon
    read_point: str | None = None
    biz_location: str | None = None


@dataclass(frozen=True)
class Crossing:
    name: str
    kind: str  # "arrival" | "departure"
    time: datetime
    geofence: Geofence


class _State:
    __slots__ = ("inside", "streak", "streak_start")

    def __init__(self) -> None:
        self.inside: bool | None = None  # None until the first confirmed side
        self.streak = 0
        self.streak_start: datetime | None = None


class GeofenceWatcher:
    def __init__(self, geofences: Iterable[Geofence], margin_m: float = 15.0, confirm_fixes: int = 3):
        if margin_m < 0 or confirm_fixes < 1:
            raise ValueError("margin_m must be >= 0 and confirm_fixes >= 1")
        self.geofences = tuple(geofences)
        self.margin_m = margin_m
        self.confirm_fixes = confirm_fixes
        self._states = {g.name: _State() for g in self.geofences}

    def update(self, fix: Fix) -> list[Crossing]:
        crossings: list[Crossing] = []
        for fence in self.geofences:
            state = self._states[fence.name]
            distance = fence.shape.signed_distance_m(fix.lat, fix.lon)
            margin = min(self.margin_m, fence.shape.size_m / 4)
            if distance <= -margin:
                side: bool | None = True
            elif distance >= margin:
                side = False
            else:
                side = None  # in the band along the edge: no evidence either way
            if side is None or side == state.inside:
                state.streak, state.streak_start = 0, None
                continue
            if state.streak == 0:
                state.streak_start = fix.time
            state.streak += 1
            if state.streak < self.confirm_fixes:
                continue
            previous, state.inside = state.inside, side
            when = state.streak_start or fix.time
            state.streak, state.streak_start = 0, None
            if previous is not None:
                crossings.append(Crossing(fence.name, "arrival" if side else "departure", when, fence))
        return crossings

    def inside(self) -> list[Geofence]:
        """The fences the vehicle is (confirmed) inside now, in config order."""
        return [g for g in self.geofences if self._states[g.name].inside]

    def state(self, name: str) -> bool | None:
        return self._states[name].inside


def parse_point(value: object) -> tuple[float, float] | None:
    """A [lat, lon] pair from config, or None if it is not one."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    lat, lon = value
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (lat, lon)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return float(lat), float(lon)


def polygon(points: Sequence[Sequence[float]]) -> Polygon:
    return Polygon(tuple((float(a), float(b)) for a, b in points))
