"""Remote commands over the real broker: a paho client publishes on tally/test-gw/commands, results come
back on tally/test-gw/command-results. The allow-list works; everything else is refused, clearly."""

from __future__ import annotations

import itertools
import json
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.test_ops_support import ops_config, serial_of, unit, wait_running

COMMANDS = "tally/test-gw/commands"
SECRET = "s3cr3t-Pa55w0rd-do-not-leak"
_ids = itertools.count(1)


class Commander:
    """The central system's side: publish a command, wait for its result."""

    def __init__(self, broker, subscriber):
        self.subscriber = subscriber
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-commander-{id(self)}")
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def results(self) -> list[dict]:
        return self.subscriber.on("command-results")

    def send(self, payload: bytes | str | dict) -> None:
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        self.client.publish(COMMANDS, data, qos=1).wait_for_publish(5)

    def call(self, command: str, args: dict | None = None, timeout: float = 10.0, **fields) -> dict:
        command_id = fields.pop("id", f"cmd-{next(_ids)}")
        message = {"id": command_id, "command": command, **fields}
        if args is not None:
            message["args"] = args
        self.send(message)
        return self.result_for(command_id, timeout)

    def result_for(self, command_id: str | None, timeout: float = 10.0, after: int = 0) -> dict:
        found = []

        def arrived(_):
            found[:] = [r for r in self.results()[after:] if r["id"] == command_id]
            return bool(found)

        assert self.subscriber.wait_for(arrived, timeout), f"no result for {command_id}: {self.results()}"
        return found[0]

    def refused(self, payload: bytes | str | dict, command_id: str | None = None) -> dict:
        before = len(self.results())
        self.send(payload)
        result = self.result_for(command_id, after=before)
        assert result["ok"] is False and result["error"], result
        assert "result" not in result
        return result

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def commander(mosquitto, subscriber):
    c = Commander(mosquitto, subscriber)
    yield c
    c.close()


def start(gateway_process, config, port, commander) -> object:
    gw = gateway_process(config)
    wait_running(gw, port)
    # The gateway subscribes right after connecting; ping until it answers.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        command_id = f"hello-{next(_ids)}"
        commander.send({"id": command_id, "command": "ping"})
        if commander.subscriber.wait_for(lambda s: any(r["id"] == command_id for r in commander.results()), 1):
            return gw
    raise AssertionError("the gateway never answered a ping:\n" + gw.log())


def test_ping_status_and_everything_else_refused(tmp_path, mosquitto, subscriber, scanner, gateway_process,
                                                commander):
    password = tmp_path / "mqtt-password"
    password.write_text(SECRET)
    password.chmod(0o600)
    config, port = ops_config(tmp_path, mosquitto.port, scanner,
                              mqtt={"username": "dock-01", "password_file": str(password)})
    gw = start(gateway_process, config, port, commander)

    pong = commander.call("ping", id="ping-1")
    assert pong["ok"] is True and pong["id"] == "ping-1" and pong["command"] == "ping"
    assert pong["result"]["pong"] is True and pong["gateway"] == "test-gw"
    status = commander.call("status")
    assert status["ok"] and status["result"]["gateway"] == "test-gw"
    assert status["result"]["devices"][0]["name"] == "door-1"
    assert SECRET not in json.dumps(status)

    r = commander.refused({"id": "x-1", "command": "format-disk"}, "x-1")
    assert "unknown command 'format-disk'" in r["error"] and "ping" in r["error"] and r["command"] is None
    r = commander.refused(b"{not json", None)
    assert "not JSON" in r["error"] and r["id"] is None
    r = commander.refused(json.dumps({"id": "big-1", "command": "ping", "args": {"pad": "x" * 17000}}), None)
    assert "at most 16384" in r["error"]
    r = commander.refused("[" * 12000, None)
    assert "nested too deeply" in r["error"]
    r = commander.refused(b"\xff\xfe{}", None)
    assert "not UTF-8" in r["error"]
    r = commander.refused(b'["ping"]', None)
    assert "JSON object" in r["error"]
    r = commander.refused({"id": 7, "command": "ping"}, None)
    assert "id must be" in r["error"]
    r = commander.refused({"id": "bad id; rm -rf /", "command": "ping"}, None)
    assert "id must be" in r["error"]
    r = commander.refused({"id": "t-1", "command": ["ping"]}, "t-1")
    assert "command must be a string" in r["error"]
    r = commander.refused({"id": "t-2", "command": "ping", "args": ["x"]}, "t-2")
    assert "args must be a JSON object" in r["error"] and r["command"] == "ping"
    r = commander.refused({"id": "t-3", "command": "ping", "args": {"x": 1}}, "t-3")
    assert "unknown argument 'x'" in r["error"]
    r = commander.refused({"id": "t-4", "command": "ping", "sudo": True}, "t-4")
    assert "unknown field 'sudo'" in r["error"]
    r = commander.refused({"id": "t-5", "command": "set-mode", "args": {"device": 3}}, "t-5")
    assert "device must be a string" in r["error"]
    r = commander.refused({"id": "t-6", "command": "\x1b[31mreload\x07\n$(reboot)"}, "t-6")
    assert "unknown command" in r["error"] and "\x1b" not in r["error"] and "\n" not in r["error"]

    # A repeated id (QoS 1 redelivery) is answered again from memory, not run again.
    before = len(commander.results())
    commander.send({"id": "ping-1", "command": "ping"})
    again = commander.result_for("ping-1", after=before)
    assert again == pong

    assert commander.call("ping")["ok"]  # and it still works after all that
    log = gw.log()
    assert "\x1b" not in log and "\x07" not in log  # shown escaped, never raw
    assert log.count("refused a remote command") >= 14
    assert gw.terminate() == 0
    assert "Traceback" not in gw.log()


def test_set_mode_changes_the_next_events_biz_step(tmp_path, mosquitto, subscriber, scanner, gateway_process,
                                                   commander):
    config, port = ops_config(tmp_path, mosquitto.port, scanner)
    gw = start(gateway_process, config, port, commander)
    scanner.scan(unit(1))
    assert subscriber.wait_events(1)[0]["bizStep"] == "receiving"

    r = commander.call("set-mode", {"device": "door-1", "biz_step": "shipping", "disposition": "in_transit"})
    assert r["ok"], r
    assert r["result"] == {"device": "door-1", "biz_step": "shipping", "disposition": "in_transit"}
    scanner.scan(unit(2))
    second = subscriber.wait_events(2)[1]
    assert serial_of(second) == "S000002"
    assert second["bizStep"] == "shipping" and second["disposition"] == "in_transit"

    # Validated like the config: CBV words or URIs, a real device.
    r = commander.refused({"id": "m-1", "command": "set-mode", "args": {"device": "door-1", "biz_step": "teleporting"}},
                          "m-1")
    assert "teleporting" in r["error"] and "bizStep" in r["error"]
    r = commander.refused({"id": "m-2", "command": "set-mode", "args": {"device": "door-9", "biz_step": "shipping"}},
                          "m-2")
    assert "no device 'door-9'" in r["error"]
    r = commander.refused({"id": "m-3", "command": "set-mode", "args": {"device": "door-1"}}, "m-3")
    assert "biz_step" in r["error"]
    r = commander.call("set-mode", {"device": "door-1", "biz_step": "urn:example:bizstep:quarantine"})
    assert r["ok"] and r["result"]["biz_step"] == "urn:example:bizstep:quarantine"

    r = commander.call("set-mode", {"device": "door-1", "reset": True})
    assert r["ok"] and r["result"]["biz_step"] == "receiving"
    scanner.scan(unit(3))
    third = subscriber.wait_events(3)[2]
    assert third["bizStep"] == "receiving" and third["disposition"] == "in_progress"
    assert gw.terminate() == 0


def test_reload_command_applies_a_good_config_and_refuses_a_broken_one(tmp_path, mosquitto, subscriber, scanner,
                                                                       gateway_process, commander):
    config, port = ops_config(tmp_path, mosquitto.port, scanner)
    gw = start(gateway_process, config, port, commander)
    original = config.read_text()
    config.write_text(original.replace('biz_step = "receiving"', 'biz_step = "storing"'))
    r = commander.call("reload", timeout=15)
    assert r["ok"], r
    assert r["result"]["devices"] == 1
    wait_running(gw, port)  # the status server and the scanner are back
    scanner.scan(unit(1))
    assert subscriber.wait_events(1)[0]["bizStep"] == "storing"

    config.write_text(original.replace('biz_step = "receiving"', 'biz_step = "sleeping"'))
    r = commander.refused({"id": "reload-2", "command": "reload"}, "reload-2")
    assert "running config is kept" in r["error"] and "sleeping" in r["error"]
    scanner.scan(unit(2))
    assert subscriber.wait_events(2)[1]["bizStep"] == "storing"
    assert gw.terminate() == 0
    assert "Traceback" not in gw.log()


def test_commands_can_be_turned_off(tmp_path, mosquitto, subscriber, scanner, gateway_process, commander):
    config, port = ops_config(tmp_path, mosquitto.port, scanner, status={"commands": False})
    gw = gateway_process(config)
    wait_running(gw, port)
    assert subscriber.wait_for(lambda s: s.on("status"), 10)  # connected and said online
    commander.send({"id": "off-1", "command": "ping"})
    assert not subscriber.wait_for(lambda s: s.on("command-results"), 1.5)
    assert gw.terminate() == 0
