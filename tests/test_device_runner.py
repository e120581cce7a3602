"""The device runner: reopens what goes away, survives driver bugs, logs a lasting failure once."""

from __future__ import annotations

import logging
import threading
import time

from drivers.base import DeviceGone, DeviceUnavailable, Driver, Read
from gateway import device_runner
from gateway.device_runner import DeviceRunner


class Flaky(Driver):
    name = "flaky"
    content = "barcode"

    def __init__(self, script):
        super().__init__("flaky-1", {})
        self.script = list(script)
        self.opens = 0

    def open(self):
        self.opens += 1
        step = self.script.pop(0) if self.script else "ok"
        if step == "absent":
            raise DeviceUnavailable("not plugged in")
        if step == "bug":
            raise RuntimeError("driver bug")

    def read(self, timeout):
        time.sleep(0.01)
        if self.opens == 3:
            raise DeviceGone("unplugged")
        return [self.make_read(f"scan-{self.opens}")]

    def close(self):
        pass


def test_reopens_after_absence_bugs_and_unplugs(monkeypatch, caplog):
    monkeypatch.setattr(device_runner, "BACKOFF_MIN", 0.01)
    monkeypatch.setattr(device_runner, "BACKOFF_MAX", 0.02)
    got: list[Read] = []
    seen = threading.Event()

    def sink(reads):
        got.extend(reads)
        if any(r.payload == "scan-4" for r in reads):
            seen.set()

    driver = Flaky(["absent", "bug", "ok", "ok"])
    runner = DeviceRunner(driver, sink)
    with caplog.at_level(logging.INFO, logger="tally.device"):
        runner.start()
        assert seen.wait(10), [r.payload for r in got]
        runner.stop()
    assert runner.state.state == "stopped"
    assert {r.payload for r in got} >= {"scan-4"}
    assert "gone (unplugged)" in caplog.text


def test_a_lasting_driver_bug_logs_its_traceback_once(monkeypatch, caplog):
    monkeypatch.setattr(device_runner, "BACKOFF_MIN", 0.005)
    monkeypatch.setattr(device_runner, "BACKOFF_MAX", 0.005)
    driver = Flaky(["bug"] * 50)
    runner = DeviceRunner(driver, lambda reads: None)
    with caplog.at_level(logging.WARNING, logger="tally.device"):
        runner.start()
        deadline = time.monotonic() + 5
        while driver.opens < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        runner.stop()
    assert driver.opens >= 20
    assert caplog.text.count("open failed unexpectedly") == 1
    assert runner.state.error is None or "driver bug" in runner.state.error


class AlwaysRaises(Driver):
    name = "broken"
    content = "barcode"

    def __init__(self):
        super().__init__("broken-1", {})
        self.reads = []

    def open(self):
        pass

    def read(self, timeout):
        self.reads.append(time.monotonic())
        raise OSError("I/O error on the bus")

    def close(self):
        pass


def test_a_read_that_keeps_failing_backs_off_and_is_counted_not_printed(monkeypatch, caplog):
    """0.1 logged a traceback ~4 times a second forever; now: once, then counted, with growing pauses."""
    monkeypatch.setattr(device_runner, "BACKOFF_MIN", 0.01)
    monkeypatch.setattr(device_runner, "FAILING_MAX", 0.16)
    driver = AlwaysRaises()
    runner = DeviceRunner(driver, lambda reads: None)
    with caplog.at_level(logging.WARNING, logger="tally.device"):
        runner.start()
        deadline = time.monotonic() + 10
        while len(driver.reads) < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        runner.stop()
    assert len(driver.reads) >= 8
    assert runner.state.errors >= 8
    assert caplog.text.count("Traceback") == 1 and caplog.text.count("read failed unexpectedly") == 1
    gaps = [b - a for a, b in zip(driver.reads, driver.reads[1:])]
    assert gaps[-1] > gaps[0] * 3  # it waits longer each time (10 ms doubling to 160 ms)


def test_backpressure_stops_reading_until_the_gate_opens():
    class Counting(Driver):
        name = "count"
        content = "barcode"

        def __init__(self):
            super().__init__("count-1", {})
            self.n = 0

        def open(self):
            pass

        def read(self, timeout):
            time.sleep(0.005)
            self.n += 1
            return [self.make_read(f"s{self.n}")]

        def close(self):
            pass

    room = threading.Event()
    driver = Counting()
    runner = DeviceRunner(driver, lambda reads: None, gate=room.is_set)
    runner.taken = 10**9  # the loop keeps up (the test has no loop)
    runner.start()
    time.sleep(0.3)
    assert driver.n == 0 and runner.state.paused and runner.state.pauses == 1
    room.set()
    deadline = time.monotonic() + 5
    while driver.n < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    runner.stop()
    assert driver.n >= 5 and not runner.state.paused
