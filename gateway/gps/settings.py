"""The `[gps]` table and `[[geofence]]` array of a Tally config, validated like the rest.

    [gps]
    min_interval_s = 5            # never publish positions more often
    min_distance_m = 25           # ... unless moved this far since the last one
    heading_change_deg = 30       # ... or turned this much while moving
    moving_speed_mps = 1.0        # below this a receiver's track is noise
    heartbeat_s = 300             # publish at least this often, even parked
    max_fix_age_s = 10            # older fixes are stale: no geo readPoint from them
    geo_read_point = true         # scans without a configured read_point get geo:LAT,LON
    geofence_margin_m = 15        # hysteresis band on each side of a fence edge
    geofence_confirm_fixes = 3    # consecutive fixes on the other side before a crossing
    clock_max_skew_s = 5          # GPS vs system clock difference that makes Tally use GPS time

    [[geofence]]
    name = "depot-north"
    lat = 52.3731
    lon = 4.8922
    radius_m = 150                # a circle ... or:
    # polygon = [[52.37, 4.89], [52.38, 4.89], [52.38, 4.90]]
    read_point = "urn:epc:id:sgln:0614141.07346.1234"     # optional: scans inside get these
    biz_location = "urn:epc:id:sgln:0614141.07346.0"

Validators have the signature `gateway.config.EXTRA_SECTIONS` expects:
`(value, path, problems) -> parsed`, appending one line per problem, never raising.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gateway.validation import validate_table
from drivers.base import Option, in_range

from .geofence import Circle, Geofence, parse_point, polygon

_NAME = re.compile(r"^[A-Za-z0-9_.\- ]{1,64}$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


@dataclass(frozen=True)
class GpsSettings:
    min_interval_s: float = 5.0
    min_distance_m: float = 25.0
    heading_change_deg: float = 30.0
    moving_speed_mps: float = 1.0
    heartbeat_s: float = 300.0
    max_fix_age_s: float = 10.0
    geo_read_point: bool = True
    geofence_margin_m: float = 15.0
    geofence_confirm_fixes: int = 3
    clock_max_skew_s: float = 5.0


_NUM = (int, float)
GPS = {
    "min_interval_s": Option(_NUM, 5.0, in_range(0, 86400)),
    "min_distance_m": Option(_NUM, 25.0, in_range(0, 1_000_000)),
    "heading_change_deg": Option(_NUM, 30.0, in_range(1, 180)),
    "moving_speed_mps": Option(_NUM, 1.0, in_range(0, 100)),
    "heartbeat_s": Option(_NUM, 300.0, in_range(1, 86400 * 7)),
    "max_fix_age_s": Option(_NUM, 10.0, in_range(0.5, 86400)),
    "geo_read_point": Option(bool, True),
    "geofence_margin_m": Option(_NUM, 15.0, in_range(0, 10_000)),
    "geofence_confirm_fixes": Option(int, 3, in_range(1, 1000)),
    "clock_max_skew_s": Option(_NUM, 5.0, in_range(0.5, 86400)),
}
GEOFENCE_KEYS = ("name", "lat", "lon", "radius_m", "polygon", "read_point", "biz_location")


def validate_gps(value: Any, path: str, problems: list[str]) -> GpsSettings:

    table = validate_table(path, value, GPS, problems)
    clean = {k: v for k, v in table.items() if v is not None}
    settings = GpsSettings(**clean)
    if settings.heartbeat_s < settings.min_interval_s:
        problems.append(f"{path}.heartbeat_s: must be at least min_interval_s ({settings.min_interval_s})")
    return settings


def validate_geofences(value: Any, path: str, problems: list[str]) -> tuple[Geofence, ...]:
    if not isinstance(value, list):
        problems.append(f"{path}: must be an array of tables ([[{path}]])")
        return ()
    fences: list[Geofence] = []
    seen: set[str] = set()
    for index, table in enumerate(value):
        label = f"{path}[{index}]"
        if not isinstance(table, dict):
            problems.append(f"{label}: must be a table")
            continue
        fence = _geofence(table, label, problems)
        if fence is None:
            continue
        if fence.name in seen:
            problems.append(f"{label}.name: {fence.name!r} is used by another geofence")
            continue
        seen.add(fence.name)
        fences.append(fence)
    return tuple(fences)


def _geofence(table: dict[str, Any], label: str, problems: list[str]) -> Geofence | None:
    before = len(problems)
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        why = "missing (required)" if name is None else f"{name!r} must be 1-64 of A-Z a-z 0-9 _ . - and spaces"
        problems.append(f"{label}.name: {why}")
    else:
        label = f"{label} ({name})"
    for key in table:
        if key not in GEOFENCE_KEYS:
            problems.append(f"{label}.{key}: unknown key (known keys: {', '.join(sorted(GEOFENCE_KEYS))})")
    for key in ("read_point", "biz_location"):
        uri = table.get(key)
        if uri is not None and not (isinstance(uri, str) and _URI.match(uri)):
            problems.append(f"{label}.{key}: {uri!r} is not a URI (e.g. urn:epc:id:sgln:0614141.07346.1234)")
    circle_keys = [k for k in ("lat", "lon", "radius_m") if k in table]
    shape: Circle | Any = None
    if "polygon" in table:
        if circle_keys:
            problems.append(f"{label}: a geofence is a circle (lat, lon, radius_m) or a polygon, not both")
        points = table["polygon"]
        parsed = [parse_point(p) for p in points] if isinstance(points, list) else []
        if not isinstance(points, list) or len(points) < 3:
            problems.append(f"{label}.polygon: must list at least 3 [lat, lon] points")
        elif None in parsed:
            bad = parsed.index(None)
            problems.append(f"{label}.polygon[{bad}]: {points[bad]!r} is not a [lat, lon] pair on the globe")
        else:
            shape = polygon(parsed)  # type: ignore[arg-type]
            if shape.size_m <= 0:
                problems.append(f"{label}.polygon: has no area")
    elif circle_keys:
        centre = parse_point([table.get("lat"), table.get("lon")])
        radius = table.get("radius_m")
        if "lat" not in table or "lon" not in table or centre is None:
            problems.append(f"{label}: lat and lon must give the centre, in degrees on the globe")
        if not isinstance(radius, (int, float)) or isinstance(radius, bool) or not 0 < radius <= 1_000_000:
            why = "missing (required for a circle)" if radius is None else "must be a number of metres, 0 < r <= 1000000"
            problems.append(f"{label}.radius_m: {why}")
        elif centre is not None:
            shape = Circle(centre[0], centre[1], float(radius))
    else:
        problems.append(f"{label}: needs a circle (lat, lon, radius_m) or a polygon")
    if len(problems) > before or shape is None:
        return None
    return Geofence(name, shape, table.get("read_point"), table.get("biz_location"))
