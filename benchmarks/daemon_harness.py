"""The real daemon, started the way `tally run` starts it, with two optional benchmark aids.

    python benchmarks/daemon_harness.py -c CONFIG [--trace FILE] [--feed LABELS_FILE --batch 1]

--trace   records, per outbox row, when the pipeline got the read, when its commit finished,
          when the publisher sent it and when the PUBACK reached the asyncio loop (CLOCK_MONOTONIC),
          by wrapping Daemon._on_reads, Daemon._committed, Publisher._send and Publisher._on_acked
          (no gateway file is changed; the wrappers call the originals). Written to FILE on exit.
--feed    once the broker link is up, a thread hands one Read per label to the daemon exactly as a
          device runner does (`Daemon._reads_from_thread`), as fast as it can: the gateway's
          in-process capacity without the pty and serial driver in front of it.

Prints JSON lines on stdout: {"ready": true, "pid": …} when the broker link is up, and with --feed
{"fed": n, "t0": …, "t_fed": …}. SIGTERM stops it like the real daemon.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import os
import sys
import threading
import time
import types
from pathlib import Path
from typing import Iterable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.base import Read  # noqa: E402
from gateway import logs  # noqa: E402
from gateway.config import load  # noqa: E402


def say(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Trace:
    def __init__(self) -> None:
        self.reads: dict[str, float] = {}                # raw -> pipeline entry
        self.commits: list[tuple[int, float]] = []       # (last row id, commit done)
        self.sends: dict[int, tuple[float, str]] = {}    # row id -> (sent, raw)
        self.acks: dict[int, float] = {}                 # row id -> PUBACK on the loop

    def install(self) -> None:
        from gateway import daemon as daemon_mod
        from gateway import publisher as publisher_mod

        trace = self
        on_reads = daemon_mod.Daemon._on_reads
        committed = daemon_mod.Daemon._committed
        send = publisher_mod.Publisher._send
        acked = publisher_mod.Publisher._on_acked

        def _on_reads(self, runner, reads):
            now = time.monotonic()
            for read in reads:
                if isinstance(read.payload, str):
                    trace.reads.setdefault(read.payload, now)
            return on_reads(self, runner, reads)

        def _committed(self, last_id):
            trace.commits.append((last_id, time.monotonic()))
            return committed(self, last_id)

        def _send(self, entry):
            ok = send(self, entry)
            if ok and entry.id not in trace.sends:
                try:
                    raw = json.loads(entry.payload).get("tally:raw") or ""
                except ValueError:
                    raw = ""
                trace.sends[entry.id] = (time.monotonic(), raw)
            return ok

        def _on_acked(self, generation, mids):
            # one mid per call, or a batch of them (the publisher hands PUBACKs over in batches)
            if generation == self._generation:
                now = time.monotonic()
                for mid in mids if isinstance(mids, (list, tuple)) else (mids,):
                    item = self._inflight.get(mid)
                    if item is not None:
                        trace.acks.setdefault(item[0], now)
            return acked(self, generation, mids)

        daemon_mod.Daemon._on_reads = _on_reads
        daemon_mod.Daemon._committed = _committed
        publisher_mod.Publisher._send = _send
        publisher_mod.Publisher._on_acked = _on_acked

    def dump(self, path: str) -> None:
        rows = []
        commits = sorted(self.commits)
        ci = 0
        for row_id in sorted(self.sends):
            while ci < len(commits) and commits[ci][0] < row_id:
                ci += 1
            sent, raw = self.sends[row_id]
            rows.append({"id": row_id, "raw": raw, "read": self.reads.get(raw),
                         "committed": commits[ci][1] if ci < len(commits) else None,
                         "sent": sent, "acked": self.acks.get(row_id)})
        Path(path).write_text(json.dumps(rows))


def replace_module(name: str, path: str) -> None:
    """gateway.NAME from another file (e.g. `git show REV:gateway/publisher.py > FILE`), imported first."""
    import importlib.util

    import gateway

    full = f"gateway.{name}"
    spec = importlib.util.spec_from_file_location(full, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    spec.loader.exec_module(module)
    setattr(gateway, name, module)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("--trace")
    parser.add_argument("--feed", help="a file of labels, one per line, handed to the daemon in-process")
    parser.add_argument("--generate", type=int, default=0, help="instead of --feed: this many generated labels")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=1, help="reads per hand-over (a serial driver gives 1..n)")
    parser.add_argument("--max-pending", type=int, default=0,
                        help="pace the feed: at most this many reads handed over but not yet in the pipeline")
    parser.add_argument("--offline", action="store_true", help="feed without waiting for the broker link")
    parser.add_argument("--wait-go", action="store_true", help="start feeding when a line arrives on stdin")
    parser.add_argument("--device", default="door-1-scanner")
    parser.add_argument("--module", action="append", default=[], metavar="NAME=FILE",
                        help="run with gateway.NAME loaded from FILE instead (before/after comparisons)")
    args = parser.parse_args()

    for spec in args.module:
        replace_module(*spec.split("=", 1))
    config = load(args.config)
    logs.setup(config.gateway["log_level"])
    from gateway.daemon import Daemon

    trace = Trace() if args.trace else None
    if trace:
        trace.install()
    daemon = Daemon(config)

    def watch() -> None:
        while not (daemon.ready and daemon.publisher and (
                args.offline or daemon.publisher.link.state == "connected")):
            time.sleep(0.01)
        say({"ready": True, "pid": os.getpid()})
        if args.feed:
            labels: Iterable[str] = [line.rstrip("\n") for line in open(args.feed, encoding="utf-8") if line.strip()]
        elif args.generate:
            from simulators.labels import labels as generated

            labels = itertools.islice(generated(args.seed), args.generate)
        else:
            return
        if args.wait_go:
            sys.stdin.readline()
        # As a device runner hands reads over (its own count of what the loop has taken, too).
        feeder = types.SimpleNamespace(taken=0, state=types.SimpleNamespace(name=args.device))
        hand_over = functools.partial(daemon._reads_from_thread, feeder)
        device, batch, pending = args.device, args.batch, args.max_pending
        counters = daemon.pipeline.counters if daemon.pipeline else {"reads": 0}
        fed = 0
        t0 = time.monotonic()
        it = iter(labels)
        while True:
            part = list(itertools.islice(it, batch))
            if not part:
                break
            while pending and fed - counters["reads"] > pending:
                time.sleep(0.001)
            # Built here, as a driver builds them, so their cost lands where a device thread's would.
            hand_over([Read(device, "serial-scanner", "barcode", text, meta={"aim": text[:3], "error": None})
                       for text in part])
            fed += len(part)
        say({"fed": fed, "t0": t0, "t_fed": time.monotonic()})

    threading.Thread(target=watch, name="bench-watch", daemon=True).start()
    try:
        code = asyncio.run(daemon.run())
    finally:
        if trace:
            trace.dump(args.trace)
    if daemon.outbox is not None:
        say({"exit": code, "outbox_commits": daemon.outbox.commits})
    return code


if __name__ == "__main__":
    sys.exit(main())
