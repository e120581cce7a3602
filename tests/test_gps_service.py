"""The GPS part wired into the real pipeline and outbox: positions stored, readPoint from GPS or fence, event times."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from drivers.base import Read
from gateway.config import parse
from gateway.decode.nmea import NmeaStream
from gateway.gps import Circle, Geofence, GpsSettings
from gateway.gps.service import GpsService
from gateway.outbox import Outbox
from gateway.pipeline import Pipeline
from simulators.gps import GeneratedRoute, GpsSimulator, Leg, destination

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "outbox.db").start()
    yield box
    box.close()


def sentences(seconds: int, **kw) -> list[tuple[float, str]]:
    """(seconds since T0, sentence) as a receiver would send them; 1 Hz."""
    sim = GpsSimulator(rate_hz=1, start_time=T0, seed=1, **kw)
    out = []
    for t in range(seconds):
        for line in sim.render(t).decode().splitlines():
            out.append((float(t), line))
    return out


def positions(box: Outbox) -> list[dict]:
    assert box.flush()
    return [json.loads(e.payload) for e in box.fetch(0, 10_000) if e.stream == "positions"]


def test_nmea_reads_become_positions_and_a_geo_read_point(outbox):
    config = parse({"gateway": {"id": "van-7"}, "mqtt": {"host": "localhost"},
                    "device": [{"name": "gps", "driver": "nmea", "port": "/dev/null"}]})
    clock = Clock()
    service = GpsService(GpsSettings(min_interval_s=5, min_distance_m=50, heartbeat_s=60), monotonic=clock)
    pipeline = Pipeline(config, outbox, extensions=[service.extension()])
    assert pipeline.where("gps").read_point is None
    for t, line in sentences(30):
        clock.now = t
        pipeline.on_reads([Read("gps", "nmea", "nmea", line, mono=t, wall=T0.timestamp() + t + 0.2)])
    stored = positions(outbox)
    # 13.9 m/s: the first fix (known complete only when the second epoch starts, at 1 s), then
    # every 5 s by the monotonic clock (69.5 m > 50 m each time)
    assert [p["time"][11:19] for p in stored] == ["08:00:00", "08:00:06", "08:00:11", "08:00:16", "08:00:21",
                                                  "08:00:26"]
    assert all(p["device"] == "gps" and p["mode"] == 3 for p in stored)
    assert pipeline.counters["rejects"] == 0 and service.counters["fixes"] == 30
    assert pipeline.where("gps").read_point.startswith("geo:52.3731")
    clock.now = 100.0  # no fix for 70 s: the last good fix still says where, marked stale with its age
    assert pipeline.where("gps").read_point.startswith("geo:52.3731")
    _, ext = pipeline.position()
    assert ext["fixStale"] is True and ext["fixAge"] >= 70
    status = service.status()
    assert status["fix"]["stale"] is True and status["nmea"]["gps"]["fixes"] == 30


def test_a_depot_fence_gives_its_read_point_and_a_crossing_record(outbox):
    config = parse({"gateway": {"id": "van-7"}, "mqtt": {"host": "localhost"}})
    clock = Clock()
    start = destination(52.0, 5.0, 270, 400)
    depot = Geofence("depot", Circle(52.0, 5.0, 150), read_point="urn:epc:id:sgln:0614141.07346.1234",
                     biz_location="urn:epc:id:sgln:0614141.07346.0")
    service = GpsService(GpsSettings(min_interval_s=5, min_distance_m=1000, heartbeat_s=600,
                                     geofence_margin_m=10, geofence_confirm_fixes=2), [depot], monotonic=clock)
    pipeline = Pipeline(config, outbox, extensions=[service.extension()])
    route = GeneratedRoute(start[0], start[1], [Leg(30, 90, 10), Leg(60, 90, 0)])
    for t, line in sentences(60, route=route):
        clock.now = t
        pipeline.on_reads([Read("gps", "nmea", "nmea", line, mono=t, wall=T0.timestamp() + t)])
    read_point, ext = service.position()
    assert read_point == "urn:epc:id:sgln:0614141.07346.1234" and ext == {"geofence": "depot"}
    assert service.biz_location() == "urn:epc:id:sgln:0614141.07346.0"
    crossing = [p for p in positions(outbox) if "geofence" in p]
    assert len(crossing) == 1 and crossing[0]["geofence"]["event"] == "arrival"
    assert crossing[0]["geofence"]["time"] == "2025-03-01T08:00:26.000Z"  # 260 m in: 10 m past the edge


def test_gpsd_tpv_reads_and_event_times(outbox):
    config = parse({"gateway": {"id": "van-7"}, "mqtt": {"host": "localhost"}})
    clock = Clock()
    service = GpsService(monotonic=clock)
    pipeline = Pipeline(config, outbox, extensions=[service.extension()])
    service.clock.set_synchronised(False)
    booted_1970 = 1000.0
    tpv = {"time": "2025-03-01T08:00:00.000Z", "mode": 3, "lat": 52.0, "lon": 5.0, "alt": 3.0, "speed": 0.0}
    pipeline.on_reads([Read("gps", "gpsd", "tpv", json.dumps(tpv), mono=5.0, wall=booted_1970, meta=tpv),
                       Read("gps", "gpsd", "tpv", "{}", mono=5.0, wall=booted_1970, meta={"mode": 1})])
    assert service.counters == {"fixes": 1, "positions": 1, "crossings": 0, "bad_tpv": 1}
    clock.now = 65.0
    wall, ext = pipeline.event_wall(booted_1970 + 60)
    assert wall == pytest.approx(T0.timestamp() + 60) and ext == {"clockSource": "gps"}
    service.clock.set_synchronised(True)
    assert pipeline.event_wall(booted_1970 + 60) == (booted_1970 + 60, {})


def test_each_device_has_its_own_assembler(outbox):
    config = parse({"gateway": {"id": "van-7"}, "mqtt": {"host": "localhost"}})
    service = GpsService(monotonic=Clock())
    pipeline = Pipeline(config, outbox, extensions=[service.extension()])
    a, b = sentences(3), sentences(3, route=GeneratedRoute(10.0, 10.0, [Leg(10, 0, 1)]))
    for (t, la), (_, lb) in zip(a, b):  # interleaved line by line: must not mix epochs
        pipeline.on_reads([Read("gps-a", "nmea", "nmea", la, mono=t), Read("gps-b", "nmea", "nmea", lb, mono=t)])
    assert set(service.assemblers) == {"gps-a", "gps-b"}
    assert all(a.counters.bad == 0 and a.counters.fixes >= 2 for a in service.assemblers.values())
    stream = NmeaStream()
    assert len(stream.feed("".join(l + "\r\n" for _, l in a).encode()) + stream.flush()) == 3


def test_cargo_arrives_and_departs_with_the_vehicle(outbox, assert_epcis):
    """Loading scans put shipments on board; crossing the customer's fence emits arriving/departing events."""
    config = parse({"gateway": {"id": "van-7"}, "mqtt": {"host": "localhost"},
                    "device": [{"name": "van-scanner", "driver": "serial-scanner", "port": "/dev/null",
                                "biz_step": "loading", "dedupe_ms": 0}],
                    "mode": [{"text": "UNLOAD", "biz_step": "unloading"}]})
    clock = Clock()
    customer = Geofence("customer-42", Circle(52.0, 5.0, 150), biz_location="urn:epc:id:sgln:0614141.00042.0")
    service = GpsService(GpsSettings(geofence_margin_m=10, geofence_confirm_fixes=2), [customer], monotonic=clock)
    pipeline = Pipeline(config, outbox, extensions=[service.extension()])

    def scan(text: str, t: float) -> None:
        pipeline.on_reads([Read("van-scanner", "serial-scanner", "barcode", text, mono=t, wall=T0.timestamp() + t)])

    scan("00106141411234567897", 0)
    scan("1Z999AA10123456784", 0.5)
    start = destination(52.0, 5.0, 270, 400)
    route = GeneratedRoute(start[0], start[1], [Leg(30, 90, 10), Leg(20, 90, 0), Leg(60, 270, 10)])
    unloaded = False
    for t, line in sentences(110, route=route):
        clock.now = t
        if t == 40.0 and not unloaded:
            unloaded = True
            scan("UNLOAD", t)
            scan("1Z999AA10123456784", t + 0.1)   # this parcel is delivered here
        pipeline.on_reads([Read("gps", "nmea", "nmea", line, mono=t, wall=T0.timestamp() + t)])
    assert outbox.flush()
    stored = [json.loads(e.payload) for e in outbox.fetch(0, 10_000) if e.stream == "events"]
    moves = [e for e in stored if e.get("bizStep") in ("arriving", "departing")]
    for event in stored:
        assert_epcis(event)
    assert [e["bizStep"] for e in moves] == ["arriving", "departing"]
    arrival, departure = moves
    assert arrival["epcList"] == ["urn:epc:id:sscc:0614141.1123456789",
                                  "urn:tally:shipment:ups:1Z999AA10123456784"]
    assert arrival["bizLocation"] == {"id": "urn:epc:id:sgln:0614141.00042.0"}
    assert arrival["readPoint"]["id"].startswith("geo:52.00")
    assert arrival["tally:geofence"] == "customer-42"
    assert departure["epcList"] == ["urn:epc:id:sscc:0614141.1123456789"]  # the parcel stayed
    assert service.status()["cargo"] == {"units": 1, "classes": 0, "forgotten": 0}
