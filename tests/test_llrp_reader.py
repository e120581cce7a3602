"""LlrpReader driver against the LLRP reader simulator over real loopback TCP."""

from __future__ import annotations

import socket
import time

import pytest

from drivers import load
from drivers.base import DeviceGone, DeviceUnavailable
from drivers.llrp import LlrpReader
from drivers.llrp.inventory import ROSPEC_ID, transmit_power_index
from gateway.decode.epc import decode_epc
from gateway.device_runner import DeviceRunner
from simulators.llrp_reader import LingeringTag, LlrpReaderSimulator, Mix, PalletPass, TagPopulation
from simulators.sgtin import sgtin96


def reader(sim: LlrpReaderSimulator, **settings) -> LlrpReader:
    return LlrpReader("dock-door-1", {"host": "127.0.0.1", "port": sim.port, "connect_timeout": 2.0, **settings})


def read_for(driver: LlrpReader, seconds: float, until=None) -> list:
    reads: list = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reads.extend(driver.read(0.1))
        if until is not None and until(reads):
            break
    return reads


def test_registry_finds_the_driver():
    assert load("llrp") is LlrpReader
    assert LlrpReader.content == "epc"


def test_sgtin96_encoder_matches_the_tds_example():
    assert sgtin96("0614141", "812345", 6789, 3).hex().upper() == "3074257BF7194E4000001A85"


def test_a_pallet_of_hundreds_of_cases():
    cases = 300
    with LlrpReaderSimulator(port=0, scenario=PalletPass(cases=cases, pass_s=2.0, gap_s=5.0), rate=4000) as sim:
        driver = reader(sim, antennas=[1, 2])
        driver.open()
        try:
            reads = read_for(driver, 4.0, until=lambda r: len({x.payload for x in r}) >= cases
                             and r[-1].meta["antenna"] == 2)
        finally:
            driver.close()
    epcs = {r.payload for r in reads}
    assert len(epcs) == cases
    first = reads[0]
    assert first.device == "dock-door-1" and first.driver == "llrp" and first.content == "epc"
    assert first.payload == first.payload.upper() and len(first.payload) == 24
    assert set(first.meta) >= {"antenna", "rssi", "first_seen", "seen_count", "reader_time"}
    assert -128 <= first.meta["rssi"] < 0
    assert abs(first.meta["first_seen"] - time.time()) < 30
    decoded = decode_epc(first.payload)
    assert decoded["valid"] and decoded["scheme"] == "sgtin-96" and decoded["gtin"] == "80614141123458"
    # the door scenario: the outside antenna (1) sees the pallet before the inside one (2)
    first_on = {}
    for r in reads:
        first_on.setdefault(r.meta["antenna"], r.meta["first_seen"])
    assert first_on[1] < first_on[2]


def test_setup_is_what_a_real_reader_needs():
    with LlrpReaderSimulator(port=0, scenario=TagPopulation(count=5), rate=500) as sim:
        driver = reader(sim, antennas=[2, 3], transmit_power=27.3, session=2, tag_population=64,
                        report_every_n_tags=10, keepalive_ms=250)
        driver.open()
        try:
            (rospec,) = sim.rospecs
            assert rospec.rospec_id == ROSPEC_ID
            (ai,) = rospec.ai_specs
            assert ai.antenna_ids == (2, 3)
            configs = ai.inventory_specs[0].antenna_configurations
            assert [c.antenna_id for c in configs] == [2, 3]
            # 27.3 dBm -> the strongest table entry not above it: 27.25 dBm (index 70 in 0.25 dB steps from 10)
            assert configs[0].transmitter.transmit_power == 70
            singulation = configs[0].inventory[0].singulation
            assert (singulation.session, singulation.tag_population) == (2, 64)
            assert rospec.report_spec.n == 10
            keepalive_s, _ = sim.reader_config
            assert keepalive_s == 0.25
            reads = read_for(driver, 2.0, until=lambda r: len(r) >= 20)
            assert {r.meta["antenna"] for r in reads} <= {2, 3}
            read_for(driver, 2.0, until=lambda r: sim.stats["keepalive_acks"] >= 1)  # acks are sent while reading
            assert sim.stats["keepalive_acks"] >= 1
        finally:
            driver.close()
        assert sim.wait_until(lambda: not sim.connected, 2.0)  # CLOSE_CONNECTION honoured


def test_the_final_report_at_stop_is_delivered():
    """A reader sends what it still buffers between STOP_ROSPEC and its response: those tags are reads."""
    population = TagPopulation(count=12, antennas=(1,))
    with LlrpReaderSimulator(port=0, scenario=population, rate=2000) as sim:
        # N = 0 and an hour between GET_REPORTs: the reader keeps every tag until the inventory stops
        driver = reader(sim, report_every_n_tags=0, report_interval_ms=3_600_000)
        delivered: list = []
        runner = DeviceRunner(driver, delivered.extend)
        runner.start()
        try:
            assert sim.wait_until(lambda: sim.stats["tag_reads"] >= 200, 5.0)
            assert sim.stats["reports_sent"] == 0 and delivered == []
        finally:
            runner.stop()
        assert runner.state.state == "stopped"
        assert sim.wait_until(lambda: not sim.connected, 2.0)
    assert sim.stats["reports_sent"] == 1 and sim.stats["tags_reported"] == 12
    assert sorted(r.payload for r in delivered) == sorted(s.epc.hex().upper() for s in population.sightings(0))
    assert all(r.meta["seen_count"] > 1 for r in delivered)
    assert runner.state.reads == 12


def test_transmit_power_table_lookup():
    table = ((1, 1000), (2, 1025), (3, 1050))
    assert transmit_power_index(table, 10.3) == (2, 10.25)
    assert transmit_power_index(table, 40) == (3, 10.5)
    assert transmit_power_index(table, 5) == (1, 10.0)


def test_interval_reporting_aggregates_on_the_reader():
    with LlrpReaderSimulator(port=0, scenario=TagPopulation(count=20, antennas=(1,)), rate=2000) as sim:
        driver = reader(sim, report_every_n_tags=0, report_interval_ms=300)
        driver.open()
        try:
            reads = read_for(driver, 2.0, until=lambda r: len(r) >= 20)
        finally:
            driver.close()
    assert len({r.payload for r in reads}) == 20
    assert max(r.meta["seen_count"] for r in reads) > 1  # GET_REPORT collected several reads per tag


def test_lingering_tag_is_weak_and_intermittent():
    with LlrpReaderSimulator(port=0, scenario=Mix((LingeringTag(probability=0.05), TagPopulation(count=10, antennas=(1,)))),
                             rate=2000) as sim:
        driver = reader(sim, antennas=[1])
        driver.open()
        try:
            reads = read_for(driver, 1.0)
        finally:
            driver.close()
    lingering = LingeringTag().epc.hex().upper()
    weak = [r for r in reads if r.payload == lingering]
    strong = [r for r in reads if r.payload != lingering]
    assert weak and len(weak) < len(strong) / 10 * 2
    assert max(r.meta["rssi"] for r in weak) <= -76 < min(r.meta["rssi"] for r in strong)


def test_reader_reboot_gives_device_gone_then_reopens():
    with LlrpReaderSimulator(port=0, scenario=TagPopulation(count=10), rate=1000) as sim:
        driver = reader(sim, keepalive_ms=500)
        driver.open()
        assert read_for(driver, 1.0, until=lambda r: r)
        sim.reboot(downtime=1.0)
        with pytest.raises(DeviceGone):
            read_for(driver, 3.0)
        driver.close()
        with pytest.raises(DeviceUnavailable, match="cannot connect"):
            driver.open()  # the reader is still booting: connection refused
        assert sim.wait_until(lambda: time.monotonic() > sim._down_until + 0.05, 3.0)
        driver.open()
        try:
            assert read_for(driver, 2.0, until=lambda r: r)
        finally:
            driver.close()
        assert sim.stats["connections"] == 2


def test_silent_reader_is_gone_after_three_missed_keepalives():
    with LlrpReaderSimulator(port=0, scenario=TagPopulation(count=1), rate=50) as sim:
        driver = reader(sim, keepalive_ms=200)
        driver.open()
        try:
            assert read_for(driver, 1.0, until=lambda r: r)
            sim.hang(5.0)
            started = time.monotonic()
            with pytest.raises(DeviceGone, match="keepalives missed"):
                read_for(driver, 3.0)
            assert 0.5 <= time.monotonic() - started < 2.0
        finally:
            driver.close()


def test_second_client_is_refused_by_the_reader():
    with LlrpReaderSimulator(port=0, scenario=TagPopulation(count=1), rate=10) as sim:
        first = reader(sim)
        first.open()
        try:
            with pytest.raises(DeviceUnavailable, match="client-initiated connection already exists"):
                reader(sim).open()
        finally:
            first.close()
        assert sim.stats["refused"] == 1


def test_an_antenna_the_reader_lacks_is_a_clear_error():
    with LlrpReaderSimulator(port=0, antennas=4) as sim:
        with pytest.raises(DeviceUnavailable, match="antenna 9 does not exist"):
            reader(sim, antennas=[1, 9]).open()


def test_reader_rejection_is_reported_with_its_status():
    class StubbornReader(LlrpReaderSimulator):
        def capabilities(self):
            # claim 8 antennas so the driver asks for one the reader will refuse in ADD_ROSPEC
            from dataclasses import replace
            return replace(super().capabilities(), max_antennas=8)

    with StubbornReader(port=0, antennas=4) as sim:
        with pytest.raises(DeviceUnavailable, match="refused ADD_ROSPEC: A_OutOfRange: antenna 7 does not exist"):
            reader(sim, antennas=[7]).open()


def test_nothing_listening_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeviceUnavailable, match=f"127.0.0.1:{port}"):
        LlrpReader("x", {"host": "127.0.0.1", "port": port, "connect_timeout": 1.0}).open()


def test_a_peer_that_is_not_a_reader():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        driver = LlrpReader("x", {"host": "127.0.0.1", "port": server.getsockname()[1], "connect_timeout": 1.0})
        import threading

        def talk_http():
            conn, _ = server.accept()
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            time.sleep(0.5)
            conn.close()

        threading.Thread(target=talk_http, daemon=True).start()
        with pytest.raises(DeviceUnavailable, match="setup failed"):
            driver.open()
    finally:
        server.close()


@pytest.mark.slow
def test_a_busy_reader_loses_no_tag_report():
    """2000 reads/s, one report per tag: every tag the reader reports is a read (speed: benchmarks/bench_rfid.py)."""
    with LlrpReaderSimulator(port=0, scenario=TagPopulation(count=400), rate=2000) as sim:
        driver = reader(sim)
        driver.open()
        try:
            reads = read_for(driver, 8.0, until=lambda r: len({x.payload for x in r}) == 400)
            reads += driver.flush()
        finally:
            driver.close()
        reported = sim.stats["tags_reported"]
    assert reported > 400 and len(reads) == reported
    assert len({r.payload for r in reads}) == 400


@pytest.mark.slow
def test_simulate_llrp_command_line():
    import os
    import re
    import signal
    import subprocess
    import sys

    code = ("import argparse, sys; import simulators.llrp_reader as m; p = argparse.ArgumentParser(); "
            "m.add_arguments(p); sys.exit(m.run(p.parse_args(sys.argv[1:])))")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-c", code, "--port", "0", "--scenario", "steady", "--tags", "7"],
                            cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        banner = proc.stdout.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", banner).group(1))
        driver = LlrpReader("cli", {"host": "127.0.0.1", "port": port})
        driver.open()
        try:
            reads = read_for(driver, 3.0, until=lambda r: len({x.payload for x in r}) == 7)
        finally:
            driver.close()
        assert len({r.payload for r in reads}) == 7
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()


def test_impinj_search_mode_uses_the_vendor_extension():
    from drivers.llrp.params import VENDOR_IMPINJ

    with LlrpReaderSimulator(port=0, scenario=TagPopulation(count=2), rate=100, manufacturer=VENDOR_IMPINJ) as sim:
        driver = reader(sim, search_mode="single-target-suppression", session=1)
        driver.open()
        try:
            (rospec,) = sim.rospecs
            command = rospec.ai_specs[0].inventory_specs[0].antenna_configurations[0].inventory[0]
            (custom,) = command.extra
            assert (custom.vendor, custom.subtype, custom.data) == (VENDOR_IMPINJ, 23, b"\x00\x03")
            assert read_for(driver, 1.0, until=lambda r: r)
        finally:
            driver.close()
    # other readers never get Impinj parameters
    with LlrpReaderSimulator(port=0, scenario=TagPopulation(count=2), rate=100, manufacturer=161) as sim:
        driver = reader(sim, search_mode="dual-target")
        driver.open()
        try:
            command = sim.rospecs[0].ai_specs[0].inventory_specs[0].antenna_configurations[0].inventory[0]
            assert command.extra == ()
        finally:
            driver.close()


def test_tag_reports_in_the_same_segment_as_a_reply_are_kept():
    """A busy reader's START_ROSPEC reply and its first ROAccessReport arrive in one TCP segment."""
    from drivers.llrp.messages import StartROSpec, StartROSpecResponse
    from simulators import llrp_wire as w

    ours, theirs = socket.socketpair()
    driver = LlrpReader("dock-door-1", {"host": "127.0.0.1", "port": 1})
    driver.sock = ours
    try:
        epc = sgtin96("0614141", "812345", 6789, 3)
        theirs.sendall(w.message(w.RESPONSE_TO[w.START_ROSPEC], 1, w.status())
                       + w.ro_access_report(2, [w.TagSeen(epc, antenna_id=1, peak_rssi=-50)]))
        driver._transact(StartROSpec(ROSPEC_ID), StartROSpecResponse, 2.0)
        reads = read_for(driver, 1.0, until=lambda r: r)
    finally:
        ours.close()
        theirs.close()
    assert [r.payload for r in reads] == [epc.hex().upper()]
