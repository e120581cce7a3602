"""Ingest from MQTT: shared subscriptions, and an acknowledgement only after the commit.

Instances in one `share_group` split `$share/{group}/{root}/+/events` (and positions, rejects)
between them: the broker gives each message to one of them. The session is persistent
(clean_start off, a session expiry), and paho's manual acknowledgement holds every PUBACK
until the batch holding that message is committed, so a tracker killed at any instant leaves
its unacknowledged messages with the broker, which delivers them again; storing is idempotent.

A gateway draining a backlog in batch mode (gateway/batch.py) sends EPCISDocuments to
`{root}/{id}/events-batch` (compressed: `…/events-batch/gzip`, `…/zlib`): each document is
unpacked here and its events stored exactly as if each had arrived alone on `…/events`; the
document's one PUBACK waits until all of its events are committed, in one store batch.

Status messages are retained, and a broker sends retained messages only to ordinary
subscriptions, so every instance subscribes to `{root}/+/status` itself (an idempotent update).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

from gateway import batch as batching
from gateway.credentials import authenticate
from gateway.mqtt_socket import BufferedClient

from . import epcis
from .config import TrackerConfig
from .store import Message, Store

log = logging.getLogger("tally.tracker.ingest")

SHARED = ("events", "positions", "rejects")
LINGER = 0.05  # seconds a batch waits for more messages after its first
GAP_SWEEP = 1.0  # seconds between looks for gaps whose grace has run out


def subscriptions(config: TrackerConfig) -> list[str]:
    root, group = config.topic_root, config.tracker["share_group"]
    return [f"$share/{group}/{root}/+/{kind}" for kind in SHARED] + [f"{root}/+/status"]


def batch_subscriptions(config: TrackerConfig) -> list[str]:
    root, group = config.topic_root, config.tracker["share_group"]
    return [f"$share/{group}/{root}/+/{batching.TOPIC}", f"$share/{group}/{root}/+/{batching.TOPIC}/+"]


def batch_kind(topic: str) -> tuple[str, str] | None:
    """(events topic, compression) of a batch topic; None for any other topic."""
    head, _, last = topic.rpartition("/")
    if last == batching.TOPIC:
        return head + "/events", "none"
    base, _, kind = head.rpartition("/")
    if kind == batching.TOPIC and base:
        return base + "/events", last
    return None


def unpack(topic: str, payload: bytes, received_at: str) -> list[Message]:
    """The events of a batch message, each as the Message it would have been alone. A payload that is
    not a readable EPCISDocument becomes one message on the events topic, which the store sets aside
    as invalid (counted, visible) like any broken event; an empty document is nothing to store."""
    kind = batch_kind(topic)
    assert kind is not None
    events_topic, how = kind
    try:
        body = batching.decompress(payload, how)
    except ValueError as exc:
        log.warning("an unreadable batch on %s: %s", topic, exc)
        return [Message(events_topic, payload, received_at)]
    try:
        events = batching.events_of(body)
    except ValueError as exc:
        log.warning("an unreadable batch on %s: %s", topic, exc)
        return [Message(events_topic, body, received_at)]
    return [Message(events_topic, batching.event_bytes(event), received_at) for event in events]


class Ingest:
    def __init__(self, config: TrackerConfig, store: Store):
        self.config = config
        self.store = store
        #: (a message, or the events of one batch message, its mid, its QoS), from the network thread to
        #: the writer: a deque and an Event, not a queue.Queue, whose lock and condition per put and get cost
        #: more than the rest of a message's hand-over
        self.inbox: collections.deque[tuple[Message | list[Message], int, int]] = collections.deque()
        self._arrived = threading.Event()
        #: (mid, QoS) of committed messages, whose PUBACKs the network thread sends as it takes the next
        #: message (or the writer, before it waits for more): an ack from the writer wakes the network
        #: thread through paho's socketpair each time, and the two threads then trade the GIL per message
        self._acks: collections.deque[tuple[int, int]] = collections.deque()
        self._ack_count = threading.Lock()  # both threads add to counters["acked"]
        self.batch = int(config.tracker["batch"])
        self.connected = False
        #: the broker granted every subscription of the current connection
        self.subscribed = False
        self.counters = {"messages": 0, "batches": 0, "acked": 0, "store_errors": 0, "connects": 0,
                         "batch_messages": 0, "batch_events": 0, "subscriptions_refused": 0}
        #: topic filters the broker refused (an ACL, shared subscriptions not allowed): nothing arrives on them
        self.refused: list[str] = []
        self._asked: list[str] = []
        self.last_error: str | None = None
        #: why commits fail right now (None while they succeed): /healthz says so
        self.failing: str | None = None
        self._stop = threading.Event()
        self._broker_index = 0
        self._writer = threading.Thread(target=self._write_loop, name="tracker-writer", daemon=True)
        self.client = self._make_client()

    # ---- MQTT ------------------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        cfg = self.config.mqtt
        self.v5 = cfg.get("protocol") != "3.1.1"
        client = BufferedClient(CallbackAPIVersion.VERSION2,
                             client_id=cfg.get("client_id") or f"tally-tracker-{self.config.tracker_id}",
                             protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311,
                             clean_session=None if self.v5 else False, manual_ack=True)
        client.reconnect_delay_set(0.2, 10)
        authenticate(client, cfg)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _connect_args(self) -> dict[str, Any]:
        broker = self.config.brokers[self._broker_index % len(self.config.brokers)]
        args: dict[str, Any] = {"host": broker.host, "port": broker.port, "keepalive": self.config.mqtt["keepalive"]}
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = int(self.config.tracker["session_expiry"])
            # Unacknowledged messages in hand are bounded: a slow store leaves the backlog with the broker.
            props.ReceiveMaximum = min(65535, 4 * self.batch)
            args.update(clean_start=False, properties=props)
        return args

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused: {reason_code}"
            log.warning("%s", self.last_error)
            return
        self.connected = True
        self.counters["connects"] += 1
        log.info("connected to the broker (session present: %s)", flags.session_present)
        self._asked = subscriptions(self.config) + batch_subscriptions(self.config)
        client.subscribe([(topic, 1) for topic in self._asked])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [topic for topic, code in zip(self._asked, reason_codes) if getattr(code, "is_failure", False)]
        self.refused = refused
        if refused:
            # Nothing will ever arrive on these: a state for /healthz, not just a log line.
            self.counters["subscriptions_refused"] += len(refused)
            self.last_error = f"the broker refused the subscriptions {', '.join(refused)}"
            log.warning("%s", self.last_error)
        else:
            self.subscribed = True
            log.info("subscribed to %d topic filters", len(self._asked))

    def _rotate(self) -> None:
        if len(self.config.brokers) > 1 and not self._stop.is_set():
            self._broker_index += 1
            self.client.connect_async(**self._connect_args())

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = self.subscribed = False
        if not self._stop.is_set():
            self.last_error = f"disconnected: {reason_code}"
            log.warning("broker link lost: %s", reason_code)
            self._rotate()

    def _on_connect_fail(self, client, userdata) -> None:
        self.last_error = "cannot connect"
        self._rotate()

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        if self._acks:
            self._send_acks()
        if batch_kind(message.topic) is not None:
            events = unpack(message.topic, bytes(message.payload), epcis.utc_now())
            for event in events:
                event.checked()
            self.counters["batch_messages"] += 1
            self.counters["batch_events"] += len(events)
            self._hand_over((events, message.mid, message.qos))
            return
        received = Message(message.topic, bytes(message.payload), epcis.utc_now())
        if received.parts[1] == "events":
            received.checked()  # here, while the writer waits on the database
        self._hand_over((received, message.mid, message.qos))

    def _send_acks(self) -> None:
        """PUBACKs for what is committed; either thread may call it, each ack is taken once."""
        sent = 0
        while True:
            try:
                mid, qos = self._acks.popleft()
            except IndexError:
                break
            self.client.ack(mid, qos)
            sent += 1
        if sent:
            with self._ack_count:
                self.counters["acked"] += sent

    def _hand_over(self, item: tuple[Message | list[Message], int, int]) -> None:
        self.inbox.append(item)
        if not self._arrived.is_set():  # the writer clears it before it looks and waits (_wait)
            self._arrived.set()

    # ---- writer ----------------------------------------------------------------------------------
    def _wait(self, timeout: float) -> bool:
        """Whether something is in the inbox, waiting at most `timeout` for it."""
        if self.inbox:
            return True
        if self._acks:  # nothing arriving right now: the network thread may not come by to send them
            self._send_acks()
        self._arrived.clear()
        if self.inbox:  # arrived between the look and the clear: its set() may have come before the clear
            return True
        return self._arrived.wait(timeout) if timeout > 0 else bool(self.inbox)

    def _take(self, timeout: float) -> list[tuple[Message | list[Message], int, int]]:
        """The next batch: up to `batch` messages, waiting at most LINGER after the first for more.
        Messages arrive one by one from the network thread; committing each trickle on its own would
        spend the time on per-commit work instead of on events."""
        if not self._wait(timeout):
            return []
        items: list[tuple[Message | list[Message], int, int]] = []
        size = 0
        deadline = time.monotonic() + LINGER
        while size < self.batch:
            try:
                item = self.inbox.popleft()
            except IndexError:
                if not self._wait(deadline - time.monotonic()):
                    break
                continue
            items.append(item)
            size += _size(item)
        return items

    def _commit(self, items: list[tuple[Message | list[Message], int, int]]) -> None:
        """Commit, then acknowledge; a failed commit is retried (never acknowledged, never dropped)."""
        messages = [m for item, _, _ in items for m in (item if isinstance(item, list) else (item,))]
        delay = 0.2
        while True:
            try:
                self.store.ingest(messages)
                self.failing = None
                break
            except Exception as exc:  # the database is away or refused: count, keep the batch, retry
                self.counters["store_errors"] += 1
                self.last_error = self.failing = f"store: {exc}"
                log.error("commit failed, retrying in %.1fs: %s", delay, exc)
                if self._stop.wait(delay):
                    return  # stopping: unacknowledged, so the broker delivers them again
                delay = min(delay * 2, 10)
        self.counters["messages"] += len(items)
        self.counters["batches"] += 1
        if self._acks:
            # The last batch's acks are still here after a whole commit: no message came in meanwhile
            # (the broker's window is full of what this instance holds), so nothing else would send them.
            self._send_acks()
        self._acks.extend((mid, qos) for _, mid, qos in items if qos > 0)

    def _write_loop(self) -> None:
        next_sweep = time.monotonic() + GAP_SWEEP
        while not self._stop.is_set():
            items = self._take(0.2)
            if items:
                self._commit(items)
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + GAP_SWEEP
                self._report_gaps()
        # Stopping: commit what has arrived, so a clean stop leaves nothing to redeliver.
        while True:
            items = self._take(0.05)
            if not items:
                break
            self._commit(items)
        self._send_acks()

    def _report_gaps(self) -> None:
        """The writer reports overdue gaps between batches: one thread writes, and a sweep that fails
        leaves the gaps unreported in the store for the next one (or another instance) to report."""
        try:
            self.store.report_gaps()
        except Exception as exc:  # nothing lost: the gaps stay in the store for the next sweep; counted
            self.counters["store_errors"] += 1  # (store_errors_total); a store that is away fails commits too
            self.last_error = f"store: {exc}"
            log.error("reporting gaps failed, retrying: %s", exc)

    # ---- life --------------------------------------------------------------------------------------
    def start(self) -> "Ingest":
        self._writer.start()
        self.client.connect_async(**self._connect_args())
        self.client.loop_start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._writer.join(timeout)
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    def backlog(self) -> int:
        return len(self.inbox)


def _size(item: tuple[Message | list[Message], int, int]) -> int:
    return len(item[0]) if isinstance(item[0], list) else 1
