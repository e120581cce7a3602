"""Batch drain documents (gateway/batch.py): GS1-valid EPCISDocuments whose events are byte for byte the single
messages, bounded by max_events, max_kb and the broker's packet size; the tracker's unpacking is total."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import batch
from gateway.config import ConfigError, parse
from tests.helpers.tracker import object_event
from tracker.ingest import batch_kind, batch_subscriptions, unpack
from tracker.config import parse as tracker_parse
from tracker.store import check_event


def payloads(n: int) -> list[bytes]:
    return [batch.event_bytes(object_event(i, [f"urn:epc:id:sgtin:0614141.107346.{i}"])) for i in range(1, n + 1)]


@pytest.mark.parametrize("how", batch.COMPRESSIONS)
def test_a_document_is_valid_epcis_and_holds_the_very_bytes(how, epcis_validator):
    items = payloads(5)
    count, body = batch.pack(items, batch.BatchConfig(enabled=True, compress=how), lambda b: True)
    assert count == 5
    doc = json.loads(batch.decompress(body, how))
    errors = [e.message for e in epcis_validator.iter_errors(doc)]
    assert errors == []
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0" and doc["creationDate"].endswith("Z")
    messages = unpack(batch.topic("tally/gw-1/events", how), body, "2026-01-01T00:00:00.000Z")
    assert [m.topic for m in messages] == ["tally/gw-1/events"] * 5
    assert [m.payload for m in messages] == items  # same digest as the single message: no false conflict
    assert all(not isinstance(check_event(m), str) for m in messages)


def test_compression_is_what_the_topic_says():
    items = payloads(50)
    sizes = {}
    for how in batch.COMPRESSIONS:
        _, body = batch.pack(items, batch.BatchConfig(compress=how), lambda b: True)
        sizes[how] = len(body)
    assert gzip.decompress(batch.pack(items, batch.BatchConfig(compress="gzip"), lambda b: True)[1])
    assert zlib.decompress(batch.pack(items, batch.BatchConfig(compress="zlib"), lambda b: True)[1])
    assert sizes["gzip"] * 5 < sizes["none"] and sizes["zlib"] * 5 < sizes["none"]


def test_limits_bound_a_document():
    items = payloads(40)
    one = len(items[0])
    assert batch.pack(items, batch.BatchConfig(max_events=7), lambda b: True)[0] == 7
    count, body = batch.pack(items, batch.BatchConfig(max_bytes=10 * one), lambda b: True)
    assert 2 <= count < 10 and len(body) <= 10 * one
    # the broker's Maximum Packet Size: halved until it fits
    count, body = batch.pack(items, batch.BatchConfig(), lambda b: len(b) <= 6 * one)
    assert 2 <= count <= 6 and len(body) <= 6 * one
    # nothing of two events fits: the caller sends them one by one
    assert batch.pack(items, batch.BatchConfig(), lambda b: len(b) < one) == (1, b"")
    assert batch.pack(items[:1], batch.BatchConfig(), lambda b: True)[0] == 1


def test_topics():
    assert batch.topic("fleet/eu/gw-1/events", "none") == "fleet/eu/gw-1/events-batch"
    assert batch.topic("fleet/eu/gw-1/events", "gzip") == "fleet/eu/gw-1/events-batch/gzip"
    assert batch_kind("fleet/eu/gw-1/events-batch") == ("fleet/eu/gw-1/events", "none")
    assert batch_kind("fleet/eu/gw-1/events-batch/zlib") == ("fleet/eu/gw-1/events", "zlib")
    assert batch_kind("fleet/eu/gw-1/events") is None
    assert batch_kind("fleet/eu/gw-1/status") is None
    config = tracker_parse({"tracker": {"id": "t", "share_group": "g"}, "mqtt": {"host": "h", "topic_root": "r"}})
    assert batch_subscriptions(config) == ["$share/g/r/+/events-batch", "$share/g/r/+/events-batch/+"]


@pytest.mark.parametrize("payload,how,why", [
    (b"\x1f\x8b\x08garbage", "gzip", "not gzip"),
    (gzip.compress(b'{"type":"EPCISDocument"}')[:-6], "gzip", "truncated"),
    (zlib.compress(b"\0" * (65 << 20)), "zlib", "over"),   # a zip bomb stops at the limit
    (b"{}", "lz4", "unknown"),
])
def test_unreadable_payloads_are_refused_clearly(payload, how, why):
    with pytest.raises(ValueError, match=why):
        batch.decompress(payload, how)


@pytest.mark.parametrize("body", [b"[]", b'{"type":"EPCISQueryDocument"}', b'{"type":"EPCISDocument"}', b"\xff",
                                  b'{"type":"EPCISDocument","epcisBody":{"eventList":{}}}',
                                  b"[" * 100_000 + b"]" * 100_000])  # json.loads: RecursionError
def test_a_broken_document_becomes_one_invalid_message(body):
    messages = unpack("tally/gw-1/events-batch", body, "2026-01-01T00:00:00.000Z")
    assert len(messages) == 1 and isinstance(check_event(messages[0]), str)  # set aside as invalid, counted


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["events-batch", "events-batch/gzip", "events-batch/zlib",
                                                 "events-batch/lz4"]))
def test_unpack_is_total(payload, suffix):
    messages = unpack(f"tally/gw-1/{suffix}", payload, "2026-01-01T00:00:00.000Z")
    assert all(m.topic == "tally/gw-1/events" for m in messages)
    for m in messages:
        check_event(m)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=8), st.floats(
    allow_nan=False), st.booleans(), st.none()), max_size=4), min_size=2, max_size=20))
def test_any_json_events_round_trip(events):
    items = [batch.event_bytes(e) for e in events]
    count, body = batch.pack(items, batch.BatchConfig(compress="gzip"), lambda b: True)
    assert count == len(items)
    assert [m.payload for m in unpack("t/g/events-batch/gzip", body, "x")] == items


def test_config():
    base = {"gateway": {"id": "gw-1"}, "mqtt": {"host": "h"}}
    cfg = parse({**base, "mqtt": {"host": "h", "batch": {"enabled": True, "compress": "zlib", "max_kb": 64}}})
    assert batch.BatchConfig.from_table(cfg.mqtt["batch"]) == batch.BatchConfig(True, 500, 65536, "zlib", 200)
    assert batch.BatchConfig.from_table(parse(base).mqtt.get("batch")).enabled is False
    with pytest.raises(ConfigError) as info:
        parse({**base, "mqtt": {"host": "h", "batch": {"enabled": "yes", "max_events": 1, "compress": "lz4",
                                                       "max_kb": 0, "min_backlog": -1, "size": 3}}})
    text = str(info.value)
    for key in ("enabled", "max_events", "compress", "max_kb", "min_backlog", "size: unknown"):
        assert f"mqtt.batch.{key}" in text
    with pytest.raises(ConfigError, match="mqtt.batch"):
        parse({**base, "mqtt": {"host": "h", "batch": "gzip"}})


def test_the_documents_match_the_mqtt_contract():
    from tests.test_asyncapi import channel_of, message_schema, problems

    assert channel_of("tally/dock-01/events-batch") == "events-batch"
    assert channel_of("tally/dock-01/events-batch/gzip") == "events-batch-compressed"
    _, body = batch.pack(payloads(3), batch.BatchConfig(compress="zlib"), lambda b: True)
    doc = json.loads(batch.decompress(body, "zlib"))
    assert problems(message_schema("events-batch"), doc) == []
    assert problems(message_schema("events-batch"), {**doc, "epcisBody": {"eventList": [{"type": "x"}]}})
