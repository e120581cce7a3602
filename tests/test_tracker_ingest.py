"""Ingest through a real mosquitto: shared subscriptions, acknowledgement only after the commit, nothing lost
across a SIGKILL, a clean SIGTERM."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.helpers.tracker import TrackerProcess, object_event, write_tracker_config
from tracker.ingest import subscriptions
from tracker.config import parse


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-pub-{time.monotonic_ns()}",
                         protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def publish_all(client: mqtt.Client, messages: list[tuple[str, dict]], retain: bool = False) -> None:
    infos = [client.publish(topic, json.dumps(body), qos=1, retain=retain) for topic, body in messages]
    for info in infos:
        info.wait_for_publish(10)


def count(db: Path, sql: str = "SELECT COUNT(*) FROM events") -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=30) as conn:
        try:
            return conn.execute(sql).fetchone()[0]
        except sqlite3.OperationalError:  # not migrated yet
            return 0


def wait_count(db: Path, want: int, timeout: float = 30, sql: str = "SELECT COUNT(*) FROM events") -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = count(db, sql)
        if got >= want:
            return got
        time.sleep(0.05)
    return count(db, sql)


def test_subscriptions_are_shared_except_the_retained_status():
    config = parse({"tracker": {"id": "t", "share_group": "g"}, "mqtt": {"host": "h", "topic_root": "fleet/eu"}})
    assert subscriptions(config) == ["$share/g/fleet/eu/+/events", "$share/g/fleet/eu/+/positions",
                                     "$share/g/fleet/eu/+/rejects", "fleet/eu/+/status"]


def test_a_sigkill_loses_nothing_and_sigterm_exits_clean(mosquitto, tmp_path):
    db = tmp_path / "tracker.sqlite3"
    config = write_tracker_config(tmp_path / "tracker.toml", mosquitto.port, f"sqlite:{db}", batch=50)
    first = TrackerProcess(config, tmp_path / "tracker-1.log")
    pub = publisher(mosquitto.port)
    try:
        assert first.wait_log("subscribed to"), first.log_path.read_text()
        events = [object_event(n, [f"urn:epc:id:sgtin:0614141.107346.{n}"]) for n in range(1, 2001)]
        publish_all(pub, [("tally/gw-1/status", {"state": "online", "gateway": "gw-1"})], retain=True)
        publish_all(pub, [("tally/gw-1/events", e) for e in events[:1000]])
        assert wait_count(db, 1) > 0
        first.proc.send_signal(signal.SIGKILL)  # mid-stream: some received, not all committed
        first.proc.wait()
        publish_all(pub, [("tally/gw-1/events", e) for e in events[1000:]])  # kept by the broker for the session
        second = TrackerProcess(config, tmp_path / "tracker-2.log")
        try:
            assert wait_count(db, 2000) == 2000, second.log_path.read_text()[-2000:]
            publish_all(pub, [("tally/gw-1/events", e) for e in events[:10]])  # redelivered: no-ops
            publish_all(pub, [("tally/gw-1/events", dict(events[0], bizStep="shipping"))])
            assert wait_count(db, 1, sql="SELECT COUNT(*) FROM conflicts") == 1
            second.proc.send_signal(signal.SIGTERM)
            assert second.proc.wait(20) == 0
        finally:
            second.close()
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM events").fetchone() \
                == (2000, 2000, 1, 2000)
            assert conn.execute("SELECT state FROM gateways WHERE gateway = 'gw-1'").fetchone() == ("online",)
            # Nothing missing in the end; a gap seen while instances raced must be closed.
            assert conn.execute("SELECT COUNT(*) FROM gaps WHERE closed_at IS NULL").fetchone() == (0,)
    finally:
        pub.loop_stop()
        pub.disconnect()
        first.close()


def test_the_tracker_comes_back_after_a_broker_restart(mosquitto, tmp_path):
    db = tmp_path / "tracker.sqlite3"
    config = write_tracker_config(tmp_path / "tracker.toml", mosquitto.port, f"sqlite:{db}")
    tracker = TrackerProcess(config, tmp_path / "tracker.log")
    try:
        assert tracker.wait_log("connected to the broker"), tracker.log_path.read_text()
        mosquitto.stop()
        assert tracker.wait_log("broker link lost"), tracker.log_path.read_text()
        mosquitto.start()  # same port, no memory of the session: the tracker subscribes again
        deadline = time.monotonic() + 20
        while tracker.log_path.read_text().count("subscribed to") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        pub = publisher(mosquitto.port)
        try:
            publish_all(pub, [("tally/gw-1/events", object_event(1, ["urn:epc:id:sgtin:0614141.107346.1"]))])
            assert wait_count(db, 1) == 1, tracker.log_path.read_text()[-2000:]
        finally:
            pub.loop_stop()
            pub.disconnect()
        tracker.proc.send_signal(signal.SIGTERM)
        assert tracker.proc.wait(20) == 0
    finally:
        tracker.close()


def test_a_refused_subscription_is_a_failing_state(tmp_path):
    """A broker that lets the tracker see status but not events (mosquitto's dynamic-security plugin refuses a
    subscription in its SUBACK; its acl_file grants everything and delivers nothing): /healthz says so."""
    import urllib.error
    import urllib.request

    from gateway.broker import free_port
    from tests.helpers.mqtt import subscribe_only_to

    broker = subscribe_only_to(tmp_path, ["tally/+/status"])
    http = free_port()
    config = write_tracker_config(tmp_path / "tracker.toml", broker.port, f"sqlite:{tmp_path / 't.sqlite3'}",
                                  listen=f"127.0.0.1:{http}")
    tracker = TrackerProcess(config, tmp_path / "tracker.log")
    try:
        assert tracker.wait_log("the broker refused the subscriptions"), tracker.log_path.read_text()
        with pytest.raises(urllib.error.HTTPError) as refused:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=10).read()
                except urllib.error.URLError as exc:
                    if isinstance(exc, urllib.error.HTTPError):
                        raise
                time.sleep(0.1)  # still starting
        assert refused.value.code == 503
        [reason] = [r for r in json.loads(refused.value.read())["problems"] if "refused the subscriptions" in r]
        assert "$share/tracker/tally/+/events" in reason and "tally/+/status," not in reason
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=10).read().decode()
        assert "subscriptions_refused_total" in metrics
    finally:
        tracker.close()
        broker.close()


def test_every_committed_message_is_acknowledged_the_last_of_a_burst_too(mosquitto, tmp_path):
    """PUBACKs go out from the network thread as the next message comes in, or from the writer when none
    does: the last batch of a burst is acknowledged at once, not when the next message happens to arrive, and
    a new session gets nothing again."""
    from tracker.ingest import Ingest
    from tracker.store import Store

    config = parse({"tracker": {"id": "acks", "store": f"sqlite:{tmp_path / 't.sqlite3'}", "batch": 20},
                    "mqtt": {"host": "127.0.0.1", "port": mosquitto.port}})
    pub = publisher(mosquitto.port)
    ingest = None
    try:
        for attempt in range(2):
            store = Store(config.store).open()
            ingest = Ingest(config, store).start()
            deadline = time.monotonic() + 10
            while not ingest.subscribed and time.monotonic() < deadline:
                time.sleep(0.02)
            first = 300 * attempt + 1
            publish_all(pub, [("tally/gw-1/events", object_event(n, [f"urn:epc:id:sgtin:0614141.107346.{n}"]))
                              for n in range(first, first + 300)])
            deadline = time.monotonic() + 30
            while store.counts["stored"] < 300 and time.monotonic() < deadline:
                time.sleep(0.02)
            while ingest.counters["acked"] < 300 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert store.counts["stored"] == 300 and ingest.counters["acked"] == 300, (dict(store.counts),
                                                                                        ingest.counters)
            # Anything unacknowledged would come again to the next session, before the new messages.
            assert store.counts["duplicate"] == 0
            ingest.stop()
            store.close()
            ingest = None
    finally:
        if ingest is not None:
            ingest.stop()
        pub.loop_stop()
        pub.disconnect()
