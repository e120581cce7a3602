"""fsync: how often the outbox makes the SD card write, per scan and per second.

The daemon (benchmarks/daemon_harness.py: the real daemon, no wrappers) reads a pty scanner;
`strace -f -c -e trace=fsync,fdatasync -p PID` counts every fsync/fdatasync of all its threads
while N scans arrive (a burst as fast as the pty takes them, then a steady 200 scans/s), until the
subscriber has them all and the acknowledgements are committed. The outbox's own commit counter
(Outbox.commits) is reported beside it. Without strace only the commit count is reported.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_throughput import counter
from common import DEVICE, Gateway, chunks, gateway_config, scanner_device, spawn, stop, unique_labels


def strace_counts(path: Path) -> dict[str, int]:
    counts = {}
    for line in path.read_text(errors="replace").splitlines():
        # % time  seconds  usecs/call  calls  [errors]  syscall
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(fsync|fdatasync)\s*$", line)
        if m:
            counts[m.group(2)] = int(m.group(1))
    return counts


def burst(opts: Any, port: int, tmp: Path, durability: str, rate: float | None,
          batch_ms: float | None = None) -> dict[str, Any]:
    from simulators.serial_scanner import SerialScannerSimulator

    n = opts.fsync_scans
    labels = unique_labels(n, seed=opts.seed + (5 if rate else 6))
    tmp.mkdir(parents=True, exist_ok=True)
    strace = shutil.which("strace")
    with SerialScannerSimulator(str(tmp / "scanner")) as sim:
        config = gateway_config(tmp / "tally.toml", broker_port=port, data_dir=tmp / "data",
                                devices=[scanner_device(sim.path)],
                                outbox={"durability": durability, **({"batch_ms": batch_ms} if batch_ms else {})})
        gw = Gateway(config, tmp / "gateway.log", harness=[])
        sub = tracer = None
        try:
            gw.lines.next(30)
            if not gw.wait_log(f"{DEVICE}: open", 20):
                raise RuntimeError(f"scanner never opened:\n{gw.log()[-2000:]}")
            sub, lines = counter(port, n)
            if strace:
                out = tmp / "strace.txt"
                tracer = spawn([strace, "-f", "-c", "-e", "trace=fsync,fdatasync", "-o", str(out), "-p", str(gw.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.5)  # attached to every thread
            t0 = time.monotonic()
            if rate:
                next_at = t0
                for text in labels:
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    sim.pty.write(text.encode() + b"\r")
                    next_at += 1.0 / rate
            else:
                for part in chunks(labels, opts.chunk):
                    sim.pty.write(b"".join(text.encode() + b"\r" for text in part))
            arrived = lines.next(120)
            time.sleep(0.3)  # the last acknowledgements are committed (ack flush is 20 ms)
            seconds = time.monotonic() - t0
            if tracer is not None:
                stop(tracer, signal.SIGINT, 10)
                counts = strace_counts(tmp / "strace.txt")
            else:
                counts = {}
        finally:
            stop(tracer, signal.SIGINT, 10)
            stop(sub)
            gw.stop()
        exit_line = gw.lines.next(10)
    commits = exit_line.get("outbox_commits")
    syncs = sum(counts.values()) if strace else None
    out: dict[str, Any] = {"scans": n, "received": arrived["received"], "durability": durability,
                           "batch_ms": batch_ms or "default",
                           "rate": rate or "as fast as the pty takes them", "seconds": round(seconds, 2),
                           "outbox_commits": commits, "commits_per_scan": round(commits / n, 3) if commits else None}
    if strace:
        out.update(fsync_calls=counts, fsyncs=syncs, fsyncs_per_scan=round(syncs / n, 3),
                   fsyncs_per_second=round(syncs / seconds, 1))
    return out


def run(opts: Any, broker: Any) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="tally-bench-fsync-"))
    try:
        out: dict[str, Any] = {"counted_with": "strace -f -c -e trace=fsync,fdatasync" if shutil.which("strace")
                               else "Outbox.commits (strace not installed: apt-get install strace)"}
        out["burst_full"] = burst(opts, broker.port, tmp / "burst-full", "full", None)
        out["steady_200_full"] = burst(opts, broker.port, tmp / "steady-full", "full", 200.0)
        # the knob for SD-card wear: group commits for longer (each scan waits up to this long)
        out["steady_200_full_batch_20ms"] = burst(opts, broker.port, tmp / "steady-full-20", "full", 200.0, 20)
        if not opts.quick:
            out["burst_normal"] = burst(opts, broker.port, tmp / "burst-normal", "normal", None)
    finally:
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    for key, label in (("burst_full", "burst, full"), ("steady_200_full", "200 scans/s, full"),
                       ("steady_200_full_batch_20ms", "200 scans/s, full, batch_ms 20"),
                       ("burst_normal", "burst, normal")):
        if key in out:
            r = out[key]
            rows.append((f"{label}: fsyncs per scan", r.get("fsyncs_per_scan", "-"),
                         f"{r.get('fsyncs_per_second', '-')} fsyncs/s; {r['commits_per_scan']} commits/scan", None))
    out["table"] = rows
    return out
