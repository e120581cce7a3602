"""Read cycles: de-duplication, additions/deletions, door direction, RSSI and EPC filters, triggers."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import Read
from drivers.llrp import LlrpReader
from gateway.rfid import CYCLE_OPTIONS, CycleConfig, CycleEngine, TagRead, tag_read_from
from simulators.llrp_reader import LlrpReaderSimulator, PalletPass, sgtin96

DOOR = "urn:epc:id:sgln:0614141.00777.0"
CASES = [sgtin96("0614141", "812345", n, 2).hex().upper() for n in range(1, 7)]
URIS = [f"urn:epc:id:sgtin:0614141.812345.{n}" for n in range(1, 7)]
SSCC = "3174257BF4499602D2000000"  # urn:epc:id:sscc:0614141.1234567890


def engine(**kw) -> CycleEngine:
    return CycleEngine(CycleConfig.from_settings({"cycle_ms": 1000, **kw}), default_read_point=DOOR)


def feed(e: CycleEngine, reads) -> list:
    out = []
    for r in reads:
        out += e.add(r)
    return out


def test_dedupe_within_a_cycle():
    e = engine()
    reads = [TagRead(CASES[0], 0.1 * i, antenna=1 + i % 2, rssi=-60 + i, count=2) for i in range(8)]
    assert feed(e, reads) == []
    (report,) = e.tick(1.5)
    (tag,) = report.tags
    assert tag.identity == URIS[0] and tag.scheme == "sgtin-96" and tag.epc == CASES[0]
    assert (tag.first_seen, tag.last_seen) == (0.0, pytest.approx(0.7))
    assert tag.count == 16 and tag.max_rssi == -53 and tag.antennas == (1, 2)
    assert tag.direction is None  # no door sides configured
    assert (report.read_point, report.sequence, report.reason, report.reads) == (DOOR, 1, "timer", 8)
    assert (report.started, report.ended) == (0.0, 1.0)
    assert report.epc_list == [URIS[0]]


def test_additions_and_deletions_between_cycles():
    e = engine()
    out = feed(e, [TagRead(c, 0.1, 1) for c in CASES[:3]])
    out += feed(e, [TagRead(c, 1.1, 1) for c in CASES[1:5]])  # closes cycle 1 (0-1 s) first
    out += e.tick(2.05)
    out += e.tick(3.5)  # the cycle after the last busy one: everything left
    out += e.tick(10.0)  # then quiet: no more reports
    first, second, third = out
    assert first.additions == tuple(URIS[:3]) and first.deletions == ()
    assert second.additions == tuple(URIS[3:5]) and second.deletions == (URIS[0],)
    assert second.epc_list == URIS[1:5]
    assert third.tags == () and third.deletions == tuple(URIS[1:5])
    assert [r.sequence for r in out] == [1, 2, 3]
    assert e.next_deadline() is None


def test_report_empty_cycles_and_long_gaps():
    e = engine(report_empty_cycles=True)
    feed(e, [TagRead(CASES[0], 0.0)])
    reports = e.tick(1.0) + e.tick(2.0)
    assert [len(r.tags) for r in reports] == [1, 0]
    reports = e.tick(3600.0)  # an hour later: one empty report, not 3600
    assert len(reports) == 1 and reports[0].tags == ()
    assert e.next_deadline() == pytest.approx(3601.0)


@pytest.mark.parametrize(
    "outside_time,inside_time,expected",
    [(1.0, 2.0, "receiving"), (2.0, 1.0, "shipping"), (1.0, None, "unknown"), (None, 1.0, "unknown"),
     (1.0, 1.0, "unknown")],
)
def test_door_direction(outside_time, inside_time, expected):
    e = engine(cycle_ms=10_000, inside_antennas=[3, 4], outside_antennas=[1, 2])
    reads = []
    if outside_time is not None:
        reads.append(TagRead(CASES[0], outside_time, antenna=2))
    if inside_time is not None:
        reads.append(TagRead(CASES[0], inside_time, antenna=3))
    reads.sort(key=lambda r: r.time)
    feed(e, reads)
    (report,) = e.flush(9.0)
    assert report.tags[0].direction == expected
    assert report.direction == expected
    assert report.reason == "flush"


def test_direction_uses_the_readers_timestamps_and_the_majority():
    e = engine(cycle_ms=10_000, inside_antennas=[2], outside_antennas=[1])
    # arrival order says inside first, but the reader saw the tag outside first: receiving
    feed(e, [TagRead(CASES[0], 5.0, antenna=2, seen=101.0), TagRead(CASES[0], 5.1, antenna=1, seen=100.0)])
    feed(e, [TagRead(CASES[1], 5.2, antenna=1), TagRead(CASES[1], 5.3, antenna=2)])  # receiving
    feed(e, [TagRead(CASES[2], 5.4, antenna=2), TagRead(CASES[2], 5.5, antenna=1)])  # shipping
    feed(e, [TagRead(CASES[3], 5.6, antenna=1)])  # unknown: one side only
    (report,) = e.flush(9.0)
    assert [t.direction for t in report.tags][:1] == ["receiving"]
    assert sorted(report.receiving) == sorted([URIS[0], URIS[1]])
    assert report.shipping == [URIS[2]]
    assert report.direction == "receiving"


def test_rssi_threshold():
    e = engine(rssi_min=-70)
    feed(e, [TagRead(CASES[0], 0.1, rssi=-75), TagRead(CASES[1], 0.2, rssi=-70), TagRead(CASES[2], 0.3)])
    (report,) = e.flush(1.0)
    assert report.epc_list == [URIS[1], URIS[2]]
    assert e.stats["below_rssi"] == 1


def test_scheme_and_company_prefix_filters():
    other_prefix = sgtin96("4012345", "012345", 1, 1).hex().upper()
    e = engine(epc_schemes=["sgtin"])
    feed(e, [TagRead(CASES[0], 0.1), TagRead(SSCC, 0.2), TagRead(other_prefix, 0.3)])
    assert e.flush(1.0)[0].epc_list == [URIS[0], "urn:epc:id:sgtin:4012345.012345.1"]
    e = engine(epc_schemes=["sscc-96"], company_prefixes=["0614141"])
    feed(e, [TagRead(CASES[0], 0.1), TagRead(SSCC, 0.2), TagRead(other_prefix, 0.3)])
    assert e.flush(1.0)[0].epc_list == ["urn:epc:id:sscc:0614141.1234567890"]
    e = engine(company_prefixes=["4012345"])
    feed(e, [TagRead(CASES[0], 0.1), TagRead(other_prefix, 0.3), TagRead("E2003412DC03011812345678", 0.4)])
    assert e.flush(1.0)[0].epc_list == ["urn:epc:id:sgtin:4012345.012345.1"]
    assert e.stats["filtered"] == 2


def test_undecodable_epcs():
    e = engine()
    feed(e, [TagRead("E2003412DC03011812345678", 0.1), TagRead("NOT HEX", 0.2)])
    (report,) = e.flush(1.0)
    assert report.epc_list == ["urn:epc:raw:96.xE2003412DC03011812345678"]
    assert report.tags[0].scheme is None
    assert e.stats["undecodable"] == 1
    e = engine(keep_undecodable=False)
    feed(e, [TagRead("E2003412DC03011812345678", 0.1)])
    assert e.flush(1.0) == []


def test_antennas_map_to_read_points():
    shelf = "urn:epc:id:sgln:0614141.00778.0"
    e = engine(antenna_read_points={3: shelf, 4: shelf})
    feed(e, [TagRead(CASES[0], 0.1, antenna=1), TagRead(CASES[1], 0.2, antenna=3), TagRead(CASES[2], 0.3, antenna=4),
             TagRead(CASES[3], 0.4)])
    reports = {r.read_point: r for r in e.tick(2.0)}
    assert reports[DOOR].epc_list == [URIS[0], URIS[3]]
    assert reports[shelf].epc_list == [URIS[1], URIS[2]]
    assert reports[shelf].sequence == 1 and reports[DOOR].sequence == 1


def test_triggered_cycles():
    e = engine(cycle_mode="triggered", cycle_ms=0)
    assert feed(e, [TagRead(CASES[0], 0.5)]) == []  # no cycle open: ignored
    assert e.stats["outside_cycle"] == 1
    assert e.trigger(True, 1.0) == []
    feed(e, [TagRead(CASES[1], 1.5), TagRead(CASES[2], 2.0)])
    assert e.tick(1000.0) == []  # no time limit
    (report,) = e.trigger(False, 1001.0)
    assert report.reason == "trigger" and (report.started, report.ended) == (1.0, 1001.0)
    assert report.epc_list == URIS[1:3]
    assert feed(e, [TagRead(CASES[3], 1002.0)]) == []
    assert e.trigger(True, 1003.0) == [] and e.trigger(False, 1004.0)[0].deletions == tuple(URIS[1:3])


def test_triggered_cycle_time_limit_reopens_while_on():
    e = engine(cycle_mode="triggered", cycle_ms=1000)
    e.trigger(True, 0.0)
    feed(e, [TagRead(CASES[0], 0.5)])
    feed(e, [TagRead(CASES[1], 1.5)])  # the first cycle timed out at 1.0; a new one is open
    (report,) = e.trigger(False, 1.7)
    assert report.epc_list == [URIS[1]] and report.deletions == (URIS[0],)
    assert e.stats["reports"] == 2


def test_trigger_for_one_read_point():
    shelf = "urn:epc:id:sgln:0614141.00778.0"
    e = engine(cycle_mode="triggered", cycle_ms=0, antenna_read_points={3: shelf})
    e.trigger(True, 0.0, read_point=shelf)
    feed(e, [TagRead(CASES[0], 0.1, antenna=1), TagRead(CASES[1], 0.2, antenna=3)])
    (report,) = e.trigger(False, 1.0, read_point=shelf)
    assert report.read_point == shelf and report.epc_list == [URIS[1]]


@pytest.mark.parametrize(
    "settings,error",
    [
        ({"inside_antennas": [1], "outside_antennas": [1, 2]}, "antenna 1 cannot be on both sides"),
        ({"inside_antennas": [1], "outside_antennas": [2],
          "antenna_read_points": {"1": DOOR, "2": "urn:epc:id:sgln:0614141.00001.0"}}, "must share one read point"),
        ({"cycle_ms": 0}, "timed cycle needs a length"),
    ],
)
def test_config_problems_name_the_keys(settings, error):
    with pytest.raises(ValueError, match=error):
        CycleConfig.from_settings(settings)


def test_engine_checks_door_read_points_against_the_device_read_point():
    config = CycleConfig.from_settings({"inside_antennas": [1], "outside_antennas": [2],
                                        "antenna_read_points": {"1": "urn:epc:id:sgln:0614141.00001.0"}})
    with pytest.raises(ValueError, match="share one read point"):
        CycleEngine(config, default_read_point=DOOR)
    CycleEngine(config, default_read_point="urn:epc:id:sgln:0614141.00001.0")


def test_config_from_settings_and_options():
    config = CycleConfig.from_settings({"cycle_ms": 500, "rssi_min": -70, "antenna_read_points": {"3": DOOR},
                                        "inside_antennas": [3], "outside_antennas": [4], "epc_schemes": ["SGTIN"],
                                        "antenna_read_points_ignored": 1})
    assert config.cycle_ms == 500 and config.antenna_read_points == {3: DOOR}
    assert config.epc_schemes == {"sgtin"} and config.directional
    assert CYCLE_OPTIONS["antenna_read_points"].check({"x": DOOR})
    assert CYCLE_OPTIONS["antenna_read_points"].check({"\u00b2": DOOR})  # a Unicode digit is not an antenna
    assert CYCLE_OPTIONS["antenna_read_points"].check({"1": "door-1"})
    assert CYCLE_OPTIONS["antenna_read_points"].check({"1": DOOR}) is None
    assert CYCLE_OPTIONS["company_prefixes"].check(["0614141"]) is None
    assert CYCLE_OPTIONS["company_prefixes"].check([614141])


def test_tag_read_from_a_driver_read():
    read = Read("door-1", "llrp", "epc", "3074257bf7194e4000001a85", wall=1000.0,
                meta={"antenna": 2, "rssi": -55, "first_seen": 999.5, "seen_count": 3})
    tag = tag_read_from(read)
    assert tag == TagRead("3074257BF7194E4000001A85", 1000.0, 2, -55, 999.5, 3, "door-1")
    bare = tag_read_from(Read("m", "serial-rfid", "epc", b"\x30\x74", wall=5.0))
    assert (bare.epc, bare.antenna, bare.seen, bare.count) == ("3074", None, None, 1)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(CASES + [SSCC, "E2003412DC03011812345678"]), st.floats(0, 0.5),
                          st.sampled_from([None, 1, 2, 3]), st.one_of(st.none(), st.integers(-90, -30))),
                max_size=60))
def test_reports_are_consistent(events):
    e = engine(cycle_ms=700, inside_antennas=[2], outside_antennas=[1], rssi_min=-80)
    now, reports = 0.0, []
    for epc, step, antenna, rssi in events:
        now += step
        reports += e.add(TagRead(epc, now, antenna, rssi))
    reports += e.flush(now + 1)
    previous: set[str] = set()
    for report in reports:
        ids = report.epc_list
        assert len(ids) == len(set(ids))
        assert set(report.additions) == set(ids) - previous
        assert set(report.deletions) == previous - set(ids)
        assert report.started <= report.ended
        assert all(t.count >= 1 and t.first_seen <= t.last_seen for t in report.tags)
        previous = set(ids)
    assert sum(r.reads for r in reports) == e.stats["accepted"]


def test_pallet_through_a_door_end_to_end():
    """Simulated reader → LLRP over TCP → driver Reads → cycle engine: one receiving report."""
    cases = 60
    scenario = PalletPass(cases=cases, pass_s=1.2, gap_s=30.0, outside=(1,), inside=(2,), direction="in")
    cycles = engine(cycle_mode="triggered", cycle_ms=0, inside_antennas=[2], outside_antennas=[1])
    with LlrpReaderSimulator(port=0, scenario=scenario, rate=4000) as sim:
        driver = LlrpReader("door-1", {"host": "127.0.0.1", "port": sim.port, "antennas": [1, 2]})
        driver.open()
        try:
            cycles.trigger(True, time.time())  # the door opens
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:
                for read in driver.read(0.1):
                    cycles.add(tag_read_from(read))
            (report,) = cycles.trigger(False, time.time())
        finally:
            driver.close()
    assert len(report.tags) == cases
    assert report.direction == "receiving"
    assert len(report.receiving) >= cases * 0.9
    assert report.tags[0].identity.startswith("urn:epc:id:sgtin:0614141.812345.")
