"""SIGHUP (systemctl reload) under load: a scanner typing ~100 labels a second, the config's biz_step
changed and reloaded twice mid-stream. Every scan arrives once, in order, and the later ones carry the
new bizStep; the status server comes back on the same port."""

from __future__ import annotations

import signal
import time

from tests.test_ops_support import get_json, ops_config, serial_of, unit, wait_running

COUNT = 500
RATE = 100.0


def test_sighup_twice_under_load_loses_nothing(tmp_path, mosquitto, subscriber, scanner, gateway_process):
    config, port = ops_config(tmp_path, mosquitto.port, scanner)
    gw = gateway_process(config)
    wait_running(gw, port)
    original = config.read_text()
    player = scanner.play((unit(i) for i in range(COUNT)), RATE)

    for n, step in enumerate(("storing", "shipping"), start=1):
        time.sleep(1.5)
        config.write_text(original.replace('biz_step = "receiving"', f'biz_step = "{step}"'))
        gw.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while gw.log().count("reloaded: 1 devices") < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gw.log().count("reloaded: 1 devices") == n, gw.log()
    player.join(COUNT / RATE + 10)
    assert scanner.sent == COUNT

    events = subscriber.wait_events(COUNT, timeout=30)
    serials = [serial_of(e) for e in events]
    missing = sorted({f"S{i:06d}" for i in range(COUNT)} - set(serials))
    assert not missing, f"{len(missing)} scans lost across the reloads, e.g. {missing[:10]}\n{gw.log()[-3000:]}"
    assert len(serials) == COUNT and serials == sorted(serials)  # once each, in order
    steps = [e["bizStep"] for e in events]
    assert steps[0] == "receiving" and steps[-1] == "shipping" and "storing" in steps
    # Each scan is in exactly one config: receiving..., then storing..., then shipping...
    changes = [a for a, b in zip(steps, steps[1:]) if a != b]
    assert changes == ["receiving", "storing"], changes

    status, health = get_json(port, "/healthz")
    assert status == 200 and health["devices"] == {"door-1": "open"}
    assert gw.terminate() == 0
    assert "Traceback" not in gw.log()
