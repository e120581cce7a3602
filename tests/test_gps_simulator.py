"""The GPS simulator: valid NMEA that says where the route is, faults on request, a pty that unplugs."""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import gpxpy.gpx
import pytest

from gateway.decode.nmea import NmeaStream, parse_sentence
from gateway.gps import haversine_m
from simulators import gps
from simulators.gps import ALL_SENTENCES, GeneratedRoute, GpsSimulator, GpxRoute, Leg

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 6, 1, 23, 59, 50, tzinfo=timezone.utc)


def offline(**kw) -> GpsSimulator:
    return GpsSimulator(start_time=T0, **kw)  # render() only: no pty is made


@pytest.mark.parametrize("talker, version", [("GN", "4.10"), ("GP", "2.3"), ("GL", "4.10")])
def test_every_sentence_is_valid_and_in_order(talker, version):
    sim = offline(talker=talker, nmea_version=version, sentences=ALL_SENTENCES, seed=1)
    lines = sim.render(0).decode().splitlines()
    parsed = [parse_sentence(line) for line in lines]
    assert [p.kind for p in parsed] == ["RMC", "VTG", "GGA", "GSA", "GSV", "GSV", "GSV", "GLL", "ZDA"]
    assert {p.talker for p in parsed if p.kind != "GSV"} == {talker}
    gsa = next(p for p in parsed if p.kind == "GSA")
    assert gsa.system_id == (1 if version == "4.10" else None) and len(gsa.prns) == 8
    assert all(len(line) <= 82 for line in lines)


def test_fixes_follow_the_route_and_cross_midnight():
    route = GeneratedRoute(52.0, 5.0, [Leg(10, 45, 20), Leg(10, 135, 20)])
    sim = offline(route=route, rate_hz=2, seed=2)
    stream = NmeaStream()
    fixes = stream.feed(sim.generate(20)) + stream.flush()
    assert len(fixes) == 40 and stream.counters.bad == 0
    for fix, (when, lat, lon, has_fix) in zip(fixes, sim.truth):
        assert fix.time == when and has_fix
        assert haversine_m(fix.lat, fix.lon, lat, lon) < 0.05  # NMEA's 1e-5 minute resolution
    assert fixes[0].time.date() != fixes[-1].time.date()  # 23:59:50 + 20 s
    assert fixes[0].speed == pytest.approx(20, abs=0.01) and fixes[0].track == pytest.approx(45)
    assert fixes[-1].track == pytest.approx(135)
    assert haversine_m(52.0, 5.0, fixes[19].lat, fixes[19].lon) == pytest.approx(190, abs=0.5)


def test_tunnels_have_time_but_no_fix():
    sim = offline(tunnels=[(5, 3)], seed=3)
    stream = NmeaStream()
    fixes = stream.feed(sim.generate(10)) + stream.flush()
    assert [round((f.time - T0).total_seconds()) for f in fixes] == [0, 1, 2, 3, 4, 8, 9]
    assert stream.counters.no_fix == 3


def test_noise_is_seeded_and_bounded():
    a = offline(noise_m=5.0, seed=4).generate(30)
    b = offline(noise_m=5.0, seed=4).generate(30)
    assert a == b
    clean = NmeaStream().feed(offline(seed=4).generate(30))
    noisy = NmeaStream().feed(a)
    errors = [haversine_m(x.lat, x.lon, y.lat, y.lon) for x, y in zip(clean, noisy)]
    assert 0 < max(errors) < 30 and sum(errors) / len(errors) < 10


def test_gpx_track_on_its_own_timestamps_and_at_a_speed(tmp_path):
    doc = gpxpy.gpx.GPX()
    seg = gpxpy.gpx.GPXTrackSegment()
    for i in range(4):
        seg.points.append(gpxpy.gpx.GPXTrackPoint(52.0 + i * 0.001, 5.0, elevation=10.0 + i,
                                                  time=T0 + timedelta(seconds=10 * i)))
    track = gpxpy.gpx.GPXTrack()
    track.segments.append(seg)
    doc.tracks.append(track)
    path = tmp_path / "r.gpx"
    path.write_text(doc.to_xml())
    timed = GpxRoute.from_file(str(path))
    assert timed.duration_s == pytest.approx(30)
    mid = timed.at(15)
    assert mid.lat == pytest.approx(52.0015, abs=1e-6) and mid.alt == pytest.approx(11.5)
    assert mid.speed == pytest.approx(11.12, abs=0.05) and mid.track == pytest.approx(0, abs=1e-6)
    assert timed.at(99).speed == 0 and timed.at(99).lat == pytest.approx(52.003)
    fast = GpxRoute.from_file(str(path), speed_mps=33.36)
    assert fast.duration_s == pytest.approx(10, abs=0.05)
    with pytest.raises(ValueError):
        GpxRoute(gpxpy.gpx.GPX().to_xml())


def test_pty_unplug_and_replug():
    sim = GpsSimulator(rate_hz=20, seed=5).start()
    try:
        first = sim.slave_path
        assert os.path.islink(sim.path) and os.path.realpath(sim.path) == first
        fd = os.open(sim.path, os.O_RDONLY | os.O_NOCTTY)
        try:
            data = b""
            deadline = time.monotonic() + 3
            while data.count(b"\r\n") < 10 and time.monotonic() < deadline:
                if select.select([fd], [], [], 0.2)[0]:
                    data += os.read(fd, 4096)
            assert data.count(b"$GNRMC") >= 1
            sim.unplug()
            assert not os.path.lexists(sim.path) and sim.slave_path is None
            with pytest.raises(OSError):
                for _ in range(50):  # what is already buffered may still come first
                    if select.select([fd], [], [], 0.2)[0] and os.read(fd, 4096) == b"":
                        raise OSError("end of file")
        finally:
            os.close(fd)
        sim.replug()
        assert os.path.islink(sim.path) and sim.slave_path is not None
    finally:
        sim.stop()
    assert not os.path.lexists(sim.path)


def test_a_reader_that_stalls_does_not_stall_the_simulator():
    sim = GpsSimulator(rate_hz=50, seed=6).start()
    try:
        time.sleep(1.5)  # nobody reads: the pty fills up, writes are dropped, epochs go on
        assert sim.epochs >= 50
        sim.unplug()  # must not deadlock behind a blocked write
    finally:
        sim.stop()


def test_bad_arguments():
    for kw in ({"rate_hz": 0}, {"talker": "gp"}, {"sentences": ["GGA", "XYZ"]}):
        with pytest.raises(ValueError):
            GpsSimulator(**kw)


def test_cli_to_stdout():
    code = ("import argparse, sys\nfrom simulators import gps\np = argparse.ArgumentParser()\n"
            "gps.add_arguments(p)\nsys.exit(gps.run(p.parse_args(sys.argv[1:])))")
    result = subprocess.run([sys.executable, "-c", code, "--stdout", "--fast", "--duration", "20", "--rate", "2",
                             "--talker", "GP", "--tunnel", "5:2", "--turn", "3:90", "--seed", "9"],
                            capture_output=True, cwd=ROOT, timeout=30)
    assert result.returncode == 0, result.stderr
    stream = NmeaStream()
    fixes = stream.feed(result.stdout) + stream.flush()
    assert len(fixes) == 36 and stream.counters.no_fix == 4
    assert {round(f.track) for f in fixes} == {90, 180}


def test_cli_arguments_parse():
    parser = argparse.ArgumentParser()
    gps.add_arguments(parser)
    args = parser.parse_args(["--start", "52.1,4.3", "--turn", "60:-90", "--tunnel", "30:15"])
    assert args.start == (52.1, 4.3) and args.turn == [(60.0, -90.0)] and args.tunnel == [(30.0, 15.0)]
    with pytest.raises(SystemExit):
        parser.parse_args(["--tunnel", "soon"])


def test_offline_use_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    GpsSimulator(seed=1).generate(3)
    assert list(tmp_path.iterdir()) == []
