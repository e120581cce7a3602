"""Bare paho-mqtt peers, each in its own process: the baseline publisher and the counting subscriber.

    python benchmarks/paho_peer.py count --port P --topic T --count N [--record]
    python benchmarks/paho_peer.py publish --port P --topic T --payloads FILE [--window 64]

Each prints JSON lines on stdout: `count` says {"ready": true} once its subscription is acknowledged,
then one result line; `publish` prints one result line when every message is PUBACKed.
Times are time.monotonic() (one clock for every process on the machine).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def say(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def count(args: argparse.Namespace) -> int:
    """Count arrivals on a topic; with --record also each event's tally:raw and arrival time."""
    state = {"n": 0, "first": None, "last": None, "ready": False, "seq": 0, "out_of_order": 0, "repeats": 0,
             "first_seq": None}
    arrivals: list[tuple[str, float]] = []
    record, check_seq = args.record, args.check_seq
    seq_rx = re.compile(rb'"tally:seq":(\d+)')

    def on_connect(c, userdata, flags, reason_code, properties):
        c.subscribe(args.topic, qos=args.qos)

    def on_subscribe(c, userdata, mid, reason_codes, properties):
        state["ready"] = True
        say({"ready": True})

    def on_message(c, userdata, message):
        now = time.monotonic()
        if state["first"] is None:
            state["first"] = now
        state["last"] = now
        state["n"] += 1
        if check_seq:
            # Cheaper than parsing the JSON: the subscriber must not become the bottleneck.
            m = seq_rx.search(message.payload)
            seq = int(m.group(1)) if m else -1
            if state["first_seq"] is None:
                state["first_seq"] = seq
            if seq <= state["seq"]:
                state["repeats"] += 1
            elif seq != state["seq"] + 1 and state["seq"]:
                state["out_of_order"] += 1
            state["seq"] = max(state["seq"], seq)
        if record:
            try:
                raw = json.loads(message.payload).get("tally:raw")
            except ValueError:
                raw = None
            arrivals.append((raw, now))

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-count-{time.monotonic_ns()}",
                         protocol=mqtt.MQTTv311, clean_session=True)
    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    start = time.monotonic()
    deadline = start + args.deadline
    while True:
        try:
            client.connect("127.0.0.1", args.port, keepalive=30)
            break
        except OSError:
            # --retry: waiting for a broker that is about to start, so as to be subscribed before anyone
            # publishes (the gateway reconnects on its own schedule).
            if not args.retry or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    while time.monotonic() < deadline and state["n"] < args.count:
        client.loop(timeout=0.05)
        quiet_since = state["last"] or start
        if state["ready"] and state["n"] and time.monotonic() - quiet_since > args.idle:
            break
    client.disconnect()
    result = {"received": state["n"], "first": state["first"], "last": state["last"]}
    if check_seq:
        result["first_seq"] = state["first_seq"]
        result.update(last_seq=state["seq"], gaps=state["out_of_order"], repeats=state["repeats"])
    if record:
        result["arrivals"] = arrivals
    say(result)
    return 0


def publish(args: argparse.Namespace) -> int:
    """Publish every payload at QoS 1 as fast as paho takes them; report when all are PUBACKed."""
    with open(args.payloads, "rb") as fh:
        payloads = [line.rstrip(b"\n") for line in fh if line.strip()]
    acked = threading.Event()
    connected = threading.Event()
    state = {"acks": 0, "last": None}
    total = len(payloads)

    def on_connect(c, userdata, flags, reason_code, properties):
        connected.set()

    def on_publish(c, userdata, mid, reason_code, properties):
        state["acks"] += 1
        if state["acks"] == total:
            state["last"] = time.monotonic()
            acked.set()

    protocol = mqtt.MQTTv5 if args.protocol == "5" else mqtt.MQTTv311
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{time.monotonic_ns()}",
                         protocol=protocol)
    client.max_inflight_messages_set(args.window)
    client.max_queued_messages_set(0)
    client.on_connect, client.on_publish = on_connect, on_publish
    client.connect("127.0.0.1", args.port, keepalive=30)
    client.loop_start()
    try:
        if not connected.wait(10):
            say({"error": "could not connect"})
            return 1
        t0 = time.monotonic()
        cpu0 = time.process_time()
        for payload in payloads:
            client.publish(args.topic, payload, qos=1)
        t_queued = time.monotonic()
        ok = acked.wait(args.deadline)
        say({"sent": total, "acked": state["acks"], "t0": t0, "t_queued": t_queued, "t_acked": state["last"],
             "ok": ok, "cpu_s": time.process_time() - cpu0})
    finally:
        client.disconnect()
        client.loop_stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    c = sub.add_parser("count")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--topic", required=True)
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--qos", type=int, default=1)
    c.add_argument("--record", action="store_true")
    c.add_argument("--check-seq", action="store_true", help="count tally:seq gaps and repeats")
    c.add_argument("--retry", action="store_true", help="keep trying to connect until the broker is up")
    c.add_argument("--idle", type=float, default=10.0, help="give up after this long without a message")
    c.add_argument("--deadline", type=float, default=300.0)
    p = sub.add_parser("publish")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--payloads", required=True)
    p.add_argument("--window", type=int, default=64, help="QoS 1 messages in flight (the gateway's mqtt.window)")
    p.add_argument("--protocol", choices=("5", "3.1.1"), default="5")
    p.add_argument("--deadline", type=float, default=300.0)
    args = parser.parse_args()
    return count(args) if args.what == "count" else publish(args)


if __name__ == "__main__":
    sys.exit(main())
