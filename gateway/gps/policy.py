"""When a vehicle's position is worth publishing.

A fix a second from every vehicle is mostly the same point again, and positions share the
outbox's disk budget with scan events (positions are dropped first when it is full). So:

- the first fix is published;
- never more often than `min_interval_s`;
- then when the vehicle moved more than `min_distance_m` from the last published position,
  or turned more than `heading_change_deg` while moving (at least `moving_speed_mps`; a
  standing receiver's track is noise), or `heartbeat_s` passed (so "no news" is visibly
  "parked", not "gateway dead").

`now` is the caller's monotonic clock, not the fix time: receiver time can jump (week
rollover, cold start) and must not open or close the rate limit.
"""

from __future__ import annotations

from gateway.decode.nmea import Fix

from .geo import angle_between, haversine_m


class PositionPolicy:
    def __init__(self, min_interval_s: float = 5.0, min_distance_m: float = 25.0,
                 heading_change_deg: float = 30.0, heartbeat_s: float = 300.0, moving_speed_mps: float = 1.0):
        if min_interval_s < 0 or min_distance_m < 0 or heading_change_deg < 0 or heartbeat_s <= 0:
            raise ValueError("intervals and distances must be positive")
        self.min_interval_s = min_interval_s
        self.min_distance_m = min_distance_m
        self.heading_change_deg = heading_change_deg
        self.heartbeat_s = heartbeat_s
        self.moving_speed_mps = moving_speed_mps
        self.last: Fix | None = None
        self.last_at: float | None = None
        self.offered = 0
        self.published = 0
        #: why the last published fix was published: first | distance | heading | heartbeat
        self.reason: str | None = None

    def offer(self, fix: Fix, now: float) -> bool:
        """Whether to publish `fix`; if so it becomes the reference for the next decisions."""
        self.offered += 1
        reason = self._reason(fix, now)
        if reason is None:
            return False
        self.last, self.last_at, self.reason = fix, now, reason
        self.published += 1
        return True

    def _reason(self, fix: Fix, now: float) -> str | None:
        last, last_at = self.last, self.last_at
        if last is None or last_at is None:
            return "first"
        elapsed = now - last_at
        if elapsed < self.min_interval_s:
            return None
        if elapsed >= self.heartbeat_s:
            return "heartbeat"
        if haversine_m(last.lat, last.lon, fix.lat, fix.lon) > self.min_distance_m:
            return "distance"
        if (fix.speed is not None and fix.speed >= self.moving_speed_mps and fix.track is not None
                and last.track is not None and angle_between(fix.track, last.track) > self.heading_change_deg):
            return "heading"
        return None
