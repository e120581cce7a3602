"""What the tracker needs to know about an EPCIS 2.0 event: is it valid by GS1's schema, its
identity for idempotence, its times in one sortable form, and every identifier it names."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any, Iterator, Mapping

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

#: (field, role) for lists of EPCs and of quantities, as MATCH_* parameters name them
EPC_LISTS = (("epcList", "epc"), ("childEPCs", "childEPC"), ("inputEPCList", "inputEPC"),
             ("outputEPCList", "outputEPC"))
QUANTITY_LISTS = (("quantityList", "epcClass"), ("childQuantityList", "childEPCClass"),
                  ("inputQuantityList", "inputEPCClass"), ("outputQuantityList", "outputEPCClass"))


class InvalidEvent(ValueError):
    pass


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = resources.files("gateway").joinpath("epcis/EPCIS-JSON-Schema.json").read_text()
    return json.loads(text)


@lru_cache(maxsize=1)
def validator() -> Any:
    # jsonschema-rs (compiled Rust): ~0.01 ms an event on GS1's schema, where fastjsonschema took 0.25-0.35 ms
    # and jsonschema 8-18 ms; at fleet rates the check was the largest cost of ingest. Formats (date-time, uri)
    # are checked as the schema asks. The tests cross-check it with jsonschema on the events gateways send.
    import jsonschema_rs

    return jsonschema_rs.Draft7Validator(schema(), validate_formats=True)


def schema_problem(document: Any) -> str | None:
    """None if GS1's schema accepts it, else the reason, naming the JSON path."""
    check = validator()
    if check.is_valid(document):
        return None
    import jsonschema_rs

    try:
        check.validate(document)
    except jsonschema_rs.ValidationError as exc:
        path = "".join(f"/{p}" for p in exc.instance_path)  # a JSON pointer
        return (f"{path}: {exc.message}" if path else exc.message)[:500]
    return "refused by GS1's EPCIS 2.0 schema"  # is_valid and validate disagree: never seen, still an answer


def utc(text: Any) -> str:
    """An RFC 3339 time as fixed-width UTC text, which sorts as time on every engine."""
    if not isinstance(text, str):
        raise InvalidEvent(f"time {text!r} is not a string")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEvent(f"time {text!r} is not RFC 3339") from None
    if dt.tzinfo is None:
        raise InvalidEvent(f"time {text!r} has no UTC offset")
    offset = dt.utcoffset()
    if offset:
        try:
            dt -= offset
        except OverflowError:  # 0001-01-01T00:00+01:00 is valid RFC 3339, but before year 1 in UTC
            raise InvalidEvent(f"time {text!r} is out of range in UTC") from None
    # isoformat, not strftime: a fifth of the time, and every event's time passes here
    return dt.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


_second: tuple[int, str] = (0, "")


def utc_now() -> str:
    """Now as stored UTC text. Every message is stamped, so the date and time are formatted once a second
    (strftime was a few per cent of ingest)."""
    global _second
    now = time.time()
    whole = int(now)
    second = _second
    if second[0] != whole:
        second = _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{second[1]}.{min(int((now - whole) * 1_000_000), 999_999):06d}Z"


def display_time(stored: str) -> str:
    """Stored UTC text as EPCIS shows times: milliseconds, Z."""
    return stored[:23] + "Z"


def canonical(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(event: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


def event_id(event: Mapping[str, Any]) -> str:
    """The event's eventID; one without (EPCIS allows it) is named by its content, so it is idempotent too."""
    value = event.get("eventID")
    if isinstance(value, str) and value:
        return value
    return f"ni:///sha-256;{digest(event)}?ver=CBV2.0"


def _ident(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def identifiers(event: Mapping[str, Any]) -> Iterator[tuple[str, str, float | None, str | None]]:
    """(role, value, quantity, uom) for every EPC and class the event names."""
    parent = _ident(event.get("parentID"))
    if parent:
        yield "parentID", parent, None, None
    for field, role in EPC_LISTS:
        for value in event.get(field) or ():
            if _ident(value):
                yield role, value, None, None
    for field, role in QUANTITY_LISTS:
        for item in event.get(field) or ():
            if isinstance(item, Mapping) and _ident(item.get("epcClass")):
                quantity = item.get("quantity")
                quantity = float(quantity) if isinstance(quantity, (int, float)) and not isinstance(
                    quantity, bool) else None
                uom = item.get("uom") if isinstance(item.get("uom"), str) else None
                yield role, item["epcClass"], quantity, uom


def location(event: Mapping[str, Any], field: str) -> str | None:
    value = event.get(field)
    return _ident(value.get("id")) if isinstance(value, Mapping) else None


def plain_text(event: Mapping[str, Any], field: str) -> str | None:
    return _ident(event.get(field))
