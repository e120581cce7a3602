"""Before/after for the outbox -> broker path: the same backlog drained by two versions of the code.

    git show d973737:gateway/publisher.py > /tmp/publisher-before.py
    git show d3bd8b8:gateway/outbox.py > /tmp/outbox-before.py
    .venv/bin/python benchmarks/drain_ab.py --events 40000 --rounds 5 \\
        --variant before=publisher:/tmp/publisher-before.py,outbox:/tmp/outbox-before.py --variant after

Each round drains an identical pre-filled outbox (realistic events, durability full) once per
variant and once with bare paho (same broker, same subscriber process), alternating so that a
busy neighbour on this shared machine hurts all of them alike. Prints JSON: rates per round,
daemon CPU per message, and the best of each.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_throughput import baseline, counter  # noqa: E402
from common import (DEVICE, CpuMeter, Gateway, event_payloads, event_records, gateway_config, reap_all,  # noqa: E402
                    VARIANT_HELP, parse_variants, stop, write_payload_file)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--variant", action="append", default=[],
                        help=VARIANT_HELP)
    args = parser.parse_args()
    from gateway.broker import Mosquitto
    from gateway.outbox import Outbox

    variants = parse_variants(args.variant)
    tmp = Path(tempfile.mkdtemp(prefix="tally-bench-drain-ab-"))
    results: dict[str, dict[str, list[float]]] = {}
    try:
        seed = Outbox(tmp / "seed" / "outbox.sqlite3").start()
        templates = event_records(1000)
        for i in range(args.events):
            record = dict(templates[i % len(templates)], eventID=f"urn:uuid:{uuid.uuid4()}")
            seed.submit("events", record, DEVICE)
        seed.close()
        payloads = write_payload_file(tmp / "payloads.txt", event_payloads(20_000))
        with Mosquitto() as broker:
            for round_no in range(args.rounds):
                paho = baseline(broker.port, payloads, 20_000, args.window)
                results.setdefault("bare_paho", {}).setdefault("rate", []).append(paho["rate"])
                for name, modules in variants.items():
                    data = tmp / f"{name}-{round_no}"
                    shutil.copytree(tmp / "seed", data)
                    sub, lines = counter(broker.port, args.events, check_seq=True)
                    config = gateway_config(tmp / f"{name}.toml", broker_port=broker.port, data_dir=data,
                                            mqtt={"window": args.window})
                    harness = ["--offline"] + [x for m in modules for x in ("--module", m)]
                    gw = Gateway(config, tmp / f"{name}.log", harness=harness)
                    try:
                        gw.lines.next(30)
                        cpu = CpuMeter(gw.pid).start()
                        arrived = lines.next(300)
                        usage = cpu.stop()
                    finally:
                        stop(sub)
                        gw.stop()
                    ok = arrived["received"] == args.events and not arrived["gaps"] and not arrived["repeats"]
                    r = results.setdefault(name, {})
                    r.setdefault("rate", []).append(round(arrived["received"] / (arrived["last"] - arrived["first"])))
                    r.setdefault("cpu_us_per_msg", []).append(round(1e6 * usage["cpu_s"] / args.events, 1))
                    r.setdefault("in_order_and_complete", []).append(ok)
                    shutil.rmtree(data, ignore_errors=True)
    finally:
        reap_all()
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {name: {"best_rate": max(r["rate"]), **r} for name, r in results.items()}
    print(json.dumps({"events": args.events, "window": args.window, "results": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
