"""The status file: atomic writes, and rewritten only when the snapshot says something new (or to stay fresh)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import Read
from gateway import status_file
from gateway.gps.service import GpsService
from gateway.status_file import REFRESH_S, STALE_S, StatusFile, steady
from simulators.gps import GpsSimulator

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def snapshot(**changes) -> dict:
    snap = {
        "gateway": "van-7", "state": "running", "pid": 4242, "time": 1_800_000_000.0, "uptime_s": 12.0,
        "health": {"ok": True, "degraded": False, "reasons": [], "warnings": []},
        "broker": {"state": "connected", "published": 3, "acked": 3, "connects": 1},
        "backlog": {"events": 0, "positions": 0, "rejects": 0, "bytes": 0, "oldest_age_s": None},
        "outbox": {"commits": 5}, "drops": {"events": 0, "positions": 0},
        "counters": {"reads": 10, "events": 2, "rejects": 0},
        "devices": [{"name": "door-1", "state": "open", "reads": 2, "last_read": 1_799_999_990.0},
                    {"name": "gps", "state": "open", "reads": 8, "last_read": 1_799_999_999.0}],
        "gps": {"fix": {"lat": 52.3731, "lon": 4.8922, "age_s": 0.4}, "counters": {"fixes": 1}},
    }
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = snap
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value
    return snap


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sf(tmp_path, clock) -> StatusFile:
    return StatusFile(tmp_path / "status-van-7-abc.json", clock=clock)


def test_the_file_is_one_line_of_json_and_no_temporary_is_left(tmp_path):
    path = tmp_path / "status.json"
    status_file.write(path, {"a": 1, "where": tmp_path})
    assert json.loads(path.read_text()) == {"a": 1, "where": str(tmp_path)}
    assert path.read_text().count("\n") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]


def test_the_first_snapshot_is_written(sf):
    assert sf.update(snapshot())
    assert json.loads(sf.path.read_text())["gateway"] == "van-7"


def test_only_the_clock_moved_the_file_waits_for_the_refresh(sf, clock):
    sf.update(snapshot())
    clock.now += 1
    assert not sf.update(snapshot(time=1_800_000_001.0, uptime_s=13.0))
    clock.now += REFRESH_S - 1.5
    assert not sf.update(snapshot(time=1_800_000_004.0, uptime_s=16.0))
    assert json.loads(sf.path.read_text())["uptime_s"] == 12.0
    clock.now += 0.5
    assert sf.update(snapshot(time=1_800_000_005.0, uptime_s=17.0))
    assert json.loads(sf.path.read_text())["uptime_s"] == 17.0
    assert (sf.writes, sf.skipped) == (2, 2)


def test_a_streaming_gps_alone_waits_for_the_refresh(sf, clock):
    sf.update(snapshot())
    clock.now += 1
    moved = snapshot(**{"gps__fix__lat": 52.3732, "gps__counters__fixes": 2, "devices__1__reads": 16,
                        "devices__1__last_read": 1_800_000_000.0, "counters__reads": 18,
                        "backlog__oldest_age_s": 1.0})
    assert not sf.update(moved)
    clock.now += 1
    published = snapshot(**{"backlog__positions": 1, "broker__published": 4, "broker__acked": 4})
    assert not sf.update(published)  # its position, every few seconds


@pytest.mark.parametrize("change", [
    {"state": "stopped"},
    {"health__ok": False},
    {"broker__state": "down"},
    {"broker__connects": 2},
    {"backlog__events": 1},
    {"backlog__rejects": 1},
    {"drops__positions": 1},
    {"counters__events": 3},
    {"devices__0__state": "reopening"},
    {"devices__1__state": "reopening"},
])
def test_anything_else_is_written_at_once(sf, clock, change):
    sf.update(snapshot())
    clock.now += 1
    assert sf.update(snapshot(**change))
    key, value = next(iter(change.items()))
    node = json.loads(sf.path.read_text())
    for part in key.split("__"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    assert node == value


def test_a_scan_is_more_than_a_read_count(sf, clock):
    """A scan moves `reads` (volatile) and always something else with it: its outcome."""
    sf.update(snapshot())
    clock.now += 1
    assert sf.update(snapshot(**{"devices__0__reads": 3, "counters__reads": 11, "counters__events": 3}))
    assert json.loads(sf.path.read_text())["devices"][0]["reads"] == 3


def test_forced_writes_and_a_device_appearing(sf, clock):
    sf.update(snapshot())
    assert sf.update(snapshot(), force=True)
    grown = snapshot()
    grown["devices"].append({"name": "portal", "state": "starting", "reads": 0, "last_read": None})
    assert sf.update(grown)


def test_a_failed_write_is_tried_again(tmp_path, clock):
    sf = StatusFile(tmp_path / "gone" / "status.json", clock=clock)
    with pytest.raises(OSError):
        sf.update(snapshot())
    (tmp_path / "gone").mkdir()
    assert sf.update(snapshot())
    assert sf.writes == 1


def test_the_refresh_keeps_tally_status_calling_it_running():
    assert 2 * REFRESH_S <= STALE_S
    reader = (ROOT / "gateway" / "commands" / "status.py").read_text()
    assert re.search(r'time\.time\(\) - status\.get\("time", 0\) < (\d+)', reader).group(1) == f"{STALE_S:.0f}"


def test_a_gps_streaming_through_the_real_service(tmp_path, clock):
    """The GPS part of real snapshots, fed a simulated drive at 1 Hz: written every REFRESH_S, not every second."""
    gps = GpsService(monotonic=clock)
    sim = GpsSimulator(rate_hz=1.0, seed=1)
    sf = StatusFile(tmp_path / "status.json", clock=clock)
    base = snapshot()
    for second in range(60):
        for line in sim.render(float(second)).decode().split("\r\n"):
            if line:
                gps.on_nmea(None, Read("gps", "nmea", "nmea", line, mono=clock.now, wall=1.8e9 + second))
        snap = copy.deepcopy(base)
        snap["gps"], snap["time"], snap["uptime_s"] = gps.status(), 1.8e9 + second, 12.0 + second
        snap["devices"][1]["reads"] += 7 * second
        sf.update(snap)
        clock.now += 1.0
    assert gps.counters["fixes"] >= 59
    assert sf.writes == 60 // REFRESH_S
    assert json.loads(sf.path.read_text())["gps"]["counters"]["fixes"] >= 55


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                     lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
                         st.sampled_from(["time", "gps", "devices", "reads", "backlog", "oldest_age_s", "x"]), kids,
                         max_size=4), max_leaves=12)


@settings(max_examples=100, deadline=None)
@given(_json)
def test_steady_never_changes_the_snapshot_and_is_total(value):
    before = copy.deepcopy(value)
    steady(value)
    assert value == before
