"""The tracker's store: what arrives from the fleet, committed idempotently, nothing dropped.

`ingest(messages)` takes a batch of MQTT messages and commits them in one transaction;
the caller acknowledges them to the broker only after it returns. Per message:
- events: stored by eventID; a redelivery (same content) is a no-op, the same eventID with
  other content goes to `conflicts`, anything GS1's schema refuses goes to `invalid` with
  the reason. `tally:seq` feeds the per-gateway gap record.
- positions, rejects: kept per gateway; status (retained): the gateway's online/offline state.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterable, Mapping

from . import epcis, notify
from .db import Cursor, Database, open_database

log = logging.getLogger("tally.tracker.store")

KINDS = ("events", "positions", "rejects", "status")
#: SQL types of Checked.row() and of an identifiers row, for inserts of many rows at once
EVENT_TYPES = ("text",) * 10 + ("bigint", "text", "text")
IDENTIFIER_TYPES = ("bigint", "text", "text", "float8", "text")
#: a gateway's record after a batch: (name, events stored, last received_at, new highest tally:seq or None)
GATEWAY_UPDATE = (("gw", "text"), ("n", "bigint"), ("seen", "text"), ("top", "bigint"))


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    received_at: str = field(default_factory=epcis.utc_now)

    @cached_property
    def parts(self) -> tuple[str, str]:
        """(gateway, kind) from `{root}/{gateway}/{kind}`; the root may itself contain slashes."""
        pieces = self.topic.rsplit("/", 2)
        if len(pieces) < 3:
            return "", ""
        return pieces[1], pieces[2]

    def checked(self) -> Any:
        """check_event's answer, computed once: the MQTT thread checks an event as it arrives, so the
        schema check overlaps the writer's waits on the database."""
        try:
            return self.__dict__["_checked"]
        except KeyError:
            pass
        try:
            result = check_event(self)
        except Exception as exc:  # a check that cannot finish is the reason: the message is kept as invalid
            result = f"could not be checked: {type(exc).__name__}: {exc}"[:500]
        object.__setattr__(self, "_checked", result)
        return result


@dataclass
class Afterwards:
    """What a transaction tells once it has committed (nothing is told of one rolled back): log lines, and
    how many gaps it reported or forgot."""
    lines: list[tuple[int, str, tuple]] = field(default_factory=list)
    gaps: Counter[str] = field(default_factory=Counter)

    def log(self, level: int, text: str, *args: Any) -> None:
        self.lines.append((level, text, args))

    def tell(self, gap_counts: Counter[str]) -> None:
        for level, text, args in self.lines:
            log.log(level, text, *args)
        gap_counts.update(self.gaps)


class Store:
    def __init__(self, url: str, gap_grace: float = 0.0):
        self.db: Database = open_database(url)
        self.counts: Counter[str] = Counter()
        #: seconds a skipped `tally:seq` range may stay open before it is reported (logged, notified, listed
        #: in /gaps as open): instances sharing a gateway's messages commit its numbers out of order, so most
        #: gaps they see are filled a moment later by another instance. 0 reports every gap at once.
        self.gap_grace = gap_grace
        #: reported: gaps told of; filled_in_grace: opened and filled before the grace ran out (never told)
        self.gap_counts: Counter[str] = Counter()
        #: called after a commit that wrote notifications (the deliverer wakes up)
        self.on_notify: Callable[[], None] = lambda: None

    @property
    def engine(self) -> str:
        return self.db.engine

    def open(self) -> "Store":
        self.db.migrate()
        return self

    def close(self) -> None:
        self.db.close()

    # ---- ingest ----------------------------------------------------------------------------------
    def ingest(self, messages: Iterable[Message]) -> list[str]:
        """Commit a batch (see _ingest). If the store refuses the batch's data (not the connection), the
        messages are committed one by one and one the store still refuses is kept aside as invalid."""
        messages = list(messages)
        try:
            return self._ingest(messages)
        except Exception as exc:
            if not self.db.is_data_error(exc):
                raise
            log.warning("the store refused a batch of %d (%s); committing them one by one", len(messages), exc)
        outcomes = []
        for message in messages:
            try:
                outcomes += self._ingest([message])
            except Exception as exc:
                if not self.db.is_data_error(exc):
                    raise
                with self.db.transaction() as cur:
                    outcomes.append(self._invalid(cur, message, f"refused by the store: {exc}"[:500]))
                self.counts["invalid"] += 1
        return outcomes

    def _ingest(self, messages: list[Message]) -> list[str]:
        """Commit a batch; one outcome per message (stored, duplicate, conflict, invalid, position,
        reject, status, ignored). Raises only if the commit itself fails (then nothing is acknowledged)."""
        messages = list(messages)
        outcomes: list[str] = ["ignored"] * len(messages)
        checked: list[Checked] = []
        refused: list[tuple[int, Message, str]] = []
        for index, message in enumerate(messages):
            if message.parts[1] == "events":
                result = message.checked()
                if isinstance(result, str):
                    refused.append((index, message, result))
                else:
                    checked.append(Checked(index, message, message.parts[0], *result))
        with self.db.transaction() as cur:
            for index, message, reason in refused:
                outcomes[index] = self._invalid(cur, message, reason)
            stored = self._events(cur, checked, outcomes)
            subs = notify.subscribers(cur)
            # Gateway rows last, locked for as short a time as possible (few round trips, nothing logged
            # until the commit): instances sharing the load insert events side by side and queue only for
            # this bookkeeping.
            gateways = sorted({m.parts[0] for m in messages if m.parts[1] in KINDS and m.parts[0]})
            tops = self._lock_gateways(cur, gateways)
            notes = Afterwards()
            new_gaps = self._gateway_records(cur, stored, tops, notes)
            stored_ids = [item.pk for item in stored]
            offline: list[str] = []
            for index, message in enumerate(messages):
                gateway, kind = message.parts
                if kind == "positions":
                    outcomes[index] = self._position(cur, message, gateway)
                elif kind == "rejects":
                    outcomes[index] = self._reject(cur, message, gateway)
                elif kind == "status":
                    outcomes[index] = self._status(cur, message, gateway, offline)
            notifications = notify.enqueue(cur, subs, stored_ids, new_gaps, offline)
        notes.tell(self.gap_counts)
        self.counts.update(outcomes)
        if notifications:
            self.counts["notifications"] += notifications
            self.on_notify()
        return outcomes

    def _lock_gateways(self, cur: Cursor, gateways: list[str]) -> dict[str, int | None]:
        """Create the gateways' rows and, on PostgreSQL, lock them in one order: instances sharing the
        load then update a gateway's sequence record one at a time, and never deadlock. Returns each
        one's highest `tally:seq` so far."""
        if not gateways:
            return {}
        cur.insert_rows("INSERT INTO gateways (gateway)", ("text",), [(g,) for g in gateways],
                        "ON CONFLICT (gateway) DO NOTHING")
        where, params = self.db.any_of("gateway", gateways)
        lock = " ORDER BY gateway FOR UPDATE" if self.db.row_locks else ""
        return dict(cur.all(f"SELECT gateway, max_seq FROM gateways WHERE {where}{lock}", params))

    def _invalid(self, cur: Cursor, message: Message, reason: str) -> str:
        cur.execute("INSERT INTO invalid (received_at, topic, reason, body) VALUES (?, ?, ?, ?)",
                    (message.received_at, message.topic, reason,
                     printable(message.payload)))
        log.warning("invalid message on %s kept aside: %s", message.topic, reason)
        return "invalid"

    def _json(self, message: Message) -> tuple[Any, str | None]:
        return parse_json(message)

    def _events(self, cur: Cursor, checked: list["Checked"], outcomes: list[str]) -> list["Checked"]:
        """Store a batch of schema-valid events in a handful of statements, whatever its size: one
        multi-row insert that skips known eventIDs, one look-up of the skipped ones' digests."""
        if not checked:
            return []
        first: dict[str, Checked] = {}
        again: list[Checked] = []
        for item in checked:
            if item.eid in first:
                again.append(item)  # twice in one batch: compared with the first like any redelivery
            else:
                first[item.eid] = item
        inserted: dict[str, int] = {}
        items = list(first.values())
        rows = cur.insert_rows(
            "INSERT INTO events (event_id, type, event_time, record_time, action, biz_step, disposition, "
            "read_point, biz_location, gateway, seq, digest, body)", EVENT_TYPES, [item.row() for item in items],
            "ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id")
        inserted.update((eid, pk) for pk, eid in rows)
        skipped = [item for item in items if item.eid not in inserted] + again
        known: dict[str, str] = {}
        for chunk in _chunks(sorted({item.eid for item in skipped}), 500):
            where, params = self.db.any_of("event_id", chunk)
            known.update(cur.all(f"SELECT event_id, digest FROM events WHERE {where}", params))
        conflicts = []
        for item in skipped:
            if known.get(item.eid) == item.digest:
                outcomes[item.index] = "duplicate"
            else:
                outcomes[item.index] = "conflict"
                conflicts.append((item.eid, item.message.received_at, item.message.topic, item.digest,
                                  json.dumps(item.event, ensure_ascii=False)))
                log.warning("event %s arrived again with other content (on %s): kept aside as a conflict",
                            item.eid, item.message.topic)
        cur.executemany("INSERT INTO conflicts (event_id, received_at, topic, digest, body) VALUES (?, ?, ?, ?, ?)",
                        conflicts)
        stored = [item for item in items if item.eid in inserted]
        idents = []
        for item in stored:
            outcomes[item.index] = "stored"
            item.pk = inserted[item.eid]
            idents += [(item.pk, *ident) for ident in item.identifiers()]
        cur.insert_rows("INSERT INTO identifiers (event, role, value, quantity, uom)", IDENTIFIER_TYPES, idents)
        return stored

    def _gateway_records(self, cur: Cursor, stored: list["Checked"], tops: dict[str, int | None],
                         notes: Afterwards) -> list[tuple]:
        """Per gateway: event count, last seen, sequence and gaps (rows locked by _lock_gateways)."""
        per_gateway: dict[str, list[Checked]] = {}
        for item in stored:
            per_gateway.setdefault(item.gateway, []).append(item)
        new_gaps, late, raised = self._sequences(cur, {gw: [i for i in group if i.seq is not None]
                                                       for gw, group in per_gateway.items()}, tops, notes)
        # One statement for all the batch's gateways: two each were most of a batch's statements.
        cur.update_rows("gateways", "gateway", GATEWAY_UPDATE,
                        "events = events + new.n, last_seen = CASE WHEN last_seen IS NULL OR last_seen < new.seen "
                        "THEN new.seen ELSE last_seen END, max_seq = COALESCE(new.top, max_seq)",
                        [(gw, len(group), group[-1].message.received_at, raised.get(gw))
                         for gw, group in per_gateway.items()])
        self._close_gaps(cur, late, notes)
        return new_gaps

    def _sequences(self, cur: Cursor, per_gateway: dict[str, list["Checked"]], tops: dict[str, int | None],
                   notes: Afterwards
                   ) -> tuple[list[tuple], dict[str, list[tuple[int, str]]], dict[str, int]]:
        """Gaps in each gateway's `tally:seq`: opened when a number is skipped, closed when every number
        in the range has arrived (late, or through another instance). Rows are locked (_lock_gateways).
        Returns the new gaps, the late arrivals and each gateway's new highest number."""
        per_gateway = {gw: items for gw, items in per_gateway.items() if items}
        if not per_gateway:
            return [], {}, {}
        names = sorted(per_gateway)
        new_gaps, late, changed = [], {}, {}
        for gw in names:
            top = tops.get(gw)
            for item in per_gateway[gw]:
                if top is None or item.seq > top:
                    low = 1 if top is None else top + 1
                    if item.seq > low:
                        new_gaps.append((gw, low, item.seq - 1, item.message.received_at))
                    top = changed[gw] = item.seq
                else:
                    late.setdefault(gw, []).append((item.seq, item.message.received_at))
        told = self.gap_grace <= 0
        cur.insert_rows("INSERT INTO gaps (gateway, first_seq, last_seq, detected_at, reported_at)",
                        ("text", "bigint", "bigint", "text", "text"),
                        [(*gap, gap[3] if told else None) for gap in new_gaps])
        if not told:
            return [], late, changed  # told by report_gaps() if still open when the grace runs out
        for gw, first, last, _ in new_gaps:
            notes.log(logging.WARNING, "gateway %s: events %d..%d missing", gw, first, last)
        notes.gaps["reported"] += len(new_gaps)
        return new_gaps, late, changed

    def _close_gaps(self, cur: Cursor, late: dict[str, list[tuple[int, str]]],
                    notes: Afterwards) -> None:
        if not late:
            return
        where, params = self.db.any_of("gateway", sorted(late))
        open_gaps = cur.all(f"SELECT id, gateway, first_seq, last_seq FROM gaps WHERE closed_at IS NULL AND {where}",
                            params)
        touched = {}
        for gap_id, gw, first, last in open_gaps:
            hits = [when for seq, when in late[gw] if first <= seq <= last]
            if hits:
                touched[gap_id] = (gw, first, last, max(hits))
        # Instances sharing a gateway's messages commit its numbers out of order, so gaps open and close
        # all the time: what each touched gap still misses is counted in one statement, not one each.
        have: dict[int, int] = {}
        for chunk in _chunks(sorted(touched), 500):
            where, params = self.db.any_of("g.id", chunk)
            have.update(cur.all(f"SELECT g.id, (SELECT COUNT(DISTINCT e.seq) FROM events e WHERE e.gateway = "
                                f"g.gateway AND e.seq BETWEEN g.first_seq AND g.last_seq) FROM gaps g WHERE {where}",
                                params))
        closed = [(gap_id, when) for gap_id, (gw, first, last, when) in touched.items()
                  if have.get(gap_id, 0) >= last - first + 1]
        # A gap nobody was told of is forgotten: it was the instances' ordering, not a loss. The condition is
        # checked again under the row's lock, so a gap report_gaps() told of meanwhile is closed instead.
        filled: set[int] = set()
        for chunk in _chunks([gap_id for gap_id, _ in closed], 500):
            where, params = self.db.any_of("id", chunk)
            filled.update(row[0] for row in cur.all(
                f"DELETE FROM gaps WHERE {where} AND reported_at IS NULL RETURNING id", params))
        notes.gaps["filled_in_grace"] += len(filled)
        closed = [(gap_id, when) for gap_id, when in closed if gap_id not in filled]
        cur.update_rows("gaps", "id", (("gap", "bigint"), ("closed", "text")), "closed_at = new.closed", closed)
        for gap_id, _ in closed:
            gw, first, last, _ = touched[gap_id]
            notes.log(logging.INFO, "gateway %s: gap %d..%d closed by late delivery", gw, first, last)

    def _position(self, cur: Cursor, message: Message, gateway: str) -> str:
        record, problem = self._json(message)
        if problem is None and not isinstance(record, dict):
            problem = "not a JSON object"
        if problem is not None:
            return self._invalid(cur, message, problem)
        lat, lon = record.get("lat"), record.get("lon")
        number = (int, float)
        cur.execute("INSERT INTO positions (gateway, device, time, lat, lon, received_at, body) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (gateway, record.get("device") if isinstance(record.get("device"), str) else None,
                     record.get("time") if isinstance(record.get("time"), str) else None,
                     float(lat) if isinstance(lat, number) else None, float(lon) if isinstance(lon, number) else None,
                     message.received_at, json.dumps(record, ensure_ascii=False)))
        cur.execute("UPDATE gateways SET last_seen = ? WHERE gateway = ?", (message.received_at, gateway))
        return "position"

    def _reject(self, cur: Cursor, message: Message, gateway: str) -> str:
        cur.execute("INSERT INTO rejects (gateway, received_at, body) VALUES (?, ?, ?)",
                    (gateway, message.received_at, printable(message.payload)))
        cur.execute("UPDATE gateways SET last_seen = ? WHERE gateway = ?", (message.received_at, gateway))
        return "reject"

    def _status(self, cur: Cursor, message: Message, gateway: str, offline: list[str]) -> str:
        if not message.payload:  # a retained message being cleared
            cur.execute("UPDATE gateways SET state = NULL, status = NULL, status_time = ? WHERE gateway = ?",
                        (message.received_at, gateway))
            return "status"
        record, problem = self._json(message)
        if problem is None and not isinstance(record, dict):
            problem = "not a JSON object"
        if problem is not None:
            return self._invalid(cur, message, problem)
        state = record.get("state") if record.get("state") in ("online", "offline") else "unknown"
        before = cur.one("SELECT state FROM gateways WHERE gateway = ?", (gateway,))
        if state == "offline" and (before is None or before[0] != "offline"):
            offline.append(gateway)
        cur.execute("UPDATE gateways SET state = ?, status = ?, status_time = ? WHERE gateway = ?",
                    (state, json.dumps(record, ensure_ascii=False), message.received_at, gateway))
        if state == "online":
            cur.execute("UPDATE gateways SET last_seen = ? WHERE gateway = ?", (message.received_at, gateway))
        return "status"

    # ---- reading ---------------------------------------------------------------------------------
    def event(self, event_id: str) -> dict[str, Any] | None:
        with self.db.reading() as cur:
            row = cur.one("SELECT body, record_time FROM events WHERE event_id = ?", (event_id,))
        return as_event(row) if row else None

    def gaps(self) -> list[dict[str, Any]]:
        """Per gateway: state, counts, and its gaps: `openGaps` (reported), `pendingGaps` (open, still within
        the grace: another instance may hold the numbers), `closedGaps` (reported, then filled late)."""
        with self.db.reading() as cur:
            gateways = cur.all("SELECT gateway, max_seq, events, last_seen, state, status, status_time "
                               "FROM gateways ORDER BY gateway")
            gaps = cur.all("SELECT gateway, first_seq, last_seq, detected_at, closed_at, reported_at FROM gaps "
                           "ORDER BY id")
            open_missing = {}
            for gw, first, last, _, closed, _ in gaps:
                if closed is None:
                    have = cur.one("SELECT COUNT(DISTINCT seq) FROM events WHERE gateway = ? AND seq BETWEEN ? "
                                   "AND ?", (gw, first, last))[0]
                    open_missing[(gw, first)] = (last - first + 1) - have
        out = []
        for gw, max_seq, count, last_seen, state, status, status_time in gateways:
            mine = [g for g in gaps if g[0] == gw]
            out.append({
                "gateway": gw, "state": state or "unknown", "lastSeen": last_seen, "statusTime": status_time,
                "status": json.loads(status) if status else None, "events": count, "lastSeq": max_seq,
                "openGaps": [{"first": f, "last": la, "missing": open_missing[(gw, f)], "detected": d,
                              "reported": r} for _, f, la, d, c, r in mine if c is None and r is not None],
                "pendingGaps": [{"first": f, "last": la, "missing": open_missing[(gw, f)], "detected": d}
                                for _, f, la, d, c, r in mine if c is None and r is None],
                "closedGaps": [{"first": f, "last": la, "detected": d, "closed": c}
                               for _, f, la, d, c, _ in mine if c is not None],
            })
        return out

    def report_gaps(self) -> int:
        """Report the gaps still open once the grace has run out: logged, notified (`gaps` subscriptions),
        listed as open. Every instance may run it at once: each gap is reported by the one that marks it."""
        if self.gap_grace <= 0:
            return 0
        cutoff = notify.later(-self.gap_grace)
        due = "closed_at IS NULL AND reported_at IS NULL AND detected_at <= ?"
        with self.db.reading() as cur:  # the usual answer is "none": no write lock for it
            gateways = sorted(g for (g,) in cur.all(f"SELECT DISTINCT gateway FROM gaps WHERE {due}", (cutoff,)))
        if not gateways:
            return 0
        notes = Afterwards()
        written = 0
        with self.db.transaction() as cur:
            # The gateways' rows first, in ingest's order: a batch closing one of these gaps holds its gateway's
            # row, then the gap's; taking them the other way round could deadlock with it. A gap of another
            # gateway that came due meanwhile (a batch whose commit was retried) waits for the next sweep.
            self._lock_gateways(cur, gateways)
            mine, params = self.db.any_of("gateway", gateways)
            told = sorted(cur.all(f"UPDATE gaps SET reported_at = ? WHERE {due} AND {mine} "
                                  "RETURNING gateway, first_seq, last_seq, detected_at",
                                  (epcis.utc_now(), cutoff, *params)))
            for gw, first, last, detected in told:
                notes.log(logging.WARNING, "gateway %s: events %d..%d missing (since %s)", gw, first, last,
                          epcis.display_time(detected))
            notes.gaps["reported"] += len(told)
            if told:
                written = notify.enqueue(cur, notify.subscribers(cur), [], told, [])
        notes.tell(self.gap_counts)
        if written:
            self.counts["notifications"] += written
            self.on_notify()
        return len(told)

    def aside(self, table: str, limit: int = 100) -> list[dict[str, Any]]:
        """What was kept aside: `conflicts` or `invalid`, newest first."""
        with self.db.reading() as cur:
            if table == "conflicts":
                rows = cur.all("SELECT event_id, received_at, topic, body FROM conflicts ORDER BY id DESC LIMIT ?",
                               (limit,))
                return [{"eventID": e, "received": r, "topic": t, "event": json.loads(b)} for e, r, t, b in rows]
            rows = cur.all("SELECT received_at, topic, reason, body FROM invalid ORDER BY id DESC LIMIT ?", (limit,))
            return [{"received": r, "topic": t, "reason": why, "body": b} for r, t, why, b in rows]

    def totals(self) -> dict[str, int]:
        with self.db.reading() as cur:
            out = {}
            for table in ("events", "conflicts", "invalid", "positions", "rejects", "gateways"):
                out[table] = int(cur.one(f"SELECT COUNT(*) FROM {table}")[0])
            out["open_gaps"] = int(cur.one("SELECT COUNT(*) FROM gaps WHERE closed_at IS NULL")[0])
        return out


def parse_json(message: Message) -> tuple[Any, str | None]:
    try:
        text = message.payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 JSON: {exc}"
    if "\x00" in text or "\\u0000" in text:
        return None, "contains U+0000, which the store cannot keep"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"not JSON: {exc}"
    except RecursionError:
        return None, "nested too deeply to read"


def printable(payload: bytes) -> str:
    """Any payload as text a store column takes (no NUL), for what is kept aside."""
    return payload.decode("utf-8", errors="replace").replace("\x00", "\\u0000")


def check_event(message: Message) -> tuple[dict[str, Any], str, str, str, int | None] | str:
    """(event, eventID, digest, eventTime, seq) of a storable event, or why it is not one."""
    event, problem = parse_json(message)
    if problem is None and not isinstance(event, dict):
        problem = "not a JSON object"
    if problem is None:
        problem = epcis.schema_problem(event)
    if problem is None:
        try:
            event_time = epcis.utc(event.get("eventTime"))
        except epcis.InvalidEvent as exc:
            problem = str(exc)
    if problem is not None:
        return problem
    seq = event.get("tally:seq")
    seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    if seq is not None and not 0 <= seq < 2 ** 63:
        return f"tally:seq {seq} is out of range"
    # The payload as received is the stored body, and its hash the content a redelivery must match
    # (a gateway resends the very bytes it committed).
    return event, epcis.event_id(event), hashlib.sha256(message.payload).hexdigest(), event_time, seq


@dataclass
class Checked:
    index: int
    message: Message
    gateway: str
    event: dict[str, Any]
    eid: str
    digest: str
    event_time: str
    seq: int | None
    pk: int = 0

    def row(self) -> tuple[Any, ...]:
        e = self.event
        return (self.eid, e["type"], self.event_time, self.message.received_at, epcis.plain_text(e, "action"),
                epcis.plain_text(e, "bizStep"), epcis.plain_text(e, "disposition"), epcis.location(e, "readPoint"),
                epcis.location(e, "bizLocation"), self.gateway, self.seq, self.digest,
                self.message.payload.decode("utf-8"))

    def identifiers(self) -> list[tuple[str, str, float | None, str | None]]:
        idents = list(epcis.identifiers(self.event))
        lot = unit_lot(self.event)
        if lot:
            idents.append(("unitLot", lot, None, None))
        return idents


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def unit_lot(event: Mapping[str, Any]) -> str | None:
    """The lot of a unit scanned from a label that carried one: an SGTIN does not name its lot, but the
    label (`tally:raw`) did, and a recall needs it. Stored as the lot's Digital Link URI."""
    raw = event.get("tally:raw")
    if not isinstance(raw, str) or "10" not in raw or not event.get("epcList") or len(raw) > 512:
        return None
    from gateway.decode import decode

    from .identifiers import lgtin_spellings

    decoded = decode(raw)
    if decoded.get("identity_kind") == "unit" and decoded.get("gtin") and decoded.get("lot"):
        return lgtin_spellings(decoded["gtin"], decoded["lot"])[0]
    return None


def as_event(row: tuple) -> dict[str, Any]:
    """A stored event as the query interface returns it: the event as sent, with the recordTime set here."""
    event = json.loads(row[0])
    event["recordTime"] = epcis.display_time(row[1])
    return event


def open_store(url: str) -> Store:
    return Store(url).open()


def event_messages(root: str, gateway: str, events: Iterable[Mapping[str, Any]]) -> list[Message]:
    """Helper for tools and tests: events as they would arrive on `{root}/{gateway}/events`."""
    return [Message(f"{root}/{gateway}/events", json.dumps(e).encode()) for e in events]
