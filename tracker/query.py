"""GS1 EPCIS 2.0 simple event query (REST binding) over the store: parameters in, SQL out, a page of events back.

Parameters: eventType, GE_/LT_eventTime, GE_/LT_recordTime, EQ_bizStep, EQ_disposition,
EQ_readPoint, EQ_bizLocation, MATCH_epc, MATCH_anyEPC, MATCH_parentID, MATCH_epcClass,
MATCH_anyEPCClass, EQ_eventID, orderBy, orderDirection, eventCountLimit, perPage,
nextPageToken. A parameter takes several values separated by `|` (or repeated). A value
ending in `*` is a prefix (EPC patterns: `urn:epc:idpat:sgtin:0614141.107346.*`). Any
other parameter, or a value that cannot be read, is a QueryParameterException (HTTP 400).
Paging is keyset paging on (order column, row id), so a page costs the same at any depth.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from . import epcis

EVENT_TYPES = {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}
MATCH_ROLES = {
    "MATCH_epc": ("epc", "childEPC"),
    "MATCH_anyEPC": ("epc", "childEPC", "parentID", "inputEPC", "outputEPC"),
    "MATCH_parentID": ("parentID",),
    "MATCH_inputEPC": ("inputEPC",),
    "MATCH_outputEPC": ("outputEPC",),
    "MATCH_epcClass": ("epcClass", "childEPCClass"),
    "MATCH_inputEPCClass": ("inputEPCClass",),
    "MATCH_outputEPCClass": ("outputEPCClass",),
    "MATCH_anyEPCClass": ("epcClass", "childEPCClass", "inputEPCClass", "outputEPCClass"),
}
EQ_COLUMNS = {"EQ_bizStep": "biz_step", "EQ_disposition": "disposition", "EQ_readPoint": "read_point",
              "EQ_bizLocation": "biz_location", "EQ_eventID": "event_id", "EQ_action": "action"}
TIME_BOUNDS = {"GE_eventTime": ("event_time", ">="), "LT_eventTime": ("event_time", "<"),
               "GE_recordTime": ("record_time", ">="), "LT_recordTime": ("record_time", "<")}
ORDER_COLUMNS = {"eventTime": "event_time", "recordTime": "record_time"}
# CBV 2.0 words also come as URIs; the gateway stores the bare word.
CBV_PREFIXES = {"EQ_bizStep": ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
                "EQ_disposition": ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-")}
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 1000


class QueryParameterError(ValueError):
    """A parameter the query cannot use; EPCIS calls it QueryParameterException."""


@dataclass
class Query:
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    order_column: str = "event_time"
    descending: bool = True
    per_page: int = DEFAULT_PER_PAGE
    limit: int | None = None  # eventCountLimit: across all pages
    after: tuple[str, int] | None = None
    served: int = 0


def values(raw: Sequence[str]) -> list[str]:
    out = []
    for item in raw:
        out += [v for v in item.split("|") if v != ""]
    return out


def _positive(name: str, raw: Sequence[str]) -> int:
    try:
        value = int(raw[-1])
    except ValueError:
        raise QueryParameterError(f"{name}: {raw[-1]!r} is not a whole number") from None
    if value < 1:
        raise QueryParameterError(f"{name}: must be at least 1")
    return value


def identifier_condition(roles: Sequence[str], wanted: Sequence[str]) -> tuple[str, list[Any]]:
    """SQL selecting events naming any of `wanted` in one of `roles` (exact values, or `*` prefixes)."""
    exact = [w for w in wanted if not w.endswith("*")]
    prefixes = [w for w in wanted if w.endswith("*")]
    parts, params = [], []
    role_marks = ", ".join("?" for _ in roles)
    if exact:
        parts.append(f"id IN (SELECT event FROM identifiers WHERE value IN ({', '.join('?' for _ in exact)}) "
                     f"AND role IN ({role_marks}))")
        params += [*exact, *roles]
    for prefix in prefixes:
        like = pattern_prefix(prefix[:-1]).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        parts.append(f"id IN (SELECT event FROM identifiers WHERE value LIKE ? ESCAPE '\\' "
                     f"AND role IN ({role_marks}))")
        params += [like, *roles]
    return "(" + " OR ".join(parts) + ")", params


def pattern_prefix(text: str) -> str:
    """`urn:epc:idpat:sgtin:CP.IR.` (a TDS pattern) names the EPCs starting `urn:epc:id:sgtin:CP.IR.`."""
    if text.startswith("urn:epc:idpat:"):
        return "urn:epc:id:" + text[len("urn:epc:idpat:"):]
    return text


def parse(params: Mapping[str, Sequence[str]]) -> Query:
    q = Query()
    for name, raw in params.items():
        if not raw:
            continue
        if name == "eventType":
            types = values(raw)
            unknown = [t for t in types if t not in EVENT_TYPES]
            if unknown:
                raise QueryParameterError(f"eventType: {unknown[0]!r} is not one of {', '.join(sorted(EVENT_TYPES))}")
            q.where.append(f"type IN ({', '.join('?' for _ in types)})")
            q.params += types
        elif name in TIME_BOUNDS:
            column, op = TIME_BOUNDS[name]
            try:
                when = epcis.utc(raw[-1])
            except epcis.InvalidEvent:
                raise QueryParameterError(f"{name}: {raw[-1]!r} is not an RFC 3339 time with an offset") from None
            q.where.append(f"{column} {op} ?")
            q.params.append(when)
        elif name in EQ_COLUMNS:
            wanted = values(raw)
            for prefix in CBV_PREFIXES.get(name, ()):
                wanted = [w[len(prefix):] if w.startswith(prefix) else w for w in wanted]
            q.where.append(f"{EQ_COLUMNS[name]} IN ({', '.join('?' for _ in wanted)})")
            q.params += wanted
        elif name in MATCH_ROLES:
            condition, condition_params = identifier_condition(MATCH_ROLES[name], values(raw))
            q.where.append(condition)
            q.params += condition_params
        elif name == "orderBy":
            if raw[-1] not in ORDER_COLUMNS:
                raise QueryParameterError(f"orderBy: {raw[-1]!r} is not one of {', '.join(ORDER_COLUMNS)}")
            q.order_column = ORDER_COLUMNS[raw[-1]]
        elif name == "orderDirection":
            if raw[-1] not in ("ASC", "DESC"):
                raise QueryParameterError(f"orderDirection: {raw[-1]!r} is not ASC or DESC")
            q.descending = raw[-1] == "DESC"
        elif name == "eventCountLimit":
            q.limit = _positive(name, raw)
        elif name == "perPage":
            q.per_page = min(_positive(name, raw), MAX_PER_PAGE)
        elif name == "nextPageToken":
            pass  # read after the order is known
        else:
            raise QueryParameterError(f"{name}: not a query parameter this service knows")
    token = params.get("nextPageToken")
    if token:
        q.after, q.served = read_token(token[-1], q.order_column)
    return q


def make_token(order_column: str, last: tuple[str, int], served: int) -> str:
    raw = json.dumps({"o": order_column, "k": list(last), "n": served}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_token(token: str, order_column: str) -> tuple[tuple[str, int], int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        key, served = data["k"], data["n"]
        if data["o"] != order_column or not (isinstance(key[0], str) and isinstance(key[1], int)):
            raise ValueError
        return (key[0], key[1]), int(served)
    except (ValueError, KeyError, TypeError, IndexError):
        raise QueryParameterError("nextPageToken: not a token this query gave out") from None


def run(cursor: Any, q: Query) -> tuple[list[dict[str, Any]], str | None]:
    """One page of events and the token for the next page (None on the last)."""
    where, params = list(q.where), list(q.params)
    op = "<" if q.descending else ">"
    if q.after is not None:
        where.append(f"({q.order_column} {op} ? OR ({q.order_column} = ? AND id {op} ?))")
        params += [q.after[0], q.after[0], q.after[1]]
    size = q.per_page
    if q.limit is not None:
        size = min(size, q.limit - q.served)
    if size <= 0:
        return [], None
    direction = "DESC" if q.descending else "ASC"
    sql = (f"SELECT body, record_time, {q.order_column}, id FROM events"
           + (f" WHERE {' AND '.join(where)}" if where else "")
           + f" ORDER BY {q.order_column} {direction}, id {direction} LIMIT ?")
    rows = cursor.all(sql, [*params, size + 1])
    more = len(rows) > size
    rows = rows[:size]
    events = []
    for body, record_time, _, _ in rows:
        event = json.loads(body)
        event["recordTime"] = epcis.display_time(record_time)
        events.append(event)
    served = q.served + len(rows)
    token = None
    if more and rows and (q.limit is None or served < q.limit):
        token = make_token(q.order_column, (rows[-1][2], rows[-1][3]), served)
    return events, token


def document(events: list[dict[str, Any]], query_name: str = "SimpleEventQuery") -> dict[str, Any]:
    """An EPCISQueryDocument: the events' own contexts gathered once at the top."""
    context: list[Any] = [epcis.EPCIS_CONTEXT]
    extra: dict[str, Any] = {}
    listed = []
    for event in events:
        event = dict(event)
        ctx = event.pop("@context", None)
        for item in ctx if isinstance(ctx, list) else [ctx]:
            if isinstance(item, dict):
                extra.update(item)
        listed.append(event)
    if extra:
        context.append(extra)
    return {
        "@context": context,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": epcis.display_time(epcis.utc_now()),
        "epcisBody": {"queryResults": {"queryName": query_name, "resultsBody": {"eventList": listed}}},
    }
