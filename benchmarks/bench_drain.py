"""Drain: one N-event outbox backlog drained per message and in batches (EPCISDocuments), same broker, same run.

    ./dev bench drain                      # 20,000 events direct, 3,000 over a throttled link
    ./dev bench drain --drain-events 50000 --drain-link-kbps 128 --drain-link-ms 60

For each mode (per message; batch, no compression; batch, gzip) a fresh copy of the same outbox is drained
by the gateway's own Publisher, in its own process, to a counting subscriber in another process that
unpacks the documents: rate = events / (publisher start -> last event at the subscriber). Then the same
over a TCP proxy that limits each direction to `--drain-link-kbps` kB/s with `--drain-link-ms` one-way
delay (a cellular uplink) between the publisher and the broker. Target: batch >= 3x per message.

Sub-commands (the processes of the scenario): `publish`, `count`, `proxy`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODES = {"per message": None,
         "batch": {"enabled": True, "compress": "none", "max_events": 500, "min_backlog": 200},
         "batch gzip": {"enabled": True, "compress": "gzip", "max_events": 500, "min_backlog": 200}}


def say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


# ---- the processes -------------------------------------------------------------------------------

def publish(args: argparse.Namespace) -> int:
    from gateway.config import parse
    from gateway.outbox import Outbox
    from gateway.publisher import Publisher

    mqtt: dict[str, Any] = {"host": "127.0.0.1", "port": args.port, "protocol": "5"}
    if args.batch:
        mqtt["batch"] = json.loads(args.batch)
    config = parse({"gateway": {"id": "bench-gw"}, "mqtt": mqtt})
    outbox = Outbox(args.outbox, durability="normal").start()
    total = outbox.counts["events"]

    async def run() -> dict[str, Any]:
        publisher = Publisher(config, outbox, asyncio.get_running_loop())
        started = time.monotonic()
        publisher.start()
        while publisher.acked < total and time.monotonic() - started < args.timeout:
            await asyncio.sleep(0.01)
        acked_at = time.monotonic()
        await publisher.stop()
        return {"started": started, "acked_at": acked_at, "acked": publisher.acked, "messages": publisher.published,
                "batches": publisher.batches, "quarantined": publisher.quarantined}

    result = asyncio.run(run())
    outbox.close()
    say(result)
    return 0


def count(args: argparse.Namespace) -> int:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from gateway import batch

    state = {"events": 0, "messages": 0, "bytes": 0, "last": None, "seqs": []}
    done = __import__("threading").Event()

    def on_message(client, userdata, message):
        topic, payload = message.topic, message.payload
        state["messages"] += 1
        state["bytes"] += len(payload)
        if "/events-batch" in topic:
            how = topic.rsplit("/", 1)[1] if not topic.endswith("/events-batch") else "none"
            events = batch.events_of(batch.decompress(payload, how))
            state["events"] += len(events)
            state["seqs"].append(events[0]["tally:seq"])
        else:
            state["events"] += 1
            state["seqs"].append(json.loads(payload)["tally:seq"])
        state["last"] = time.monotonic()
        if state["events"] >= args.count:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-count-{time.monotonic_ns()}",
                         protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(
        [("tally/bench-gw/events", 1), ("tally/bench-gw/events-batch/#", 1)])
    client.on_subscribe = lambda *a: say({"ready": True})
    client.on_message = on_message
    client.connect("127.0.0.1", args.port)
    client.loop_start()
    done.wait(args.timeout)
    client.loop_stop()
    seqs = state.pop("seqs")
    say({**state, "ordered": seqs == sorted(seqs)})
    return 0


def proxy(args: argparse.Namespace) -> int:
    """A TCP proxy that limits each direction to `rate` bytes/s after a fixed one-way delay."""
    rate, delay = args.kbps * 1024, args.ms / 1000

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        free_at = 0.0

        async def deliver():
            while True:
                due, data = await queue.get()
                if not data:
                    writer.close()
                    return
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        task = asyncio.create_task(deliver())
        while True:
            data = await reader.read(4096)
            now = loop.time()
            free_at = max(free_at, now) + len(data) / rate  # the link serialises at `rate`
            await queue.put((free_at + delay, data))
            if not data:
                break
        await task

    async def handle(client_r, client_w):
        broker_r, broker_w = await asyncio.open_connection("127.0.0.1", args.target)
        await asyncio.gather(pipe(client_r, broker_w), pipe(broker_r, client_w), return_exceptions=True)

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", args.port)
        say({"ready": True})
        async with server:
            await server.serve_forever()

    asyncio.run(main())
    return 0


# ---- the scenario --------------------------------------------------------------------------------

def fill(path: Path, n: int) -> int:
    """An outbox with n events as the gateway commits them; returns the mean payload size."""
    from gateway.outbox import Outbox
    from tests.helpers.tracker import object_event

    outbox = Outbox(path, durability="normal", max_bytes=4 << 30).start()
    for i in range(n):
        event = object_event(0, [f"urn:epc:id:sgtin:0614141.107346.{1000000 + i}"], gateway="bench-gw",
                             wall=1_700_000_000 + i / 10)
        outbox.submit("events", event, "door-1")
    assert outbox.flush(600)
    size = outbox.bytes // max(1, outbox.counts["events"])
    outbox.close()
    return size


def drain_once(tmp: Path, source: Path, port: int, broker_port: int, n: int, batch: dict[str, Any] | None,
               timeout: float) -> dict[str, Any]:
    from common import spawn, stop

    work = tmp / "drain.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(str(work) + suffix).unlink(missing_ok=True)
    shutil.copy(source, work)
    me = [sys.executable, str(Path(__file__).resolve())]
    counter = spawn([*me, "count", "--port", str(broker_port), "--count", str(n), "--timeout", str(timeout)],
                    stdout=-1, text=True)
    try:
        assert json.loads(counter.stdout.readline()).get("ready")
        pub = spawn([*me, "publish", "--port", str(port), "--outbox", str(work), "--timeout", str(timeout),
                     *(["--batch", json.dumps(batch)] if batch else [])], stdout=-1, text=True)
        published = json.loads(pub.stdout.readline() or "{}")
        stop(pub)
        seen = json.loads(counter.stdout.readline() or "{}")
    finally:
        stop(counter)
    seconds = (seen["last"] - published["started"]) if seen.get("last") and published.get("started") else None
    return {"events": seen.get("events"), "messages": seen.get("messages"), "wire_bytes": seen.get("bytes"),
            "ordered": seen.get("ordered"), "acked": published.get("acked"),
            "quarantined": published.get("quarantined"), "seconds": round(seconds, 3) if seconds else None,
            "events_per_s": round(n / seconds) if seconds and seen.get("events") == n else None}


def run(opts: Any, broker: Any) -> dict[str, Any]:
    from common import spawn, stop
    from gateway.broker import free_port

    tmp = Path(tempfile.mkdtemp(prefix="tally-bench-drain-"))
    out: dict[str, Any] = {}
    rows = []
    try:
        for link, n in (("direct", opts.drain_events), ("throttled", opts.drain_link_events)):
            source = tmp / f"backlog-{link}.sqlite3"
            out[f"{link}_event_bytes"] = fill(source, n)
            proxy_proc = None
            port = broker.port
            if link == "throttled":
                port = free_port()
                proxy_proc = spawn([sys.executable, str(Path(__file__).resolve()), "proxy", "--port", str(port),
                                    "--target", str(broker.port), "--kbps", str(opts.drain_link_kbps),
                                    "--ms", str(opts.drain_link_ms)], stdout=-1, text=True)
                assert json.loads(proxy_proc.stdout.readline()).get("ready")
            try:
                results = {mode: drain_once(tmp, source, port, broker.port, n, batch, opts.drain_timeout)
                           for mode, batch in MODES.items()}
            finally:
                stop(proxy_proc)
            out[link] = results
            base = results["per message"]["events_per_s"]
            label = (f"{n} events, direct" if link == "direct" else
                     f"{n} events, {opts.drain_link_kbps} kB/s + {opts.drain_link_ms} ms")
            for mode, result in results.items():
                rate = result["events_per_s"]
                ratio = round(rate / base, 2) if rate and base else None
                if mode != "per message":
                    out[f"{link}_{mode.replace(' ', '_')}_ratio"] = ratio
                ok = None if mode == "per message" else (ratio is not None and ratio >= 3 and bool(result["ordered"]))
                rows.append((f"{label}: {mode}, events/s", rate,
                             "baseline" if mode == "per message" else f"x{ratio} (>= 3x)", ok))
        out["table"] = rows
        return out
    finally:
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_drain.py")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("publish")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--outbox", required=True)
    p.add_argument("--batch")
    p.add_argument("--timeout", type=float, default=300)
    c = sub.add_parser("count")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--timeout", type=float, default=300)
    x = sub.add_parser("proxy")
    x.add_argument("--port", type=int, required=True)
    x.add_argument("--target", type=int, required=True)
    x.add_argument("--kbps", type=float, required=True)
    x.add_argument("--ms", type=float, default=0)
    args = parser.parse_args(argv)
    return {"publish": publish, "count": count, "proxy": proxy}[args.command](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
