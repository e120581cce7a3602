"""Tracker at fleet scale: 100 simulated gateways -> mosquitto -> 3 tracker instances on one private
PostgreSQL, against a bare paho subscriber in the same run; zero lost and zero duplicated across a
SIGKILL of one instance; /events?MATCH_anyEPC= and /track latency with `--tracker-events` stored.

Ingest is measured as a drain: the messages wait in the broker for the subscribers' sessions, then the
subscribers take them; rate = messages / (last receipt - first receipt) as the tracker stamps them
(recordTime; each is acknowledged only after its commit, so receipt is paced by commits), and for the
bare subscriber the same, drained once before and once after the trackers (the mean is the reference:
the load of a shared machine drifts). Two tracker drains:

- warm (the figure of the target): the instances are started, healthy and subscribed, then SIGSTOPped
  while the fleet publishes, then SIGCONTed together, so the drain is ingest and nothing else, as the
  bare subscriber's is;
- cold (as a restart after an outage looks): the instances start after the messages are queued, so
  three interpreters starting up (~0.6 s of CPU each) share the drain's cores.

During each drain the CPU of every party is read from /proc (trackers, the private PostgreSQL's
postmaster and its backends, mosquitto) and, for the bare subscriber, its own process's CPU: on a
2-core machine that, not the code alone, is what sets the ratio. Targets (issue 11): warm ingest >= 50 %
of the bare subscriber's rate; /track p99 <= 50 ms at 1 M events.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import common
import cpu_ledger

GATEWAYS = 100
INSTANCES = 3
#: seconds; the broker drops a client silent for 1.5x this, and a SIGSTOPped tracker is silent for as
#: long as the fleet takes to publish (20,000 messages can take a minute on a slow, loaded machine)
KEEPALIVE = 900
#: how often the drain's end is looked for (one query on one connection: cheap, and kept out of the CPU
#: figures)
POLL_S = 0.2


def fleet_events(count: int, start_seq: dict[str, int], base: float, offset: int) -> list[tuple[str, bytes]]:
    """Events as 100 gateways send them: per-gateway `tally:seq`, one unit each, a dock's read point."""
    from gateway import events

    where = events.Where(biz_step="receiving", disposition="in_progress", read_point=common.SITE["read_point"],
                         biz_location=common.SITE["biz_location"])
    out = []
    for i in range(count):
        gw = f"gw-{i % GATEWAYS:03d}"
        start_seq[gw] = start_seq.get(gw, 0) + 1
        event = events.object_event(wall=base + (offset + i) * 0.01, where=where,
                                    epcs=[f"urn:epc:id:sgtin:0614141.107346.{offset + i}"],
                                    extensions={"gateway": gw, "device": "door-1"})
        event["tally:seq"] = start_seq[gw]
        out.append((f"tally/{gw}/events", json.dumps(event).encode()))
    return out


def publish(broker: Any, messages: list[tuple[str, bytes]]) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-fleet", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.connect(broker.host, broker.port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(60)
    client.loop_stop()
    client.disconnect()


def bare_session(broker: Any, connect: bool, count: int = 0, end: bool = False) -> float | None:
    """A bare paho subscriber on its own share group; with connect: drains `count`, returns msgs/s.
    With end: its session ends on disconnect, so later publishes no longer queue for it."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    times: list[float] = []
    done = threading.Event()

    def on_message(c, u, m):
        times.append(time.monotonic())
        if len(times) >= count:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)
    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.on_connect = lambda c, *a: c.subscribe("$share/bare/tally/+/events", qos=1)
    client.connect(broker.host, broker.port, clean_start=False, properties=props)
    client.loop_start()
    if not connect:
        time.sleep(0.5)
        client.disconnect()
        client.loop_stop()
        return None
    done.wait(300)
    bye = None
    if end:
        bye = Properties(PacketTypes.DISCONNECT)
        bye.SessionExpiryInterval = 0
    client.disconnect(properties=bye)
    client.loop_stop()
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else None


def bare_drain(broker: Any, count: int, end: bool = False) -> tuple[float | None, float, float]:
    """(msgs/s, this process's CPU seconds, the broker's CPU seconds) of one bare drain: nothing else
    runs in this process meanwhile, so its CPU is the subscriber's (paho's network thread included)."""
    broker_before, own_before = common.cpu_seconds(broker.proc.pid) or 0.0, time.process_time()
    rate = bare_session(broker, connect=True, count=count, end=end)
    return (rate, time.process_time() - own_before, (common.cpu_seconds(broker.proc.pid) or 0.0) - broker_before)


class Fleet:
    def __init__(self, workdir: Path, broker: Any, url: str):
        self.url = url
        self.ports = [common_free_port() for _ in range(INSTANCES)]
        self.configs = []
        for i, port in enumerate(self.ports):
            path = workdir / f"tracker-{i}.toml"
            # log_level info: "subscribed to N topic filters" is how readiness is seen (nothing is logged
            # per message at info)
            path.write_text(f'[tracker]\nid = "bench-{i}"\nstore = "{url}"\nlisten = "127.0.0.1:{port}"\n'
                            f'batch = 500\nlog_level = "info"\n[mqtt]\nhost = "{broker.host}"\n'
                            f"port = {broker.port}\nkeepalive = {KEEPALIVE}\n")
            self.configs.append(path)
        self.workdir = workdir
        self.procs: list[Any] = [None] * INSTANCES
        self.log_offsets = [0] * INSTANCES
        self.paused = False

    def log_path(self, i: int) -> Path:
        return self.workdir / f"tracker-{i}.log"

    def start(self, i: int) -> None:
        path = self.log_path(i)
        self.log_offsets[i] = path.stat().st_size if path.exists() else 0
        log = open(path, "ab")
        self.procs[i] = common.spawn([common.PYTHON, "-m", "gateway", "tracker", "-c", str(self.configs[i])],
                                     stdout=log, stderr=log)

    def log_since_start(self, i: int) -> str:
        with open(self.log_path(i), "rb") as fh:
            fh.seek(self.log_offsets[i])
            return fh.read().decode(errors="replace")

    def healthy(self, i: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[i]}/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def ready(self, i: int) -> bool:
        """Running, /healthz 200 and its subscriptions granted: from now on the broker hands it messages."""
        return self.procs[i].poll() is None and self.healthy(i) and "subscribed to" in self.log_since_start(i)

    def start_all(self, timeout: float = 60) -> None:
        for i in range(INSTANCES):
            self.start(i)
        common.wait_until(lambda: all(self.ready(i) or self.procs[i].poll() is not None
                                      for i in range(INSTANCES)), timeout, interval=0.1)
        problems = []
        for i in range(INSTANCES):
            if not self.ready(i):
                code = self.procs[i].poll()
                state = f"exited with {code}" if code is not None else f"not healthy and subscribed after {timeout} s"
                tail = self.log_since_start(i).strip().splitlines()[-5:]
                problems.append(f"tracker {i} {state} (log {self.log_path(i)}: {' | '.join(tail)})")
        if problems:
            raise RuntimeError("; ".join(problems))

    def pause(self) -> None:
        self.paused = True
        for proc in self.procs:
            proc.send_signal(signal.SIGSTOP)
        # SIGSTOP is delivered asynchronously: the drain's "before" CPU must be read from stopped processes
        if not common.wait_until(lambda: all(cpu_ledger.state(p.pid) == "T" for p in self.procs), 10):
            raise RuntimeError("trackers not stopped by SIGSTOP: "
                               + ", ".join(f"{p.pid} {cpu_ledger.state(p.pid)}" for p in self.procs))

    def resume(self) -> None:
        """SIGCONT to every instance that may be stopped (safe to repeat, and to call for exited ones)."""
        if not self.paused:
            return
        self.paused = False
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p is not None and p.poll() is None]

    def stop_all(self) -> list[int | None]:
        self.resume()
        return [common.stop(p) for p in self.procs]


class StoreWatch:
    """One connection counting stored events until a drain is done; its own backend's CPU is known, so
    the PostgreSQL figure leaves the measuring out."""

    def __init__(self, url: str):
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        self.backend = self.conn.info.backend_pid

    def count(self, after_id: int = 0) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM events WHERE id > %s", (after_id,)).fetchone()[0]

    def last_id(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]

    def span(self, after_id: int) -> float:
        """Seconds from the first to the last receipt (recordTime) of the events stored after `after_id`."""
        value = self.conn.execute("SELECT EXTRACT(EPOCH FROM (MAX(record_time)::timestamptz - "
                                  "MIN(record_time)::timestamptz)) FROM events WHERE id > %s",
                                  (after_id,)).fetchone()[0]
        return float(value or 0)

    def own_cpu(self) -> float:
        return common.cpu_seconds(self.backend) or 0.0

    def close(self) -> None:
        self.conn.close()


def drain(fleet: Fleet, watch: StoreWatch, pg: Any, broker: Any, messages: int, after_id: int,
          go: Any) -> dict[str, Any]:
    """Call `go()` (which lets the trackers take the queued messages) and wait until `messages` more
    events are stored; the rate from their recordTimes, the CPU of each party over the window."""
    postmaster = cpu_ledger.postmaster_pid(pg.data)
    ledger = cpu_ledger.CpuLedger({
        "trackers": cpu_ledger.processes_cpu(fleet.pids),
        "postgres": lambda: cpu_ledger.server_cpu(postmaster) - watch.own_cpu(),
        "broker": lambda: common.cpu_seconds(broker.proc.pid) or 0.0,
        "harness": cpu_ledger.processes_cpu(lambda: [os.getpid()]),
    }, mine=lambda: {*fleet.pids(), postmaster, *cpu_ledger.children_of(postmaster), broker.proc.pid,
                     os.getpid()}).start()
    go()
    if not common.wait_until(lambda: watch.count(after_id) >= messages, 600, interval=POLL_S):
        raise RuntimeError(f"only {watch.count(after_id)} of {messages} stored in 600 s (the trackers' logs: "
                           f"--keep keeps {fleet.workdir})")
    ledger.stop()
    span = watch.span(after_id)
    return {"rate": (messages - 1) / span if span else None, "span_s": round(span, 3), "ledger": ledger}


def common_free_port() -> int:
    from gateway.broker import free_port

    return free_port()


def count(url: str, sql: str = "SELECT COUNT(*) FROM events") -> Any:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchone()


def bulk_load(url: str, total: int, offset: int) -> float:
    """`total` more events straight into the store with COPY (rows built by the tracker's own code)."""
    import psycopg

    from tracker import epcis
    from tracker.store import Checked, Message

    from gateway import events

    where = events.Where(biz_step="storing", disposition="in_progress", read_point=common.SITE["read_point"],
                         biz_location=common.SITE["biz_location"])
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        first_id = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM events").fetchone()[0]
        with conn.cursor() as cur:
            with cur.copy("COPY events (id, event_id, type, event_time, record_time, action, biz_step, disposition, "
                          "read_point, biz_location, gateway, seq, digest, body) FROM STDIN") as copy_events:
                idents = []
                for i in range(total):
                    n = offset + i
                    gw = f"hist-{n % GATEWAYS:03d}"
                    parent = f"urn:epc:id:sscc:0614141.{n // 20:010d}"
                    event = (events.aggregation_event(wall=1.7e9 + n, where=where, parent=parent,
                                                      children=[f"urn:epc:id:sgtin:0614141.107346.{n}"],
                                                      extensions={"gateway": gw})
                             if n % 10 == 0 else
                             events.object_event(wall=1.7e9 + n, where=where,
                                                 epcs=[f"urn:epc:id:sgtin:0614141.107346.{n}"],
                                                 extensions={"gateway": gw}))
                    payload = json.dumps(event).encode()
                    message = Message(f"tally/{gw}/events", payload, epcis.utc_now())
                    item = Checked(0, message, gw, event, event["eventID"], hashlib.sha256(payload).hexdigest(),
                                   epcis.utc(event["eventTime"]), None)
                    copy_events.write_row((first_id + i, *item.row()))
                    idents += [(first_id + i, *ident) for ident in item.identifiers()]
            with cur.copy("COPY identifiers (event, role, value, quantity, uom) FROM STDIN") as copy_idents:
                for row in idents:
                    copy_idents.write_row(row)
        conn.execute("SELECT setval(pg_get_serial_sequence('events', 'id'), (SELECT MAX(id) FROM events))")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        # VACUUM too: autovacuum would otherwise take the million fresh rows (and set their visibility
        # map and hint bits) a minute later, in the middle of the latency measurement.
        conn.execute("VACUUM (ANALYZE)")
    return time.monotonic() - started


def latency(port: int, paths: list[str]) -> dict[str, Any]:
    ms = []
    for path in paths:
        t0 = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
            r.read()
        ms.append((time.perf_counter() - t0) * 1000)
    return common.latency_summary(ms)


def run(opts: Any, broker: Any) -> dict[str, Any]:
    import tempfile

    from tests.helpers.postgres import PrivatePostgres

    n = min(5000, opts.tracker_count) if opts.quick else opts.tracker_count
    stored_target = min(50_000, opts.tracker_events) if opts.quick else opts.tracker_events
    workdir = Path(tempfile.mkdtemp(prefix="tally-bench-tracker-"))
    pg = PrivatePostgres().start()
    fleet: Fleet | None = None
    watch: StoreWatch | None = None
    try:
        url = pg.create_database()
        seqs: dict[str, int] = {}
        base = time.time() - 3600
        # Distinct events per drain (the store de-duplicates on eventID), in `tally:seq` order per gateway.
        warm_msgs = fleet_events(n, seqs, base, 0)
        cold_msgs = fleet_events(n, seqs, base, n)
        second = fleet_events(n // 2, seqs, base, 2 * n)

        # Baseline: a bare paho subscriber draining the same n messages from its session.
        bare_session(broker, connect=False)
        publish(broker, warm_msgs)
        bare_before, bare_cpu_before, broker_cpu_before = bare_drain(broker, n)

        # Warm: 3 instances up and subscribed, stopped while the fleet publishes, continued together.
        fleet = Fleet(workdir, broker, url)
        watch = StoreWatch(url)
        fleet.start_all()
        fleet.pause()
        try:
            publish(broker, warm_msgs)
            warm = drain(fleet, watch, pg, broker, n, 0, go=fleet.resume)
        finally:
            fleet.resume()
        # The bare subscriber again, on the same messages (its session got them too): on a shared machine
        # the load drifts, so the reference is the mean of a drain just before and one just after. Its
        # session ends here: the cold and SIGKILL drains are the trackers' alone.
        bare_after, bare_cpu_after, broker_cpu_after = bare_drain(broker, n, end=True)
        bare = (bare_before + bare_after) / 2 if bare_before and bare_after else bare_before or bare_after

        # Cold: the messages wait for the stopped instances' sessions, then three fresh processes start.
        fleet.stop_all()
        publish(broker, cold_msgs)
        mark = watch.last_id()
        cold = drain(fleet, watch, pg, broker, n, mark, go=fleet.start_all)

        # A SIGKILL of one instance while another n/2 drain: nothing lost, nothing twice.
        publish(broker, second)
        common.wait_until(lambda: watch.count() >= 2 * n + n // 8, 120, interval=POLL_S)
        common.stop(fleet.procs[0], sig=9)
        fleet.start(0)
        total = 2 * n + n // 2
        common.wait_until(lambda: watch.count() >= total, 300, interval=POLL_S)
        rows, distinct = count(url, "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM events")
        open_gaps = count(url, "SELECT COUNT(*) FROM gaps WHERE closed_at IS NULL")[0]
        watch.close()

        # Queries with `stored_target` events in the store.
        load_s = bulk_load(url, max(0, stored_target - total), total)
        stored = count(url)[0]
        rng = random.Random(opts.seed)
        picks = [rng.randrange(stored) for _ in range(300 if not opts.quick else 100)]
        any_epc = latency(fleet.ports[1], [f"/events?MATCH_anyEPC=urn:epc:id:sgtin:0614141.107346.{k}&perPage=30"
                                           for k in picks])
        track = latency(fleet.ports[1], [f"/track/urn:epc:id:sgtin:0614141.107346.{k}" for k in picks])
        exits = fleet.stop_all()

        tracker_rate, cold_rate = warm["rate"], cold["rate"]
        ratio = tracker_rate / bare if tracker_rate and bare else None
        cold_ratio = cold_rate / bare if cold_rate and bare else None
        cpu = {**{k: v for k, v in warm["ledger"].per_message_ms(n).items() if k != "harness"},
               "bare_subscriber": round(1000 * (bare_cpu_before + bare_cpu_after) / (2 * n), 3)}
        parties = ["trackers", "postgres", "broker"]
        utilisation = {"run": round(warm["ledger"].utilisation(parties), 3),
                       "harness": round(warm["ledger"].utilisation(["harness"]), 3),
                       "machine": round(warm["ledger"].machine, 3),
                       "interrupts": round(warm["ledger"].interrupts, 3),
                       "window_s": round(warm["ledger"].wall, 3), "cores": cpu_ledger.cores(),
                       "busiest_others": warm["ledger"].busiest_others()}
        cold_cpu = {k: v for k, v in cold["ledger"].per_message_ms(n).items() if k != "harness"}
        cold_utilisation = {"run": round(cold["ledger"].utilisation(parties), 3),
                            "machine": round(cold["ledger"].machine, 3),
                            "interrupts": round(cold["ledger"].interrupts, 3), "window_s": round(cold["ledger"].wall, 3),
                            "busiest_others": cold["ledger"].busiest_others()}
        cpu_text = "/".join(f"{cpu[k]:.2f}" for k in (*parties, "bare_subscriber"))
        return {
            "gateways": GATEWAYS, "instances": INSTANCES, "messages": n,
            "bare_subscriber_msgs_per_s": round(bare or 0, 1), "tracker_events_per_s": round(tracker_rate or 0, 1),
            "bare_before_after_msgs_per_s": [round(bare_before or 0, 1), round(bare_after or 0, 1)],
            "ratio": round(ratio, 3) if ratio else None,
            "warm_span_s": warm["span_s"],
            # ms of CPU per message during the warm drain (the bare subscriber: during its own drains)
            "cpu_ms_per_msg": cpu,
            "broker_cpu_ms_per_msg_bare_drain": round(1000 * (broker_cpu_before + broker_cpu_after) / (2 * n), 3),
            # CPU of trackers + PostgreSQL + broker / (window x cores), from SIGCONT to the drain seen done;
            # harness: this process (waiting, polling); machine: every core's busy share (a shared machine's
            # other work is machine - run - harness - interrupts); interrupts: irq + softirq (loopback TCP),
            # which no process is charged for
            "utilisation": utilisation,
            "cold": {"tracker_events_per_s": round(cold_rate or 0, 1), "ratio": round(cold_ratio, 3) if cold_ratio
                     else None, "span_s": cold["span_s"], "cpu_ms_per_msg": cold_cpu,
                     "utilisation": cold_utilisation},
            "sigkill": {"published": total, "stored": rows, "distinct": distinct, "lost": total - distinct,
                        "duplicated": rows - distinct, "open_gaps": open_gaps},
            "stored_events": stored, "bulk_load_s": round(load_s, 1),
            "match_any_epc": any_epc, "track": track, "exit_codes": exits,
            "table": [
                ("tracker ingest, 3 warm instances (events/s)", round(tracker_rate or 0),
                 f"bare paho {round(bare or 0)}/s ({round(bare_before or 0)}, {round(bare_after or 0)}): "
                 f"{ratio or 0:.0%}", bool(ratio and ratio >= 0.5)),
                ("tracker ingest, 3 started cold (events/s)", round(cold_rate or 0),
                 f"{cold_ratio or 0:.0%} of bare paho (start-up inside)", None),
                ("CPU ms/msg warm: tracker/pg/broker/bare", cpu_text,
                 f"{utilisation['run']:.0%} of {utilisation['cores']} cores (machine {utilisation['machine']:.0%})",
                 None),
                ("lost / duplicated across a SIGKILL", f"{total - distinct} / {rows - distinct}", f"of {total}",
                 total == distinct == rows),
                (f"/events?MATCH_anyEPC= p50/p99 ms @{stored}", f"{any_epc['p50_ms']}/{any_epc['p99_ms']}", "", None),
                (f"/track p50/p99 ms @{stored}", f"{track['p50_ms']}/{track['p99_ms']}", "target p99 <= 50 ms",
                 track["p99_ms"] <= 50),
            ],
        }
    finally:
        if fleet is not None:
            fleet.resume()
        if watch is not None and not watch.conn.closed:
            watch.close()
        common.reap_all()
        pg.stop()
        if not opts.keep:
            shutil.rmtree(workdir, ignore_errors=True)
