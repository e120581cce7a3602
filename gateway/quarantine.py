"""The quarantine: outbox records the broker will never take (too large, refused for good).

Moved aside, in the same SQLite file and under the same disk budget, so the records
behind them flow; kept until an operator lists, exports, re-sends or discards them with
`tally outbox …`. The writer thread moves records in; the CLI (another process) moves
them out, updating `meta` in the same transaction so the running writer's counts follow
(it watches `PRAGMA data_version`).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Iterable, Iterator

STREAMS = ("events", "positions", "rejects")
ROW_OVERHEAD = 150  # bytes SQLite spends per row beyond the payload (833 on disk for 686, measured)
SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine (
    id          INTEGER PRIMARY KEY,
    stream      TEXT    NOT NULL,
    created     REAL    NOT NULL,
    device      TEXT,
    payload     BLOB    NOT NULL,
    reason      TEXT    NOT NULL,
    quarantined REAL    NOT NULL
);
"""
CHUNK = 500  # SQLite's host-parameter limit is far above this; chunks keep statements small


def table_bytes(conn: sqlite3.Connection) -> int:
    """What the budget counts for both tables: payloads plus a per-row overhead."""
    total = 0
    for table in ("outbox", "quarantine"):
        count, size = conn.execute(f"SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM {table}").fetchone()
        total += size + count * ROW_OVERHEAD
    return total


def delete_rows(conn: sqlite3.Connection, table: str, ids: list[int]) -> Iterator[tuple[str, int]]:
    """Delete by id; yields (stream, payload length) of each row that really was there."""
    assert table in ("outbox", "quarantine")
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        marks = ",".join("?" * len(chunk))
        yield from conn.execute(f"DELETE FROM {table} WHERE id IN ({marks}) RETURNING stream, LENGTH(payload)",
                                chunk).fetchall()


def move_in(conn: sqlite3.Connection, moves: Iterable[tuple[int, str]]) -> list[str]:
    """Outbox rows -> quarantine with a reason; returns the streams of the rows moved."""
    moved = []
    now = time.time()
    for row_id, reason in moves:
        cur = conn.execute("INSERT OR IGNORE INTO quarantine (id, stream, created, device, payload, reason, "
                           "quarantined) SELECT id, stream, created, device, payload, ?, ? FROM outbox WHERE id = ?",
                           (reason, now, row_id))
        if cur.rowcount:
            moved.extend(stream for stream, _ in delete_rows(conn, "outbox", [row_id]))
    return moved


# ---- the operator's side (`tally outbox`) -------------------------------------------------------

def rows(conn: sqlite3.Connection, ids: list[int] | None = None, payloads: bool = False) -> list[dict[str, Any]]:
    cols = "id, stream, created, device, reason, quarantined, LENGTH(payload)" + (", payload" if payloads else "")
    if ids:
        marks = ",".join("?" * len(ids))
        cur = conn.execute(f"SELECT {cols} FROM quarantine WHERE id IN ({marks}) ORDER BY id", ids)
    else:
        cur = conn.execute(f"SELECT {cols} FROM quarantine ORDER BY id")
    out = []
    for row in cur:
        item = {"id": row[0], "stream": row[1], "created": row[2], "device": row[3], "reason": row[4],
                "quarantined": row[5], "bytes": row[6]}
        if payloads:
            item["payload"] = bytes(row[7]).decode("utf-8", "replace")
        out.append(item)
    return out


def _bump(conn: sqlite3.Connection, changes: dict[str, int]) -> None:
    for key, delta in changes.items():
        if delta:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value", (key, delta))


def resend(conn: sqlite3.Connection, ids: list[int]) -> int:
    """Back into the outbox, at its end (the same payload: the same eventID, so consumers de-duplicate)."""
    changes: dict[str, int] = {}
    conn.execute("BEGIN IMMEDIATE")
    try:
        for item in rows(conn, ids):
            conn.execute("INSERT INTO outbox (stream, created, device, payload) "
                         "SELECT stream, created, device, payload FROM quarantine WHERE id = ?", (item["id"],))
            conn.execute("DELETE FROM quarantine WHERE id = ?", (item["id"],))
            changes[f"count:{item['stream']}"] = changes.get(f"count:{item['stream']}", 0) + 1
            changes[f"quarantine:{item['stream']}"] = changes.get(f"quarantine:{item['stream']}", 0) - 1
        _bump(conn, changes)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return sum(v for k, v in changes.items() if k.startswith("count:"))


def discard(conn: sqlite3.Connection, ids: list[int]) -> int:
    changes: dict[str, int] = {}
    conn.execute("BEGIN IMMEDIATE")
    try:
        for stream, length in delete_rows(conn, "quarantine", ids):
            changes[f"quarantine:{stream}"] = changes.get(f"quarantine:{stream}", 0) - 1
            changes["bytes"] = changes.get("bytes", 0) - length - ROW_OVERHEAD
        _bump(conn, changes)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return -sum(v for k, v in changes.items() if k.startswith("quarantine:"))


def all_ids(conn: sqlite3.Connection) -> list[int]:
    return [row[0] for row in conn.execute("SELECT id FROM quarantine ORDER BY id")]
