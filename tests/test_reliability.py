"""The promise under the faults a Pi at a dock really meets, end to end with real parts: a data directory on a
small filesystem that fills, a broker that refuses a message for its size or its topic, a reload mid-shift,
SIGKILL with a packing session open, two gateways with one id. Each test fails on Tally 0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gateway import status_file
from gateway.broker import Mosquitto, free_port
from gateway.config import load
from simulators.serial_scanner import SerialScannerSimulator
from tests.helpers.gateway import ROOT, write_config
from tests.helpers.mqtt import Subscriber

pytestmark = pytest.mark.slow

GTIN = "09506000134352"
SSCC = "106141411234567897"


def unit(i: int) -> str:
    return f"]d201{GTIN}21S{i:06d}"


def status_of(config: Path) -> dict:
    path = status_file.find(load(config))
    try:
        return json.loads(path.read_text()) if path else {}
    except (OSError, ValueError):
        return {}


def wait(predicate, timeout: float, what: str, gw=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{gw.log()[-3000:]}" if gw else ""))


def tally(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)


def seqs(events: list[dict]) -> set[int]:
    return {e["tally:seq"] for e in events}


def device(scanner, **kw) -> dict:
    return {"name": "door-1", "driver": "serial-scanner", "port": scanner.path, "biz_step": "receiving",
            "dedupe_ms": 0, **kw}


def connected_gateway(tmp_path, broker, sub, scanner, gateway_process):
    """A gateway on `broker` with one serial scanner, once the subscriber and the gateway are both connected."""
    wait(lambda: sub.client.is_connected(), 10, "the subscriber")
    config = write_config(tmp_path / "t.toml", broker_port=broker.port, data_dir=tmp_path / "d",
                          devices=[device(scanner)])
    gw = gateway_process(config)
    assert gw.wait_log("door-1: open", 15), gw.log()
    wait(lambda: (status_of(config).get("broker") or {}).get("state") == "connected", 15, "connected", gw)
    return config, gw


def test_a_full_sd_card_pauses_the_scanner_and_loses_nothing(tmp_path, small_fs, scanner, gateway_process):
    """12,000 scans into a 3 MB data directory with the broker down: the outbox fills to what the card really
    has, the scanner is paused (its own buffer holds the scans), and every scan arrives once the broker is back."""
    data = small_fs(3 * 1024)
    port = free_port()
    config = write_config(tmp_path / "t.toml", broker_port=port, data_dir=data, devices=[device(scanner)],
                          extra={"outbox": {"min_free_mb": 0.5}})
    gw = gateway_process(config)
    assert gw.wait_log("door-1: open", 15), gw.log()
    total = 12000

    stop_typing = threading.Event()

    def type_all():
        for i in range(total):
            if stop_typing.is_set():
                return
            scanner.scan(unit(i))  # blocks while the gateway does not read: the pty's buffer is full

    typist = threading.Thread(target=type_all, daemon=True)
    typist.start()
    try:
        _full_card_delivers_everything(config, gw, port, total, typist)
    finally:
        stop_typing.set()
        unblock(scanner, typist)


def unblock(scanner, typist) -> None:
    """A typist blocked on a full pty ends when the scanner is unplugged (the simulator never holds its lock
    while it waits)."""
    scanner.unplug()
    typist.join(10)
    assert not typist.is_alive()


def _full_card_delivers_everything(config, gw, port, total, typist) -> None:
    paused = wait(lambda: (s := status_of(config)) and s["devices"] and s["devices"][0]["paused"] and s,
                  60, "the scanner to be paused", gw)
    assert paused["backlog"]["limit_bytes"] < 3 << 20  # the card's room, not max_mb's 512 MB
    assert paused["drops"]["events"] == 0
    wait(lambda: any("outbox is full" in w for w in (status_of(config).get("health") or {}).get("warnings", [])),
         30, "the full outbox in the health warnings", gw)
    time.sleep(2)
    still = status_of(config)
    # Backpressure: the scanner's buffer (here the pty's) holds the rest; the gateway stopped reading.
    assert still["devices"][0]["paused"] and still["devices"][0]["reads"] < total
    # what was read is on the card or held in memory (a few may be between the two in the snapshot)
    assert still["backlog"]["events"] + still["backlog"]["held"] <= still["devices"][0]["reads"]
    assert still["backlog"]["held"] <= 5000  # hold_max: nothing refused
    broker = Mosquitto(port=port).start()
    try:
        sub = Subscriber(broker.host, port, "tally/#")
        try:
            wait(lambda: sub.client.is_connected(), 10, "the subscriber")
            wait(lambda: len(seqs(sub.on("events"))) >= total, 180, f"{total} events", gw)
            typist.join(10)
            events = sub.on("events")
            assert sorted(seqs(events)) == list(range(1, total + 1))  # no gap: nothing was dropped
            raws = {e["tally:raw"] for e in events}
            assert raws == {unit(i) for i in range(total)}
            final = wait(lambda: (s := status_of(config)) and not s["devices"][0]["paused"] and s, 10, "resume", gw)
            assert final["drops"] == {"events": 0, "positions": 0, "rejects": 0}
            # If the card filled before the budget's estimate said so, the reserve file was given back and the
            # commit retried: a failure that healed, never a lost scan.
            assert final["outbox"]["failing"] is None
        finally:
            sub.close()
        assert gw.terminate() == 0
    finally:
        broker.close()


def test_a_message_over_the_brokers_packet_size_is_quarantined_and_blocks_nothing(tmp_path, scanner,
                                                                                 gateway_process):
    broker = Mosquitto(extra="max_packet_size 4096").start()
    sub = Subscriber(broker.host, broker.port, "tally/#")
    try:
        config, gw = connected_gateway(tmp_path, broker, sub, scanner, gateway_process)
        scanner.scan("X" * 3900)  # not a barcode: a reject record of more than 4 KB
        for i in range(20):
            scanner.scan(unit(i))
        events = sub.wait_events(20, timeout=20)
        assert {e["tally:raw"] for e in events} == {unit(i) for i in range(20)}, gw.log()[-2000:]
        snapshot = wait(lambda: (s := status_of(config)) and s["quarantine"]["rejects"] == 1 and s, 10,
                        "the quarantine", gw)
        assert snapshot["broker"]["max_packet"] == 4096 and snapshot["broker"]["connects"] == 1  # never dropped
        assert any("quarantine" in w for w in snapshot["health"]["warnings"])
        listed = tally("outbox", "list", "-c", str(config), "--json")
        assert listed.returncode == 0, listed.stderr
        rows = json.loads(listed.stdout)
        assert [r["stream"] for r in rows] == ["rejects"] and "Maximum Packet Size" in rows[0]["reason"]
        exported = tally("outbox", "export", "-c", str(config))
        assert json.loads(exported.stdout)["payload"].count("X") == 3900
        assert tally("outbox", "resend", "-c", str(config), "999999").returncode == 1
        discarded = tally("outbox", "discard", "-c", str(config), "--all")
        assert discarded.returncode == 0 and "discarded 1" in discarded.stdout
        scanner.scan(unit(99))  # the next commit notices the operator's change
        wait(lambda: status_of(config)["quarantine"]["rejects"] == 0, 10, "the count to follow", gw)
        assert gw.terminate() == 0
    finally:
        sub.close()
        broker.close()


def test_a_topic_the_broker_refuses_is_retried_and_the_rest_flows(tmp_path, scanner, gateway_process):
    acl = tmp_path / "acl"
    allowed = ["events", "positions", "status", "commands", "command-results", "feedback", "manifest",
               "manifest-report"]
    acl.write_text("".join(f"topic readwrite tally/test-gw/{t}\n" for t in allowed) + "topic read tally/#\n")
    broker = Mosquitto(extra=f"acl_file {acl}").start()
    sub = Subscriber(broker.host, broker.port, "tally/#")
    try:
        config, gw = connected_gateway(tmp_path, broker, sub, scanner, gateway_process)
        scanner.scan("not a barcode")   # a reject: its topic is refused (PUBACK 0x87)
        for i in range(5):
            scanner.scan(unit(i))
        assert len(sub.wait_events(5, timeout=15)) == 5, gw.log()[-2000:]
        degraded = wait(lambda: (s := status_of(config)) and s["health"]["warnings"] and s, 10, "degraded", gw)
        assert any("refuses rejects" in w and "not authorized" in w.lower() for w in degraded["health"]["warnings"])
        assert degraded["health"]["ok"] and degraded["backlog"]["rejects"] == 1  # kept, waiting
        # The operator fixes the ACL and reloads the broker: the retry gets it through.
        acl.write_text(acl.read_text() + "topic readwrite tally/test-gw/rejects\n")
        broker.proc.send_signal(signal.SIGHUP)
        rejects = sub.wait_events(1, timeout=90, suffix="rejects")
        assert rejects and rejects[0]["raw"] == "not a barcode"
        wait(lambda: status_of(config)["backlog"]["rejects"] == 0, 10, "the backlog to empty", gw)
        assert status_of(config)["drops"]["rejects"] == 0
        assert gw.terminate() == 0
    finally:
        sub.close()
        broker.close()


def test_reload_keeps_modes_sessions_and_windows(tmp_path, mosquitto, subscriber, scanner, gateway_process):
    modes = [{"text": "PACK-START", "action": "pack-start"}, {"text": "PACK-CLOSE", "action": "pack-close"},
             {"text": "MODE-SHIP", "biz_step": "shipping"}]
    config = write_config(tmp_path / "t.toml", broker_port=mosquitto.port, data_dir=tmp_path / "d",
                          devices=[device(scanner, dedupe_ms=60_000)], modes=modes)
    gw = gateway_process(config)
    assert gw.wait_log("door-1: open", 15), gw.log()
    scanner.scan("MODE-SHIP")
    scanner.scan("PACK-START")
    scanner.scan(f"]C100{SSCC}")
    scanner.scan(unit(1))
    assert len(subscriber.wait_events(2)) == 2
    gw.proc.send_signal(signal.SIGHUP)
    assert gw.wait_log("reloaded", 15), gw.log()
    scanner.scan(unit(1))            # inside the 60 s window from before the reload: a duplicate
    scanner.scan(unit(2))
    scanner.scan("PACK-CLOSE")       # closes the session opened before the reload
    events = subscriber.wait_events(4)
    assert [e["type"] for e in events] == ["ObjectEvent", "ObjectEvent", "ObjectEvent", "AggregationEvent"], events
    assert events[2]["bizStep"] == "shipping"  # the mode survived
    packed = events[3]
    assert packed["parentID"].endswith("0614141.1123456789") and len(packed["childEPCs"]) == 2
    snapshot = wait(lambda: (s := status_of(config)) and s["counters"]["reads"] == 7 and s, 5, "the status", gw)
    assert snapshot["counters"]["duplicates"] == 1
    assert gw.terminate() == 0


def test_an_open_packing_session_survives_sigkill(tmp_path, mosquitto, subscriber, scanner, gateway_process):
    modes = [{"text": "PACK-START", "action": "pack-start"}, {"text": "PACK-CLOSE", "action": "pack-close"}]
    config = write_config(tmp_path / "t.toml", broker_port=mosquitto.port, data_dir=tmp_path / "d",
                          devices=[device(scanner)], modes=modes)
    gw = gateway_process(config)
    assert gw.wait_log("door-1: open", 15), gw.log()
    scanner.scan("PACK-START")
    scanner.scan(f"]C100{SSCC}")
    scanner.scan(unit(7))
    assert len(subscriber.wait_events(2)) == 2
    gw.kill()
    gw = gateway_process(config)
    assert gw.wait_log("door-1: open", 15), gw.log()
    scanner.scan("PACK-CLOSE")
    assert subscriber.wait_for(lambda s: any(e["type"] == "AggregationEvent" for e in s.on("events")), 15)
    events = subscriber.on("events")  # at least once: what was unacknowledged at the kill comes again
    packed = [e for e in events if e["type"] == "AggregationEvent"]
    assert len(packed) == 1 and packed[0]["childEPCs"] == [events[1]["epcList"][0]], events
    assert gw.terminate() == 0


def test_two_gateways_with_one_id_are_detected_and_stop_fighting(tmp_path, mosquitto, gateway_process):
    configs = []
    for name in ("a", "b"):
        sim = SerialScannerSimulator(str(tmp_path / f"scanner-{name}")).start()
        configs.append(write_config(tmp_path / f"{name}.toml", broker_port=mosquitto.port,
                                    data_dir=tmp_path / name, devices=[device(sim)],
                                    mqtt={"status_interval": 1}))
    first, second = gateway_process(configs[0]), gateway_process(configs[1])
    # The one whose session keeps being taken notices (the other one, left connected, has nothing to fight).
    noticed = wait(lambda: [s for c in configs if ((s := status_of(c)).get("broker") or {}).get("duplicate_id")],
                   45, "a gateway to notice", first)
    assert any("share the id" in w for w in noticed[0]["health"]["warnings"]), noticed[0]["health"]
    connects = [status_of(c)["broker"]["connects"] for c in configs]
    time.sleep(10)
    later = [status_of(c)["broker"]["connects"] for c in configs]
    # Fighting would be a reconnect every half second each: ~40 in 10 s. Backed off, a handful at most.
    assert sum(later) - sum(connects) <= 6, (connects, later)
    assert first.terminate() == 0 and second.terminate() == 0


def test_a_subscription_the_broker_refuses_is_a_warning(tmp_path, scanner, gateway_process):
    """Remote commands cannot arrive when the broker refuses that subscription: degraded, and said, while
    scans flow."""
    from tests.helpers.mqtt import subscribe_only_to

    broker = subscribe_only_to(tmp_path, ["tally/+/status", "tally/+/events", "tally/+/manifest"])
    sub = Subscriber(broker.host, broker.port, "tally/+/events")
    try:
        config, gw = connected_gateway(tmp_path, broker, sub, scanner, gateway_process)
        scanner.scan(unit(1))
        assert len(sub.wait_events(1, timeout=15)) == 1, gw.log()[-2000:]
        degraded = wait(lambda: (s := status_of(config)) and s["health"]["warnings"] and s, 10, "degraded", gw)
        [warning] = degraded["health"]["warnings"]
        assert "refused the subscription to tally/test-gw/commands" in warning
        assert degraded["health"]["ok"] and degraded["broker"]["subscriptions_refused"] == ["tally/test-gw/commands"]
        assert gw.terminate() == 0
    finally:
        sub.close()
        broker.close()
