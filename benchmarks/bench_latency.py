"""Latency: a scan written to the pty -> its PUBACK in the daemon, and -> its arrival at a subscriber.

Scans are typed at a steady rate (default 200/s) into a pty read by the real serial-scanner driver
in the real daemon (benchmarks/daemon_harness.py with --trace, which wraps four daemon/publisher
methods to note CLOCK_MONOTONIC per row: pipeline entry, commit done, sent, PUBACK on the loop).
A subscriber process notes each event's arrival; `tally:raw` matches it to the write time here.
The stages (write -> pipeline -> committed -> sent -> PUBACK) show where the time goes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_throughput import counter
from common import DEVICE, CpuMeter, Gateway, gateway_config, latency_summary, scanner_device, stop, unique_labels


def measure(opts: Any, port: int, tmp: Path, durability: str, batch_ms: float | None = None,
            seconds: float | None = None) -> dict[str, Any]:
    from simulators.serial_scanner import SerialScannerSimulator

    rate = opts.latency_rate
    n = max(10, int(rate * (seconds or opts.latency_seconds)))
    labels = unique_labels(n, seed=opts.seed + 3)
    tmp.mkdir(parents=True, exist_ok=True)
    written: dict[str, float] = {}
    with SerialScannerSimulator(str(tmp / "scanner")) as sim:
        config = gateway_config(tmp / "tally.toml", broker_port=port, data_dir=tmp / "data",
                                devices=[scanner_device(sim.path)],
                                outbox={"durability": durability, **({"batch_ms": batch_ms} if batch_ms else {})})
        trace_file = tmp / "trace.json"
        gw = Gateway(config, tmp / "gateway.log", harness=["--trace", str(trace_file)])
        sub = None
        try:
            gw.lines.next(30)  # broker link up
            if not gw.wait_log(f"{DEVICE}: open", 20):
                raise RuntimeError(f"scanner never opened:\n{gw.log()[-2000:]}")
            sub, lines = counter(port, n, record=True)
            time.sleep(0.3)

            def type_scans() -> None:
                interval = 1.0 / rate
                next_at = time.monotonic()
                for text in labels:
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    data = text.encode() + b"\r"
                    written[text] = time.monotonic()
                    sim.pty.write(data)
                    next_at += interval

            cpu = CpuMeter(gw.pid).start()
            typist = threading.Thread(target=type_scans, name="typist")
            typist.start()
            typist.join(opts.latency_seconds * 3 + 30)
            arrived = lines.next(60)
            usage = cpu.stop()
        finally:
            stop(sub)
            gw.stop()
    rows = json.loads(trace_file.read_text()) if trace_file.exists() else []
    arrivals = {raw: t for raw, t in arrived.get("arrivals", [])}
    stages: dict[str, list[float]] = {k: [] for k in ("to_pipeline", "to_commit", "to_send", "to_puback",
                                                       "to_subscriber", "commit_wait", "puback_rtt")}
    for row in rows:
        t = written.get(row["raw"])
        if t is None:
            continue
        for key, field in (("to_pipeline", "read"), ("to_commit", "committed"), ("to_send", "sent"),
                           ("to_puback", "acked")):
            if row.get(field):
                stages[key].append((row[field] - t) * 1000)
        if row.get("read") and row.get("committed"):
            stages["commit_wait"].append((row["committed"] - row["read"]) * 1000)
        if row.get("sent") and row.get("acked"):
            stages["puback_rtt"].append((row["acked"] - row["sent"]) * 1000)
    for raw, t in arrivals.items():
        if raw in written:
            stages["to_subscriber"].append((t - written[raw]) * 1000)
    out = {"scans": n, "rate": rate, "durability": durability, "batch_ms": batch_ms or "default",
           "received": arrived["received"],
           "daemon_cpu_pct_of_core": usage["cpu_pct_of_core"]}
    out.update({k: latency_summary(v) for k, v in stages.items()})
    return out


def run(opts: Any, broker: Any) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="tally-bench-latency-"))
    try:
        full = measure(opts, broker.port, tmp / "full", "full")
        out: dict[str, Any] = {"full": full}
        if not opts.quick:
            out["normal"] = measure(opts, broker.port, tmp / "normal", "normal")
            # what grouping commits for fewer fsyncs (SD-card wear, see fsync) costs in latency
            out["full_batch_20ms"] = measure(opts, broker.port, tmp / "full-20", "full", 20,
                                             opts.latency_seconds / 2)
    finally:
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    p50, p99 = full["to_puback"].get("p50_ms"), full["to_puback"].get("p99_ms")
    s50, s99 = full["to_subscriber"].get("p50_ms"), full["to_subscriber"].get("p99_ms")
    out["target"] = "scan -> PUBACK and -> subscriber at 200 scans/s, durability full: p50 <= 5 ms, p99 <= 15 ms"
    out["met"] = None not in (p50, p99, s50, s99) and p50 <= 5 and p99 <= 15 and s50 <= 5 and s99 <= 15
    rows = [
        ("scans (received)", f"{full['scans']} ({full['received']})", f"at {full['rate']:g}/s",
         full["received"] == full["scans"]),
        ("scan -> PUBACK p50 / p99, ms", f"{p50} / {p99}", "<= 5 / <= 15",
         None if p50 is None else p50 <= 5 and p99 <= 15),
        ("scan -> subscriber p50 / p99, ms", f"{s50} / {s99}", "<= 5 / <= 15",
         None if s50 is None else s50 <= 5 and s99 <= 15),
        ("  scan -> pipeline p50 / p99, ms", f"{full['to_pipeline'].get('p50_ms')} / "
         f"{full['to_pipeline'].get('p99_ms')}", "pty + driver + hand-over", None),
        ("  pipeline -> committed p50 / p99, ms", f"{full['commit_wait'].get('p50_ms')} / "
         f"{full['commit_wait'].get('p99_ms')}", "batch_ms wait + fsync", None),
        ("  sent -> PUBACK p50 / p99, ms", f"{full['puback_rtt'].get('p50_ms')} / {full['puback_rtt'].get('p99_ms')}",
         "broker round trip", None),
    ]
    for key, label in (("normal", "durability normal"), ("full_batch_20ms", "full, batch_ms 20")):
        if key in out:
            r = out[key]["to_puback"]
            rows.append((f"{label}: scan -> PUBACK p50 / p99", f"{r.get('p50_ms')} / {r.get('p99_ms')}",
                         "for comparison", None))
    out["table"] = rows
    return out
