"""Before/after for idle CPU: the same gateways run by two versions of the code at the same time.

    git show 16e9782:gateway/daemon.py > /tmp/daemon-before.py
    git show 16e9782:gateway/status_file.py > /tmp/status_file-before.py
    .venv/bin/python benchmarks/idle_ab.py --seconds 60 --rounds 5 \\
        --variant before=status_file:/tmp/status_file-before.py,daemon:/tmp/daemon-before.py --variant after

Every variant runs as its own daemon (benchmarks/daemon_harness.py, `--module` loading the named
gateway modules from other files, as drain_ab.py does), each with its own simulated devices, all
at once on one private broker: a busy neighbour on this shared machine then costs every variant
alike in each round. Configs (`--config`, repeatable): `vehicle` (serial scanner + NMEA GPS at
1 Hz, moving: a position every 5 s) and `dock` (bench_footprint's: scanner + LLRP reader with no
tags + GPS); both with the status server on. Per round and variant: CPU of the daemon process
from /proc/PID/stat (utime + stime, all threads) over `--seconds`, as % of one core, and its
wakeups per second (voluntary context switches of all its threads). Prints JSON; medians last.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_footprint import devices, wakeups  # noqa: E402
from common import VARIANT_HELP, Gateway, cpu_seconds, gateway_config, parse_variants, reap_all  # noqa: E402

CONFIGS = {"vehicle": {"nmea"}, "dock": {"llrp", "nmea"}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after the broker link is up")
    parser.add_argument("--config", action="append", choices=sorted(CONFIGS), default=[])
    parser.add_argument("--variant", action="append", default=[],
                        help=VARIANT_HELP)
    args = parser.parse_args()
    from gateway.broker import Mosquitto

    variants = parse_variants(args.variant)
    configs = args.config or ["vehicle"]
    tmp = Path(tempfile.mkdtemp(prefix="tally-bench-idle-ab-"))
    runs: dict[str, Gateway] = {}
    results: dict[str, dict[str, list[float]]] = {}
    try:
        with ExitStack() as stack:
            broker = stack.enter_context(Mosquitto())
            for config_name in configs:
                for name, modules in variants.items():
                    key = f"{config_name}/{name}"
                    where = tmp / config_name / name
                    where.mkdir(parents=True)
                    devs, _ = devices(stack, where, CONFIGS[config_name])
                    from gateway.broker import free_port

                    config = gateway_config(where / "tally.toml", broker_port=broker.port, data_dir=where / "data",
                                            devices=devs, status={"listen": f"127.0.0.1:{free_port()}"})
                    # One broker for all: each its own id, or they would take each other's session.
                    text = config.read_text().replace('id = "bench-gw"', f'id = "idle-{config_name}-{name}"')
                    config.write_text(text)
                    harness = [x for m in modules for x in ("--module", m)]
                    runs[key] = Gateway(config, where / "gateway.log", harness=harness)
            for key, gw in runs.items():
                gw.lines.next(30)  # {"ready": true}: the broker link is up
            time.sleep(args.settle)
            for _ in range(args.rounds):
                start = {key: (time.monotonic(), cpu_seconds(gw.pid), wakeups(gw.pid)) for key, gw in runs.items()}
                time.sleep(args.seconds)
                for key, gw in runs.items():
                    t0, c0, w0 = start[key]
                    wall = time.monotonic() - t0
                    cpu, woke = cpu_seconds(gw.pid), wakeups(gw.pid)
                    if cpu is None or c0 is None:
                        raise RuntimeError(f"{key}: the daemon died:\n{gw.log()[-2000:]}")
                    r = results.setdefault(key, {})
                    r.setdefault("cpu_pct_of_core", []).append(round(100 * (cpu - c0) / wall, 3))
                    r.setdefault("wakeups_per_s", []).append(round((woke - w0) / wall, 1))
                print(json.dumps({k: {m: v[-1] for m, v in r.items()} for k, r in results.items()}),
                      file=sys.stderr, flush=True)
            for gw in runs.values():
                gw.stop()
    finally:
        reap_all()
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {key: {**{f"median_{m}": round(statistics.median(v), 3) for m, v in r.items()}, **r}
               for key, r in results.items()}
    print(json.dumps({"seconds": args.seconds, "rounds": args.rounds, "results": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
