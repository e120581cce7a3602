"""GPS for vehicles: position reporting policy, fix tracking, geofences and a clock guard.

Pure logic (time is passed in, no I/O) over `gateway.decode.nmea.Fix`; `service.GpsService`
wires it to the pipeline.
"""

from __future__ import annotations

from .clock import ClockGuard, system_clock_synchronised
from .geo import angle_between, bearing_deg, haversine_m
from .geofence import Circle, Crossing, Geofence, GeofenceWatcher, Polygon
from .policy import PositionPolicy
from .settings import GpsSettings, validate_geofences, validate_gps
from .tracker import FixTracker, geo_uri

__all__ = ["Circle", "ClockGuard", "Crossing", "FixTracker", "Geofence", "GeofenceWatcher", "GpsSettings",
           "Polygon", "PositionPolicy", "angle_between", "bearing_deg", "geo_uri", "haversine_m",
           "system_clock_synchronised", "validate_geofences", "validate_gps"]
