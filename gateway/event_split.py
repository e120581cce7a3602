"""Events that can grow (an RFID cycle at a busy portal, a vehicle's cargo, a pallet's aggregation) are
split into several valid events before they pass a size, so no broker ever has to refuse one.

Each part is a complete EPCIS event of the same type, time and context, with its own share of the
lists and its own eventID, and says which whole it belongs to: `tally:part` {index, of, whole} where
`whole` is the eventID the unsplit event would have had. Consumers that want the whole join on it.
"""

from __future__ import annotations

import json
from typing import Any

from .event_ids import new_event_id

#: the lists that carry the growth, per event type
LISTS = ("epcList", "quantityList", "childEPCs", "childQuantityList", "tally:additions", "tally:deletions")
FEW = 16  # events with no list longer than this are never measured (the common scan costs nothing)


def _size(event: dict[str, Any]) -> int:
    return len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode())


def split(event: dict[str, Any], max_bytes: int) -> list[dict[str, Any]]:
    """`[event]` if it fits (or cannot be split), else parts that each fit."""
    if max_bytes <= 0 or not any(isinstance(event.get(k), list) and len(event[k]) > FEW for k in LISTS):
        return [event]
    size = _size(event)
    if size <= max_bytes:
        return [event]
    lists = {k: event[k] for k in LISTS if isinstance(event.get(k), list) and event[k]}
    items = sum(len(v) for v in lists.values())
    base = {k: v for k, v in event.items() if k not in lists}
    overhead = _size(base) + 200  # the part marker, empty lists, a little slack
    per_item = max(1.0, (size - _size(base)) / max(1, items))
    chunk = max(1, int((max_bytes - overhead) / per_item))
    flat = [(k, item) for k, values in lists.items() for item in values]
    for _ in range(8):  # items differ in length: shrink the chunk until every part fits
        parts = _parts(base, lists, flat, chunk)
        largest = max(_size(p) for p in parts) + 120  # the part marker and eventID, added below
        if largest <= max_bytes or chunk == 1:
            break
        chunk = max(1, int(chunk * (max_bytes - overhead / 2) / largest))
    whole = event.get("eventID")
    for index, part in enumerate(parts, 1):
        part["eventID"] = new_event_id()
        part["tally:part"] = {"index": index, "of": len(parts), "whole": whole}
    return parts


def _parts(base: dict[str, Any], lists: dict[str, list[Any]], flat: list[tuple[str, Any]],
           chunk: int) -> list[dict[str, Any]]:
    """Walk the lists in order, filling each part with `chunk` items from wherever they are."""
    parts = []
    for start in range(0, len(flat), chunk):
        part = dict(base)
        for key in ("epcList", "childEPCs"):  # required by the schema on these types, even when empty
            if key in lists:
                part[key] = []
        for key, item in flat[start:start + chunk]:
            part.setdefault(key, []).append(item)
        parts.append(part)
    return parts
