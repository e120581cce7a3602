"""The outbox: SQLite (WAL) store-and-forward, the gateway's single source of truth.

A read is *accepted* when its event is committed here, and only then: every record
submitted gets a `Result` back (accepted with its sequence number, or not accepted with
the reason). One writer thread owns every write (appends, acknowledged deletes, moves to
the quarantine, working state), so commits group naturally: while one transaction is
being fsynced, the next reads queue up and go in together (one fsync per group, not per
scan — SD cards wear by writes). The publisher reads through its own connection; WAL
lets it read while the writer commits.

Disk pressure. The payload bytes kept are bounded by `max_bytes` *and* by the real free
space of the filesystem less a reserve (the reserve keeps deletes and checkpoints
possible on a full card). When a new record does not fit, the oldest positions make room
first; a scan event or reject that still does not fit is *held* in memory, in order, and
retried as deliveries free space, while `pressure` tells the devices to stop reading (a
serial scanner's own buffer and flow control then hold the scans). Only when more than
`hold_max` records are held is the newest refused. A commit that fails (disk full, I/O
error, anything) keeps its records held the same way and is retried with backoff; while
it fails, `failing` says why and the daemon stops feeding the watchdog.

Every refused record still takes its sequence number, so `tally:seq` shows a gap for
every drop, and every drop is counted in `meta` (written with the next commit that
succeeds), so it survives restarts and shows in `tally status`.

Accounting cannot drift: counts and bytes change by what SQLite reports it deleted
(DELETE … RETURNING), and the start checks `meta` against the table and repairs it.
Another process (`tally outbox …`) may change the quarantine: the writer notices through
`PRAGMA data_version` and re-reads `meta`.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from . import quarantine
from .ratelog import RateLimitedLog

log = logging.getLogger("tally.outbox")

STREAMS = quarantine.STREAMS
ROW_OVERHEAD = quarantine.ROW_OVERHEAD
HEARTBEAT = 1.0        # the writer's loop turns at least this often, so a stuck writer shows
RETRY_MIN, RETRY_MAX = 0.1, 2.0
WAL_PAGES = 256        # checkpoint every ~1 MB of WAL, and keep no larger WAL file: small cards
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
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
""" + quarantine.SCHEMA


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    stream: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Result:
    """What became of one submitted record."""

    token: Any
    stream: str
    accepted: bool
    seq: int
    reason: str | None = None


class OutboxClosed(Exception):
    pass


_STOP = object()


@dataclass(slots=True)
class _Add:
    stream: str
    record: dict[str, Any]
    device: str | None
    created: float
    token: Any


class Outbox:
    """Open with `Outbox(path).start()`; `submit()` from any thread; `close()` flushes."""

    def __init__(self, path: str | Path, *, max_bytes: int = 512 << 20, durability: str = "full",
                 batch_ms: float = 2.0, on_commit: Callable[[int], None] | None = None,
                 on_results: Callable[[list[Result]], None] | None = None,
                 min_free_bytes: int = 2 << 20, hold_max: int = 5000):
        self.path = Path(path)
        self.max_bytes = int(max_bytes)
        self.min_free_bytes = int(min_free_bytes)
        self.hold_max = int(hold_max)
        self.durability = durability
        self.batch_s = batch_ms / 1000.0
        self.on_commit = on_commit
        self.on_results = on_results
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        # Owned by the writer thread; read elsewhere only as whole-value snapshots.
        self.counts = {s: 0 for s in STREAMS}
        self.bytes = 0
        self.drops = {s: 0 for s in STREAMS}
        self.seq = {s: 0 for s in STREAMS}
        self.quarantined = {s: 0 for s in STREAMS}
        self.commits = 0
        self.commit_failures = 0
        self.failing: str | None = None      # why the last commit failed, while commits fail
        self.failing_since: float | None = None
        self.last_error: str | None = None
        self.held_count = 0                  # records waiting in memory for room or a working disk
        self.limit_bytes = self.max_bytes    # the budget as of the last commit (max_bytes or the free space)
        self.repaired: str | None = None     # what the start-up check found wrong in meta, if anything
        self.last_id = 0
        self.beat = time.monotonic()         # the writer's last turn (supervision)
        self._submitted = 0                  # submit() side
        self._resolved = 0                   # writer side; submitted - resolved = in memory
        self._held: deque[_Add] = deque()
        self._acks: list[int] = []
        self._moves: list[tuple[int, str]] = []
        self._states: dict[str, str | None] = {}
        self._syncs: list[threading.Event] = []
        self._meta_dirty = False
        self._heal = False  # a commit failed: the WAL must be checkpointed before anything is accepted again
        self._capped = False  # the last commit stopped at the per-transaction cap, not for want of room
        self.ballast_releases = 0
        self._data_version = 0
        self._retry = RETRY_MIN
        self._synchronous = ""  # the writer connection's PRAGMA synchronous now
        self._last_add = 0.0  # monotonic time the last commit with new records finished
        self._log = RateLimitedLog(log, 30.0)

    # ---- life cycle ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if self.durability == 'full' else 'NORMAL'}")
        # The WAL is checkpointed before it outgrows half the reserve: a full card can still checkpoint it.
        pages = max(16, min(WAL_PAGES, self.min_free_bytes // 4096 // 2)) if self.min_free_bytes else WAL_PAGES
        conn.execute(f"PRAGMA wal_autocheckpoint={pages}")
        conn.execute(f"PRAGMA journal_size_limit={pages * 4096}")
        return conn

    def start(self) -> "Outbox":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        self._writer.executescript(SCHEMA)
        self._check_meta()
        self.last_id = self._writer.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]
        self._data_version = self._writer.execute("PRAGMA data_version").fetchone()[0]
        self._ensure_ballast()
        self._reader = self._connect()
        self._thread = threading.Thread(target=self._run, name="outbox-writer", daemon=True)
        self._thread.start()
        return self

    def _read_meta(self) -> dict[str, int]:
        assert self._writer is not None
        meta = dict(self._writer.execute("SELECT key, value FROM meta"))
        for stream in STREAMS:
            self.seq[stream] = meta.get(f"seq:{stream}", 0)
            self.drops[stream] = meta.get(f"drops:{stream}", 0)
            self.counts[stream] = meta.get(f"count:{stream}", 0)
            self.quarantined[stream] = meta.get(f"quarantine:{stream}", 0)
        self.bytes = meta.get("bytes", 0)
        return meta

    def _check_meta(self) -> None:
        """Compare meta's counts with the table (the index answers without reading payloads); repair."""
        conn = self._writer
        assert conn is not None
        meta = self._read_meta()
        real = {s: 0 for s in STREAMS}
        real.update(conn.execute("SELECT stream, COUNT(*) FROM outbox GROUP BY stream"))
        held = {s: 0 for s in STREAMS}
        held.update(conn.execute("SELECT stream, COUNT(*) FROM quarantine GROUP BY stream"))
        if "bytes" in meta and real == self.counts and held == self.quarantined:
            return  # a large backlog starts without reading every payload
        size = quarantine.table_bytes(conn)
        if "bytes" in meta:
            self.repaired = (f"meta said {self.counts} waiting, {self.quarantined} quarantined, {self.bytes} bytes; "
                             f"the tables hold {real}, {held}, {size} bytes")
            log.warning("outbox: repaired its counts: %s", self.repaired)
        self.counts, self.quarantined, self.bytes = real, held, size
        rows = [(f"count:{s}", real[s]) for s in STREAMS] + [(f"quarantine:{s}", held[s]) for s in STREAMS]
        rows.append(("bytes", size))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", rows)
        conn.execute("COMMIT")

    @property
    def alive(self) -> bool:
        """Open, and its writer thread running (what /healthz reports)."""
        return not self._closed and self._thread is not None and self._thread.is_alive()

    @property
    def pressure(self) -> bool:
        """Devices should stop reading: records wait in memory for room or for a working disk."""
        return bool(self.held_count) or self.failing is not None or self.in_memory > self.hold_max // 2

    @property
    def in_memory(self) -> int:
        """Records submitted and not yet committed or refused."""
        return self._submitted - self._resolved

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

    # ---- the submitting side ------------------------------------------------------------

    def submit(self, stream: str, record: dict[str, Any], device: str | None = None, token: Any = None) -> None:
        """Queue a record for the next grouped commit. It is accepted once committed (see on_results)."""
        if self._closed:
            raise OutboxClosed("outbox is closed")
        self._submitted += 1
        self._queue.put(_Add(stream, record, device, time.time(), token))

    def acknowledge(self, entries: Iterable[tuple[int, str, int] | int]) -> None:
        """Delete delivered entries (ids, or (id, stream, length) as the publisher keeps them)."""
        self._queue.put(("ack", [e if isinstance(e, int) else e[0] for e in entries]))

    def quarantine(self, moves: Iterable[tuple[int, str]]) -> None:
        """Move entries the broker will never take to the quarantine: (id, reason)."""
        self._queue.put(("quarantine", list(moves)))

    def put_state(self, key: str, value: Any) -> None:
        """Working state that must outlive a restart (packing sessions, cargo); written with the next commit."""
        self._queue.put(("state", key, None if value is None else json.dumps(value, separators=(",", ":"))))

    def load_state(self, key: str) -> Any:
        with self._reader_lock:
            conn = self._reader or self._writer
            assert conn is not None
            row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the writer has tried everything submitted before this call.

        True when all of it is committed or refused; False on timeout or while records are
        still held (no room, or the disk failing), which a caller must not take for success.
        """
        done = threading.Event()
        self._queue.put(("sync", done))
        return done.wait(timeout) and not self.held_count and self.failing is None

    # ---- the writer thread --------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                batch = self._gather()
                if _STOP in batch:
                    stopping = True
                    batch = [item for item in batch if item is not _STOP]
                self._take(batch)
                self._attempt()
            except Exception as exc:  # noqa: BLE001 - the writer must outlive any one bad batch
                # Nothing is lost here: records stay held and are retried; the failure is a state.
                self._failed(exc)
            if stopping:
                self._abandon()
        for done in self._syncs:
            done.set()

    def _gather(self) -> list[Any]:
        wait = self._retry if (self._held or self._acks or self._moves or self.failing) else HEARTBEAT
        try:
            first = self._queue.get(timeout=wait)
        except queue.Empty:
            self.beat = time.monotonic()
            return []
        self.beat = time.monotonic()
        batch = [first]
        # Wait for more only while records arrive closer together than batch_ms: then one
        # fsync serves several (SD cards wear by writes). A lone scan is committed at once,
        # so waiting would only add latency; under load, records also queue up on their own
        # while the previous commit is being fsynced.
        if first is not _STOP and self.batch_s and time.monotonic() - self._last_add < self.batch_s:
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
        return batch

    def _take(self, batch: list[Any]) -> None:
        for item in batch:
            if isinstance(item, _Add):
                self._held.append(item)
            elif item[0] == "ack":
                self._acks.extend(item[1])
            elif item[0] == "quarantine":
                self._moves.extend(item[1])
            elif item[0] == "state":
                self._states[item[1]] = item[2]
            elif item[0] == "sync":
                self._syncs.append(item[1])

    def _heal_wal(self) -> None:
        """After a failed commit, before accepting anything again: checkpoint the whole WAL into the file.

        Commits that only delete are not fsynced (a delivery lost to power is just sent again). But when
        a later fsync fails, Linux drops those pages unwritten and the next fsync succeeds without them:
        the WAL on disk has a hole, and recovery after a power cut would stop there, losing every record
        accepted behind it. The pages are still readable from memory, so a checkpoint writes them into
        the database file and fsyncs it; the WAL is then reset.
        """
        conn = self._writer
        assert conn is not None
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise sqlite3.OperationalError("the WAL checkpoint after a failed commit could not finish (busy)")
        self._heal = False

    # ---- the reserve on disk --------------------------------------------------------------
    #
    # `min_free_bytes` is held as a real file beside the database (the ballast), not only as a number
    # subtracted from statvfs: when the card fills anyway (another program, our estimate of SQLite's
    # pages being short), the file is given back, and with it the room a checkpoint and the deletes
    # of delivered rows need. Without it a full card is a dead end: nothing can be written, so nothing
    # delivered can be deleted either. It is taken again once the disk has room for it twice over.

    @property
    def _ballast(self) -> Path:
        return self.path.with_name(self.path.name + ".reserve")

    def _ensure_ballast(self) -> None:
        if self.min_free_bytes <= 0 or self._ballast.exists():
            return
        try:
            st = os.statvfs(self.path.parent)
            if st.f_bavail * st.f_frsize < 2 * self.min_free_bytes:
                return
            fd = os.open(self._ballast, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.min_free_bytes)
                os.fsync(fd)
            finally:
                os.close(fd)
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)  # the name too: after a power cut the reserve is still there
            finally:
                os.close(directory)
        except OSError as exc:  # noqa: PERF203 - no reserve is a weaker state, not a failure: the budget still counts it
            log.warning("outbox: cannot keep the %d-byte reserve file %s: %s", self.min_free_bytes, self._ballast,
                        exc.strerror or exc)
            try:
                self._ballast.unlink(missing_ok=True)
            except OSError:
                pass

    def _release_ballast(self) -> bool:
        try:
            self._ballast.unlink()
        except OSError:
            return False
        self.ballast_releases += 1
        log.warning("outbox: the disk is full; gave back the %d-byte reserve so delivered records can be deleted",
                    self.min_free_bytes)
        return True

    def _attempt(self) -> None:
        if self._heal:
            self._heal_wal()
        if self.failing is not None and self._held and (self._acks or self._moves):
            # Deliveries first, on their own: they free pages that the held records can then use.
            self._commit(adds=False)
        if self.min_free_bytes > 0 and self.commits % 64 == 0 and self.failing is None:
            self._ensure_ballast()  # given back when the card filled: taken again once there is room
        while self._held or self._acks or self._moves or self._states or self._meta_dirty:
            results, last_id = self._commit()
            if self.failing is not None:
                log.warning("outbox: commits work again after %.1fs (%d failed)",
                            time.monotonic() - (self.failing_since or 0), self.commit_failures)
                self._log.reset("commit")
            self.failing = self.failing_since = None
            self._retry = RETRY_MIN
            self._deliver(results)
            if last_id != self.last_id:
                self.last_id = last_id
                if self.on_commit is not None:
                    self.on_commit(last_id)
            if not self._capped:
                break  # what is still held waits for room; a capped commit goes straight on with the rest
        self._refuse_overflow()
        self.held_count = len(self._held)
        # Waiters hear back after every attempt; flush() tells them whether anything is still held.
        syncs, self._syncs = self._syncs, []
        for done in syncs:
            done.set()

    def _failed(self, exc: BaseException) -> None:
        self.commit_failures += 1
        self._heal = True
        if "full" in str(exc).lower() or getattr(exc, "errno", None) == 28:  # SQLITE_FULL, ENOSPC
            self._release_ballast()
        self.last_error = f"{exc.__class__.__name__}: {exc}"
        if self.failing is None:
            # What started it says most (a full disk); retries may fail otherwise (the checkpoint's I/O error).
            self.failing_since = time.monotonic()
            self.failing = self.last_error
        self._retry = min(RETRY_MAX, self._retry * 2)
        self._log("commit", logging.ERROR, "outbox: commit failed, %d records held in memory and retried: %s",
                  len(self._held), self.last_error, exc_info=not isinstance(exc, sqlite3.Error))
        try:
            self._refuse_overflow()
        finally:
            self.held_count = len(self._held)

    def _refuse_overflow(self) -> None:
        """More held than hold_max: the newest are refused (never an older, already waiting one)."""
        if len(self._held) <= self.hold_max:
            return
        refused = [self._held.pop() for _ in range(len(self._held) - self.hold_max)][::-1]
        self._refuse(refused, "the outbox is full or failing and its memory backlog is full")

    def _abandon(self) -> None:
        """Stopping with records that never found room: not accepted, counted (persisted if the disk lets us)."""
        if not self._held:
            return
        abandoned, self._held = list(self._held), deque()
        self._refuse(abandoned, "the gateway stopped while the outbox had no room for it")
        try:
            self._attempt()
        except Exception as exc:  # noqa: BLE001 - the counts stay in memory and in the log
            log.error("outbox: could not save the drop counts at stop: %s", exc)

    def _refuse(self, items: list[_Add], reason: str) -> None:
        results = []
        for item in items:
            self.seq[item.stream] += 1
            self.drops[item.stream] += 1
            results.append(Result(item.token, item.stream, False, self.seq[item.stream], reason))
        self._meta_dirty = True
        self._log("refused", logging.ERROR, "outbox: refused %d new records (%s); drops so far: %s",
                  len(items), reason, self.drops)
        self._deliver(results)

    def _deliver(self, results: list[Result]) -> None:
        self._resolved += len(results)
        if results and self.on_results is not None:
            try:
                self.on_results(results)
            except Exception:  # noqa: BLE001 - the records are committed; only the news of it failed
                log.exception("outbox: result callback failed")

    def _limit(self, conn: sqlite3.Connection, size: int) -> int:
        """The budget now: max_bytes, or less where the filesystem has less room (with the reserve)."""
        try:
            st = os.statvfs(self.path.parent)
        except OSError:
            return self.max_bytes
        free = st.f_bavail * st.f_frsize
        # Pages SQLite freed inside the file are reused before the file grows.
        free += conn.execute("PRAGMA freelist_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
        # WAL mode writes a page twice: into the WAL, then into the file at the checkpoint, each with page
        # and index overhead beyond our per-row estimate. Only 40 % of the room is ours, or a full card
        # could not even checkpoint, nor then delete what was delivered.
        reserve = 0 if self._ballast.exists() else self.min_free_bytes  # the ballast is the reserve, held
        return min(self.max_bytes, size + int((free - reserve) * 0.4))

    def _commit(self, adds: bool = True) -> tuple[list[Result], int]:
        conn = self._writer
        assert conn is not None
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            # Someone else (`tally outbox resend/discard`) committed: its meta is the truth now.
            self._data_version = version
            self._read_meta()
        held = self._held if adds else deque()
        new_seq, new_counts, new_drops = dict(self.seq), dict(self.counts), dict(self.drops)
        new_quarantined = dict(self.quarantined)
        size = self.bytes
        # Only accepting records needs the fsync. A commit that only deletes delivered rows
        # skips it: if power loss undoes it, those rows are sent again (same eventIDs), which
        # at-least-once allows; the next commit with records fsyncs the WAL up to itself.
        synchronous = "FULL" if held and self.durability == "full" else "NORMAL"
        if synchronous != self._synchronous:
            conn.execute(f"PRAGMA synchronous={synchronous}")
            self._synchronous = synchronous
        results: list[Result] = []
        taken = 0
        last_id = self.last_id
        conn.execute("BEGIN IMMEDIATE")
        try:
            if self._acks:
                for stream, length in quarantine.delete_rows(conn, "outbox", self._acks):
                    new_counts[stream] -= 1
                    size -= length + ROW_OVERHEAD
            if self._moves:
                for stream in quarantine.move_in(conn, self._moves):
                    new_counts[stream] -= 1
                    new_quarantined[stream] += 1
            if self._states:
                conn.executemany("DELETE FROM state WHERE key = ?",
                                 [(k,) for k, v in self._states.items() if v is None])
                conn.executemany("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
                                 [(k, v) for k, v in self._states.items() if v is not None])
            limit = self._limit(conn, size) if held else self.limit_bytes
            # One transaction's WAL must fit in the reserve, or a full card could not checkpoint it.
            room = max(64 << 10, self.min_free_bytes // 2)
            added = 0
            self._capped = False
            for item in held:
                if added > room:
                    self._capped = True
                    break
                stream = item.stream
                seq = new_seq[stream] + 1
                item.record["tally:seq" if stream == "events" else "seq"] = seq
                try:
                    payload = json.dumps(item.record, ensure_ascii=False, separators=(",", ":")).encode()
                except (TypeError, ValueError) as exc:
                    # A bug upstream, not a disk problem: this record alone is refused, counted.
                    new_seq[stream], new_drops[stream] = seq, new_drops[stream] + 1
                    results.append(Result(item.token, stream, False, seq, f"cannot be stored: {exc}"))
                    log.error("outbox: refused a %s record that is not JSON: %s", stream, exc)
                    taken += 1
                    continue
                need = len(payload) + ROW_OVERHEAD
                if size + need > limit:
                    size, freed = self._make_room(conn, size, need, limit, new_counts)
                    new_drops["positions"] += freed
                    if size + need > limit:
                        if stream != "positions":
                            break  # held, in order, until deliveries free space
                        # A position is worth less than the scans behind it: dropped, counted.
                        new_seq[stream], new_drops[stream] = seq, new_drops[stream] + 1
                        results.append(Result(item.token, stream, False, seq, "the outbox is full"))
                        taken += 1
                        continue
                cur = conn.execute("INSERT INTO outbox (stream, created, device, payload) VALUES (?, ?, ?, ?)",
                                   (stream, item.created, item.device, payload))
                last_id = cur.lastrowid
                new_seq[stream] = seq
                new_counts[stream] += 1
                size += need
                added += need
                results.append(Result(item.token, stream, True, seq))
                taken += 1
            changed = [(f"seq:{s}", new_seq[s]) for s in STREAMS if self._meta_dirty or new_seq[s] != self.seq[s]]
            changed += [(f"drops:{s}", new_drops[s]) for s in STREAMS
                        if self._meta_dirty or new_drops[s] != self.drops[s]]
            changed += [(f"count:{s}", v) for s, v in new_counts.items() if v != self.counts[s]]
            changed += [(f"quarantine:{s}", v) for s, v in new_quarantined.items() if v != self.quarantined[s]]
            if size != self.bytes:
                changed.append(("bytes", size))
            if changed:
                conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", changed)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite rolls back by itself on some errors (SQLITE_FULL)
                conn.execute("ROLLBACK")
            raise
        for _ in range(taken):
            held.popleft()
        self._acks, self._moves, self._states, self._meta_dirty = [], [], {}, False
        self.seq, self.counts, self.drops, self.bytes = new_seq, new_counts, new_drops, size
        self.quarantined = new_quarantined
        self.limit_bytes = limit
        self.commits += 1
        if taken:
            self._last_add = time.monotonic()
        return results, last_id

    def _make_room(self, conn: sqlite3.Connection, size: int, need: int, limit: int,
                   counts: dict[str, int]) -> tuple[int, int]:
        """Evict the oldest positions until `need` fits; returns (new size, positions dropped)."""
        dropped = 0
        while size + need > limit and counts["positions"] > 0:
            ids = [row[0] for row in conn.execute(
                "SELECT id FROM outbox WHERE stream = 'positions' ORDER BY id LIMIT 64")]
            if not ids:
                break
            for row_id in ids:
                for _, length in quarantine.delete_rows(conn, "outbox", [row_id]):
                    counts["positions"] -= 1
                    size -= length + ROW_OVERHEAD
                    dropped += 1
                if size + need <= limit:
                    break
        if dropped:
            self._log("evict", logging.WARNING, "outbox full: dropped %d oldest positions to keep scans", dropped)
        return size, dropped

    # ---- the reader's side (publisher, status) ------------------------------------------

    def fetch(self, after_id: int, limit: int) -> list[Entry]:
        """The next committed entries in order (ordered replay)."""
        assert self._reader is not None
        with self._reader_lock:
            rows = self._reader.execute(
                "SELECT id, stream, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
            ).fetchall()
        return [Entry(i, s, p) for i, s, p in rows]

    def get(self, row_id: int) -> Entry | None:
        """One entry by id (a retry of a refused message), or None once it is gone."""
        assert self._reader is not None
        with self._reader_lock:
            row = self._reader.execute("SELECT id, stream, payload FROM outbox WHERE id = ?", (row_id,)).fetchone()
        return None if row is None else Entry(*row)

    def oldest_created(self) -> float | None:
        assert self._reader is not None
        with self._reader_lock:
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
            "limit_bytes": self.limit_bytes,
            "oldest_age_s": None if oldest is None else round(max(0.0, time.time() - oldest), 3),
            "drops": dict(self.drops),
            "quarantined": dict(self.quarantined),
            "held": self.held_count,
            "commits": self.commits,
            "commit_failures": self.commit_failures,
            "reserve_releases": self.ballast_releases,
            "failing": self.failing,
            "last_error": self.last_error,
            "repaired": self.repaired,
        }
