"""docs/asyncapi.yaml, the MQTT contract: a valid AsyncAPI 3.0 document, and true of what a real gateway sends.

The second half runs the daemon against a real mosquitto with a serial scanner and a GPS receiver on ptys,
sends good and bad scans and remote commands, kills it (the broker's last will) and stops it cleanly, and
checks every message on every topic against the payload schema of the channel whose address matches.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import paho.mqtt.client as mqtt
import pytest
import referencing
import referencing.jsonschema
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from simulators.gps import GpsSimulator
from simulators.serial_scanner import SerialScannerSimulator
from tests.helpers.gateway import ROOT, write_config

DOCUMENT = ROOT / "docs" / "asyncapi.yaml"
ASYNCAPI_SCHEMA = ROOT / "tests" / "data" / "asyncapi" / "asyncapi-3.0.0.schema.json"
EPCIS_SCHEMA = ROOT / "gateway" / "epcis" / "EPCIS-JSON-Schema.json"
GTIN = "09506000134352"
SSCC = "106141411234567897"


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text())


@cache
def payload_registry() -> referencing.Registry:
    """The document and GS1's EPCIS schema, under the URIs the document's $refs resolve to; no network."""
    draft7 = referencing.jsonschema.DRAFT7
    epcis = draft7.create_resource(json.loads(EPCIS_SCHEMA.read_text()))
    return referencing.Registry().with_resources([
        (DOCUMENT.as_uri(), draft7.create_resource(document())),
        (EPCIS_SCHEMA.as_uri(), epcis),
        (epcis.id(), epcis),
    ])


def payload_validator(pointer: str) -> jsonschema.Draft7Validator:
    """A validator for the schema at `pointer` (a $ref inside the document), format checks on."""
    return jsonschema.Draft7Validator({"$ref": f"{DOCUMENT.as_uri()}{pointer}"}, registry=payload_registry(),
                                      format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def resolve(pointer: str) -> Any:
    assert pointer.startswith("#/"), pointer
    node: Any = document()
    for part in pointer[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def channel_patterns() -> list[tuple[re.Pattern[str], str]]:
    patterns = []
    for name, channel in document()["channels"].items():
        regex = re.sub(r"\\\{[A-Za-z0-9_]+\\\}", "[^/+#]+", re.escape(channel["address"]))
        patterns.append((re.compile(regex + r"\Z"), name))
    return patterns


def channel_of(topic: str) -> str | None:
    matches = [name for pattern, name in channel_patterns() if pattern.match(topic)]
    assert len(matches) <= 1, f"{topic} matches several channels: {matches}"
    return matches[0] if matches else None


def message_schema(channel: str) -> jsonschema.Draft7Validator:
    messages = document()["channels"][channel]["messages"]
    assert len(messages) == 1, f"channel {channel}: one message per channel keeps the check simple"
    (message_ref,) = (m["$ref"] for m in messages.values())
    return payload_validator(resolve(message_ref)["payload"]["$ref"])


def problems(validator: jsonschema.Draft7Validator, payload: Any) -> list[str]:
    errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:300]}" for e in errors[:5]]


# ---- the document itself -------------------------------------------------------------------------

def test_document_is_valid_asyncapi_3():
    schema = json.loads(ASYNCAPI_SCHEMA.read_text())
    # The bundled schema names every definition by its $id; register them so nothing is fetched.
    registry = referencing.Registry().with_resources(
        (uri, referencing.jsonschema.DRAFT7.create_resource(definition))
        for uri, definition in schema["definitions"].items())
    validator = jsonschema.Draft7Validator(schema, registry=registry)
    found = problems(validator, document())
    assert not found, "\n".join(found)
    assert document()["asyncapi"] == "3.0.0"
    from gateway import __version__

    assert document()["info"]["version"] == __version__  # the contract of this release


def test_every_internal_reference_resolves_and_channels_are_consistent():
    def refs(node: Any):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(document()):
        if ref.startswith("#"):
            resolve(ref)
        else:  # a file beside the document, e.g. GS1's EPCIS schema
            assert (DOCUMENT.parent / ref).resolve().is_file(), ref
    for name, channel in document()["channels"].items():
        placeholders = set(re.findall(r"\{([A-Za-z0-9_]+)\}", channel["address"]))
        assert placeholders == set(channel.get("parameters", {})), name
    for name, operation in document()["operations"].items():
        channel_ref = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/"), (name, message)
        if "reply" in operation:
            for message in operation["reply"]["messages"]:
                assert message["$ref"].startswith(operation["reply"]["channel"]["$ref"] + "/messages/")
    for name, schema in document()["components"]["schemas"].items():
        jsonschema.Draft7Validator.check_schema(schema)
    for name, message in document()["components"]["messages"].items():
        for example in message.get("examples", []):
            assert not problems(payload_validator(message["payload"]["$ref"]), example["payload"]), (name, example)


def test_channels_cover_the_topics_of_the_readme():
    # The README's table and the document describe one contract.
    documented = {c["address"].rsplit("/", 1)[1] for c in document()["channels"].values()}
    assert {"events", "positions", "rejects", "status", "commands", "command-results", "feedback", "manifest",
            "manifest-report"} <= documented
    assert channel_of("tally/dock-01/events") == "events"
    assert channel_of("tally/dock-01/events/extra") is None


# ---- what a real gateway sends -----------------------------------------------------------------------

class Commander:
    def __init__(self, host: str, port: int):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-asyncapi-commander-{id(self)}")
        self.client.connect(host, port)
        self.client.loop_start()

    def send(self, payload: dict | bytes) -> None:
        data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
        self.client.publish("tally/test-gw/commands", data, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


GOOD_COMMANDS = [
    {"id": "c-ping", "command": "ping"},
    {"id": "c-status", "command": "status", "args": {}},
    {"id": "c-mode", "command": "set-mode", "args": {"device": "door-1", "biz_step": "shipping",
                                                     "disposition": "in_transit"}},
    {"id": "c-reset", "command": "set-mode", "args": {"device": "door-1", "reset": True}},
    {"id": "c-reload", "command": "reload"},
    {"id": "c-manifest", "command": "manifest-close"},
]
MANIFEST = {"name": "truck-asyncapi", "devices": ["door-1"], "expected": [{"sscc": SSCC}, {"gtin": GTIN, "quantity": 2}]}
BAD_COMMANDS: list[dict | bytes] = [
    {"id": "c-shell", "command": "rm -rf /"},
    {"id": "c-nodev", "command": "set-mode", "args": {"device": "door-1"}},
    {"id": "c-extra", "command": "ping", "args": {"now": True}},
    b"not json at all",
]


@pytest.mark.slow
def test_everything_a_gateway_publishes_matches_the_document(tmp_path, mosquitto, subscriber, gateway_process):
    gps = GpsSimulator(str(tmp_path / "gps"), rate_hz=5, seed=3).start()
    scanner = SerialScannerSimulator(str(tmp_path / "scanner"), terminator="crlf").start()
    commander = Commander(mosquitto.host, mosquitto.port)
    try:
        config = write_config(
            tmp_path / "tally.toml", broker_port=mosquitto.port, data_dir=tmp_path / "data",
            devices=[{"name": "door-1", "driver": "serial-scanner", "port": scanner.path, "dedupe_ms": 0,
                      "biz_step": "receiving", "disposition": "in_progress"},
                     {"name": "gps", "driver": "nmea", "port": gps.path}],
            modes=[{"text": "PACK-START", "action": "pack-start"}, {"text": "PACK-CLOSE", "action": "pack-close"}],
            extra={"gateway": {"company_prefixes": ["0614141"]}, "gps": {"min_interval_s": 1, "min_distance_m": 5},
                   "feedback": {"mqtt": True}})
        commander.client.publish("tally/test-gw/manifest", json.dumps(MANIFEST), qos=1,
                                 retain=True).wait_for_publish(5)
        gw = gateway_process(config)
        assert gw.wait_log("door-1: open", 15) and gw.wait_log("gps: open", 15), gw.log()
        assert gw.wait_log("manifest 'truck-asyncapi' active", 15), gw.log()
        good_scans = [f"]d201{GTIN}21S000001", f"]C101{GTIN}17271231" + "10LOT42\x1d3012", f"]C100{SSCC}",
                      "PACK-START", f"]C100{SSCC}", f"]d201{GTIN}21S000002", "PACK-CLOSE"]
        bad_scans = [b"\xff\xfe\x00binary", f"]C101{GTIN[:-1]}9", "hello, not a barcode", "\x1b[31m;rm -rf /\x07"]
        for scan in good_scans + bad_scans:
            scanner.scan(scan)
        for command in GOOD_COMMANDS + BAD_COMMANDS:
            commander.send(command)
        expected_results = len(GOOD_COMMANDS) + len(BAD_COMMANDS)
        assert subscriber.wait_for(lambda s: len(s.on("events")) >= 5 and len(s.on("rejects")) >= 4
                                   and len(s.on("positions")) >= 2
                                   and len(s.on("command-results")) >= expected_results
                                   and s.on("manifest-report") and s.on("feedback"), 30), gw.log()[-3000:]
        gw.kill()  # the broker publishes the last will at once: the socket closed without DISCONNECT
        assert subscriber.wait_for(lambda s: any(m.get("reason") == "lost" for m in s.on("status")), 15)
        again = gateway_process(config)
        assert again.wait_log("door-1: open", 15), again.log()
        assert again.terminate() == 0  # a clean stop: offline with a time
    finally:
        commander.close()
        gps.stop()
        scanner.stop()

    by_channel: dict[str, list[tuple[str, Any]]] = {}
    for topic, payload, _retained in list(subscriber.messages):
        channel = channel_of(topic)
        assert channel is not None, f"the gateway published on {topic}, which the document does not name"
        try:
            body = json.loads(payload)
        except ValueError:
            body = payload  # a command that is not JSON: ours, sent to see it refused
        by_channel.setdefault(channel, []).append((topic, body))
    # Batch drain is opt-in and needs a backlog; tests/test_batch*.py check those channels with real documents.
    opt_in = {"events-batch", "events-batch-compressed"}
    assert set(by_channel) == set(document()["channels"]) - opt_in, sorted(by_channel)

    for channel, messages in by_channel.items():
        validator = message_schema(channel)
        for topic, body in messages:
            if channel in ("commands", "manifest"):
                continue  # what we sent, checked below
            found = problems(validator, body)
            assert not found, f"{topic}: " + "; ".join(found) + "\n" + json.dumps(body)[:2000]

    # The command schema is as strict as the gateway: what it runs validates, what it refuses does not.
    commands = message_schema("commands")
    for command in GOOD_COMMANDS:
        assert not problems(commands, command), command
    for command in BAD_COMMANDS:
        assert problems(commands, command if isinstance(command, dict) else command.decode()), command
    assert not problems(message_schema("manifest"), MANIFEST)
    assert {f["kind"] for f in subscriber.on("feedback")} >= {"accepted", "rejected", "pack-open", "pack-close"}
    results = {r["id"]: r for r in subscriber.on("command-results")}
    assert all(results[c["id"]]["ok"] for c in GOOD_COMMANDS), results
    assert not any(results[c["id"]]["ok"] for c in BAD_COMMANDS if isinstance(c, dict)), results
    assert results[None]["ok"] is False  # the one that was not JSON has no id to echo

    events = subscriber.on("events")
    assert {"ObjectEvent", "AggregationEvent"} <= {e["type"] for e in events}
    states = [(s["state"], s.get("reason")) for s in subscriber.on("status")]
    assert ("online", None) in states and ("offline", "lost") in states and states[-1] == ("offline", None)
