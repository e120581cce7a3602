"""Feedback latency: a scan typed on a serial scanner -> the `accepted` bytes back on that scanner.

The real daemon (benchmarks/daemon_harness.py, no tracing) reads a pty scanner (simulators/serial_scanner.py)
at a steady 20 scans/s with `outbox.durability = "full"`: `accepted` is only written back once the event's
commit (fsync) is done, so this is the time a dock worker waits for the beep that means "Tally has it".
Each scan gets its own `accepted` byte in order (outcomes follow commit order, which is scan order); the
simulator notes when each byte arrived.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from common import DEVICE, Gateway, gateway_config, latency_summary, scanner_device, unique_labels, wait_until

ACK = b"\x06"
RATE = 20.0
TARGET_P99_MS = 50.0


def measure(opts: Any, port: int, tmp: Path, seconds: float) -> dict[str, Any]:
    from simulators.serial_scanner import SerialScannerSimulator

    n = max(20, int(RATE * seconds))
    labels = unique_labels(n, seed=opts.seed + 14)
    tmp.mkdir(parents=True, exist_ok=True)
    written: list[float] = []
    with SerialScannerSimulator(str(tmp / "scanner")) as sim:
        device = scanner_device(sim.path, feedback={"accepted": "\u0006", "rejected": "\u0015"})
        config = gateway_config(tmp / "tally.toml", broker_port=port, data_dir=tmp / "data", devices=[device],
                                outbox={"durability": "full"})
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
        acks = [t for t, data in list(sim.received) for byte in data if byte == ACK[0]]
    latencies = [(t - w) * 1000 for w, t in zip(written, acks)]
    return {"scans": n, "rate": RATE, "durability": "full", "accepted": len(acks), "rejected": rejected,
            "scan_to_accepted": latency_summary(latencies)}


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
    ]
    return out
