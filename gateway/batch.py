"""Batch drain: many committed events in one EPCIS 2.0 EPCISDocument per MQTT message.

Opt-in (`[mqtt] batch = { enabled = true, … }`) and only while a backlog exists: a message
per event costs a round of broker work and, on a cellular link, headers and TCP segments
per event; one document of hundreds of events (compressed, where the link is slow) drains
a backlog several times faster. The rows stay in the outbox until the batch's PUBACK.

The document is put together from the committed payloads as they are (no re-encoding), so
each event in it is byte for byte the message it would have been alone: a consumer that
re-serialises an event with compact JSON gets the very bytes, and a redelivery of that event
on its own (a refused batch is split) matches it.

The contract (README, docs/asyncapi.yaml): the documents go to a sibling topic,
`{root}/{id}/events-batch`, so consumers of `…/events` keep getting one event per message.
A compressed document goes to `events-batch/gzip` or `events-batch/zlib` (the topic says it,
under MQTT 3.1.1 too); under MQTT 5 the message also carries Content-Type
`application/ld+json`, a `content-encoding` user property when compressed, and the payload
format indicator (1, UTF-8, only when not compressed).
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

from .events import CONTEXT

COMPRESSIONS = ("none", "gzip", "zlib")
CONTENT_TYPE = "application/ld+json"
TOPIC = "events-batch"
DEFAULTS: dict[str, Any] = {"enabled": False, "max_events": 500, "max_kb": 256, "compress": "none",
                            "min_backlog": 200}


@dataclass(frozen=True, slots=True)
class BatchConfig:
    enabled: bool = False
    max_events: int = 500
    max_bytes: int = 256 * 1024
    compress: str = "none"
    min_backlog: int = 200

    @classmethod
    def from_table(cls, table: Mapping[str, Any] | None) -> "BatchConfig":
        t = {**DEFAULTS, **(table or {})}
        return cls(bool(t["enabled"]), int(t["max_events"]), int(float(t["max_kb"]) * 1024), str(t["compress"]),
                   int(t["min_backlog"]))


def problems(table: Any) -> list[str]:
    """What is wrong with an `[mqtt] batch` table (the config validator's check)."""
    if not isinstance(table, dict):
        return ["mqtt.batch: must be a table, e.g. { enabled = true, compress = \"gzip\" }"]
    out = []
    for key in table:
        if key not in DEFAULTS:
            out.append(f"mqtt.batch.{key}: unknown key (known: {', '.join(DEFAULTS)})")
    if not isinstance(table.get("enabled", False), bool):
        out.append("mqtt.batch.enabled: must be true or false")
    for key, low, high in (("max_events", 2, 100_000), ("min_backlog", 0, 10_000_000)):
        value = table.get(key, DEFAULTS[key])
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            out.append(f"mqtt.batch.{key}: must be a whole number in {low}…{high}")
    kb = table.get("max_kb", DEFAULTS["max_kb"])
    if not isinstance(kb, (int, float)) or isinstance(kb, bool) or not 1 <= kb <= 262_144:
        out.append("mqtt.batch.max_kb: must be a number in 1…262144")
    if table.get("compress", "none") not in COMPRESSIONS:
        out.append(f"mqtt.batch.compress: one of {', '.join(COMPRESSIONS)}")
    return out


def topic(events_topic: str, compress: str) -> str:
    """`{root}/{id}/events` -> `{root}/{id}/events-batch[/gzip|/zlib]`."""
    base = events_topic.rsplit("/", 1)[0] + "/" + TOPIC
    return base if compress == "none" else f"{base}/{compress}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def document(payloads: Sequence[bytes], creation_date: str | None = None) -> bytes:
    """An EPCISDocument holding the events, each as committed."""
    head = json.dumps({"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": creation_date or _now()}, ensure_ascii=False, separators=(",", ":"))
    return b"".join((head[:-1].encode(), b',"epcisBody":{"eventList":[', b",".join(payloads), b"]}}"))


def compress(body: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(body, compresslevel=6, mtime=0)
    if how == "zlib":
        return zlib.compress(body, 6)
    return body


def decompress(payload: bytes, how: str, limit: int = 64 << 20) -> bytes:
    """The document inside a batch payload; ValueError for a broken or oversized (a zip bomb) one."""
    if how == "none":
        return payload
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "zlib": zlib.MAX_WBITS}.get(how)
    if wbits is None:
        raise ValueError(f"unknown compression {how!r}")
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(payload, limit)
    except zlib.error as exc:
        raise ValueError(f"not {how} data: {exc}") from None
    if inflater.unconsumed_tail:
        raise ValueError(f"over {limit} bytes when decompressed")
    if not inflater.eof:
        raise ValueError(f"truncated {how} data")
    return out


def pack(payloads: Sequence[bytes], config: BatchConfig, fits: Callable[[bytes], bool]) -> tuple[int, bytes]:
    """(how many of the payloads, the message body): as many as max_events, max_kb and `fits` (the
    broker's Maximum Packet Size) allow, in order. Fewer than 2 means: send them one by one."""
    n = min(len(payloads), config.max_events)
    # max_kb bounds the uncompressed document: what a consumer must hold in memory
    size = 200
    for i in range(n):
        size += len(payloads[i]) + 1
        if size > config.max_bytes:
            n = i
            break
    while n >= 2:
        body = compress(document(payloads[:n]), config.compress)
        if fits(body):
            return n, body
        n //= 2
    return n, b""


def events_of(body: bytes) -> list[dict[str, Any]]:
    """The events of an EPCISDocument (after decompress); ValueError when it is not one."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    except RecursionError:
        raise ValueError("not JSON this parser can read: nested too deeply") from None
    if not isinstance(doc, dict) or doc.get("type") != "EPCISDocument":
        raise ValueError("not an EPCISDocument")
    body_ = doc.get("epcisBody")
    events = body_.get("eventList") if isinstance(body_, dict) else None
    if not isinstance(events, list):
        raise ValueError("an EPCISDocument without epcisBody.eventList")
    return events


def event_bytes(event: Any) -> bytes:
    """One event of a document as the gateway commits (and would have sent) it alone."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
