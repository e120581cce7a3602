"""The last good fix, its age, staleness, and the geo: URI (RFC 5870) for readPoint."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from gateway.decode.nmea import Fix
from gateway.gps import FixTracker, geo_uri

T0 = datetime(2024, 6, 1, 8, 0, tzinfo=timezone.utc)
RFC5870 = re.compile(r"^geo:-?\d{1,2}\.\d{6},-?\d{1,3}\.\d{6}(;u=\d+)?$")


def fix(seconds: float = 0, lat: float = 52.3731, lon: float = 4.8922, hdop: float | None = 0.9) -> Fix:
    return Fix(T0 + timedelta(seconds=seconds), 3, lat, lon, alt=5.0, hdop=hdop)


def test_nothing_before_the_first_fix():
    tracker = FixTracker(max_age_s=10)
    assert tracker.current(100.0) == (None, None, True)
    assert tracker.read_point(100.0) is None


def test_age_and_staleness_follow_the_monotonic_clock():
    tracker = FixTracker(max_age_s=10)
    tracker.update(fix(), now=100.0)
    f, age, stale = tracker.current(104.5)
    assert f == fix() and age == pytest.approx(4.5) and stale is False
    assert tracker.current(110.0)[2] is False and tracker.current(110.01)[2] is True
    assert tracker.read_point(104.5) == "geo:52.373100,4.892200;u=4"
    assert tracker.read_point(200.0) is None  # a stale position is no read point


def test_an_older_fix_does_not_replace_a_newer_one():
    tracker = FixTracker()
    tracker.update(fix(10, lat=1.0), 100.0)
    tracker.update(fix(5, lat=2.0), 101.0)  # a late TPV from a second source
    assert tracker.current(101.0)[0].lat == 1.0
    tracker.update(fix(10, lat=3.0), 102.0)  # the same epoch again, more complete (gpsd does this)
    assert tracker.current(102.0)[0].lat == 3.0


@pytest.mark.parametrize("lat, lon, hdop, uri", [
    (52.3731, 4.8922, 0.9, "geo:52.373100,4.892200;u=4"),
    (-37.784788333, 175.314896667, 1.1, "geo:-37.784788,175.314897;u=6"),
    (-0.0000001, -0.0000002, None, "geo:0.000000,0.000000"),
    (0.0, -180.0, 0.05, "geo:0.000000,-180.000000;u=1"),
    (89.9999999, 179.9999999, 20.0, "geo:90.000000,180.000000;u=100"),
])
def test_geo_uri(lat, lon, hdop, uri):
    got = geo_uri(fix(lat=lat, lon=lon, hdop=hdop))
    assert got == uri and RFC5870.match(got)
    assert geo_uri(fix(lat=lat, lon=lon, hdop=hdop), uncertainty=False) == uri.split(";")[0]


def test_bad_max_age():
    with pytest.raises(ValueError):
        FixTracker(max_age_s=0)
