"""Backlog: events pile up while the broker is down, then drain; disk per event; the daemon's RSS stays flat.

1. The daemon runs with its broker down and takes in `--backlog-daemon-fill` generated scans through
   its pipeline (fed in-process by benchmarks/daemon_harness.py, paced so reads never queue up in
   front of the pipeline): RSS while empty and while filling.
2. It stops (SIGTERM); the rest of the `--backlog` events go straight into the same outbox through
   `Outbox.submit` (events built by the gateway's pipeline, each with its own eventID), to save time.
3. The daemon starts again over the full outbox, broker still down: start time and RSS.
4. The broker comes back: the backlog drains to a subscriber that checks tally:seq order.
   Drain rate = events / (last arrival - first arrival), against bare paho (with a subscriber) in
   this run. RSS sampled every 0.5 s throughout; "flat" = max of any phase - the empty daemon.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench_throughput import baseline, best_of, counter
from common import (DEVICE, Gateway, RssSampler, event_payloads, event_records, gateway_config, stop,
                    wait_until, write_payload_file)

ROW_BUDGET_BYTES = 800  # generous per-event budget for the disk budget of this run (max_mb)


def disk_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("outbox.sqlite3*"))


def evict_page_cache(data_dir: Path) -> bool:
    """Drop the outbox files' pages from the page cache (needs no root: they are clean after the fill)."""
    try:
        for path in data_dir.glob("outbox.sqlite3*"):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
        return True
    except (OSError, AttributeError):
        return False


def outbox_events(gw: Gateway) -> int | None:
    return (gw.status().get("backlog") or {}).get("events")


def run(opts: Any, broker: Any) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="tally-bench-backlog-"))
    try:
        return measure(opts, broker, tmp)
    finally:
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def measure(opts: Any, broker: Any, tmp: Path) -> dict[str, Any]:
    from gateway.outbox import Outbox

    total = opts.backlog
    by_daemon = min(opts.backlog_daemon_fill, total)
    data_dir = tmp / "data"
    port = broker.port
    out: dict[str, Any] = {"events": total, "filled_by_daemon": by_daemon, "filled_directly": total - by_daemon}

    # The raw paho rate first, while the broker is up.
    payloads = event_payloads(opts.count, seed=opts.seed)
    out["baseline_paho"] = best_of(opts.repeat, baseline, port, write_payload_file(tmp / "payloads.txt", payloads),
                                   len(payloads), opts.window)
    broker.stop()  # down for the whole fill

    max_mb = max(512, total * ROW_BUDGET_BYTES // (1 << 20) + 64)
    out["outbox_max_mb"] = max_mb
    config = gateway_config(tmp / "tally.toml", broker_port=port, data_dir=data_dir, outbox={"max_mb": max_mb},
                            mqtt={"window": opts.window})

    # 1. the daemon fills its own outbox
    gw = Gateway(config, tmp / "gateway-fill.log",
                 harness=["--offline", "--generate", str(by_daemon), "--seed", str(opts.seed),
                          "--max-pending", "500", "--device", DEVICE, "--wait-go"], stdin=True)
    rss = RssSampler(gw.pid, 0.5)
    try:
        gw.lines.next(30)
        rss.start()
        rss.phase = "empty"
        time.sleep(3)
        rss.phase = "fill-by-daemon"
        gw.go()
        fed = gw.lines.next(max(60, by_daemon / 500))
        wait_until(lambda: (outbox_events(gw) or 0) >= by_daemon, 60, 0.2)
        filled_at = time.monotonic()
        out["daemon_fill_rate"] = round(by_daemon / (filled_at - fed["t0"]))
    finally:
        rss.phase = "stopping"
        gw.stop()
        rss.stop()
    first_samples = list(rss.samples)

    # 2. the rest straight into the outbox
    rest = total - by_daemon
    if rest:
        templates = event_records(min(rest, 10_000), seed=opts.seed + 1)
        outbox = Outbox(data_dir / "outbox.sqlite3", max_bytes=max_mb << 20).start()
        t0 = time.monotonic()
        for i in range(rest):
            record = dict(templates[i % len(templates)])
            record["eventID"] = f"urn:uuid:{uuid.uuid4()}"
            outbox.submit("events", record, DEVICE)
            if i % 20_000 == 19_999:
                outbox.flush(120)  # keep the queue (this process's memory) bounded
        outbox.close()
        out["direct_fill_rate"] = round(rest / (time.monotonic() - t0))
    size = disk_bytes(data_dir)
    out["disk_bytes"] = size
    out["disk_bytes_per_event"] = round(size / total)
    out["payload_bytes_per_event"] = round(sum(len(p) for p in payloads) / len(payloads))

    # 3. start over the full outbox, broker still down; its pages out of the page cache first, as after a reboot
    evicted = evict_page_cache(data_dir)
    gw = Gateway(config, tmp / "gateway-drain.log", harness=["--offline"])
    rss = RssSampler(gw.pid, 0.5)
    sub = None
    try:
        gw.lines.next(120)
        out["start_to_ready_s_with_backlog"] = round(time.monotonic() - gw.t_exec, 2)
        out["page_cache_evicted_first"] = evicted
        rss.start()
        rss.phase = "full, broker down"
        wait_until(lambda: outbox_events(gw) is not None, 10, 0.2)
        out["backlog_seen_by_daemon"] = outbox_events(gw)
        time.sleep(3)
        # 4. the broker comes back, with the subscriber already waiting for it
        sub, lines = counter(port, total, idle=30, check_seq=True, deadline=max(600, total / 500), retry=True)
        time.sleep(0.5)  # the subscriber process is up and trying
        broker.start()
        lines.next(15)
        rss.phase = "drain"
        arrived = lines.next(max(600, total / 500))
        rss.phase = "drained"
        wait_until(lambda: outbox_events(gw) == 0, 60, 0.2)
        time.sleep(3)
        out["drain"] = {"received": arrived["received"], "gaps": arrived["gaps"], "repeats": arrived["repeats"],
                        "first_seq": arrived["first_seq"], "last_seq": arrived["last_seq"],
                        "rate": round(arrived["received"] / (arrived["last"] - arrived["first"]))}
        out["left_in_outbox"] = outbox_events(gw)
        out["disk_bytes_after_drain"] = disk_bytes(data_dir)
    finally:
        stop(sub)
        gw.stop()
        rss.stop()
    base = out["baseline_paho"]["rate"]
    out["drain"]["pct_of_baseline"] = round(100 * out["drain"]["rate"] / base, 1)
    phases: dict[str, list[int]] = {}
    for _, phase, kb in first_samples + rss.samples:
        phases.setdefault(phase, []).append(kb)
    phases.pop("stopping", None)
    empty = min(phases["empty"])
    out["rss_mb"] = {phase: {"min": round(min(v) / 1024, 1), "max": round(max(v) / 1024, 1)}
                     for phase, v in phases.items()}
    growth = (max(max(v) for v in phases.values()) - empty) / 1024
    out["rss_growth_mb"] = round(growth, 1)
    out["table"] = [
        ("baseline: bare paho + subscriber, msg/s", base, "same broker, same events", None),
        ("daemon fill (broker down), events/s", out["daemon_fill_rate"], f"{by_daemon} scans through the pipeline",
         None),
        ("direct fill via Outbox.submit, events/s", out.get("direct_fill_rate", "-"), f"{rest} events", None),
        ("outbox on disk per event, bytes", out["disk_bytes_per_event"],
         f"payload {out['payload_bytes_per_event']} B", None),
        ("start to ready over the backlog, s", out["start_to_ready_s_with_backlog"],
         f"{total} events waiting" + (", cold page cache" if out.get("page_cache_evicted_first") else ""), None),
        ("drain, msg/s", out["drain"]["rate"], f"{out['drain']['pct_of_baseline']}% of baseline (>= 80%)",
         out["drain"]["pct_of_baseline"] >= 80),
        ("drain: seq gaps / repeats", f"{out['drain']['gaps']}/{out['drain']['repeats']}", "0/0",
         out["drain"]["gaps"] == 0 and out["drain"]["received"] == total),
        ("daemon RSS growth over the run, MB", out["rss_growth_mb"],
         f"empty {round(empty / 1024, 1)} MB (<= +10 MB)", growth <= 10),
    ]
    return out
