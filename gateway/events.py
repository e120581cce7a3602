"""Build standalone GS1 EPCIS 2.0 events (CBV 2.0 vocabulary) from decoded reads.

Every event carries `@context`, so each MQTT message stands alone and validates
against GS1's schema. Gateway extensions live under the `tally:` JSON-LD prefix;
`tally:seq` (per-gateway, gap-free unless the outbox had to drop) is added by the
outbox when the event is committed, because only the outbox knows the order.

Identifier mapping (what a decoded label becomes):
- unit (GTIN + serial), logistic unit (SSCC), asset, shipment, location -> `epcList`
- class (GTIN + lot, or GTIN alone) -> `quantityList` with the label's count (AI 30/37) or 1
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from .event_ids import new_event_id

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
TALLY_NS = "https://tally-gateway.org/ns/epcis/1#"
CONTEXT: list[Any] = [EPCIS_CONTEXT, {"tally": TALLY_NS}]

IN_EPC_LIST = {"unit", "logistic_unit", "asset", "shipment", "location", "other"}


@dataclass(frozen=True)
class Where:
    """The business context a device's reads happen in (config, current mode, GPS)."""

    biz_step: str | None = None
    disposition: str | None = None
    read_point: str | None = None
    biz_location: str | None = None


# One entry each: events come in bursts within the same second, and formatting a datetime cost more
# than the rest of the event. A (key, value) tuple is replaced whole, so threads never see half of one.
_second: tuple[int, str] = (-1, "")
_minute: tuple[int, str] = (-1, "")


def iso_time(wall: float) -> str:
    """RFC 3339 UTC with milliseconds, as EPCIS examples use."""
    global _second
    frac, whole = math.modf(wall)  # rounded to the microsecond as datetime.fromtimestamp does, then cut
    micros = round(frac * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1, micros + 1_000_000
    second, millis = int(whole), micros // 1000
    key, prefix = _second
    if key != second:
        prefix = datetime.fromtimestamp(second, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
        _second = (second, prefix)
    return f"{prefix}{millis:03d}Z"


def tz_offset(wall: float) -> str:
    """The local UTC offset in force at `wall` ("+01:00"), which EPCIS requires beside eventTime."""
    global _minute
    minute = int(wall // 60)  # offsets change on minute boundaries (DST, and the TZ of a reload)
    key, offset = _minute
    if key != minute:
        seconds = time.localtime(wall).tm_gmtoff or 0
        sign = "+" if seconds >= 0 else "-"
        seconds = abs(seconds)
        offset = f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
        _minute = (minute, offset)
    return offset


def _with_context(body: dict[str, Any], wall: float, where: Where, extensions: Mapping[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {
        "@context": CONTEXT,
        "type": body.pop("type"),
        "eventID": new_event_id(),
        "eventTime": iso_time(wall),
        "eventTimeZoneOffset": tz_offset(wall),
    }
    event.update(body)
    if where.biz_step:
        event["bizStep"] = where.biz_step
    if where.disposition:
        event["disposition"] = where.disposition
    if where.read_point:
        event["readPoint"] = {"id": where.read_point}
    if where.biz_location:
        event["bizLocation"] = {"id": where.biz_location}
    for key, value in extensions.items():
        if value is not None:
            event[f"tally:{key}"] = value
    return event


def object_event(
    *,
    wall: float,
    where: Where,
    epcs: Iterable[str] = (),
    classes: Iterable[tuple[str, float]] = (),
    action: str = "OBSERVE",
    extensions: Mapping[str, Any] = {},
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "ObjectEvent", "action": action}
    epc_list = list(epcs)
    quantity_list = [{"epcClass": uri, "quantity": qty} for uri, qty in classes]
    if epc_list or not quantity_list:
        body["epcList"] = epc_list
    if quantity_list:
        body["quantityList"] = quantity_list
    return _with_context(body, wall, where, extensions)


def aggregation_event(
    *,
    wall: float,
    where: Where,
    parent: str,
    children: Iterable[str] = (),
    child_classes: Iterable[tuple[str, float]] = (),
    action: str = "ADD",
    extensions: Mapping[str, Any] = {},
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "AggregationEvent", "action": action, "parentID": parent,
                            "childEPCs": list(children)}
    quantity_list = [{"epcClass": uri, "quantity": qty} for uri, qty in child_classes]
    if quantity_list:
        body["childQuantityList"] = quantity_list
    return _with_context(body, wall, where, extensions)


def from_decoded(decoded: Mapping[str, Any], *, wall: float, where: Where,
                 extensions: Mapping[str, Any] = {}) -> dict[str, Any] | None:
    """The ObjectEvent for one understood label or tag, or None if it names nothing."""
    identity = decoded.get("identity")
    if not decoded.get("valid") or not identity:
        return None
    if decoded.get("identity_kind") == "class":
        quantity = decoded.get("quantity") or 1
        return object_event(wall=wall, where=where, classes=[(identity, quantity)], extensions=extensions)
    return object_event(wall=wall, where=where, epcs=[identity], extensions=extensions)


def is_member(decoded: Mapping[str, Any]) -> tuple[str, str | None]:
    """How a decoded label joins an aggregation: ("epc", uri), ("class", uri) or ("", None)."""
    identity = decoded.get("identity")
    if not decoded.get("valid") or not identity:
        return "", None
    return ("class", identity) if decoded.get("identity_kind") == "class" else ("epc", identity)
