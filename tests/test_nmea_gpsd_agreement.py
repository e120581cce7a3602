"""Tally's NMEA assembler against the real gpsd on the same real receiver recordings.

Each recording is written to a pty that a private gpsd (Debian's, `-N -n -b`) reads, and fed to
`NmeaStream`. A Tally fix is false when gpsd has no fix with a time at that time of day; the goal
is none. Where both have a fix they must agree on the position. gpsd's own regression output
(test/daemon/*.chk) for two of the recordings is checked without gpsd.

Times are compared by time of day: gpsd moves dates more than 19.6 years before its own start
forward by one GPS week rollover, so old recordings come back with other years.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gateway.decode.nmea import NmeaStream
from simulators.pty_device import PtyDevice

DATA = Path(__file__).parent / "data" / "nmea"
GPSD = shutil.which("gpsd") or ("/usr/sbin/gpsd" if os.path.exists("/usr/sbin/gpsd") else None)

#: real receivers; cold starts and no-fix stretches are in mtk-3301, myguide-3100 and rgm3800
RECORDINGS = ["gpsd/mtk-3301.log", "gpsd/myguide-3100.log", "gpsd/rgm3800.log", "gpsd/quectel-L70.log",
              "sirf4-bu353s4.nmea", "ublox-neo-m8n.nmea", "quectel-l76k.nmea"]


def sentences(name: str) -> list[bytes]:
    """The recording's lines as a receiver sends them (gpsd logs have '#' comment headers)."""
    lines = (DATA / name).read_bytes().splitlines()
    return [line + b"\r\n" for line in lines if line and not line.startswith(b"#")]


def time_of_day(iso: str) -> str:
    return iso[11:23]  # HH:MM:SS.mmm


def tally_fixes(lines: list[bytes]) -> dict[str, dict]:
    """Fixes reported while the recording plays (not at its end: gpsd has no end of input)."""
    stream = NmeaStream()
    fixes = [f for line in lines for f in stream.feed(line)]
    return {time_of_day(f.to_tpv()["time"]): f.to_tpv() for f in fixes}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gpsd_reports(lines: list[bytes]) -> list[dict]:
    """Every TPV a real gpsd sends while the recording is written to its pty, line by line."""
    pty = PtyDevice().plug()
    port = free_port()
    assert pty.slave is not None
    # -N foreground, -n read the device without waiting for a client, -b read-only (no probes
    # written into the pty), -S a free port on loopback
    proc = subprocess.Popen([GPSD, "-N", "-n", "-b", "-S", str(port), os.ttyname(pty.slave)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    received = b""
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=0.5)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("gpsd did not start") from None
                time.sleep(0.05)
        with sock:
            sock.sendall(b'?WATCH={"enable":true,"json":true};\n')

            def drain(wait: float) -> bool:
                nonlocal received
                ready, _, _ = select.select([sock], [], [], wait)
                if ready:
                    chunk = sock.recv(65536)
                    received += chunk
                    return bool(chunk)
                return False

            deadline = time.monotonic() + 10
            while b'"DEVICES"' not in received and time.monotonic() < deadline:
                drain(0.1)
            for line in lines:
                pty.write(line)
                drain(0.01)  # paced like a serial line, so gpsd reads one sentence at a time
            quiet_since = time.monotonic()
            while time.monotonic() - quiet_since < 0.5:
                if drain(0.1):
                    quiet_since = time.monotonic()
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        pty.close()
    reports = []
    for raw in received.splitlines():
        try:
            report = json.loads(raw)
        except ValueError:
            continue
        if isinstance(report, dict) and report.get("class") == "TPV":
            reports.append(report)
    return reports


def gpsd_fixes(reports: list[dict]) -> dict[str, dict]:
    """gpsd's fixes: TPVs with a time, a 2D/3D mode and a position."""
    return {time_of_day(r["time"]): r for r in reports
            if r.get("time") and r.get("mode", 0) >= 2 and "lat" in r and "lon" in r}


@pytest.fixture(scope="module")
def gpsd_runs():
    if GPSD is None:
        pytest.skip("gpsd is not installed (Debian package gpsd, installed by ./dev)")
    with ThreadPoolExecutor(max_workers=len(RECORDINGS)) as pool:
        runs = dict(zip(RECORDINGS, pool.map(lambda name: gpsd_reports(sentences(name)), RECORDINGS)))
    return runs


@pytest.mark.parametrize("name", RECORDINGS)
def test_no_fix_where_gpsd_has_none_and_the_same_positions(gpsd_runs, name):
    theirs = gpsd_fixes(gpsd_runs[name])
    ours = tally_fixes(sentences(name))
    assert theirs, f"gpsd reported no fix for {name}: {gpsd_runs[name][:5]}"
    # the recording ends inside its last epoch: whether that one is out yet depends on when each
    # decides the cycle is over, so it is left out of the comparison
    last = max(set(theirs) | set(ours))
    theirs.pop(last, None)
    ours.pop(last, None)
    false = sorted(set(ours) - set(theirs))
    assert false == [], f"{name}: Tally reports positions where gpsd has no fix at {false}"
    missed = sorted(set(theirs) - set(ours))
    assert missed == [], f"{name}: gpsd has fixes Tally does not report at {missed}"
    for when, tpv in ours.items():
        assert tpv["lat"] == pytest.approx(theirs[when]["lat"], abs=1e-6), when
        assert tpv["lon"] == pytest.approx(theirs[when]["lon"], abs=1e-6), when


def test_cold_starts_are_in_the_recordings(gpsd_runs):
    """The recordings do exercise the no-fix cases: gpsd reports positions without a fix there."""
    untimed = {name: sum(1 for r in gpsd_runs[name] if not r.get("time") and "lat" in r) for name in RECORDINGS}
    assert untimed["gpsd/mtk-3301.log"] >= 2 and untimed["gpsd/myguide-3100.log"] >= 2
    assert untimed["gpsd/rgm3800.log"] >= 1


@pytest.mark.parametrize("name, first", [("myguide-3100", "10:50:30.800"), ("mtk-3301", "08:14:37.000")])
def test_against_gpsd_regression_output_without_gpsd(name, first):
    """gpsd's own expected output (test/daemon/<name>.log.chk, current gpsd): no time for the first
    position with status A (10:50:29.8, 08:14:36), whose epoch began before any date was known."""
    expected = [json.loads(line) for line in (DATA / "gpsd" / f"{name}.gpsd.json").read_text().splitlines()]
    stream = NmeaStream()
    fixes = [f for line in sentences(f"gpsd/{name}.log") for f in stream.feed(line)] + stream.flush()
    ours = {time_of_day(f.to_tpv()["time"]): f for f in fixes}
    assert min(ours) == expected[0]["time"] == first
    for want in expected:
        got = ours[want["time"]]
        assert got.lat == pytest.approx(want["lat"], abs=1e-6) and got.lon == pytest.approx(want["lon"], abs=1e-6)
    if name == "mtk-3301":  # the whole .chk: the same fixes, no more
        assert sorted(ours) == [want["time"] for want in expected]


def test_cold_start_counts():
    stream = NmeaStream()
    fixes = [f for line in sentences("gpsd/mtk-3301.log") for f in stream.feed(line)] + stream.flush()
    c = stream.counters
    # 6 epochs at 89 deg 60 min (the MTK's placeholder, no error in a no-fix sentence) and one
    # near the truth, all quality 0 / status V; 081436 is a fix but began before any date (gpsd
    # reports it without a time); then 3 dated fixes. $POLYN has no checksum; $PMTKCHN is over-long.
    assert [f.to_tpv()["time"][11:19] for f in fixes] == ["08:14:37", "08:14:38", "08:14:39"]
    assert (c.no_fix, c.undated, c.malformed, c.truncated, c.garbage) == (7, 1, 0, 3, 11)
