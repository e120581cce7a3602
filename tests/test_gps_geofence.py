"""Geofence arrivals and departures, with hysteresis against GPS jitter at the fence line."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from gateway.config import ConfigError, parse
from gateway.decode.nmea import Fix, NmeaStream
from gateway.gps import Circle, GeofenceWatcher, Geofence, Polygon, validate_geofences
from gateway.gps.geo import polygon_signed_distance_m
from simulators.gps import GeneratedRoute, GpsSimulator, Leg, destination

T0 = datetime(2024, 6, 1, 8, 0, tzinfo=timezone.utc)
DEPOT = Geofence("depot", Circle(52.0, 5.0, 200.0), read_point="urn:epc:id:sgln:0614141.07346.1234")


def at(seconds: float, lat: float, lon: float) -> Fix:
    return Fix(T0 + timedelta(seconds=seconds), 3, lat, lon)


def test_drive_in_park_at_the_fence_line_and_leave():
    # from 1 km west, drive east into the depot, park 190 m past the centre (10 m inside the
    # edge) for 10 minutes with 8 m of GPS noise, then drive on east and away
    start = destination(52.0, 5.0, 270, 1000)
    route = GeneratedRoute(start[0], start[1], [Leg(119, 90, 10), Leg(600, 90, 0), Leg(120, 90, 10)])
    sim = GpsSimulator(route=route, rate_hz=1, seed=5, noise_m=8.0, start_time=T0)
    stream = NmeaStream()
    fixes = stream.feed(sim.generate(839)) + stream.flush()
    calm = GeofenceWatcher([DEPOT], margin_m=15, confirm_fixes=3)
    crossings = [c for f in fixes for c in calm.update(f)]
    assert [(c.name, c.kind) for c in crossings] == [("depot", "arrival"), ("depot", "departure")]
    arrival, departure = crossings
    # true crossing at ~80 s in (800 m of 1000 m); the first fix 15 m inside is ~1.5 s later
    assert 78 <= (arrival.time - T0).total_seconds() <= 86
    assert 719 <= (departure.time - T0).total_seconds() <= 725
    assert arrival.geofence is DEPOT
    # the same drive without hysteresis flaps at the fence line while parked
    nervous = GeofenceWatcher([DEPOT], margin_m=0, confirm_fixes=1)
    assert len([c for f in fixes for c in nervous.update(f)]) > 10


def test_start_up_inside_is_not_an_arrival():
    watcher = GeofenceWatcher([DEPOT], margin_m=10, confirm_fixes=2)
    assert watcher.update(at(0, 52.0, 5.0)) == [] and watcher.update(at(1, 52.0, 5.0)) == []
    assert [g.name for g in watcher.inside()] == ["depot"] and watcher.state("depot") is True
    far = destination(52.0, 5.0, 0, 500)
    assert watcher.update(at(2, *far)) == []
    (departure,) = watcher.update(at(3, *far))
    assert departure.kind == "departure" and departure.time == T0 + timedelta(seconds=2)
    assert watcher.inside() == []


def test_band_fixes_break_a_streak():
    watcher = GeofenceWatcher([DEPOT], margin_m=20, confirm_fixes=2)
    outside, band, inside = (destination(52.0, 5.0, 90, d) for d in (400, 205, 100))
    for t in range(2):
        watcher.update(at(t, *outside))
    assert watcher.state("depot") is False
    watcher.update(at(2, *inside))
    watcher.update(at(3, *band))  # 5 m outside the edge: neither side
    assert watcher.update(at(4, *inside)) == []
    assert [c.kind for c in watcher.update(at(5, *inside))] == ["arrival"]


def test_polygon_fence():
    # a 200 m x 100 m yard
    sw = (52.0, 5.0)
    ne_lat = destination(*sw, 0, 100)[0]
    ne_lon = destination(*sw, 90, 200)[1]
    yard = Polygon(((sw[0], sw[1]), (ne_lat, sw[1]), (ne_lat, ne_lon), (sw[0], ne_lon)))
    centre = destination(destination(*sw, 0, 50)[0], sw[1], 90, 100)
    assert yard.signed_distance_m(*centre) == pytest.approx(-50, abs=0.5)
    assert yard.signed_distance_m(*destination(*sw, 180, 30)) == pytest.approx(30, abs=0.5)
    assert yard.size_m == pytest.approx(100, abs=1)
    watcher = GeofenceWatcher([Geofence("yard", yard)], margin_m=10, confirm_fixes=1)
    watcher.update(at(0, *destination(*sw, 180, 300)))
    assert [c.kind for c in watcher.update(at(1, *centre))] == ["arrival"]


def test_polygon_across_the_antimeridian_and_closed_rings():
    ring = [(-17.0, 179.9), (-17.0, -179.9), (-16.9, -179.9), (-16.9, 179.9), (-17.0, 179.9)]
    assert polygon_signed_distance_m(-16.95, 179.99, ring) < 0
    assert polygon_signed_distance_m(-16.95, 179.5, ring) > 0


def test_small_fences_shrink_the_margin():
    tiny = Geofence("bay", Circle(52.0, 5.0, 10.0))
    watcher = GeofenceWatcher([tiny], margin_m=15, confirm_fixes=1)
    watcher.update(at(0, *destination(52.0, 5.0, 0, 100)))
    assert [c.kind for c in watcher.update(at(1, 52.0, 5.0))] == ["arrival"]


def test_config_geofences():
    fences = validate_geofences([
        {"name": "depot", "lat": 52.0, "lon": 5.0, "radius_m": 150, "read_point": "urn:epc:id:sgln:0614141.07346.1234",
         "biz_location": "urn:epc:id:sgln:0614141.07346.0"},
        {"name": "yard", "polygon": [[52.0, 5.0], [52.001, 5.0], [52.001, 5.002]]},
    ], "geofence", problems := [])
    assert problems == []
    assert fences[0].shape == Circle(52.0, 5.0, 150.0) and fences[0].biz_location.endswith(".0")
    assert isinstance(fences[1].shape, Polygon) and len(fences[1].shape.points) == 3


@pytest.mark.parametrize("table, message", [
    ({"lat": 52.0, "lon": 5.0, "radius_m": 10}, "geofence[0].name: missing"),
    ({"name": "a", "lat": 52.0, "lon": 5.0}, "geofence[0] (a).radius_m: missing"),
    ({"name": "a", "lat": 95.0, "lon": 5.0, "radius_m": 10}, "geofence[0] (a): lat and lon"),
    ({"name": "a", "lat": 52.0, "lon": 5.0, "radius_m": -3}, "geofence[0] (a).radius_m: must be"),
    ({"name": "a", "polygon": [[52.0, 5.0], [52.1, 5.0]]}, "geofence[0] (a).polygon: must list at least 3"),
    ({"name": "a", "polygon": [[52.0, 5.0], [52.1, 5.0], ["x", 1]]}, "geofence[0] (a).polygon[2]"),
    ({"name": "a", "polygon": [[52.0, 5.0], [52.1, 5.0], [52.1, 5.1]], "radius_m": 5}, "not both"),
    ({"name": "a"}, "needs a circle"),
    ({"name": "a", "lat": 52.0, "lon": 5.0, "radius_m": 10, "radius": 3}, "geofence[0] (a).radius: unknown key"),
    ({"name": "a", "lat": 52.0, "lon": 5.0, "radius_m": 10, "read_point": "depot 1"}, "read_point: 'depot 1' is not a URI"),
])
def test_config_problems_name_the_key(table, message):
    assert validate_geofences([table], "geofence", problems := []) == ()
    assert any(p.startswith(message) or message in p for p in problems), problems


def test_duplicate_names_and_wrong_shapes():
    problems: list[str] = []
    validate_geofences([{"name": "a", "lat": 1.0, "lon": 1.0, "radius_m": 5}] * 2, "geofence", problems)
    assert problems == ["geofence[1].name: 'a' is used by another geofence"]
    problems = []
    validate_geofences({"name": "a"}, "geofence", problems)
    assert problems == ["geofence: must be an array of tables ([[geofence]])"]


def test_the_lead_can_register_the_sections():
    """What the snippet in the report does: gateway.config validates [gps] and [[geofence]] with these."""
    import gateway.config as config
    from gateway.gps import validate_gps

    saved = dict(config.EXTRA_SECTIONS)
    config.EXTRA_SECTIONS.update({"gps": validate_gps, "geofence": validate_geofences})
    try:
        doc = {"gateway": {"id": "van-7"}, "mqtt": {"host": "localhost"},
               "gps": {"min_interval_s": 10, "heartbeat_s": 600},
               "geofence": [{"name": "depot", "lat": 52.0, "lon": 5.0, "radius_m": 150}]}
        cfg = parse(doc)
        assert cfg.extra["gps"].min_interval_s == 10 and cfg.extra["geofence"][0].name == "depot"
        with pytest.raises(ConfigError) as err:
            parse({**doc, "gps": {"min_interval_s": 10, "heartbeat": 600, "heading_change_deg": 0}})
        assert "gps.heartbeat: unknown key" in str(err.value) and "gps.heading_change_deg" in str(err.value)
    finally:
        config.EXTRA_SECTIONS.clear()
        config.EXTRA_SECTIONS.update(saved)


def test_random_walks_never_flap_faster_than_confirm_allows():
    rng = random.Random(3)
    watcher = GeofenceWatcher([DEPOT], margin_m=10, confirm_fixes=3)
    lat, lon = 52.0, 5.0
    last_kind, count = None, 0
    for t in range(3000):
        lat, lon = destination(lat, lon, rng.uniform(0, 360), rng.uniform(0, 30))
        lat, lon = (lat, lon) if abs(lat - 52.0) < 0.01 else (52.0, 5.0)
        for c in watcher.update(at(t, lat, lon)):
            assert c.kind != last_kind  # arrivals and departures alternate
            last_kind, count = c.kind, count + 1
    assert count > 0
