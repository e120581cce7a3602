"""A real MQTT subscriber for tests (paho), collecting what the broker delivers."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class Subscriber:
    def __init__(self, host: str, port: int, topic: str = "#", client_id: str | None = None,
                 persistent: bool = False):
        self.messages: list[tuple[str, bytes, bool]] = []
        self._cond = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"test-sub-{id(self)}",
                                  protocol=mqtt.MQTTv311, clean_session=not persistent)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect_async(host, port, keepalive=10)
        self.client.loop_start()

    def _on_message(self, client, userdata, message):
        with self._cond:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))
            self._cond.notify_all()

    def on(self, suffix: str) -> list[dict[str, Any]]:
        with self._cond:
            return [json.loads(p) for t, p, _ in self.messages if t.endswith("/" + suffix)]

    def wait_for(self, predicate: Callable[["Subscriber"], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
            return True

    def wait_events(self, count: int, timeout: float = 10.0, suffix: str = "events") -> list[dict[str, Any]]:
        self.wait_for(lambda s: len(s.on(suffix)) >= count, timeout)
        return self.on(suffix)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def subscribe_only_to(directory, patterns: list[str]):
    """A private mosquitto whose anonymous clients may subscribe only to `patterns` (publishing is open).

    mosquitto's `acl_file` grants every subscription and silently delivers nothing; its dynamic-security
    plugin (shipped in Debian's mosquitto package) refuses in the SUBACK, which is what a client can see.
    """
    import glob
    from pathlib import Path

    from gateway.broker import Mosquitto

    plugins = glob.glob("/usr/lib/*/mosquitto_dynamic_security.so")
    assert plugins, "mosquitto's dynamic-security plugin is missing (Debian's mosquitto package ships it)"
    config = Path(directory) / "dynsec.json"
    config.write_text(json.dumps({
        "defaultACLAccess": {"publishClientSend": True, "publishClientReceive": True, "subscribe": False,
                             "unsubscribe": True},
        "clients": [], "groups": [{"groupname": "anonymous", "roles": [{"rolename": "listener"}]}],
        "roles": [{"rolename": "listener", "acls": [{"acltype": "subscribePattern", "topic": p, "priority": 0,
                                                     "allow": True} for p in patterns]}],
        "anonymousGroup": "anonymous"}))
    return Mosquitto(extra=f"plugin {plugins[0]}\nplugin_opt_config_file {config}").start()
