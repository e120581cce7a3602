"""Tracking answers: where is it, what is it in, where has it been; and recall: everything of a lot.

Containment comes from the events themselves: an AggregationEvent ADD (or OBSERVE) puts the
children in the parent until a later DELETE takes them out (a DELETE naming no children
empties the parent); an ObjectEvent with bizStep `loading` puts what it names on the vehicle
(the gateway that sent it) until `unloading`, as the gateway's own cargo list does
(gateway/gps/cargo.py). Vehicles appear as `urn:tally:vehicle:{gateway}`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Sequence

from . import epcis
from .db import Cursor
from .identifiers import Resolved, kind_of

HISTORY_LIMIT = 1000
MAX_DEPTH = 8
GEO = re.compile(r"^geo:(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")
CHILD_ROLES = ("childEPC", "childEPCClass")


def _marks(items: Sequence[Any]) -> str:
    return ", ".join("?" for _ in items)


def vehicle_uri(gateway: str) -> str:
    return f"urn:tally:vehicle:{gateway}"


Statement = tuple[str, list[Any]]


def _events(rows: list[tuple]) -> list[dict[str, Any]]:
    out = []
    for body, record_time in rows:
        event = json.loads(body)
        event.pop("@context", None)
        event["recordTime"] = epcis.display_time(record_time)
        out.append(event)
    return out


def _history(spellings: Sequence[str], limit: int = HISTORY_LIMIT) -> Statement:
    """Every event naming it (in any role), newest first."""
    return (f"SELECT body, record_time FROM events WHERE id IN (SELECT event FROM identifiers WHERE value IN "
            f"({_marks(spellings)})) ORDER BY event_time DESC, id DESC LIMIT ?", [*spellings, limit])


def _latest(kind: str, match: str) -> str:
    """The id of the latest event naming `match` (a SQL condition on i.value): an aggregation naming it as
    a child, or a loading/unloading naming it."""
    if kind == "container":
        where = "i.role IN ('childEPC', 'childEPCClass') AND e.type = 'AggregationEvent'"
    else:
        where = "i.role IN ('epc', 'epcClass') AND e.biz_step IN ('loading', 'unloading')"
    return (f"(SELECT e.id FROM events e JOIN identifiers i ON i.event = e.id WHERE i.value {match} AND {where} "
            f"ORDER BY e.event_time DESC, e.id DESC LIMIT 1)")


def _walk(spellings: Sequence[str]) -> Statement:
    """The containment walk in one statement (a round trip per level was most of a /track answer's time):
    per level, from the thing outwards, the latest aggregation naming it as a child, whether a later DELETE
    naming no children emptied that parent, and the latest loading/unloading naming it. The walk goes on
    through each aggregation's parentID; the rules (a DELETE, an emptied parent, a loop) are applied by
    chain(), as they were level by level. Rows: (depth, value, body, action, emptied, cargo body, cargo
    biz_step, cargo gateway); the last level only names the parent the one before it found."""
    first = f"IN ({_marks(spellings)})"
    return (
        f"WITH RECURSIVE up (depth, value, agg, cargo) AS ("
        f"SELECT 0, CAST(NULL AS TEXT), {_latest('container', first)}, {_latest('cargo', first)} "
        f"UNION ALL SELECT up.depth + 1, p.value, {_latest('container', '= p.value')}, "
        f"{_latest('cargo', '= p.value')} FROM up JOIN events a ON a.id = up.agg JOIN identifiers p ON "
        f"p.event = a.id AND p.role = 'parentID' WHERE up.depth < ? AND COALESCE(a.action, '') <> 'DELETE') "
        f"SELECT up.depth, up.value, e.body, e.action, EXISTS (SELECT 1 FROM identifiers p JOIN "
        f"identifiers pd ON pd.value = p.value AND pd.role = 'parentID' JOIN events d ON d.id = pd.event WHERE "
        f"p.event = e.id AND p.role = 'parentID' AND d.action = 'DELETE' AND d.event_time > e.event_time AND "
        f"NOT EXISTS (SELECT 1 FROM identifiers c WHERE c.event = d.id AND c.role IN ('childEPC', "
        f"'childEPCClass'))), c.body, c.biz_step, c.gateway FROM up LEFT JOIN events e ON "
        f"e.id = up.agg LEFT JOIN events c ON c.id = up.cargo ORDER BY up.depth",
        [*spellings, *spellings, MAX_DEPTH])


def _linked(body: str) -> dict[str, Any]:
    event = json.loads(body)
    return {"since": event["eventTime"], "eventID": event.get("eventID")}


def chain(cur: Cursor, resolved: Resolved) -> list[dict[str, Any]]:
    return _chain(cur.all(*_walk(resolved.spellings)), resolved)


def _chain(walk: list[tuple], resolved: Resolved) -> list[dict[str, Any]]:
    """unit -> carton -> pallet -> vehicle: each link with the event that made it. A parent is the one of
    the latest aggregation naming the thing as a child, unless that was a DELETE or a later DELETE naming
    no children emptied the parent; where no parent is (or it would close a loop), the vehicle whose
    latest loading/unloading naming it was `loading`."""
    links: list[dict[str, Any]] = [{"identifier": resolved.identifier, "kind": resolved.kind}]
    levels = {row[0]: row for row in walk}
    seen = set(resolved.spellings)
    for depth in range(MAX_DEPTH):
        _, _, body, action, emptied, cargo, step, gateway = levels[depth]
        parent = levels[depth + 1][1] if depth + 1 in levels else None
        if body is not None and action != "DELETE" and not emptied and parent is not None and parent not in seen:
            links.append({"identifier": parent, "kind": kind_of(parent), **_linked(body)})
            seen.add(parent)
            continue
        if cargo is not None and step == "loading" and gateway:
            links.append({"identifier": vehicle_uri(gateway), "kind": "vehicle", "gateway": gateway,
                          **_linked(cargo)})
        break
    return links


def _last_position(gateway: str) -> Statement:
    return ("SELECT lat, lon, time, device, received_at FROM positions WHERE gateway = ? AND lat IS NOT NULL "
            "ORDER BY id DESC LIMIT 1", [gateway])


def _position(rows: list[tuple], gateway: str) -> dict[str, Any] | None:
    if not rows:
        return None
    lat, lon, when, device, received = rows[0]
    return {"lat": lat, "lon": lon, "time": when, "device": device, "gateway": gateway,
            "received": epcis.display_time(received)}


def last_position(cur: Cursor, gateway: str) -> dict[str, Any] | None:
    return _position(cur.all(*_last_position(gateway)), gateway)


def _carrier(links: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The vehicle link of a chain (never the first link: a vehicle asked about is not on itself)."""
    return next((link for link in links[1:] if link["kind"] == "vehicle"), None)


def _located_by(latest: dict[str, Any] | None, links: list[dict[str, Any]]) -> str | None:
    """Whose GPS says where it is: the vehicle it is on, else the gateway that saw it last."""
    if latest is None:
        return None
    carrier = _carrier(links)
    gateway = (carrier["gateway"] if carrier else None) or latest.get("tally:gateway")
    return gateway if isinstance(gateway, str) else None


def _where(latest: dict[str, Any] | None, links: list[dict[str, Any]],
           position: dict[str, Any] | None) -> dict[str, Any] | None:
    """Read point and business location of the latest sighting; the GPS position of the vehicle it is on
    (or of the gateway that saw it last, if that gateway reports positions)."""
    if latest is None:
        return None
    read_point = (latest.get("readPoint") or {}).get("id")
    out: dict[str, Any] = {
        "readPoint": read_point, "bizLocation": (latest.get("bizLocation") or {}).get("id"),
        "bizStep": latest.get("bizStep"), "disposition": latest.get("disposition"),
        "eventTime": latest.get("eventTime"), "gateway": latest.get("tally:gateway"), "position": None,
    }
    carrier = _carrier(links)
    if carrier and carrier["gateway"]:
        out["vehicle"] = carrier["gateway"]
    out["position"] = position
    match = GEO.match(read_point or "")
    if out["position"] is None and match:
        out["position"] = {"lat": float(match.group(1)), "lon": float(match.group(2)), "time": latest.get("eventTime")}
    return out


def _since_loaded(links: list[dict[str, Any]]) -> Statement | None:
    on = _carrier(links)
    if on is None:
        return None
    return ("SELECT lat, lon, time FROM positions WHERE gateway = ? AND lat IS NOT NULL AND received_at >= ? "
            "ORDER BY id DESC LIMIT 2000", [on["gateway"], epcis.utc(on["since"])])


def _route(events: list[dict[str, Any]], gps: list[tuple]) -> list[dict[str, Any]]:
    """Where it went, oldest first: geo read points of its events, then the positions of the vehicle it is
    on since it was loaded."""
    points = []
    for event in events:
        match = GEO.match((event.get("readPoint") or {}).get("id") or "")
        if match:
            points.append({"lat": float(match.group(1)), "lon": float(match.group(2)),
                           "time": event.get("eventTime"), "source": "event"})
    points += [{"lat": lat, "lon": lon, "time": when, "source": "gps"} for lat, lon, when in reversed(gps)]
    return points


def track(cur: Cursor, resolved: Resolved) -> dict[str, Any]:
    """The answer in two round trips to the store, whatever the depth: its history and the containment
    walk together, then the GPS positions of whatever carries it (they depend on both)."""
    rows, walk = cur.many([_history(resolved.spellings), _walk(resolved.spellings)])
    events = _events(rows)[::-1]
    latest = events[-1] if events else None
    links = _chain(walk, resolved)
    gateway = _located_by(latest, links)
    since = _since_loaded(links)
    wanted = ([_last_position(gateway)] if gateway is not None else []) + ([since] if since else [])
    found = cur.many(wanted) if wanted else []
    position = _position(found[0], gateway) if gateway is not None else None
    return {"identifier": resolved.identifier, "kind": resolved.kind, "input": resolved.text,
            "latest": latest, "where": _where(latest, links, position), "chain": links, "history": events,
            "route": _route(events, found[-1] if since else [])}


def _last_place(cur: Cursor, identifier: str) -> dict[str, Any] | None:
    row = cur.one("SELECT e.event_time, e.biz_step, e.disposition, e.read_point, e.biz_location, e.gateway, "
                  "e.event_id FROM events e JOIN identifiers i ON i.event = e.id WHERE i.value = ? "
                  "ORDER BY e.event_time DESC, e.id DESC LIMIT 1", (identifier,))
    if row is None:
        return None
    return {"eventTime": epcis.display_time(row[0]), "bizStep": row[1], "disposition": row[2], "readPoint": row[3],
            "bizLocation": row[4], "gateway": row[5], "eventID": row[6]}


def _parents(cur: Cursor, children: Iterable[str]) -> dict[str, str]:
    """parent -> one child it was aggregated from (ever: a recall wants every place the lot went)."""
    children = list(children)
    if not children:
        return {}
    rows = cur.all(f"SELECT DISTINCT p.value, c.value FROM identifiers c JOIN identifiers p ON p.event = c.event "
                   f"AND p.role = 'parentID' WHERE c.value IN ({_marks(children)}) AND c.role IN "
                   f"({_marks(CHILD_ROLES)})", [*children, *CHILD_ROLES])
    return {parent: child for parent, child in rows}


def _vehicles(cur: Cursor, items: Iterable[str]) -> dict[str, str]:
    items = list(items)
    if not items:
        return {}
    rows = cur.all(f"SELECT DISTINCT e.gateway, i.value FROM events e JOIN identifiers i ON i.event = e.id WHERE "
                   f"i.value IN ({_marks(items)}) AND i.role IN ('epc', 'epcClass') AND e.biz_step = 'loading'",
                   items)
    return {vehicle_uri(gw): value for gw, value in rows if gw}


def recall(cur: Cursor, lot: Resolved) -> dict[str, Any]:
    """Every identifier of the lot, directly (the class, units recorded with the lot) or by containment
    (cases, pallets, shipments, vehicles that ever held any of them), each with its last known place."""
    direct = [v for (v,) in cur.all(f"SELECT DISTINCT value FROM identifiers WHERE event IN (SELECT event FROM "
                                    f"identifiers WHERE value IN ({_marks(lot.spellings)}) AND role = 'unitLot') "
                                    f"AND role IN ('epc', 'childEPC')", list(lot.spellings))]
    classes = [v for (v,) in cur.all(f"SELECT DISTINCT value FROM identifiers WHERE value IN "
                                     f"({_marks(lot.spellings)}) AND role <> 'unitLot'", list(lot.spellings))]
    items: dict[str, dict[str, Any]] = {}
    for value in classes:
        items[value] = {"identifier": value, "kind": "class", "via": "lot"}
    for value in direct:
        items.setdefault(value, {"identifier": value, "kind": kind_of(value), "via": "lot"})
    frontier = list(items)
    for _ in range(MAX_DEPTH):
        found = {**_parents(cur, frontier), **_vehicles(cur, frontier)}
        frontier = [p for p in found if p not in items]
        for parent in frontier:
            items[parent] = {"identifier": parent, "kind": kind_of(parent), "via": f"contains {found[parent]}"}
        if not frontier:
            break
    for item in items.values():
        if item["kind"] == "vehicle":
            gateway = item["identifier"][len("urn:tally:vehicle:"):]
            item["last"] = {"gateway": gateway, "position": last_position(cur, gateway)}
        else:
            item["last"] = _last_place(cur, item["identifier"])
    return {"gtin": lot.gtin, "lot": lot.lot, "identifier": lot.identifier, "count": len(items),
            "items": sorted(items.values(), key=lambda i: (i["kind"], i["identifier"]))}
