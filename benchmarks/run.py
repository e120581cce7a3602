"""Tally's benchmarks, on demand (never part of the test pass).

    ./dev bench                          # every scenario; JSON on stdout, a table on stderr
    ./dev bench throughput latency       # only these
    ./dev bench --quick                  # smaller counts, for a smoke run
    ./dev bench backlog --backlog 1000000

Scenarios: throughput, latency, feedback, backlog, footprint, fsync, nmea, rfid, camera, tracker, soak. Each
figure sits beside a baseline measured in the same run. Every process a scenario starts is ended by it (or, if
it fails or overruns its time limit, by this runner, by pid). The soak is not in the default set:
`./dev bench soak --soak-seconds 3600 --soak-kills 100` is the one-hour shift with random faults.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

#: scenario -> (module, time limit in seconds for the default counts)
SCENARIOS: dict[str, tuple[str, int]] = {
    "throughput": ("bench_throughput", 300),
    "latency": ("bench_latency", 180),
    "feedback": ("bench_feedback", 120),
    "backlog": ("bench_backlog", 3600),
    "footprint": ("bench_footprint", 180),
    "fsync": ("bench_fsync", 180),
    "nmea": ("bench_nmea", 120),
    "rfid": ("bench_rfid", 180),
    "camera": ("bench_camera", 300),
    "tracker": ("bench_tracker", 1200),
    "drain": ("bench_drain", 900),
    "soak": ("soak", 900),
}
#: run by a plain `./dev bench`, the 1,000,000-event backlog last (~2 minutes of the ~5.5 here)
DEFAULT = ["throughput", "latency", "feedback", "footprint", "fsync", "nmea", "rfid", "camera", "backlog"]


class Overrun(Exception):
    pass


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./dev bench", description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=f"any of {', '.join(SCENARIOS)}")
    parser.add_argument("--quick", action="store_true", help="smaller counts everywhere (a smoke run)")
    parser.add_argument("--out", help="also write the JSON result to this file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories (logs, traces, outboxes)")
    parser.add_argument("--gateway-module", action="append", default=[], metavar="NAME=FILE",
                        help="daemons run by the harness (latency, fsync, backlog, in-process throughput) load "
                             "gateway.NAME from FILE: before/after figures, e.g. publisher=/tmp/publisher-before.py")
    g = parser.add_argument_group("throughput")
    g.add_argument("--count", type=int, default=20_000, help="messages per throughput measurement")
    g.add_argument("--window", type=int, default=64, help="QoS 1 window (the gateway's mqtt.window default)")
    g.add_argument("--chunk", type=int, default=64, help="scans per pty write when feeding as fast as possible")
    g.add_argument("--repeat", type=int, default=3, help="runs per throughput figure; the best one counts")
    g = parser.add_argument_group("latency")
    g.add_argument("--latency-rate", type=float, default=200.0, help="scans per second")
    g.add_argument("--latency-seconds", type=float, default=20.0)
    g = parser.add_argument_group("backlog")
    g.add_argument("--backlog", type=int, default=1_000_000, help="events accumulated while the broker is down")
    g.add_argument("--backlog-daemon-fill", type=int, default=100_000,
                   help="how many of them the daemon itself takes in (the rest go straight into the outbox)")
    g = parser.add_argument_group("footprint")
    g.add_argument("--idle-seconds", type=float, default=10.0)
    g.add_argument("--starts", type=int, default=5, help="cold starts timed")
    g = parser.add_argument_group("fsync")
    g.add_argument("--fsync-scans", type=int, default=2000)
    g = parser.add_argument_group("rfid")
    g.add_argument("--rfid-rate", type=float, default=2000.0, help="tag reads per second from the reader")
    g.add_argument("--rfid-seconds", type=float, default=10.0)
    g = parser.add_argument_group("drain (per message vs batch, benchmarks/bench_drain.py)")
    g.add_argument("--drain-events", type=int, default=20_000, help="backlog drained over the direct link")
    g.add_argument("--drain-link-events", type=int, default=3000, help="backlog drained over the throttled link")
    g.add_argument("--drain-link-kbps", type=float, default=256, help="throttled link: kB/s each way")
    g.add_argument("--drain-link-ms", type=float, default=40, help="throttled link: one-way delay, ms")
    g.add_argument("--drain-timeout", type=float, default=300, help="seconds per drain before giving up")
    g = parser.add_argument_group("tracker")
    g.add_argument("--tracker-count", type=int, default=20_000, help="messages the 3 instances drain")
    g.add_argument("--tracker-events", type=int, default=1_000_000, help="events stored for the query figures")
    g.add_argument("--tracker-rounds", type=int, metavar="R",
                   help="rounds of a bare and a warm drain; the ratio is their median (default 5, --quick 3)")
    g = parser.add_argument_group("soak (a dock shift with random faults; benchmarks/soak.py has every option)")
    g.add_argument("--soak-seconds", type=float, default=300.0, help="length of the shift (the full one: 3600)")
    g.add_argument("--soak-kills", type=int, help="SIGKILLs (default: one per 36 s)")
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    if args.quick:
        args.count = min(args.count, 5000)
        args.repeat = 1
        args.latency_seconds = min(args.latency_seconds, 8)
        args.backlog = min(args.backlog, 50_000)
        args.backlog_daemon_fill = min(args.backlog_daemon_fill, 10_000)
        args.idle_seconds = min(args.idle_seconds, 5)
        args.starts = min(args.starts, 2)
        args.fsync_scans = min(args.fsync_scans, 500)
        args.rfid_seconds = min(args.rfid_seconds, 5)
        args.drain_events = min(args.drain_events, 5000)
        args.drain_link_events = min(args.drain_link_events, 1000)
        args.soak_seconds = min(args.soak_seconds, 60)
    return args


def run_one(name: str, opts: argparse.Namespace) -> dict[str, Any]:
    from gateway.broker import Mosquitto

    module_name, limit = SCENARIOS[name]
    if name == "backlog":
        limit = max(limit, int(opts.backlog / 200))  # ~ 5 ms per event for fill + drain, generously
    if name == "soak":
        limit = max(limit, int(opts.soak_seconds * 1.5) + 600)

    def overrun(signum, frame):
        raise Overrun(f"{name} ran over its {limit} s limit")

    previous = signal.signal(signal.SIGALRM, overrun)
    signal.alarm(limit)
    broker = Mosquitto()
    started = time.monotonic()
    try:
        broker.start()
        module = importlib.import_module(module_name)
        result = module.run(opts, broker)
    except Exception as exc:
        result = {"error": f"{exc.__class__.__name__}: {exc}", "traceback": traceback.format_exc(limit=6)}
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        common.reap_all()
        broker.close()
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def table(results: dict[str, Any]) -> str:
    lines = []
    for name, result in results.items():
        if name == "machine":
            continue
        rows = result.pop("table", None) or []
        lines.append(f"== {name} ({result.get('seconds', '?')} s)")
        if "error" in result:
            lines.append(f"   ERROR {result['error']}")
        for label, value, against, ok in rows:
            mark = {True: "ok", False: "MISSED", None: ""}[ok]
            lines.append(f"   {label:<46} {value!s:>14}   {against!s:<34} {mark}")
        if "skipped" in result:
            lines.append(f"   skipped: {result['skipped']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    opts = options(sys.argv[1:] if argv is None else argv)
    common.HARNESS_MODULES[:] = opts.gateway_module
    names = opts.scenarios or DEFAULT
    results: dict[str, Any] = {"machine": common.machine(),
                               "command": "./dev bench " + " ".join(sys.argv[1:] if argv is None else argv)}

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        for name in names:
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
            results[name] = run_one(name, opts)
    except KeyboardInterrupt:
        common.reap_all()
        results["interrupted"] = True
    text = table({k: v for k, v in results.items() if isinstance(v, dict)})
    out = json.dumps(results, indent=1, default=str)
    if opts.out:
        Path(opts.out).write_text(out + "\n")
    print(text, file=sys.stderr)
    print(out)
    return 1 if any(isinstance(v, dict) and "error" in v for v in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
