"""When positions are published: on a simulated drive, and rule by rule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from gateway.decode.nmea import Fix, NmeaStream
from gateway.gps import PositionPolicy, haversine_m
from simulators.gps import GeneratedRoute, GpsSimulator, Leg

T0 = datetime(2024, 6, 1, 8, 0, tzinfo=timezone.utc)


def drive(legs: list[Leg], seconds: float) -> list[Fix]:
    sim = GpsSimulator(route=GeneratedRoute(52.0, 5.0, legs), rate_hz=1, seed=1, start_time=T0)
    stream = NmeaStream()
    fixes = stream.feed(sim.generate(seconds)) + stream.flush()
    assert len(fixes) == int(seconds)
    return fixes


def published(policy: PositionPolicy, fixes: list[Fix]) -> list[int]:
    """Seconds since T0 of the fixes the policy published (the fix clock stands in for monotonic time)."""
    return [round(f.timestamp - T0.timestamp()) for f in fixes if policy.offer(f, f.timestamp - T0.timestamp())]


def test_a_drive_with_a_stop():
    # 300 s east at 10 m/s, parked 600 s, 300 s north at 10 m/s
    fixes = drive([Leg(300, 90, 10), Leg(600, 90, 0), Leg(300, 0, 10)], 1200)
    policy = PositionPolicy(min_interval_s=5, min_distance_m=105, heading_change_deg=30, heartbeat_s=120)
    times = published(policy, fixes)
    east = [11 * k for k in range(28)]  # 0, 11, ... 297: 110 m is the first whole second past 105 m
    parked = [417, 537, 657, 777, 897]  # heartbeats, 120 s apart, nothing else while standing
    north = [911 + 11 * k for k in range(27)]  # 110 m up the new road from the parking spot
    assert times == east + parked + north
    assert policy.published == 60 and policy.offered == 1200


def test_turns_while_moving_publish_small_ones_do_not():
    headings = [0, 45, 0, 20, 0, 90]
    fixes = drive([Leg(20, h, 10) for h in headings], 120)
    policy = PositionPolicy(min_interval_s=5, min_distance_m=1000, heading_change_deg=30, heartbeat_s=1000)
    assert published(policy, fixes) == [0, 20, 40, 100]
    assert policy.reason == "heading"


def fix_at(seconds: float, lat: float, lon: float, speed: float | None = None, track: float | None = None) -> Fix:
    return Fix(T0 + timedelta(seconds=seconds), 3, lat, lon, speed=speed, track=track)


def test_never_faster_than_min_interval():
    policy = PositionPolicy(min_interval_s=5, min_distance_m=1, heading_change_deg=30, heartbeat_s=60)
    # a jet: 1 km per second; still only every 5 s
    out = [t for t in range(30) if policy.offer(fix_at(t, 52.0 + t * 0.01, 5.0), float(t))]
    assert out == [0, 5, 10, 15, 20, 25]


def test_standing_receiver_track_noise_is_ignored():
    policy = PositionPolicy(min_interval_s=1, min_distance_m=50, heading_change_deg=30, heartbeat_s=600)
    assert policy.offer(fix_at(0, 52.0, 5.0, speed=0.2, track=10.0), 0.0)
    wild = [policy.offer(fix_at(t, 52.0, 5.0, speed=0.3, track=(t * 97) % 360), float(t)) for t in range(1, 100)]
    assert not any(wild)
    assert policy.offer(fix_at(100, 52.0, 5.0, speed=5.0, track=200.0), 100.0)  # moving now, and turned


def test_monotonic_time_rules_not_fix_time():
    policy = PositionPolicy(min_interval_s=5, min_distance_m=10, heading_change_deg=30, heartbeat_s=60)
    assert policy.offer(fix_at(0, 52.0, 5.0), 100.0)
    # receiver time jumps a day ahead (rollover fix-up, cold start): the rate limit still holds
    assert not policy.offer(fix_at(86400, 52.1, 5.0), 101.0)
    assert policy.offer(fix_at(86401, 52.1, 5.0), 105.0)


def test_distance_is_haversine():
    assert haversine_m(52.0, 5.0, 52.0, 5.0) == 0
    assert haversine_m(0, 0, 0, 1) == pytest.approx(111_195, rel=1e-4)
    assert haversine_m(0, 179.9, 0, -179.9) == pytest.approx(22_239, rel=1e-3)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        PositionPolicy(min_interval_s=-1)
    with pytest.raises(ValueError):
        PositionPolicy(heartbeat_s=0)
