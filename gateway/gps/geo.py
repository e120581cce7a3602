"""Small-scale geodesy for positions, fences and reporting: great-circle distances and bearings,
and a local flat-earth frame for polygon tests (fences are metres to kilometres across, where
the error of the equirectangular projection is far below GPS noise)."""

from __future__ import annotations

import math
from typing import Sequence

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from point 1 to point 2, degrees true in [0, 360)."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def angle_between(a: float, b: float) -> float:
    """The smaller angle between two headings, in [0, 180]."""
    d = abs(a - b) % 360.0
    return 360.0 - d if d > 180.0 else d


def local_xy(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    """(east, north) metres of (lat, lon) from (lat0, lon0), equirectangular about lat0."""
    dlon = (lon - lon0 + 540.0) % 360.0 - 180.0  # across the antimeridian the short way
    x = math.radians(dlon) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    y = math.radians(lat - lat0) * EARTH_RADIUS_M
    return x, y


def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def polygon_signed_distance_m(lat: float, lon: float, polygon: Sequence[tuple[float, float]]) -> float:
    """Distance from (lat, lon) to the polygon's edge: negative inside, positive outside.

    The polygon is a ring of (lat, lon) vertices (closing vertex optional), projected onto a
    local plane about the point; inside-ness by the even-odd rule.
    """
    pts = [local_xy(lat, lon, a, b) for a, b in polygon]
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts.pop()
    inside = False
    nearest = math.inf
    n = len(pts)
    for i in range(n):
        ax, ay = pts[i]
        bx, by = pts[(i + 1) % n]
        if (ay > 0) != (by > 0):
            x_cross = ax + (0 - ay) * (bx - ax) / (by - ay)
            if x_cross > 0:
                inside = not inside
        nearest = min(nearest, _segment_distance(0.0, 0.0, ax, ay, bx, by))
    return -nearest if inside else nearest
