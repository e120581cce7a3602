"""Feedback latency: a scan typed on a serial scanner -> the `accepted` bytes back on that scanner.

The real daemon (benchmarks/daemon_harness.py, no tracing) reads a pty scanner (simulators/serial_scanner.py)
at a steady 20 scans/s with `outbox.durability = "full"`: `accepted` is only written back once the event's
commit (fsync) is done, so this is the time a dock worker waits for the beep that means "Tally has it".
Each scan gets its own `accepted` byte in order (outcomes follow commit order, which is scan order); the
simulator notes when each byte arrived. The feedback topic's `time` (when the outcome was decided, right
after the commit) splits it into scan -> committed (read, grouped commit, fsync) and committed -> bytes on
the scanner (the feedback thread and the serial write).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from common import DEVICE, GATEWAY_ID, Gateway, gateway_config, latency_summary, scanner_device, unique_labels, wait_until

ACK = b"\x06"
RATE = 20.0
TARGET_P99_MS = 50.0


def measure(opts: Any, port: int, tmp: Path, seconds: float) -> dict[str, Any]:
    from simulators.serial_scanner import SerialScannerSimulator

    n = max(20, int(RATE * seconds))
    labels = unique_labels(n, seed=opts.seed + 14)
    tmp.mkdir(parents=True, exist_ok=True)
    written: list[float] = []
    decided: dict[str, float] = {}   # scan -> when its outcome was published (wall)
    listener = outcome_listener(port, decided)
    with SerialScannerSimulator(str(tmp / "scanner")) as sim:
        device = scanner_device(sim.path, feedback={"accepted": "\u0006", "rejected": "\u0015"})
        config = gateway_config(tmp / "tally.toml", broker_port=port, data_dir=tmp / "data", devices=[device],
                                outbox={"durability": "full"}, raw="\n[feedback]\nmqtt = true\n")
        gw = Gateway(config, tmp / "gateway.log", harness=[])
        try:
            gw.lines.next(30)  # broker link up
            if not gw.wait_log(f"{DEVICE}: open", 20):
                raise RuntimeError(f"scanner never opened:\n{gw.log()[-2000:]}")
            time.sleep(0.3)
            interval = 1.0 / RATE
            next_at = time.monotonic()
            for text in labels:
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                written.append(time.time())
                sim.pty.write(text.encode() + b"\r")
                next_at += interval
            wait_until(lambda: sim.host_bytes().count(ACK) >= n, 30)
            rejected = sim.host_bytes().count(b"\x15")
        finally:
            gw.stop()
            listener.loop_stop()
            listener.disconnect()
        acks = [t for t, data in list(sim.received) for byte in data if byte == ACK[0]]
    latencies = [(t - w) * 1000 for w, t in zip(written, acks)]
    to_commit, to_bytes = [], []
    for text, w, t in zip(labels, written, acks):
        if text in decided:
            to_commit.append((decided[text] - w) * 1000)
            to_bytes.append((t - decided[text]) * 1000)
    return {"scans": n, "rate": RATE, "durability": "full", "accepted": len(acks), "rejected": rejected,
            "scan_to_accepted": latency_summary(latencies), "scan_to_committed": latency_summary(to_commit),
            "committed_to_bytes": latency_summary(to_bytes)}


def outcome_listener(port: int, decided: dict[str, float]) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    ready = threading.Event()

    def on_message(client, userdata, message) -> None:
        msg = json.loads(message.payload)
        if msg.get("kind") == "accepted" and msg.get("text"):
            decided[msg["text"]] = datetime.fromisoformat(msg["time"].replace("Z", "+00:00")).timestamp()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-feedback-listener")
    client.on_message = on_message
    client.on_subscribe = lambda *a: ready.set()
    client.on_connect = lambda c, *a: c.subscribe(f"tally/{GATEWAY_ID}/feedback", qos=0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    ready.wait(10)
    return client


def run(opts: Any, broker: Any) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="tally-bench-feedback-"))
    try:
        result = measure(opts, broker.port, tmp, 10.0 if opts.quick else 30.0)
    finally:
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    s = result["scan_to_accepted"]
    p50, p99 = s.get("p50_ms"), s.get("p99_ms")
    out: dict[str, Any] = {"full": result,
                           "target": f"scan -> accepted bytes on the scanner at {RATE:g} scans/s, durability full: "
                                     f"p99 <= {TARGET_P99_MS:g} ms"}
    out["met"] = p99 is not None and p99 <= TARGET_P99_MS and result["accepted"] == result["scans"]
    out["table"] = [
        ("scans (accepted signals)", f"{result['scans']} ({result['accepted']})", f"at {RATE:g}/s",
         result["accepted"] == result["scans"]),
        ("scan -> accepted on the scanner p50 / p99 / max, ms", f"{p50} / {p99} / {s.get('max_ms')}",
         f"p99 <= {TARGET_P99_MS:g}", None if p99 is None else p99 <= TARGET_P99_MS),
        ("  scan -> committed (outcome decided) p50 / p99, ms", f"{result['scan_to_committed'].get('p50_ms')} / "
         f"{result['scan_to_committed'].get('p99_ms')}", "read + grouped commit + fsync (1 ms resolution)", None),
        ("  committed -> bytes on the scanner p50 / p99, ms", f"{result['committed_to_bytes'].get('p50_ms')} / "
         f"{result['committed_to_bytes'].get('p99_ms')}", "feedback thread + serial write", None),
    ]
    return out
