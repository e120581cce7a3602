"""The publisher: outbox rows to the broker at QoS 1; a PUBACK deletes the row.

paho-mqtt 2.x runs its network loop in our own thread, one paho client per
connection: on every (re)connect we re-send from the first unacknowledged outbox
row, so redelivery never depends on paho's in-memory queue and order per device
is kept. Broker addresses (the nodes of a cluster) are tried in turn with
exponential backoff and jitter. MQTT 5 first; a broker that refuses the protocol
version gets 3.1.1 from then on.

State has one owner: `_inflight`, `_next_id` and the link state belong to the
asyncio loop; the network thread only hands events over with call_soon_threadsafe.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import ssl
import stat
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from .config import Broker, Config
from .outbox import Entry, Outbox

log = logging.getLogger("tally.mqtt")

BACKOFF_MIN = 0.5
BACKOFF_MAX = 30.0


class CredentialsError(Exception):
    pass


def read_password(path: str) -> str:
    """The broker password, refusing a file others can read (it would leak to every local user)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise CredentialsError(f"mqtt.password_file: cannot read {path}: {exc.strerror}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"mqtt.password_file: {path} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); chmod 600 it")
    with open(path, encoding="utf-8") as fh:
        return fh.read().strip("\r\n")


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
        self.window = int(config.mqtt["window"])
        self.link = LinkState(since=time.time())
        self.published = 0
        self.acked = 0
        self.last_ack_wall: float | None = None
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

    # ---- asyncio side -------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._network, name="mqtt", daemon=True)
        self._thread.start()

    def wake(self, _last_id: int | None = None) -> None:
        """New rows were committed: send what the window allows."""
        if self._client is None or self.link.state != "connected":
            return
        room = self.window - len(self._inflight)
        while room > 0:
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
        info = client.publish(self.topics.get(entry.stream, self.topics["events"]), entry.payload, qos=1)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_QUEUE_SIZE):
            if info.rc != MQTTErrorCode.MQTT_ERR_NO_CONN:
                log.warning("publish failed: %s", mqtt.error_string(info.rc))
            return False
        self._inflight[info.mid] = (entry.id, entry.stream, len(entry.payload))
        self._next_after = entry.id
        self.published += 1
        return True

    def _on_acked(self, generation: int, mids: Iterable[int]) -> None:
        if generation != self._generation:
            return  # PUBACKs from a connection we already gave up on
        inflight, acks = self._inflight, self._acks
        count = 0
        for mid in mids:
            item = inflight.pop(mid, None)
            if item is not None:
                acks.append(item)
                count += 1
        if not count:
            return
        self.acked += count
        self.last_ack_wall = time.time()
        if len(acks) >= 256:
            self._flush_acks()
        elif self._ack_flush is None:
            self._ack_flush = self.loop.call_later(0.02, self._flush_acks)
        self.wake()

    def _flush_acks(self) -> None:
        if self._ack_flush is not None:
            self._ack_flush.cancel()
            self._ack_flush = None
        if self._acks:
            self.outbox.acknowledge(self._acks)
            self._acks = []

    def _on_link(self, generation: int, client: mqtt.Client | None, state: str, broker: str | None,
                 error: str | None) -> None:
        if generation < self._generation:
            return
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
            first = next(iter(self._inflight.values()))[0] - 1 if self._inflight else None
            self._inflight.clear()
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
        payload = {"state": state, "gateway": self.config.gateway_id, "time": time.time()}
        payload.update(self.status_payload())
        client.publish(self.status_topic, json.dumps(payload, separators=(",", ":")), qos=1, retain=True)

    def publish_transient(self, suffix: str, payload: dict[str, Any], retain: bool = False) -> bool:
        """A message that is not worth the outbox (command results): sent now at QoS 1, or not at all."""
        client = self._client
        if client is None:
            return False
        topic = f"{self.config.topic_root}/{self.config.gateway_id}/{suffix}"
        client.publish(topic, json.dumps(payload, separators=(",", ":")), qos=1, retain=retain)
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

    def _make_client(self, generation: int) -> mqtt.Client:
        cfg = self.config.mqtt
        client_id = cfg.get("client_id") or f"tally-{self.config.gateway_id}"
        # One client per connection: paho must not reconnect on its own (we rotate brokers).
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=self._protocol,
                             clean_session=None if self._protocol == mqtt.MQTTv5 else True,
                             reconnect_on_failure=False)
        # We bound the window ourselves; paho must never silently queue beyond it.
        client.max_inflight_messages_set(self.window + 8)
        client.max_queued_messages_set(0)
        if cfg.get("username"):
            password = read_password(cfg["password_file"]) if cfg.get("password_file") else None
            client.username_pw_set(cfg["username"], password)
        tls = cfg.get("tls")
        if tls and tls.get("ca_file"):
            client.tls_set(ca_certs=tls["ca_file"], certfile=tls.get("cert_file"), keyfile=tls.get("key_file"),
                           cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
            client.tls_insecure_set(False)
        offline = json.dumps({"state": "offline", "gateway": self.config.gateway_id, "reason": "lost"})
        client.will_set(self.status_topic, offline, qos=1, retain=True)
        loop = self.loop

        def on_connect(c, userdata, flags, reason_code, properties):
            if reason_code.is_failure:
                userdata["refused"] = str(reason_code)
                return
            userdata["connected"] = True
            if self.on_message is not None and self.config.status.get("commands", True):
                c.subscribe(self.command_topic, qos=1)
            loop.call_soon_threadsafe(self._on_link, generation, c, "connected", userdata["broker"], None)

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
                log.warning("broker refused a message: %s", reason_code)
                return  # not deleted: it will be resent on the next connection
            acked.append(mid)
            if not handoff["scheduled"]:
                handoff["scheduled"] = True
                loop.call_soon_threadsafe(take_acks)

        def on_message(c, userdata, message):
            if message.retain:
                # A retained command would run again on every reconnect.
                log.warning("ignored a retained message on the command topic")
                return
            if self.on_message is not None:
                loop.call_soon_threadsafe(self.on_message, message.topic, bytes(message.payload))

        def on_disconnect(c, userdata, flags, reason_code, properties):
            userdata["reason"] = str(reason_code)
            userdata["gone"].set()
            self._attention.set()

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        client.on_message = on_message
        return client

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
                                        "reason": None}
            error = None
            client = None
            try:
                client = self._make_client(generation)
                client.user_data_set(userdata)
                client.connect(broker.host, broker.port, keepalive=keepalive)
                client.loop_start()
                while not self._stop.is_set() and not gone.is_set():
                    # Sleeps until there is something to do (no polling: an idle gateway's CPU).
                    self._attention.wait(5.0)
                    self._attention.clear()
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
            self.loop.call_soon_threadsafe(self._on_link, generation, None, "down", None, error)
            delay = min(BACKOFF_MAX, BACKOFF_MIN * (2 ** min(attempt, 10)))
            self._stop.wait(random.uniform(delay / 2, delay) if attempt else BACKOFF_MIN * random.random())
