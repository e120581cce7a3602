"""The outbox: SQLite (WAL) store-and-forward, the gateway's single source of truth.

A read is *accepted* when its event is committed here. One writer thread owns
every write (appends and acknowledged deletes), so commits group naturally: while
one transaction is being fsynced, the next reads queue up and go in together
(one fsync per group, not per scan — SD cards wear by writes). The publisher
reads through its own connection; WAL lets it read while the writer commits.

Disk budget: the payload bytes kept are bounded. When a new entry would not fit,
the oldest positions make room first; a scan event that still does not fit is
refused (never an already-accepted one evicted), and every drop is counted in
the `meta` table, so it survives restarts and shows in `tally status`.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

log = logging.getLogger("tally.outbox")

STREAMS = ("events", "positions", "rejects")
ROW_OVERHEAD = 150  # bytes SQLite spends per row beyond the payload (833 on disk for 686, measured)
SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    stream  TEXT    NOT NULL,
    created REAL    NOT NULL,
    device  TEXT,
    payload BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_stream ON outbox (stream, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    stream: str
    payload: bytes


class OutboxClosed(Exception):
    pass


_STOP = object()


class Outbox:
    """Open with `Outbox(path).start()`; `submit()` from any thread; `close()` flushes."""

    def __init__(self, path: str | Path, *, max_bytes: int = 512 << 20, durability: str = "full",
                 batch_ms: float = 2.0, on_commit: Callable[[int], None] | None = None):
        self.path = Path(path)
        self.max_bytes = int(max_bytes)
        self.durability = durability
        self.batch_s = batch_ms / 1000.0
        self.on_commit = on_commit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        # Owned by the writer thread; read elsewhere only as whole-int snapshots.
        self.counts = {s: 0 for s in STREAMS}
        self.bytes = 0
        self.drops = {s: 0 for s in STREAMS}
        self.seq = {s: 0 for s in STREAMS}
        self.commits = 0
        self.last_id = 0
        self._synchronous = ""  # the writer connection's PRAGMA synchronous now
        self._last_add = 0.0  # monotonic time the last commit with new records finished
        self._drop_logged = 0.0

    # ---- life cycle ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if self.durability == 'full' else 'NORMAL'}")
        return conn

    def start(self) -> "Outbox":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        self._writer.executescript(SCHEMA)
        meta = dict(self._writer.execute("SELECT key, value FROM meta"))
        for key, value in meta.items():
            kind, _, stream = key.partition(":")
            if kind == "seq":
                self.seq[stream] = value
            elif kind == "drops":
                self.drops[stream] = value
        if "bytes" in meta:
            # Kept in the same transactions as the rows: a large backlog starts without a table scan.
            self.bytes = meta["bytes"]
            self.counts.update({s: meta.get(f"count:{s}", 0) for s in STREAMS})
        else:
            for stream, count, size in self._writer.execute(
                    "SELECT stream, COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox GROUP BY stream"):
                self.counts[stream] = count
                self.bytes += size + count * ROW_OVERHEAD
        self.last_id = self._writer.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]
        self._reader = self._connect()
        self._thread = threading.Thread(target=self._run, name="outbox-writer", daemon=True)
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        """Open, and its writer thread running (what /healthz reports)."""
        return not self._closed and self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Commit everything submitted so far, then close. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        if self._thread:
            self._thread.join()
        for conn in (self._reader, self._writer):
            if conn is not None:
                conn.close()

    # ---- the writer's side --------------------------------------------------------------

    def submit(self, stream: str, record: dict[str, Any], device: str | None = None) -> None:
        """Queue a record for the next grouped commit. It is accepted once committed."""
        if self._closed:
            raise OutboxClosed("outbox is closed")
        self._queue.put(("add", stream, record, device, time.time()))

    def acknowledge(self, entries: Iterable[tuple[int, str, int]]) -> None:
        """Delete delivered entries: (id, stream, payload length). Grouped like appends."""
        self._queue.put(("ack", list(entries)))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted before this call is committed."""
        done = threading.Event()
        self._queue.put(("sync", done))
        return done.wait(timeout)

    def _run(self) -> None:
        assert self._writer is not None
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            # Wait for more only while records arrive closer together than batch_ms: then one
            # fsync serves several (SD cards wear by writes). A lone scan is committed at once,
            # so waiting would only add latency; under load, records also queue up on their own
            # while the previous commit is being fsynced.
            if batch[0] is not _STOP and self.batch_s and time.monotonic() - self._last_add < self.batch_s:
                deadline = time.monotonic() + self.batch_s
                while len(batch) < 2000:
                    left = deadline - time.monotonic()
                    try:
                        batch.append(self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait())
                    except queue.Empty:
                        break
            while len(batch) < 5000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if _STOP in batch:
                stopping = True
                batch = [item for item in batch if item is not _STOP]
            try:
                self._commit(batch)
            except sqlite3.Error:
                # The disk is full or failing: what was in this batch was never accepted.
                log.exception("outbox commit failed; %d queued records not accepted", len(batch))

    def _commit(self, batch: list[Any]) -> None:
        conn = self._writer
        assert conn is not None
        adds = [item for item in batch if item[0] == "add"]
        acks = [e for item in batch if item[0] == "ack" for e in item[1]]
        syncs = [item[1] for item in batch if item[0] == "sync"]
        if adds or acks:
            new_seq = dict(self.seq)
            new_counts = dict(self.counts)
            new_drops = dict(self.drops)
            size = self.bytes
            # Only accepting records needs the fsync. A commit that only deletes delivered rows
            # skips it: if power loss undoes it, those rows are sent again (same eventIDs), which
            # at-least-once allows; the next commit with records fsyncs the WAL up to itself.
            synchronous = "FULL" if adds and self.durability == "full" else "NORMAL"
            if synchronous != self._synchronous:
                conn.execute(f"PRAGMA synchronous={synchronous}")
                self._synchronous = synchronous
            conn.execute("BEGIN IMMEDIATE")
            try:
                if acks:
                    conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i, _, _ in acks])
                    for _, stream, length in acks:
                        new_counts[stream] -= 1
                        size -= length + ROW_OVERHEAD
                last_id = self.last_id
                for _, stream, record, device, created in adds:
                    seq = new_seq[stream] + 1
                    record["tally:seq" if stream == "events" else "seq"] = seq
                    payload = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
                    need = len(payload) + ROW_OVERHEAD
                    if size + need > self.max_bytes:
                        size, freed = self._make_room(conn, stream, size, need, new_counts)
                        new_drops["positions"] += freed
                        if size + need > self.max_bytes:
                            new_drops[stream] += 1
                            self._log_drop(stream, record)
                            continue
                    cur = conn.execute("INSERT INTO outbox (stream, created, device, payload) VALUES (?, ?, ?, ?)",
                                       (stream, created, device, payload))
                    last_id = cur.lastrowid
                    new_seq[stream] = seq
                    new_counts[stream] += 1
                    size += need
                changed = [(f"seq:{s}", v) for s, v in new_seq.items() if v != self.seq[s]]
                changed += [(f"drops:{s}", v) for s, v in new_drops.items() if v != self.drops[s]]
                changed += [(f"count:{s}", v) for s, v in new_counts.items() if v != self.counts[s]]
                if size != self.bytes:
                    changed.append(("bytes", size))
                if changed:
                    conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", changed)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self.seq, self.counts, self.drops, self.bytes = new_seq, new_counts, new_drops, size
            self.commits += 1
            if adds:
                self._last_add = time.monotonic()
            if last_id != self.last_id:
                self.last_id = last_id
                if self.on_commit is not None:
                    self.on_commit(last_id)
        for done in syncs:
            done.set()

    def _make_room(self, conn: sqlite3.Connection, stream: str, size: int, need: int,
                   counts: dict[str, int]) -> tuple[int, int]:
        """Evict the oldest positions until `need` fits; returns (new size, positions dropped)."""
        dropped = 0
        while size + need > self.max_bytes and counts["positions"] > 0:
            rows = conn.execute("SELECT id, LENGTH(payload) FROM outbox WHERE stream = 'positions' "
                                "ORDER BY id LIMIT 64").fetchall()
            if not rows:
                break
            for row_id, length in rows:
                conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
                counts["positions"] -= 1
                size -= length + ROW_OVERHEAD
                dropped += 1
                if size + need <= self.max_bytes:
                    break
        if dropped:
            log.warning("outbox full: dropped %d oldest positions to keep %s", dropped, stream)
        return size, dropped

    def _log_drop(self, stream: str, record: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self._drop_logged > 5:
            self._drop_logged = now
            log.error("outbox full (%d of %d bytes): refused a new %s record from %s; drops so far: %s",
                      self.bytes, self.max_bytes, stream, record.get("tally:device", "?"), self.drops)

    # ---- the reader's side (publisher, status) ------------------------------------------

    def fetch(self, after_id: int, limit: int) -> list[Entry]:
        """The next committed entries in order (ordered replay)."""
        assert self._reader is not None
        rows = self._reader.execute(
            "SELECT id, stream, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        ).fetchall()
        return [Entry(i, s, p) for i, s, p in rows]

    def oldest_created(self) -> float | None:
        assert self._reader is not None
        row = self._reader.execute("SELECT created FROM outbox ORDER BY id LIMIT 1").fetchone()
        return row[0] if row else None

    def stats(self) -> dict[str, Any]:
        oldest = self.oldest_created()
        return {
            "events": self.counts["events"],
            "positions": self.counts["positions"],
            "rejects": self.counts["rejects"],
            "bytes": self.bytes,
            "budget_bytes": self.max_bytes,
            "oldest_age_s": None if oldest is None else round(max(0.0, time.time() - oldest), 3),
            "drops": dict(self.drops),
            "commits": self.commits,
        }
