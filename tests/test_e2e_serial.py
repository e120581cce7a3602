"""End to end: a pty serial scanner -> the real daemon -> a real mosquitto -> a subscriber.

Covers the spine's promises: valid standalone EPCIS events, rejects for garbage, nothing accepted lost
across SIGKILL, SIGTERM and broker outages, and a scanner unplugged and plugged back in.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulators.serial_scanner import SerialScannerSimulator
from tests.helpers.gateway import ROOT, wait_status, write_config
from tests.helpers.mqtt import Subscriber

pytestmark = pytest.mark.slow  # each test starts the gateway (and a broker) as its own process

GTIN = "09506000134352"  # GS1's example GTIN (valid check digit)
SSCC = "106141411234567897"


def unit(i: int) -> str:
    return f"]d201{GTIN}21S{i:06d}"


def serial_of(event: dict) -> str:
    return event["tally:raw"][len("]d201") + 14 + len("21"):]


@pytest.fixture
def scanner(tmp_path):
    sim = SerialScannerSimulator(str(tmp_path / "scanner"), terminator="crlf").start()
    yield sim
    sim.stop()


def config_for(tmp_path: Path, broker_port: int, scanner, **kw) -> Path:
    device = {"name": "door-1", "driver": "serial-scanner", "port": scanner.path, "biz_step": "receiving",
              "disposition": "in_progress", "dedupe_ms": 0}
    device.update(kw.pop("device", {}))
    return write_config(tmp_path / "tally.toml", broker_port=broker_port, data_dir=tmp_path / "data",
                        devices=[device], **kw)


def first_seen_in_order(events: list[dict]) -> bool:
    """At-least-once may repeat an event, but never lets a later one overtake an earlier one."""
    seen: list[int] = []
    for event in events:
        if event["tally:seq"] not in seen:
            seen.append(event["tally:seq"])
    return seen == sorted(seen)


def wait_open(gw, count: int = 1) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if gw.log().count("door-1: open") >= count:
            return
        assert gw.proc.poll() is None, gw.log()
        time.sleep(0.05)
    raise AssertionError("device never opened:\n" + gw.log())


def outbox_rows(data_dir: Path) -> list[dict]:
    conn = sqlite3.connect(data_dir / "outbox.sqlite3")
    try:
        return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM outbox WHERE stream='events' ORDER BY id")]
    finally:
        conn.close()


def test_scans_become_valid_epcis_events(tmp_path, mosquitto, subscriber, scanner, gateway_process, assert_epcis):
    modes = [{"text": "MODE-SHIPPING", "biz_step": "shipping", "disposition": "in_transit"}]
    gw = gateway_process(config_for(tmp_path, mosquitto.port, scanner, modes=modes,
                                    extra={"gateway": {"company_prefixes": ["0614141"]}}))
    wait_open(gw)
    scanner.scan(unit(1))                                        # unit: GTIN + serial
    scanner.scan(f"]C101{GTIN}17271231" + "10LOT42\x1d3012")    # class: GTIN + lot, 12 of them
    scanner.scan(f"]C100{SSCC}")                                 # logistic unit
    scanner.scan("MODE-SHIPPING")                                # a mode barcode: no event
    scanner.scan(unit(2))
    events = subscriber.wait_events(4)
    assert len(events) == 4, gw.log()
    for event in events:
        assert_epcis(event)
        assert event["tally:gateway"] == "test-gw" and event["tally:device"] == "door-1"
        assert event["readPoint"] == {"id": "urn:epc:id:sgln:0614141.07346.1234"}
        assert event["bizLocation"] == {"id": "urn:epc:id:sgln:0614141.07346.0"}
    assert [e["tally:seq"] for e in events] == [1, 2, 3, 4]
    first, lot, pallet, shipped = events
    assert first["epcList"] == [f"https://id.gs1.org/01/{GTIN}/21/S000001"]
    assert first["bizStep"] == "receiving" and first["disposition"] == "in_progress"
    assert first["tally:raw"] == unit(1)
    assert lot["quantityList"] == [{"epcClass": f"https://id.gs1.org/01/{GTIN}/10/LOT42", "quantity": 12}]
    assert pallet["epcList"] == ["urn:epc:id:sscc:0614141.1123456789"]
    assert shipped["bizStep"] == "shipping" and shipped["disposition"] == "in_transit"
    assert len({e["eventID"] for e in events}) == 4
    status = [json.loads(p) for t, p, _ in subscriber.messages if t == "tally/test-gw/status"]
    assert status and status[0]["state"] == "online"
    # Barcode content never reaches a topic.
    assert all(t.split("/")[-1] in ("events", "status", "rejects", "positions", "feedback")
               for t, _, _ in subscriber.messages)
    assert gw.terminate() == 0
    assert "Traceback" not in gw.log()


def test_garbage_binary_and_oversized_lines_become_rejects(tmp_path, mosquitto, subscriber, scanner,
                                                            gateway_process):
    gw = gateway_process(config_for(tmp_path, mosquitto.port, scanner, device={"max_length": 256}))
    wait_open(gw)
    scanner.scan(b"\xff\xfe\x00\x01binary")
    scanner.scan("A" * 5000)
    scanner.scan(f"]C101{GTIN[:-1]}9")            # wrong check digit
    scanner.scan("hello, not a barcode")
    scanner.scan("\x1b[31m;rm -rf /\x07")           # terminal escapes and a "command": stored, never run
    scanner.scan(unit(7))                          # and the scanner still works afterwards
    events = subscriber.wait_events(1)
    rejects = subscriber.wait_events(5, suffix="rejects")
    assert len(events) == 1 and serial_of(events[0]) == "S000007"
    assert len(rejects) == 5, rejects
    errors = [r["error"] for r in rejects]
    assert "not utf-8" in errors[0].lower()
    assert "oversized" in errors[1]
    assert "check digit" in errors[2].lower()
    assert all(r["device"] == "door-1" and r["raw"] for r in rejects)
    assert [r["seq"] for r in rejects] == [1, 2, 3, 4, 5]
    assert gw.proc.poll() is None
    assert gw.terminate() == 0
    log = gw.log()
    assert "Traceback" not in log and "\x1b" not in log and "\x07" not in log  # control characters escaped


def test_sigkill_mid_stream_loses_nothing_accepted(tmp_path, mosquitto, subscriber, scanner, gateway_process):
    config = config_for(tmp_path, mosquitto.port, scanner)
    gw = gateway_process(config)
    wait_open(gw)
    scanner.play((unit(i) for i in range(400)), rate=400)
    # mid-stream: some delivered (a loaded machine may take longer than the 1 s the scans take to type)
    assert subscriber.wait_for(lambda s: len(s.on("events")) >= 60, 20), gw.log()
    gw.kill()  # SIGKILL, mid-stream
    received_before = {e["eventID"]: serial_of(e) for e in subscriber.on("events")}
    stored = {e["eventID"]: serial_of(e) for e in outbox_rows(tmp_path / "data")}
    accepted = set(received_before.values()) | set(stored.values())
    assert len(accepted) > 50, "the kill came too late to be mid-stream"
    gw2 = gateway_process(config)
    wait_open(gw2)
    assert subscriber.wait_for(lambda s: accepted <= {serial_of(e) for e in s.on("events")}, 20), gw2.log()
    by_id = {e["eventID"]: serial_of(e) for e in subscriber.on("events")}
    # A redelivered event keeps its eventID, so consumers can de-duplicate.
    for event_id, serial in stored.items():
        assert by_id.get(event_id) == serial
    assert first_seen_in_order(subscriber.on("events"))
    assert gw2.terminate() == 0


def test_sigterm_commits_everything_and_exits_0(tmp_path, mosquitto, scanner, gateway_process):
    mosquitto.stop()  # the broker is down: everything must wait in the outbox
    config = config_for(tmp_path, mosquitto.port, scanner)
    gw = gateway_process(config)
    wait_open(gw)
    for i in range(50):
        scanner.scan(unit(i))
    time.sleep(0.5)
    assert gw.terminate() == 0
    assert "stopped cleanly" in gw.log()
    assert sorted(serial_of(e) for e in outbox_rows(tmp_path / "data")) == [f"S{i:06d}" for i in range(50)]
    mosquitto.start()
    sub = Subscriber(mosquitto.host, mosquitto.port, "tally/#")
    try:
        gw2 = gateway_process(config)
        events = sub.wait_events(50, timeout=20)
        assert [serial_of(e) for e in events] == [f"S{i:06d}" for i in range(50)]  # in order
        assert [e["tally:seq"] for e in events] == list(range(1, 51))
        assert gw2.terminate() == 0
    finally:
        sub.close()
    assert outbox_rows(tmp_path / "data") == []  # delivered rows are deleted


def test_broker_outage_mid_stream_loses_nothing(tmp_path, scanner, gateway_process):
    from gateway.broker import Mosquitto

    broker = Mosquitto(persistence=True).start()
    sub = Subscriber(broker.host, broker.port, "tally/+/events", client_id="durable-sub", persistent=True)
    try:
        assert sub.wait_for(lambda s: s.client.is_connected(), 10)
        gw = gateway_process(config_for(tmp_path, broker.port, scanner))
        wait_open(gw)
        scanner.play((unit(i) for i in range(300)), rate=150)
        time.sleep(0.7)
        broker.stop()  # mid-stream
        time.sleep(1.5)
        broker.start()
        assert sub.wait_for(lambda s: {serial_of(e) for e in s.on("events")} >= {f"S{i:06d}" for i in range(300)},
                            30), (len(sub.on("events")), gw.log()[-3000:])
        assert "lost" in gw.log() or "cannot connect" in gw.log()
        assert first_seen_in_order(sub.on("events"))
        assert gw.terminate() == 0
    finally:
        sub.close()
        broker.close()


def test_unplugged_scanner_is_reopened(tmp_path, mosquitto, subscriber, scanner, gateway_process):
    gw = gateway_process(config_for(tmp_path, mosquitto.port, scanner))
    wait_open(gw)
    scanner.scan(unit(1))
    assert len(subscriber.wait_events(1)) == 1
    scanner.unplug()
    assert gw.wait_log("door-1: gone", 10), gw.log()
    time.sleep(0.5)
    scanner.replug()
    wait_open(gw, 2)
    scanner.scan(unit(2))
    events = subscriber.wait_events(2)
    assert [serial_of(e) for e in events] == ["S000001", "S000002"]
    snapshot = wait_status(tmp_path / "tally.toml", lambda s: s["devices"][0]["reads"] == 2)
    assert snapshot["devices"][0]["state"] == "open" and snapshot["broker"]["state"] == "connected"
    assert snapshot["devices"][0]["reads"] == 2
    assert gw.terminate() == 0
    status = subprocess.run([sys.executable, "-m", "gateway", "status", "-c", str(tmp_path / "tally.toml")],
                            capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert status.returncode == 1 and "NOT RUNNING" in status.stdout


def test_scanner_absent_at_start_is_picked_up_later(tmp_path, mosquitto, subscriber, scanner, gateway_process):
    scanner.unplug()
    gw = gateway_process(config_for(tmp_path, mosquitto.port, scanner))
    assert gw.wait_log("will keep trying", 10), gw.log()
    scanner.replug()
    wait_open(gw)
    scanner.scan(unit(3))
    assert [serial_of(e) for e in subscriber.wait_events(1)] == ["S000003"]
    assert gw.terminate() == 0


def catches(pid: int, sig: int) -> bool:
    """Has process `pid` installed a handler for `sig` (SigCgt in /proc/PID/status)?"""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(caught >> (sig - 1) & 1)


def test_sigterm_while_starting_is_a_clean_stop(tmp_path, mosquitto, scanner, gateway_process):
    gw = gateway_process(config_for(tmp_path, mosquitto.port, scanner))
    # A signal before the interpreter runs our first line is the kernel's default action, not ours to
    # handle: wait until the CLI has taken SIGTERM (its first step), then stop it inside start-up.
    deadline = time.monotonic() + 20
    while not catches(gw.proc.pid, signal.SIGTERM) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert gw.terminate() == 0, gw.log()
