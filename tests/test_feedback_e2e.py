"""End to end: scans on a pty scanner -> the real daemon -> signals back on the scanner, on a GPIO
stand-in and on `{root}/{id}/feedback`, checked against a manifest published retained on a real mosquitto."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers.gateway import ROOT, write_config

pytestmark = pytest.mark.slow

SSCC_A = "106141411234567897"
SSCC_B = "006141411234567890"
SSCC_C = "306141411234567891"
ACK, NAK, DUP, WRONG, DONE = b"\x06", b"\x15", b"DUP\r", b"\x1bWRONG\r", b"MODE\r"


def in_outbox_or_published(data_dir: Path, subscriber, raw: str) -> bool:
    """The event is committed: still in the outbox file, or already acknowledged by the broker."""
    if any(e.get("tally:raw") == raw for e in subscriber.on("events")):
        return True
    conn = sqlite3.connect(f"file:{data_dir / 'outbox.sqlite3'}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT payload FROM outbox WHERE stream='events'").fetchall()
    finally:
        conn.close()
    if any(json.loads(p).get("tally:raw") == raw for (p,) in rows):
        return True
    return any(e.get("tally:raw") == raw for e in subscriber.on("events"))


def wait_for_status(config: Path, line: str, timeout: float = 15.0) -> bool:
    """`tally status` (the snapshot the daemon writes once a second) shows `line`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run([sys.executable, "-m", "gateway", "status", "-c", str(config)], capture_output=True,
                             text=True, cwd=ROOT, timeout=30).stdout
        if line in out.splitlines():
            return True
        time.sleep(0.3)
    return False


def test_good_bad_duplicate_and_unexpected_scans(tmp_path, mosquitto, subscriber, scanner, gateway_process):
    manifest = {"name": "truck-0815", "devices": ["door-1"], "expected": [{"sscc": SSCC_A}, {"sscc": SSCC_C}]}
    subscriber.client.publish("tally/test-gw/manifest", json.dumps(manifest), qos=1, retain=True).wait_for_publish(5)
    gpio = tmp_path / "gpio.jsonl"
    data_dir = tmp_path / "data"
    device = {"name": "door-1", "driver": "serial-scanner", "port": scanner.path, "biz_step": "shipping",
              "dedupe_ms": 10_000,
              "feedback": {"accepted": "\u0006", "rejected": "\u0015", "duplicate": "DUP\r",
                           "unexpected": "\u001bWRONG\r", "mode": "MODE\r"}}
    raw = ('\n[feedback]\nmqtt = true\n'
           f'\n[[indicator]]\nname = "door-1-light"\nchip = "record:{gpio}"\ndevices = ["door-1"]\n'
           'accepted = { line = 17, ms = 20 }\nunexpected = { line = 27, ms = 10, blink = 3 }\n')
    config = write_config(tmp_path / "tally.toml", broker_port=mosquitto.port, data_dir=data_dir, devices=[device],
                          modes=[{"text": "CLOSE-MANIFEST", "action": "manifest-close"}], raw=raw)

    committed_at_ack: list[bool] = []
    ack_seen = threading.Event()

    def on_receive(data: bytes) -> None:
        if ACK in data and not ack_seen.is_set():
            committed_at_ack.append(in_outbox_or_published(data_dir, subscriber, f"]C100{SSCC_A}"))
            ack_seen.set()

    scanner.on_receive = on_receive
    gw = gateway_process(config)
    assert gw.wait_log("door-1: open", 15), gw.log()
    assert gw.wait_log("manifest 'truck-0815' active", 15), gw.log()

    expected = b""
    for text, signal in ((f"]C100{SSCC_A}", ACK), ("NOT-A-LABEL", NAK), (f"]C100{SSCC_A}", DUP),
                         (f"]C100{SSCC_B}", WRONG)):
        scanner.scan(text)
        expected += signal
        assert scanner.wait_received(signal, expected.count(signal)), (scanner.host_bytes(), gw.log())
        assert scanner.host_bytes() == expected, gw.log()  # the right signal, in order, nothing else
    assert committed_at_ack == [True], "the accepted signal came before the event was committed"

    assert subscriber.wait_for(lambda s: len(s.on("feedback")) >= 4), subscriber.messages
    feedback = subscriber.on("feedback")
    assert [f["kind"] for f in feedback[:4]] == ["accepted", "rejected", "duplicate", "unexpected"]
    assert feedback[0]["manifest"] == "truck-0815" and feedback[0]["seq"] >= 1
    assert feedback[1]["reason"]
    events = subscriber.wait_events(2)
    marks = {e["tally:raw"]: e.get("tally:manifest") for e in events}
    assert marks[f"]C100{SSCC_A}"] == {"name": "truck-0815", "expected": True}
    assert marks[f"]C100{SSCC_B}"] == {"name": "truck-0815", "expected": False}

    scanner.scan("CLOSE-MANIFEST")
    assert scanner.wait_received(DONE), gw.log()
    assert subscriber.wait_for(lambda s: s.on("manifest-report")), gw.log()
    [report] = subscriber.on("manifest-report")
    assert report["name"] == "truck-0815" and report["expected"] == 2 and report["seen"] == 1
    assert report["missing"] == [{"sscc": SSCC_C, "quantity": 1}]
    assert report["extra"] == [{"sscc": SSCC_B, "count": 1}]
    assert report["reason"] == "closed by mode barcode on door-1"
    assert gw.terminate() == 0

    changes = [json.loads(line) for line in gpio.read_text().splitlines()]
    on = [(c["line"]) for c in changes if c["on"]]
    assert on == [17, 27, 27, 27], changes


def test_manifest_progress_survives_a_restart_and_closes_by_remote_command(tmp_path, mosquitto, subscriber,
                                                                          scanner, gateway_process):
    manifest = {"name": "van-7", "expected": [{"sscc": SSCC_A}, {"sscc": SSCC_C}]}
    subscriber.client.publish("tally/test-gw/manifest", json.dumps(manifest), qos=1, retain=True).wait_for_publish(5)
    device = {"name": "door-1", "driver": "serial-scanner", "port": scanner.path, "dedupe_ms": 0,
              "feedback": {"accepted": "\u0006", "complete": "DONE\r"}}
    config = write_config(tmp_path / "tally.toml", broker_port=mosquitto.port, data_dir=tmp_path / "data",
                          devices=[device], extra={"feedback": {"mqtt": True}})
    gw = gateway_process(config)
    assert gw.wait_log("manifest 'van-7' active", 15) and gw.wait_log("door-1: open", 15), gw.log()
    scanner.scan(f"]C100{SSCC_A}")
    assert scanner.wait_received(ACK), gw.log()
    gw.kill()  # no clean stop: what the outbox committed is all there is

    again = gateway_process(config)
    assert again.wait_log("door-1: open", 15), again.log()
    assert again.wait_log("manifest 'van-7' still active (1 of 2)", 15), again.log()
    assert wait_for_status(config, "manifest van-7: 1 of 2"), again.log()
    scanner.scan(f"]C100{SSCC_C}")
    assert scanner.wait_received(b"DONE\r"), again.log()  # the restored progress plus this scan: complete
    assert subscriber.wait_for(lambda s: any(f["kind"] == "complete" for f in s.on("feedback"))), again.log()
    subscriber.client.publish("tally/test-gw/commands", json.dumps({"id": "c1", "command": "manifest-close"}),
                              qos=1).wait_for_publish(5)
    assert subscriber.wait_for(lambda s: s.on("manifest-report") and s.on("command-results")), again.log()
    [result] = subscriber.on("command-results")
    assert result["ok"] and result["result"]["closed"] == "van-7"
    [report] = subscriber.on("manifest-report")
    assert report["seen"] == 2 and report["missing"] == [] and report["reason"] == "closed by remote command"
    assert again.terminate() == 0


def test_no_accepted_while_the_disk_is_full(tmp_path, mosquitto, subscriber, scanner, gateway_process, small_fs):
    """The scan is held in memory for want of room: the scanner hears nothing until the commit is done."""
    disk = small_fs(3072)
    data_dir = disk / "data"
    device = {"name": "door-1", "driver": "serial-scanner", "port": scanner.path, "dedupe_ms": 0,
              "feedback": {"accepted": "\u0006", "not_accepted": "\u0015"}}
    config = write_config(tmp_path / "tally.toml", broker_port=mosquitto.port, data_dir=data_dir, devices=[device],
                          extra={"outbox": {"min_free_mb": 1}})
    gw = gateway_process(config)
    assert gw.wait_log("door-1: open", 15), gw.log()
    filler = disk / "filler"
    with open(filler, "wb") as fh:  # the card full to the last block (the outbox keeps its reserve file aside)
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    committed: list[bool] = []
    scanner.on_receive = lambda data: committed.append(
        in_outbox_or_published(data_dir, subscriber, f"]C100{SSCC_A}")) if ACK in data else None
    scanner.scan(f"]C100{SSCC_A}")
    assert gw.wait_log("the outbox has no room", 10), gw.log()  # the record is held in memory
    assert not scanner.wait_received(ACK, timeout=1.0), "accepted while the record was only in memory"
    assert NAK not in scanner.host_bytes()      # held, not refused: the scan is not lost
    filler.unlink()                             # room again: the held record is committed, then accepted
    assert scanner.wait_received(ACK, timeout=30), gw.log()
    assert committed == [True]
    assert gw.terminate() == 0
