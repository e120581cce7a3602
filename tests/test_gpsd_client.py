"""The gpsd client: sans-I/O report parsing, and the driver against a real gpsd fed by the simulator."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import drivers
from drivers.base import DeviceGone, DeviceUnavailable
from drivers.gpsd import GpsdClient, GpsdReports, normalise_tpv
from gateway.decode.nmea import Fix, NmeaStream
from simulators.gps import GpsSimulator

GPSD = shutil.which("gpsd") or ("/usr/sbin/gpsd" if os.path.exists("/usr/sbin/gpsd") else None)

# what gpsd 3.22 sent for a simulator run (abridged from a real session)
SESSION = b"""{"class":"VERSION","release":"3.22","rev":"3.22","proto_major":3,"proto_minor":14}
{"class":"DEVICES","devices":[{"class":"DEVICE","path":"/dev/pts/0","activated":"2026-11-23T18:04:00.709Z","native":0,"bps":38400,"parity":"N","stopbits":1,"cycle":1.00}]}
{"class":"WATCH","enable":true,"json":true,"nmea":false,"raw":0,"scaled":false,"timing":false,"split24":false,"pps":false}
{"class":"TPV","device":"/dev/pts/0","mode":2,"time":"2026-11-23T18:04:01.000Z","ept":0.005,"lat":48.100200000,"lon":11.516666667,"track":90.0000,"magtrack":93.3257,"magvar":3.3,"speed":5.144}
{"class":"TPV","device":"/dev/pts/0","mode":3,"time":"2026-11-23T18:04:01.000Z","ept":0.005,"lat":48.100200000,"lon":11.516666667,"altHAE":592.3000,"altMSL":545.4000,"alt":545.4000,"track":90.0000,"magtrack":93.3257,"magvar":3.3,"speed":5.144,"geoidSep":46.900,"eph":17.100}
{"class":"SKY","device":"/dev/pts/0","hdop":1.10,"pdop":1.80,"vdop":1.50,"uSat":8}
{"class":"TPV","device":"/dev/pts/0","mode":3,"time":"2026-11-23T18:04:02.000Z","ept":0.005,"lat":48.100300000,"lon":11.516666667,"altHAE":592.3000,"altMSL":545.4000,"alt":545.4000,"track":90.0000,"speed":5.144}
{"class":"TPV","device":"/dev/pts/0","mode":1}
{"class":"TPV","device":"/dev/pts/0","mode":3,"lat":48.1,"lon":11.5,"altMSL":545.4}
"""


def test_registry_names_this_driver():
    assert drivers.load("gpsd") is GpsdClient and GpsdClient.content == "tpv"


def test_session_to_normalised_tpvs():
    reports = GpsdReports()
    out = reports.feed(SESSION)
    assert [tpv for _, tpv in out] == [
        {"time": "2026-11-23T18:04:01.000Z", "mode": 2, "lat": 48.1002, "lon": 11.516666667, "speed": 5.144,
         "track": 90.0},
        {"time": "2026-11-23T18:04:01.000Z", "mode": 3, "lat": 48.1002, "lon": 11.516666667, "alt": 545.4,
         "speed": 5.144, "track": 90.0},
        {"time": "2026-11-23T18:04:02.000Z", "mode": 3, "lat": 48.1003, "lon": 11.516666667, "alt": 545.4,
         "speed": 5.144, "track": 90.0, "sats": 8, "hdop": 1.1},
    ]
    assert json.loads(out[0][0])["class"] == "TPV"  # the payload is gpsd's own line
    c = reports.counters
    assert (c.tpv, c.no_fix, c.untimed, c.garbage) == (3, 1, 1, 0) and reports.version == "3.22"
    # the same keys as a Fix from NMEA, so the pipeline treats both alike
    assert Fix.from_tpv(out[2][1]).to_tpv() == {**out[2][1], "lat": 48.1003, "lon": 11.516666667}


def test_split_anywhere_and_device_filter():
    whole = [t for _, t in GpsdReports().feed(SESSION)]
    reports = GpsdReports()
    pieces = [t for i in range(0, len(SESSION), 7) for _, t in reports.feed(SESSION[i:i + 7])]
    assert pieces == whole
    assert GpsdReports(device="/dev/ttyACM0").feed(SESSION) == []


def test_garbage_and_over_long_lines_are_counted():
    reports = GpsdReports(max_line=200)
    out = reports.feed(b"not json\n[1,2]\n{\"no\":\"class\"}\n\xff\xfe\n" + b"{" * 500 + b"\n" + SESSION)
    assert len(out) == 3 and reports.counters.garbage == 5


def test_normalise_refuses_what_is_not_a_dated_fix():
    base = {"class": "TPV", "mode": 3, "time": "2024-01-01T00:00:00.000Z", "lat": 1.0, "lon": 2.0}
    assert normalise_tpv(base)["time"] == "2024-01-01T00:00:00.000Z"
    assert normalise_tpv({**base, "time": "2024-01-01T00:00:00Z"})["time"] == "2024-01-01T00:00:00.000Z"
    for bad in ({**base, "mode": True}, {**base, "mode": "3"}, {**base, "lat": float("nan")}, {**base, "lon": 181},
                {**base, "time": 17}, {**base, "time": "yesterday"}, {**base, "lat": None}):
        assert normalise_tpv(bad) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_never_raise(data):
    GpsdReports().feed(data)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=6),
                    max_leaves=20))
def test_any_json_never_raises(value):
    line = json.dumps({"class": "TPV", "mode": 3, "x": value}) + "\n" + json.dumps(value) + "\n"
    GpsdReports().feed(line.encode())
    if isinstance(value, dict):
        GpsdReports().feed((json.dumps({**value, "class": "TPV"}) + "\n").encode())


# ---- against a real gpsd -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gpsd_on_simulator():
    if GPSD is None:
        pytest.skip("gpsd is not installed (Debian package gpsd)")
    sim = GpsSimulator(rate_hz=5, seed=11, noise_m=3.0, record=True).start()
    port = free_port()
    # -N foreground, -n poll the device without waiting for a client, -b read-only (no probe
    # writes into our pty), -S the port; it listens on loopback only without -G.
    proc = subprocess.Popen([GPSD, "-N", "-n", "-b", "-S", str(port), sim.slave_path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                sim.stop()
                pytest.fail(f"gpsd did not start: {proc.stderr.read().decode(errors='replace')[-500:]}")
            time.sleep(0.05)
    yield sim, proc, port
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    proc.stderr.close()
    sim.stop()


def test_gpsd_tpvs_match_our_own_nmea_decoding(gpsd_on_simulator):
    sim, proc, port = gpsd_on_simulator
    client = GpsdClient("gps-1", {"port": port})
    client.open()
    reads = []
    try:
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline and len(reads) < 12:
            reads += client.read(0.5)
    finally:
        client.close()
    assert len(reads) >= 8, f"gpsd sent {client.reports.counters}"
    assert all(r.content == "tpv" and r.driver == "gpsd" for r in reads)
    stream = NmeaStream()
    ours = {fix.to_tpv()["time"]: fix for fix in stream.feed(bytes(sim.transcript))}
    matched = 0
    for read in reads:
        tpv = read.meta
        fix = ours.get(tpv["time"])
        assert fix is not None, f"gpsd reported {tpv['time']}, which our decoding of the same bytes does not have"
        assert abs(fix.lat - tpv["lat"]) < 1e-6 and abs(fix.lon - tpv["lon"]) < 1e-6
        if tpv["mode"] == 3:
            assert fix.alt == pytest.approx(tpv["alt"])
        assert fix.speed == pytest.approx(tpv["speed"], abs=1e-3)
        matched += 1
    assert matched >= 8 and stream.counters.bad == 0


def test_gpsd_going_away_is_device_gone_then_unavailable(gpsd_on_simulator):
    sim, proc, port = gpsd_on_simulator
    client = GpsdClient("gps-1", {"port": port, "connect_timeout_s": 1})
    client.open()
    got = []
    deadline = time.monotonic() + 4
    while not got and time.monotonic() < deadline:
        got = client.read(0.5)
    assert got
    proc.terminate()
    proc.wait(5)
    with pytest.raises(DeviceGone):
        for _ in range(20):
            client.read(0.5)
    client.close()
    with pytest.raises(DeviceUnavailable, match="cannot connect to gpsd"):
        client.open()


def test_nothing_listening_is_unavailable():
    with pytest.raises(DeviceUnavailable):
        GpsdClient("gps-1", {"port": free_port(), "connect_timeout_s": 1}).open()
