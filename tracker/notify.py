"""Notifications: EPCIS named queries with subscriptions delivered to webhooks, durably.

A subscription (`POST /queries/{name}/subscriptions` with `dest`, optional `signatureToken`) gets,
for every committed batch with matching events, one EPCISQueryDocument naming its
subscriptionID. The document is written to `deliveries` in the same transaction as the events,
so a notification is never lost to a crash; a delivery worker POSTs it and retries with
exponential backoff until the receiver answers 2xx. With a signatureToken the request carries
`GS1-Signature: sha256=<hex HMAC-SHA256 of the body>`.

Built-in queries: `arrived` (bizStep arriving or receiving), `departed` (departing or shipping),
and two that are not event queries: `gaps` (a gateway's `tally:seq` skipped numbers) and
`offline` (a gateway's status became offline), delivered as small JSON notifications.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Sequence

from . import epcis, query
from .db import Cursor

log = logging.getLogger("tally.tracker.notify")

BUILT_IN: dict[str, dict[str, list[str]]] = {
    "arrived": {"EQ_bizStep": ["arriving|receiving"]},
    "departed": {"EQ_bizStep": ["departing|shipping"]},
}
SPECIAL = ("gaps", "offline")
NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


class SubscriptionError(ValueError):
    pass


def later(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sign(body: bytes, token: str) -> str:
    return "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


# ---- named queries and subscriptions ----------------------------------------------------------------

def query_params(cur: Cursor, name: str) -> dict[str, list[str]] | None:
    if name in BUILT_IN:
        return BUILT_IN[name]
    if name in SPECIAL:
        return {}
    row = cur.one("SELECT params FROM queries WHERE name = ?", (name,))
    return json.loads(row[0]) if row else None


def check_query_params(raw: Any) -> dict[str, list[str]]:
    if not isinstance(raw, Mapping):
        raise SubscriptionError("query must be an object of EPCIS query parameters")
    params: dict[str, list[str]] = {}
    for key, value in raw.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
            raise SubscriptionError(f"query.{key}: values are strings or numbers")
        params[str(key)] = [str(v) for v in values]
    for key in ("perPage", "nextPageToken", "orderBy", "orderDirection", "eventCountLimit"):
        params.pop(key, None)  # about pages of a poll, not about which events match
    query.parse(params)  # raises QueryParameterError for anything it cannot run
    return params


def create_query(cur: Cursor, name: Any, params: Any) -> None:
    if not isinstance(name, str) or not name or len(name) > 64 or set(name) - NAME_OK:
        raise SubscriptionError("name: 1-64 of A-Z a-z 0-9 _ - .")
    if name in BUILT_IN or name in SPECIAL or cur.one("SELECT 1 FROM queries WHERE name = ?", (name,)):
        raise SubscriptionError(f"a query named {name!r} exists")
    cur.execute("INSERT INTO queries (name, params, created_at) VALUES (?, ?, ?)",
                (name, json.dumps(check_query_params(params)), epcis.utc_now()))


def subscribe(cur: Cursor, name: str, body: Any) -> int:
    if query_params(cur, name) is None:
        raise SubscriptionError(f"no query named {name!r}")
    if not isinstance(body, Mapping):
        raise SubscriptionError("the body must be a JSON object with dest")
    dest = body.get("dest")
    if not isinstance(dest, str) or not dest.startswith(("http://", "https://")) or len(dest) > 2000:
        raise SubscriptionError("dest: an http:// or https:// URL")
    token = body.get("signatureToken")
    if token is not None and (not isinstance(token, str) or not token):
        raise SubscriptionError("signatureToken: a non-empty string")
    unknown = set(body) - {"dest", "signatureToken", "reportIfEmpty", "stream"}
    if unknown:
        raise SubscriptionError(f"{sorted(unknown)[0]}: not supported (subscriptions are streaming)")
    if body.get("stream", True) is not True:
        raise SubscriptionError("stream: only streaming subscriptions are supported")
    row = cur.one("INSERT INTO subscriptions (query, dest, signature_token, report_if_empty, created_at) "
                  "VALUES (?, ?, ?, ?, ?) RETURNING id",
                  (name, dest, token, int(bool(body.get("reportIfEmpty"))), epcis.utc_now()))
    return int(row[0])


def subscriptions(cur: Cursor, name: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT id, query, dest, created_at FROM subscriptions"
    rows = cur.all(sql + (" WHERE query = ? ORDER BY id" if name else " ORDER BY id"), (name,) if name else ())
    out = []
    for sid, q, dest, created in rows:
        pending = cur.one("SELECT COUNT(*), MAX(last_error) FROM deliveries WHERE subscription = ? AND "
                          "delivered_at IS NULL", (sid,))
        out.append({"subscriptionID": str(sid), "queryName": q, "dest": dest, "createdAt": created,
                    "pending": int(pending[0]), "lastError": pending[1]})
    return out


def unsubscribe(cur: Cursor, name: str, sid: str) -> bool:
    if not sid.isdigit():
        return False
    found = cur.one("SELECT id FROM subscriptions WHERE id = ? AND query = ?", (int(sid), name))
    if not found:
        return False
    cur.execute("DELETE FROM deliveries WHERE subscription = ? AND delivered_at IS NULL", (int(sid),))
    cur.execute("DELETE FROM subscriptions WHERE id = ?", (int(sid),))
    return True


# ---- matching, inside the ingest transaction ----------------------------------------------------------

def subscribers(cur: Cursor) -> list[tuple[int, str]]:
    """(subscription id, query name) of every subscription, for enqueue()."""
    return cur.all("SELECT id, query FROM subscriptions")


def enqueue(cur: Cursor, subs: Sequence[tuple[int, str]], stored_ids: Sequence[int], gaps: Sequence[tuple],
            offline: Sequence[str]) -> int:
    """Write the notifications a committed batch causes; returns how many. Runs in the batch's transaction."""
    if not subs:
        return 0
    now = epcis.utc_now()
    rows = []
    params_of: dict[str, dict[str, list[str]] | None] = {}
    for sid, name in subs:
        if name == "gaps":
            rows += [(sid, now, json.dumps({"type": "tally:GapDetected", "gateway": gw, "first": first, "last": last,
                                            "detected": epcis.display_time(when), "subscriptionID": str(sid)}))
                     for gw, first, last, when in gaps]
            continue
        if name == "offline":
            rows += [(sid, now, json.dumps({"type": "tally:GatewayOffline", "gateway": gw,
                                            "time": epcis.display_time(now), "subscriptionID": str(sid)}))
                     for gw in offline]
            continue
        if not stored_ids:
            continue
        if name not in params_of:
            params_of[name] = query_params(cur, name)
        params = params_of[name]
        if params is None:
            continue
        q = query.parse(params)
        where = q.where + [f"id IN ({', '.join('?' for _ in stored_ids)})"]
        matched = cur.all(f"SELECT body, record_time FROM events WHERE {' AND '.join(where)} ORDER BY event_time, id",
                          [*q.params, *stored_ids])
        if matched:
            events = []
            for body, record_time in matched:
                event = json.loads(body)
                event["recordTime"] = epcis.display_time(record_time)
                events.append(event)
            document = query.document(events, query_name=name)
            document["epcisBody"]["queryResults"]["subscriptionID"] = str(sid)
            rows.append((sid, now, json.dumps(document, ensure_ascii=False)))
    cur.executemany("INSERT INTO deliveries (subscription, created_at, body, next_try) VALUES (?, ?, ?, ?)",
                    [(sid, created, body, created) for sid, created, body in rows])
    return len(rows)


# ---- delivery ---------------------------------------------------------------------------------------------

class Deliverer:
    """POSTs due deliveries; retries with exponential backoff (base_delay doubling, at most max_delay)."""

    def __init__(self, db: Any, base_delay: float = 1.0, max_delay: float = 300.0, timeout: float = 10.0,
                 lease: float = 60.0):
        self.db = db
        self.base_delay, self.max_delay, self.timeout, self.lease = base_delay, max_delay, timeout, lease
        self.counters = {"delivered": 0, "failed_attempts": 0}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tracker-deliveries", daemon=True)

    def start(self) -> "Deliverer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(self.timeout + 5)

    def poke(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.deliver_due()
            except Exception:  # the store is away: try again shortly, the rows wait durably
                log.exception("delivery round failed")
                busy = False
            if not busy:
                self._wake.wait(min(self.base_delay, 1.0))
                self._wake.clear()

    def _claim(self) -> list[tuple]:
        now = epcis.utc_now()
        with self.db.transaction() as cur:
            due = cur.all("SELECT d.id, d.body, d.attempts, d.next_try, s.dest, s.signature_token, s.query "
                          "FROM deliveries d JOIN subscriptions s ON s.id = d.subscription WHERE d.delivered_at IS "
                          "NULL AND d.next_try <= ? ORDER BY d.id LIMIT 20", (now,))
            claimed = []
            lease = later(self.lease)
            for row in due:
                cur.execute("UPDATE deliveries SET next_try = ? WHERE id = ? AND next_try = ? AND delivered_at IS NULL",
                            (lease, row[0], row[3]))
                if cur.rowcount == 1:
                    claimed.append(row)
        return claimed

    def deliver_due(self) -> bool:
        claimed = self._claim()
        for delivery_id, body, attempts, _, dest, token, name in claimed:
            data = body.encode()
            headers = {"Content-Type": "application/ld+json", "GS1-Query-Name": name,
                       "User-Agent": "tally-tracker"}
            if token:
                headers["GS1-Signature"] = sign(data, token)
            error = None
            try:
                request = urllib.request.Request(dest, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    if not 200 <= response.status < 300:
                        error = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}"
            except (OSError, ValueError) as exc:
                error = str(exc)[:300] or type(exc).__name__
            with self.db.transaction() as cur:
                if error is None:
                    cur.execute("UPDATE deliveries SET delivered_at = ?, attempts = ? WHERE id = ?",
                                (epcis.utc_now(), attempts + 1, delivery_id))
                    self.counters["delivered"] += 1
                else:
                    delay = min(self.base_delay * 2 ** attempts, self.max_delay)
                    cur.execute("UPDATE deliveries SET attempts = ?, next_try = ?, last_error = ? WHERE id = ?",
                                (attempts + 1, later(delay), error, delivery_id))
                    self.counters["failed_attempts"] += 1
                    log.warning("delivery %s to %s failed (attempt %d, next in %.1fs): %s", delivery_id, dest,
                                attempts + 1, delay, error)
        return bool(claimed)
