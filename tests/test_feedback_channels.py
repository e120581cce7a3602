"""Feedback channels (gateway/feedback/): config, the bounded worker, serial bytes on a real pty,
GPIO patterns on the recording stand-in, the MQTT payload."""

from __future__ import annotations

import json
import threading
import time

import pytest

from drivers.serial_scanner import SerialScanner
from gateway.config import ConfigError, parse
from gateway.feedback import worker as worker_mod
from gateway.feedback.gpio import IndicatorChannel, Pattern, RecordedLines, steps, validate_indicators
from gateway.feedback.mqtt import payload
from gateway.feedback.serial import SerialFeedback, commands_for
from gateway.outcomes import Outcome
from simulators.serial_scanner import SerialScannerSimulator


def document(device: dict | None = None, **sections) -> dict:
    dev = {"name": "door-1", "driver": "serial-scanner", "port": "/dev/null"}
    dev.update(device or {})
    return {"gateway": {"id": "gw"}, "mqtt": {"host": "localhost"}, "device": [dev], **sections}


def problems(doc: dict) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse(doc)
    return err.value.problems


def wait(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def test_feedback_config_is_validated_naming_the_key():
    cfg = parse(document({"feedback": {"accepted": "\u0007", "not_accepted": "\u001bNAK\r"},
                          "feedback_preset": "honeywell-2020"}))
    table = commands_for(cfg.devices[0].settings)
    assert table["accepted"] == b"\x07" and table["not_accepted"] == b"\x1bNAK\r"
    assert table["rejected"] == b"\x1b8"  # from the preset
    assert any("device[0] (door-1).feedback" in p and "'acepted' is not an outcome" in p
               for p in problems(document({"feedback": {"acepted": "x"}})))
    assert any("feedback_preset" in p for p in problems(document({"feedback_preset": "acme"})))
    assert any("only bytes" in p for p in problems(document({"feedback": {"accepted": "\u20ac"}})))
    assert any("feedback.queue" in p for p in problems(document(feedback={"queue": 0})))
    assert any("feedback.beep" in p for p in problems(document(feedback={"beep": True})))


def test_indicator_config():
    good = [{"name": "light", "chip": "/dev/gpiochip0", "devices": ["door-1"],
             "accepted": {"line": 17, "ms": 300}, "rejected": {"line": 27, "ms": 100, "blink": 3}}]
    [ind] = parse(document(indicator=good)).extra["indicator"]
    assert ind.pattern("rejected") == Pattern(27, 100, 3) and ind.lines() == [17, 27]
    found: list[str] = []
    validate_indicators([{"name": "x", "chip": "c", "acepted": {"line": 1}, "rejected": {"line": -1, "ms": 5},
                          "duplicate": {"line": 2, "colour": "red"}}], "indicator", found)
    assert any(p.startswith("indicator[0].acepted: unknown key") for p in found)
    assert any(p.startswith("indicator[0].rejected.line") for p in found)
    assert any(p.startswith("indicator[0].duplicate.colour") for p in found)


def test_worker_drops_the_oldest_when_full_and_counts_failures():
    gate = threading.Event()
    done: list[int] = []

    def send(n: int) -> None:
        gate.wait(5)
        if n == 9:
            raise OSError("port gone")
        done.append(n)

    w = worker_mod.SignalWorker("t", send, size=3)
    w.put(0)
    assert wait(lambda: not w.queue)  # the worker holds 0, stuck in the channel
    for n in range(1, 10):
        w.put(n)  # never blocks, however stuck the channel is
    gate.set()
    assert wait(lambda: w.sent + w.failed == 4)
    # the first was already being sent; of the rest only the newest three were kept
    assert done == [0, 7, 8] and w.dropped == 6 and w.failed == 1 and "port gone" in w.last_error
    w.stop()


def test_serial_feedback_bytes_reach_the_scanner(tmp_path):
    with SerialScannerSimulator(str(tmp_path / "scanner")) as sim:
        cfg = parse(document({"port": sim.path, "feedback": {"accepted": "\u0007", "duplicate": "DUP\r"}}))
        driver = SerialScanner("door-1", cfg.devices[0].settings)
        driver.open()
        try:
            channel = SerialFeedback(cfg, lambda name: driver, 8)
            channel(Outcome("accepted", "door-1"))
            channel(Outcome("rejected", "door-1"))      # nothing configured for it
            channel(Outcome("duplicate", "door-1"))
            channel(Outcome("accepted", "door-9"))      # another device
            assert sim.wait_received(b"DUP\r")
            assert sim.host_bytes() == b"\x07DUP\r"
            channel.stop()
        finally:
            driver.close()


def test_serial_feedback_to_a_device_that_is_not_running_is_counted():
    cfg = parse(document({"feedback": {"accepted": "\u0007"}}))
    channel = SerialFeedback(cfg, lambda name: None, 8)
    channel(Outcome("accepted", "door-1"))
    assert wait(lambda: channel.status()[0]["failed"] == 1)
    assert "not running" in channel.status()[0]["error"]
    channel.stop()


def test_patterns():
    assert steps(Pattern(17, 300)) == [(17, True, 0.3), (17, False, 0.0)]
    assert steps(Pattern(4, 100, 2)) == [(4, True, 0.1), (4, False, 0.1), (4, True, 0.1), (4, False, 0.0)]


def test_indicator_plays_patterns_on_its_lines_for_its_devices(tmp_path):
    [ind] = validate_indicators([{"name": "light", "chip": "record:" + str(tmp_path / "gpio.jsonl"),
                                  "devices": ["door-1"], "accepted": {"line": 17, "ms": 5},
                                  "rejected": {"line": 27, "ms": 5, "blink": 2}}], "indicator", [])
    channel = IndicatorChannel(ind, 8)
    channel(Outcome("rejected", "door-1"))
    channel(Outcome("accepted", "door-2"))   # not this indicator's device
    channel(Outcome("duplicate", "door-1"))  # no pattern for it
    channel(Outcome("accepted", "door-1"))
    assert wait(lambda: channel.status()["sent"] == 2)
    channel.stop()
    lines = [json.loads(line) for line in (tmp_path / "gpio.jsonl").read_text().splitlines()]
    changes = [(c["line"], c["on"]) for c in lines]
    assert changes[:6] == [(27, True), (27, False), (27, True), (27, False), (17, True), (17, False)]
    assert all(not on for _, on in changes[6:])  # stopping leaves every line off
    times = [c["time"] for c in lines]
    assert times == sorted(times)


def test_indicator_without_gpiod_or_chip_counts_failures():
    [ind] = validate_indicators([{"name": "light", "chip": "/nonexistent/gpiochip9",
                                  "accepted": {"line": 1}}], "indicator", [])
    channel = IndicatorChannel(ind, 8)
    channel(Outcome("accepted", "door-1"))
    assert wait(lambda: channel.status()["failed"] == 1)
    channel.stop()


def test_recorded_lines_in_memory():
    lines = RecordedLines()
    lines.set(3, True)
    lines.set(3, False)
    assert [(line, on) for _, line, on in lines.changes] == [(3, True), (3, False)]


def test_mqtt_payload_carries_the_outcome_not_in_the_topic():
    out = payload(Outcome("rejected", "door-1", "garbage", reason="not GS1", read_wall=1_790_000_000.0,
                          time=1_790_000_000.25), "gw")
    assert out == {"kind": "rejected", "gateway": "gw", "device": "door-1", "time": "2026-09-21T14:13:20.250Z",
                   "text": "garbage", "reason": "not GS1", "readTime": "2026-09-21T14:13:20.000Z"}


def test_metrics_for_manifest_progress_and_feedback_channels():
    from gateway.metrics import StatusCollector, metrics_text

    snapshot = {"version": "x", "gateway": "gw", "uptime_s": 1,
                "manifest": {"active": {"name": "truck-0815", "expected": 40, "seen": 12, "extra": 1}},
                "feedback": {"channels": [{"channel": "serial:door-1", "sent": 5, "failed": 2, "dropped": 1}]}}
    text = metrics_text(StatusCollector(lambda: dict(snapshot), 0.0))[0].decode()
    assert 'tally_manifest_expected{manifest="truck-0815"} 40.0' in text
    assert 'tally_manifest_seen{manifest="truck-0815"} 12.0' in text
    assert 'tally_feedback_signals_total{channel="serial:door-1",result="failed"} 2.0' in text
    assert 'tally_feedback_signals_total{channel="serial:door-1",result="dropped"} 1.0' in text
