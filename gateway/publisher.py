"""The publisher: outbox rows to the broker at QoS 1; a PUBACK deletes the row.

paho-mqtt 2.x runs its network loop in our own thread, one paho client per
connection: on every (re)connect we re-send from the first unacknowledged outbox
row, so redelivery never depends on paho's in-memory queue and order per device
is kept. Broker addresses (the nodes of a cluster) are tried in turn with
exponential backoff and jitter. MQTT 5 first; a broker that refuses the protocol
version gets 3.1.1 from then on.

State has one owner: `_inflight`, `_next_id` and the link state belong to the
asyncio loop; the network thread only hands events over with call_soon_threadsafe.

A record the broker will not take never blocks the ones behind it. Before sending,
its size is checked against the server's Maximum Packet Size (MQTT 5 CONNACK); MQTT 5
PUBACK reason codes say the rest: a permanent refusal (topic or payload format invalid,
packet too large) moves the record to the outbox's quarantine (counted, kept on disk,
`tally outbox` lists, exports, re-sends or discards it); a refusal that may pass
(not authorized, quota exceeded, unspecified) is retried with backoff while the records
behind it flow, and marks the gateway degraded. Under MQTT 3.1.1 a broker cannot say
no: it drops the connection or the message silently, which only the tracker's gap
detection can see.

Two gateways with the same client id (a cloned SD card) take each other's session in
turn. A takeover (reason 0x8E) or another instance's live status on our own status topic
is counted, reported, and backs the reconnects off instead of fighting every half second.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from . import batch as batching
from .config import Broker, Config
from .credentials import CredentialsError, authenticate
from .mqtt_socket import BufferedClient
from .outbox import Entry, Outbox

log = logging.getLogger("tally.mqtt")

BACKOFF_MIN = 0.5
BACKOFF_MAX = 30.0
SHORT_LIVED = 3.0         # a connection lost this soon after it was made counts as taken over
TAKEOVER_WINDOW = 120.0   # this many seconds ...
TAKEOVERS_MAX = 3         # ... with this many takeovers: another client has our id
TAKEOVER_BACKOFF = 60.0   # then wait this long (doubling, to 10 min) before taking the session back
RETRY_MIN, RETRY_MAX = 1.0, 60.0
UNCERTAIN_TRIES = 5       # refusals that do not say why: after this many, the record is quarantined
BATCH_TROUBLE = 2         # refused batches or connections lost with one in flight (none acknowledged since) ...
BATCH_PAUSE = 30.0        # ... then everything goes one by one this long (doubling, to 10 min): some brokers
                          # (mosquitto 2.0) hang up after a refusal, before its PUBACK is read
DEGRADED_FOR = 300.0      # a refusal marks the gateway degraded this long after the last one

# MQTT 5 reason codes (PUBACK / DISCONNECT)
PERMANENT = {0x90: "topic name invalid", 0x95: "packet too large", 0x99: "payload format invalid"}
AUTHORIZATION = {0x87: "not authorized"}
TRANSIENT = {0x97: "quota exceeded", 0x91: "packet identifier in use"}
UNCERTAIN = {0x80: "unspecified error", 0x83: "implementation specific error"}
SESSION_TAKEN_OVER = 0x8E
PERMANENT_TOO_LARGE = 0x95


def packet_size(topic: str, payload: bytes, v5: bool) -> int:
    """The PUBLISH packet's size on the wire at QoS 1 (what Maximum Packet Size limits)."""
    remaining = 2 + len(topic.encode()) + 2 + (1 if v5 else 0) + len(payload)
    length_bytes = 1 if remaining < 128 else 2 if remaining < 16384 else 3 if remaining < 2097152 else 4
    return 1 + length_bytes + remaining


@dataclass
class LinkState:
    state: str = "connecting"  # connecting | connected | down
    broker: str | None = None
    since: float = 0.0
    error: str | None = None
    protocol: str | None = None
    connects: int = 0


class Publisher:
    def __init__(self, config: Config, outbox: Outbox, loop: asyncio.AbstractEventLoop,
                 status_payload: Callable[[], dict[str, Any]] | None = None,
                 on_message: Callable[[str, bytes], None] | None = None):
        self.config = config
        self.outbox = outbox
        self.loop = loop
        self.status_payload = status_payload or (lambda: {})
        self.on_message = on_message
        root = config.topic_root
        gid = config.gateway_id
        self.topics = {s: f"{root}/{gid}/{s}" for s in ("events", "positions", "rejects")}
        self.status_topic = f"{root}/{gid}/status"
        self.command_topic = f"{root}/{gid}/commands"
        self.manifest_topic = f"{root}/{gid}/manifest"  # retained, from the centre (gateway/manifest.py)
        self.window = int(config.mqtt["window"])
        self.link = LinkState(since=time.time())
        self.published = 0
        self.acked = 0
        self.last_ack_wall: float | None = None
        self.instance = uuid.uuid4().hex[:12]  # tells two gateways with one id apart in their status
        self.beat = time.monotonic()           # the network thread's last turn (supervision)
        self.max_packet: int | None = None     # the server's Maximum Packet Size, when it says
        self.quarantined = 0
        self.refusals: dict[str, int] = {}     # reason -> count
        self.denied: dict[str, tuple[str, float]] = {}  # stream -> (reason, monotonic time) of the last refusal
        #: topic filters the broker refused in its SUBACK (an ACL): remote commands or manifests cannot arrive
        self.refused_subscriptions: dict[str, str] = {}
        self.takeovers: deque[float] = deque(maxlen=TAKEOVERS_MAX * 4)
        self.duplicate: str | None = None      # why we believe another gateway has our id
        self._retries: dict[int, int] = {}     # outbox id -> refusals so far (loop-owned)
        self._waiting: set[int] = set()        # refused ids whose retry is not due yet: sends skip them
        self._takeover_pause = 0.0             # network thread: wait before reconnecting after takeovers
        # asyncio-owned
        self._inflight: OrderedDict[int, tuple[int, str, int]] = OrderedDict()  # mid -> (row id, stream, len)
        self._next_after = 0  # highest outbox id handed to the current connection
        self._client: mqtt.Client | None = None
        self._generation = 0
        self._acks: list[tuple[int, str, int]] = []
        self._ack_flush: asyncio.TimerHandle | None = None
        # network thread
        self._stop = threading.Event()
        self._attention = threading.Event()  # wakes the network thread: stop() and lost connections set it
        self._thread: threading.Thread | None = None
        self._protocol = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}.get(config.mqtt["protocol"], mqtt.MQTTv5)
        self._auto_protocol = config.mqtt["protocol"] == "auto"
        # Batch drain (gateway/batch.py): loop-owned like _inflight
        self.batch = batching.BatchConfig.from_table(config.mqtt.get("batch"))
        self.batch_topic = batching.topic(self.topics["events"], self.batch.compress)
        self._batch_rows: dict[int, list[int]] = {}  # mid of a batch in flight -> its outbox ids
        self._single: set[int] = set()      # rows of a refused batch: from now on sent one by one
        self._respill: deque[int] = deque()  # ... and those of them not sent again yet (window permitting)
        self.batches = 0                    # documents published
        self.batched = 0                    # events in them
        self.batch_splits = 0               # refused documents split back into single messages
        self._batch_trouble = 0
        self._batch_pause_until = 0.0

    # ---- asyncio side -------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._network_supervised, name="mqtt", daemon=True)
        self._thread.start()

    def thread_alive(self) -> bool:
        return self._stop.is_set() or (self._thread is not None and self._thread.is_alive())

    def wake(self, _last_id: int | None = None) -> None:
        """New rows were committed: send what the window allows."""
        if self._client is None or self.link.state != "connected":
            return
        room = self.window - len(self._inflight)
        while self._respill and room > 0:
            if not self._resend(self._respill[0]):
                return  # kept: the reconnect's resend starts at or before the first of them
            self._respill.popleft()
            room = self.window - len(self._inflight)
        while room > 0:
            if self._batching():
                if not self._send_batched():
                    return
                room = self.window - len(self._inflight)
                continue
            entries = self.outbox.fetch(self._next_after, min(room, 500))
            if not entries:
                return
            for entry in entries:
                if not self._send(entry):
                    return
            room = self.window - len(self._inflight)

    def _send(self, entry: Entry) -> bool:
        client = self._client
        assert client is not None
        if entry.id in self._waiting:
            # Refused, its retry not due: a resend from an earlier row must not send it again now (some
            # brokers hang up after a refusal, and it would stall everything behind it).
            self._next_after = max(self._next_after, entry.id)
            return True
        topic = self.topics.get(entry.stream, self.topics["events"])
        if self.max_packet is not None:
            size = packet_size(topic, entry.payload, self.link.protocol == "5")
            if size > self.max_packet:
                self._quarantine(entry.id, entry.stream,
                                 f"{size} bytes, over the broker's Maximum Packet Size of {self.max_packet}")
                self._next_after = max(self._next_after, entry.id)
                return True
        info = client.publish(topic, entry.payload, qos=1)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_QUEUE_SIZE):
            if info.rc != MQTTErrorCode.MQTT_ERR_NO_CONN:
                log.warning("publish failed: %s", mqtt.error_string(info.rc))
            return False
        self._inflight[info.mid] = (entry.id, entry.stream, len(entry.payload))
        self._next_after = entry.id
        self.published += 1
        return True

    def _batching(self) -> bool:
        # The outbox's count includes what is in flight: "a backlog" is what has not been acknowledged.
        return (self.batch.enabled and self.outbox.counts["events"] >= max(2, self.batch.min_backlog)
                and time.monotonic() >= self._batch_pause_until)

    def _batch_failed(self, what: str) -> None:
        self._batch_trouble += 1
        if self._batch_trouble >= BATCH_TROUBLE:
            pause = min(600.0, BATCH_PAUSE * 2 ** (self._batch_trouble - BATCH_TROUBLE))
            self._batch_pause_until = time.monotonic() + pause
            log.warning("%s (%d times, none acknowledged since): events go one by one for %.0fs", what,
                        self._batch_trouble, pause)

    def _send_batched(self) -> bool:
        """One window's worth from the outbox, runs of events packed into documents; False: stop for now."""
        entries = self.outbox.fetch(self._next_after, self.batch.max_events)
        if not entries:
            return False
        i, n = 0, len(entries)
        single, waiting = self._single, self._waiting
        while i < n:
            if len(self._inflight) >= self.window:
                return True
            j = i
            while j < n and entries[j].stream == "events" and entries[j].id not in single and (
                    entries[j].id not in waiting):
                j += 1
            used = self._send_batch(entries[i:j]) if j - i >= 2 else 0
            if used is None:
                return False
            if used == 0:
                if not self._send(entries[i]):
                    return False
                used = 1
            i += used
        return True

    def _send_batch(self, run: list[Entry]) -> int | None:
        """Publish the longest leading part of `run` that fits in one document: how many rows; 0: send
        them singly instead; None: the client would not take it."""
        client = self._client
        assert client is not None
        v5 = self.link.protocol == "5"
        properties = None
        extra = 0
        if v5:
            properties = Properties(PacketTypes.PUBLISH)
            properties.ContentType = batching.CONTENT_TYPE
            if self.batch.compress == "none":
                properties.PayloadFormatIndicator = 1
            else:
                properties.UserProperty = ("content-encoding", self.batch.compress)
            extra = len(properties.pack()) + 4  # + a longer length field, at worst

        def fits(body: bytes) -> bool:
            return self.max_packet is None or packet_size(self.batch_topic, body, v5) + extra <= self.max_packet

        count, body = batching.pack([entry.payload for entry in run], self.batch, fits)
        if count < 2:
            return 0
        info = client.publish(self.batch_topic, body, qos=1, properties=properties)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_QUEUE_SIZE):
            if info.rc != MQTTErrorCode.MQTT_ERR_NO_CONN:
                log.warning("publish failed: %s", mqtt.error_string(info.rc))
            return None
        rows = [entry.id for entry in run[:count]]
        self._inflight[info.mid] = (rows[0], "events", len(body))
        self._batch_rows[info.mid] = rows
        self._next_after = rows[-1]
        self.published += 1
        self.batches += 1
        self.batched += count
        return count

    def _split(self, mid: int, reason: str) -> list[int]:
        """A batch the broker refused: its rows go one by one from now on (a single one that is refused
        again meets the usual retry or quarantine); returns them."""
        rows = self._batch_rows.pop(mid, [])
        self._single.update(rows)
        self.batch_splits += 1
        self._batch_failed("the broker refused a batch")
        log.warning("the broker refused a batch of %d events (outbox ids %d..%d): %s; sending them one by one",
                    len(rows), rows[0] if rows else 0, rows[-1] if rows else 0, reason)
        return rows

    def _on_acked(self, generation: int, mids: Iterable[int]) -> None:
        if generation != self._generation:
            return  # PUBACKs from a connection we already gave up on
        inflight, acks = self._inflight, self._acks
        count = 0
        retries = self._retries
        for mid in mids:
            item = inflight.pop(mid, None)
            if item is not None and self._batch_rows:
                rows = self._batch_rows.pop(mid, None)
                if rows is not None:
                    acks.extend((row, "events", 0) for row in rows)
                    count += len(rows)
                    self._batch_trouble = 0
                    continue
            if item is not None:
                acks.append(item)
                count += 1
                if self._single:
                    self._single.discard(item[0])
                if retries and retries.pop(item[0], None) is not None:
                    self.denied.pop(item[1], None)  # a refused record got through: the refusal is over
        if not count:
            return
        self.acked += count
        self.last_ack_wall = time.time()
        if len(acks) >= 256:
            self._flush_acks()
        elif self._ack_flush is None:
            self._ack_flush = self.loop.call_later(0.02, self._flush_acks)
        self.wake()

    def _quarantine(self, row_id: int, stream: str, reason: str) -> None:
        self.quarantined += 1
        self._retries.pop(row_id, None)
        self._waiting.discard(row_id)
        log.error("the broker will not take a %s record (outbox id %d): %s; moved to the quarantine "
                  "(tally outbox list)", stream, row_id, reason)
        self.outbox.quarantine([(row_id, reason)])

    def _on_refused(self, generation: int, mid: int, code: int, name: str) -> None:
        """A PUBACK with a failure reason code (MQTT 5), on the loop."""
        if generation != self._generation:
            return
        item = self._inflight.pop(mid, None)
        if item is None:
            return
        row_id, stream, _ = item
        reason = f"{name} (0x{code:02X})"
        self.refusals[reason] = self.refusals.get(reason, 0) + 1
        if mid in self._batch_rows:
            self._respill.extend(self._split(mid, reason))
            self.wake()
            return
        tries = self._retries[row_id] = self._retries.get(row_id, 0) + 1
        if code in PERMANENT or (code in UNCERTAIN and tries >= UNCERTAIN_TRIES):
            self._quarantine(row_id, stream, f"refused by the broker: {reason}" +
                             (f", {tries} times" if tries > 1 else ""))
        else:
            self.denied[stream] = (reason, time.monotonic())
            delay = min(RETRY_MAX, RETRY_MIN * 2 ** (tries - 1)) * random.uniform(0.75, 1.0)
            log.warning("the broker refused a %s record (outbox id %d): %s; retrying in %.0fs, the records behind "
                        "it go on", stream, row_id, reason, delay)
            self._waiting.add(row_id)
            self.loop.call_later(delay, self._resend, row_id)
        self.wake()

    def _resend(self, row_id: int) -> bool:
        """Send one row again now; False when it could not be handed to the client."""
        self._waiting.discard(row_id)  # due: from now on a resend from the first unacknowledged row includes it
        if self._client is None or self.link.state != "connected":
            return False
        entry = self.outbox.get(row_id)
        if entry is None or any(item[0] == row_id for item in self._inflight.values()):
            return True
        client = self._client
        info = client.publish(self.topics.get(entry.stream, self.topics["events"]), entry.payload, qos=1)
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._inflight[info.mid] = (entry.id, entry.stream, len(entry.payload))
            self.published += 1
            return True
        return False

    def _other_instance(self, instance: str) -> None:
        if instance != self.instance and not self.duplicate:
            self.duplicate = (f"another client publishes this gateway's status (instance {instance[:12]}, ours "
                              f"{self.instance}): two gateways share the id {self.config.gateway_id!r} "
                              "(a cloned SD card?)")
            log.error("%s", self.duplicate)

    def _on_subscribed(self, generation: int, topic: str, refused: str | None) -> None:
        if generation != self._generation:
            return
        if refused is None:
            self.refused_subscriptions.pop(topic, None)
        elif topic not in self.refused_subscriptions:
            self.refused_subscriptions[topic] = refused
            log.warning("the broker refused the subscription to %s (%s): nothing sent there reaches this gateway",
                        topic, refused)

    def warnings(self) -> list[str]:
        """What makes the gateway degraded, for the supervisor (on the loop)."""
        now = time.monotonic()
        out = [f"the broker refuses {stream} messages: {reason}; retrying with backoff"
               for stream, (reason, when) in self.denied.items() if now - when < DEGRADED_FOR]
        out += [f"the broker refused the subscription to {topic}: {reason}"
                for topic, reason in self.refused_subscriptions.items()]
        if self.duplicate:
            out.append(self.duplicate)
        return out

    def status(self) -> dict[str, Any]:
        link = self.link
        return {
            "state": link.state, "broker": link.broker, "since": link.since, "error": link.error,
            "protocol": link.protocol, "connects": link.connects, "published": self.published,
            "acked": self.acked, "in_flight": self.pending(), "max_packet": self.max_packet,
            "quarantined": self.quarantined, "refusals": dict(self.refusals), "retrying": len(self._retries),
            "takeovers": len(self.takeovers), "duplicate_id": self.duplicate, "instance": self.instance,
            "subscriptions_refused": sorted(self.refused_subscriptions),
            **({"batches": self.batches, "batched": self.batched, "batch_splits": self.batch_splits,
                "batch_paused": time.monotonic() < self._batch_pause_until} if self.batch.enabled else {}),
        }

    def _flush_acks(self) -> None:
        if self._ack_flush is not None:
            self._ack_flush.cancel()
            self._ack_flush = None
        if self._acks:
            self.outbox.acknowledge(self._acks)
            self._acks = []

    def _on_link(self, generation: int, client: mqtt.Client | None, state: str, broker: str | None,
                 error: str | None, max_packet: int | None = None, code: int | None = None) -> None:
        if generation < self._generation:
            return
        if state != "connected" and code == PERMANENT_TOO_LARGE and self._inflight:
            # The broker hung up because of a packet's size without having said its limit (or we sent
            # it anyway): the largest message in flight is the one.
            mid, (row_id, stream, length) = max(self._inflight.items(), key=lambda kv: kv[1][2])
            if mid in self._batch_rows:
                # A batch: its events go one by one after the reconnect (the resend starts at its first row)
                self._split(mid, f"the broker closed the connection: packet too large ({length} bytes)")
            else:
                del self._inflight[mid]
                self._quarantine(row_id, stream,
                                 f"the broker closed the connection: packet too large ({length} bytes)")
        if state != "connected" and self.link.state == "connected" and self._batch_rows:
            self._batch_failed("the connection was lost with a batch in flight")
        if state == "connected":
            self.max_packet = max_packet
        self._generation = generation
        previous = self.link.state
        self.link.state, self.link.broker, self.link.error = state, broker, error
        if state != previous:
            self.link.since = time.time()
        if state == "connected":
            self._client = client
            self.link.connects += 1
            self.link.protocol = "5" if self._protocol == mqtt.MQTTv5 else "3.1.1"
            # Resend from the first unacknowledged row: a fresh connection knows nothing.
            self._flush_acks()
            unacked = [item[0] for item in self._inflight.values()] + [
                row_id for row_id in self._retries if row_id not in self._waiting] + (
                [min(self._respill)] if self._respill else [])
            self._respill.clear()  # the resend below covers them, one by one as they are in _single
            first = min(unacked) - 1 if unacked else None
            self._inflight.clear()
            self._batch_rows.clear()
            if first is not None:
                self._next_after = first
            else:
                self._next_after = max(self._next_after, 0)
            self.publish_status()
            self.wake()
        else:
            self._client = None

    def publish_status(self, state: str = "online") -> None:
        client = self._client
        if client is None:
            return
        base = {"state": state, "gateway": self.config.gateway_id, "time": time.time(), "instance": self.instance}
        body = json.dumps({**base, **self.status_payload()}, separators=(",", ":")).encode()
        if not self._fits(self.status_topic, body):
            # A broker with a small Maximum Packet Size would hang up on the full status: say the essentials.
            body = json.dumps({**base, "truncated": True}, separators=(",", ":")).encode()
        client.publish(self.status_topic, body, qos=1, retain=True)

    def _fits(self, topic: str, payload: bytes) -> bool:
        return self.max_packet is None or packet_size(topic, payload, self.link.protocol == "5") <= self.max_packet

    def publish_transient(self, suffix: str, payload: dict[str, Any], retain: bool = False) -> bool:
        """A message that is not worth the outbox (command results): sent now at QoS 1, or not at all."""
        client = self._client
        if client is None:
            return False
        topic = f"{self.config.topic_root}/{self.config.gateway_id}/{suffix}"
        body = json.dumps(payload, separators=(",", ":")).encode()
        if not self._fits(topic, body):
            log.warning("not sending a %s message of %d bytes: over the broker's Maximum Packet Size %s", suffix,
                        len(body), self.max_packet)
            return False
        client.publish(topic, body, qos=1, retain=retain)
        return True

    def pending(self) -> int:
        return len(self._inflight)

    async def stop(self, drain_timeout: float = 2.0) -> None:
        """Give in-flight messages a moment to be acknowledged, say offline, disconnect."""
        deadline = time.monotonic() + drain_timeout
        while self._inflight and self.link.state == "connected" and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self._flush_acks()
        client = self._client
        if client is not None:
            offline = json.dumps({"state": "offline", "gateway": self.config.gateway_id, "time": time.time()})
            info = client.publish(self.status_topic, offline, qos=1, retain=True)
            end = time.monotonic() + 1.0
            while not info.is_published() and time.monotonic() < end:
                await asyncio.sleep(0.01)
        self._stop.set()
        self._attention.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)

    # ---- network thread -----------------------------------------------------------------

    def _taken_over(self) -> float:
        """Another client connected with our id and took the session: how long to wait before taking it back."""
        now = time.monotonic()
        self.takeovers.append(now)
        recent = [t for t in self.takeovers if now - t < TAKEOVER_WINDOW]
        if len(recent) < TAKEOVERS_MAX:
            self._takeover_pause = 0.0
            return BACKOFF_MIN
        self._takeover_pause = min(600.0, max(TAKEOVER_BACKOFF, self._takeover_pause * 2))
        reason = (f"the broker took this gateway's session away right after it connected {len(recent)} times in "
                  f"{TAKEOVER_WINDOW:.0f}s: two gateways probably share the id {self.config.gateway_id!r} (a cloned "
                  f"SD card?); reconnecting every {self._takeover_pause:.0f}s instead of fighting")
        if self.duplicate != reason:
            log.error("%s", reason)
        self.duplicate = reason
        return self._takeover_pause

    def _make_client(self, generation: int) -> mqtt.Client:
        cfg = self.config.mqtt
        client_id = cfg.get("client_id") or f"tally-{self.config.gateway_id}"
        # One client per connection: paho must not reconnect on its own (we rotate brokers).
        client = BufferedClient(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=self._protocol,
                             clean_session=None if self._protocol == mqtt.MQTTv5 else True,
                             reconnect_on_failure=False)
        # We bound the window ourselves; paho must never silently queue beyond it.
        client.max_inflight_messages_set(self.window + 8)
        client.max_queued_messages_set(0)
        authenticate(client, cfg)
        offline = json.dumps({"state": "offline", "gateway": self.config.gateway_id, "reason": "lost"})
        client.will_set(self.status_topic, offline, qos=1, retain=True)
        loop = self.loop

        def on_connect(c, userdata, flags, reason_code, properties):
            if reason_code.is_failure:
                userdata["refused"] = str(reason_code)
                return
            userdata["connected"] = True
            userdata["since"] = time.monotonic()
            asked = userdata["subscriptions"] = {}
            if self.on_message is not None and self.config.status.get("commands", True):
                asked[c.subscribe(self.command_topic, qos=1)[1]] = self.command_topic
            if self.on_message is not None:
                asked[c.subscribe(self.manifest_topic, qos=1)[1]] = self.manifest_topic
            # another gateway with our id shows up here
            asked[c.subscribe(self.status_topic, qos=0)[1]] = self.status_topic
            max_packet = getattr(properties, "MaximumPacketSize", None) if properties is not None else None
            receive_max = getattr(properties, "ReceiveMaximum", None) if properties is not None else None
            if receive_max:
                self.window = min(int(self.config.mqtt["window"]), int(receive_max))
            loop.call_soon_threadsafe(self._on_link, generation, c, "connected", userdata["broker"], None, max_packet)

        # PUBACKs go to the loop in batches: paho reads many per wake-up, and one hand-over (one
        # self-pipe write, one loop callback, one outbox fetch) per batch instead of per message
        # is most of the difference to bare paho when a backlog drains. Only this thread appends
        # and only the loop drains; the flag is cleared before draining, so none is left behind.
        acked: deque[int] = deque()
        handoff = {"scheduled": False}

        def take_acks():
            handoff["scheduled"] = False
            mids = [acked.popleft() for _ in range(len(acked))]
            self._on_acked(generation, mids)

        def on_publish(c, userdata, mid, reason_code, properties):
            if getattr(reason_code, "is_failure", False):
                userdata["refused_publish"] = True  # some brokers hang up after this: not a takeover
                loop.call_soon_threadsafe(self._on_refused, generation, mid, int(reason_code.value), str(reason_code))
                return
            acked.append(mid)
            if not handoff["scheduled"]:
                handoff["scheduled"] = True
                loop.call_soon_threadsafe(take_acks)

        def on_subscribe(c, userdata, mid, reason_codes, properties):
            topic = userdata.get("subscriptions", {}).pop(mid, None)
            if topic is not None:
                refused = next((str(code) for code in reason_codes if getattr(code, "is_failure", False)), None)
                loop.call_soon_threadsafe(self._on_subscribed, generation, topic, refused)

        def on_message(c, userdata, message):
            if message.topic == self.status_topic:
                # Live (not retained) status from another instance: someone else uses our id. A retained one
                # may be our own previous run's, so it proves nothing.
                if not message.retain:
                    try:
                        other = json.loads(message.payload).get("instance")
                    except (ValueError, AttributeError):
                        return
                    if isinstance(other, str) and other != self.instance:
                        loop.call_soon_threadsafe(self._other_instance, other)
                return
            if message.retain and message.topic != self.manifest_topic:
                # A retained command would run again on every reconnect (a manifest is retained on purpose).
                log.warning("ignored a retained message on the command topic")
                return
            if self.on_message is not None:
                loop.call_soon_threadsafe(self.on_message, message.topic, bytes(message.payload))

        def on_disconnect(c, userdata, flags, reason_code, properties):
            userdata["reason"] = str(reason_code)
            userdata["code"] = getattr(reason_code, "value", None)
            userdata["gone"].set()
            self._attention.set()

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        client.on_message = on_message
        client.on_subscribe = on_subscribe
        return client

    def _network_supervised(self) -> None:
        """The network thread's catch-all: a bug in one connection's handling must not end publishing."""
        failures = 0
        while not self._stop.is_set():
            try:
                self._network()
                return
            except Exception:  # noqa: BLE001 - rows stay in the outbox; counted, logged, and we start over
                failures += 1
                log.exception("MQTT thread failed (%d); starting over", failures)
                self.loop.call_soon_threadsafe(self._on_link, 1 << 30, None, "down", None, "internal error")
                self._stop.wait(min(BACKOFF_MAX, BACKOFF_MIN * 2 ** min(failures, 6)))

    def _network(self) -> None:
        """Supervise one paho client per connection: connect, let paho's own thread run it, rotate on loss.

        paho is only thread-safe in its threaded mode (loop_start): publish() from the asyncio
        thread then just queues and wakes paho's thread, which alone writes the socket. Driving
        client.loop() from a thread of ours would let publish() write concurrently and reorder
        messages on the wire.
        """
        brokers = list(self.config.brokers)
        attempt = 0
        index = 0
        generation = 0
        keepalive = int(self.config.mqtt["keepalive"])
        while not self._stop.is_set():
            broker: Broker = brokers[index % len(brokers)]
            generation += 1
            gone = threading.Event()
            userdata: dict[str, Any] = {"broker": str(broker), "connected": False, "refused": None, "gone": gone,
                                        "reason": None, "code": None}
            error = None
            client = None
            try:
                client = self._make_client(generation)
                client.user_data_set(userdata)
                client.connect(broker.host, broker.port, keepalive=keepalive)
                client.loop_start()
                while not self._stop.is_set() and not gone.is_set():
                    # Sleeps until there is something to do; wakes once a second to say it is alive.
                    self.beat = time.monotonic()
                    self._attention.wait(1.0)
                    self._attention.clear()
                self.beat = time.monotonic()
                if self._stop.is_set() and not gone.is_set():
                    # Clean disconnect: the broker must not publish the will.
                    client.disconnect()
                    gone.wait(2)
                    client.loop_stop()
                    return
                client.loop_stop()
                if userdata["refused"]:
                    error = f"broker {broker} refused the connection: {userdata['refused']}"
                else:
                    error = f"connection to {broker} lost: {userdata['reason'] or 'closed'}"
            except CredentialsError as exc:
                error = str(exc)
            except (OSError, ssl.SSLError, ValueError) as exc:
                error = f"cannot connect to {broker}: {exc}"
            finally:
                if client is not None and self._stop.is_set():
                    client.loop_stop()
            if self._stop.is_set():
                return
            refused = userdata["refused"] or ""
            if self._auto_protocol and self._protocol == mqtt.MQTTv5 and not userdata["connected"] and (
                    "protocol" in refused.lower()):
                log.warning("broker %s does not speak MQTT 5; falling back to 3.1.1", broker)
                self._protocol = mqtt.MQTTv311
                continue
            if userdata["connected"]:
                attempt = 0  # it worked for a while: retry the same node quickly
            else:
                attempt += 1
                index += 1  # this node is not answering: try the next one
            log.warning("%s", error)
            code = userdata["code"]
            self.loop.call_soon_threadsafe(self._on_link, generation, None, "down", None, error, None, code)
            delay = min(BACKOFF_MAX, BACKOFF_MIN * (2 ** min(attempt, 10)))
            lived = time.monotonic() - userdata["since"] if userdata.get("since") else None
            # A batch in flight: a broker that hangs up on a refused one (mosquitto 2.0) is not a takeover.
            # (_batch_rows is the loop's; only its emptiness is read here.)
            if code == SESSION_TAKEN_OVER or (userdata["connected"] and lived is not None and lived < SHORT_LIVED
                                              and not userdata["refused"] and not userdata.get("refused_publish")
                                              and not self._batch_rows):
                # Taken over (MQTT 5 says so; 3.1.1 and some brokers just hang up right after we connect):
                # another client with our id, or a broker that throws us out. Either way, do not fight.
                delay = self._taken_over()
                attempt = 0
            self._stop.wait(random.uniform(delay / 2, delay) if delay > BACKOFF_MIN or attempt
                            else BACKOFF_MIN * random.random())
