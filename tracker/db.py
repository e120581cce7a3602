"""One thin layer over sqlite3 and psycopg, so the store's SQL is written once.

SQL is written with `?` placeholders and no literal `?` or `%`; PostgreSQL gets `%s`.
Connections come from a small pool, one per transaction at a time: HTTP readers never wait
behind the ingest writer (SQLite's WAL, PostgreSQL's MVCC), a connection is never used by two
threads at once, and a server that answers requests on short-lived threads does not leave one
connection behind per thread.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from .schema import MIGRATIONS


class StoreError(Exception):
    pass


class Database:
    engine = ""
    id_column = ""
    #: whether `SELECT … FOR UPDATE` exists (SQLite serialises writers by itself)
    row_locks = False

    def __init__(self, url: str, pool_size: int = 8):
        self.url = url
        self.pool_size = pool_size
        self._idle: list[Any] = []
        self._open = 0
        self._cond = threading.Condition()

    # ---- connections ----------------------------------------------------------------------------
    def connect(self) -> Any:
        raise NotImplementedError

    def usable(self, conn: Any) -> bool:
        return True

    def acquire(self) -> Any:
        with self._cond:
            while not self._idle and self._open >= self.pool_size:
                self._cond.wait()
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            return self.connect()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def release(self, conn: Any) -> None:
        keep = self.usable(conn)
        if not keep:
            try:
                conn.close()
            except Exception:  # already broken: dropping it is all that is left to do
                pass
        with self._cond:
            if keep:
                self._idle.append(conn)
            else:
                self._open -= 1
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for conn in idle:
            try:
                conn.close()
            except Exception:  # closing at shutdown: nothing left to tell anyone
                pass

    def sql(self, text: str) -> str:
        return text

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction: committed on success, rolled back on error."""
        conn = self.acquire()
        try:
            cur = conn.cursor()
            self.begin(cur)
            try:
                yield Cursor(self, cur)
            except BaseException:
                conn.rollback()
                raise
            else:
                conn.commit()
            finally:
                cur.close()
        finally:
            self.release(conn)

    @contextmanager
    def reading(self) -> Iterator["Cursor"]:
        conn = self.acquire()
        try:
            cur = conn.cursor()
            self.begin_read(cur)
            try:
                yield Cursor(self, cur)
            finally:
                cur.close()
                conn.rollback()  # ends the snapshot, so the next read sees new commits
        finally:
            self.release(conn)

    def begin(self, cur: Any) -> None:
        pass

    def begin_read(self, cur: Any) -> None:
        pass

    # ---- schema ----------------------------------------------------------------------------------
    def migrate(self) -> list[int]:
        """Apply every migration not yet applied, each in its own transaction; returns those applied."""
        applied = []
        with self.transaction() as cur:
            self.lock_migrations(cur)
            cur.execute("CREATE TABLE IF NOT EXISTS tracker_migrations (version INTEGER PRIMARY KEY, "
                        "description TEXT NOT NULL, applied_at TEXT NOT NULL)")
        for version, description, statements in MIGRATIONS:
            with self.transaction() as cur:
                self.lock_migrations(cur)
                if cur.one("SELECT version FROM tracker_migrations WHERE version = ?", (version,)):
                    continue
                for statement in statements:
                    cur.execute(statement.replace("{id}", self.id_column))
                cur.execute("INSERT INTO tracker_migrations (version, description, applied_at) "
                            "VALUES (?, ?, CURRENT_TIMESTAMP)", (version, description))
                applied.append(version)
        return applied

    def lock_migrations(self, cur: "Cursor") -> None:
        pass

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """A condition that `column` is one of `values`, and its parameters."""
        return f"{column} IN ({', '.join('?' for _ in values)})", list(values)

    def many(self, cur: "Cursor", statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple]]:
        out = []
        for sql, params in statements:
            cur.cur.execute(self.sql(sql), tuple(params))
            out.append(list(cur.cur.fetchall()))
        return out

    def update_rows(self, cur: "Cursor", table: str, key: str, columns: Sequence[tuple[str, str]],
                    assignments: str, rows: Sequence[Sequence[Any]]) -> None:
        names = ", ".join(name for name, _ in columns)
        row_marks = "(" + ", ".join("?" for _ in columns) + ")"
        for start in range(0, len(rows), 50):
            chunk = rows[start:start + 50]
            cur.execute(f"WITH new ({names}) AS (VALUES {', '.join([row_marks] * len(chunk))}) UPDATE {table} "
                        f"SET {assignments} FROM new WHERE {table}.{key} = new.{columns[0][0]}",
                        [v for row in chunk for v in row])

    def insert_rows(self, cur: "Cursor", head: str, types: Sequence[str], rows: Sequence[Sequence[Any]],
                    tail: str) -> list[tuple]:
        # Multi-row VALUES in chunks of one size, so the statement text repeats and sqlite3 reuses it.
        out: list[tuple] = []
        row_marks = "(" + ", ".join("?" for _ in types) + ")"
        for start in range(0, len(rows), 50):
            chunk = rows[start:start + 50]
            out += cur.all(f"{head} VALUES {', '.join([row_marks] * len(chunk))} {tail}",
                           [v for row in chunk for v in row])
        return out

    def is_data_error(self, exc: BaseException) -> bool:
        """Whether the store refused the data itself (retrying the same rows cannot help), as opposed
        to being unreachable or busy (retrying can)."""
        return False

    def schema_version(self) -> int:
        with self.reading() as cur:
            row = cur.one("SELECT MAX(version) FROM tracker_migrations")
        return int(row[0] or 0) if row else 0


class Cursor:
    def __init__(self, db: Database, cur: Any):
        self.db = db
        self.cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> "Cursor":
        self.cur.execute(self.db.sql(sql), tuple(params))
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cur.executemany(self.db.sql(sql), [tuple(r) for r in rows])

    def insert_rows(self, head: str, types: Sequence[str], rows: Sequence[Sequence[Any]],
                    tail: str = "") -> list[tuple]:
        """`head` ("INSERT INTO t (a, b)") with many rows, each `len(types)` values of those SQL types;
        `tail` may say ON CONFLICT and RETURNING (whose rows are returned)."""
        if not rows:
            return []
        return self.db.insert_rows(self, head, types, rows, tail)

    def update_rows(self, table: str, key: str, columns: Sequence[tuple[str, str]], assignments: str,
                    rows: Sequence[Sequence[Any]]) -> None:
        """Update many rows of `table` in one statement: `columns` ((name, SQL type), the first is matched
        with `key`) name each row's values, which `assignments` reads as `new.name`."""
        if rows:
            self.db.update_rows(self, table, key, columns, assignments, rows)

    def many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple]]:
        """The rows of each of several independent statements, sent together where the engine can."""
        return self.db.many(self, statements)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        return self.execute(sql, params).cur.fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return list(self.execute(sql, params).cur.fetchall())

    @property
    def rowcount(self) -> int:
        return self.cur.rowcount


class SQLite(Database):
    engine = "sqlite"
    id_column = "INTEGER PRIMARY KEY"

    def __init__(self, url: str):
        super().__init__(url)
        self.path = Path(url[len("sqlite:"):])

    def connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are begun explicitly (BEGIN IMMEDIATE takes the write lock
        # up front, so two writers queue instead of failing half-way).
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def begin(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def is_data_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)

    def begin_read(self, cur: Any) -> None:
        cur.execute("BEGIN")  # one snapshot for all the reads of one answer


class PostgreSQL(Database):
    engine = "postgresql"
    id_column = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    row_locks = True

    def connect(self) -> Any:
        try:
            import psycopg
        except ImportError as exc:
            raise StoreError("a postgresql:// store needs psycopg (pip install 'tally-gateway[tracker]')") from exc
        try:
            return psycopg.connect(self.url, autocommit=False)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {redacted(self.url)}: {exc}") from exc

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        # Under READ COMMITTED every statement takes its own snapshot, in a transaction or not; so reads
        # run in autocommit, which is the same answer without a BEGIN and a ROLLBACK round trip each.
        conn = self.acquire()
        try:
            conn.autocommit = True
            cur = conn.cursor()
            try:
                yield Cursor(self, cur)
            finally:
                cur.close()
        finally:
            if self.usable(conn):
                conn.autocommit = False
            self.release(conn)

    def usable(self, conn: Any) -> bool:
        return not (conn.closed or conn.broken)

    def is_data_error(self, exc: BaseException) -> bool:
        import psycopg

        return isinstance(exc, psycopg.DatabaseError) and not isinstance(
            exc, (psycopg.OperationalError, psycopg.InterfaceError))

    def insert_rows(self, cur: Cursor, head: str, types: Sequence[str], rows: Sequence[Sequence[Any]],
                    tail: str) -> list[tuple]:
        # One statement of one array per column, whatever the batch size: psycopg neither caches nor
        # prepares a statement of more than 50 parameters, and parsing a 650-parameter multi-row VALUES
        # text on every batch cost more Python time than PostgreSQL spent inserting the rows. The arrays
        # go in binary (%b): the text form escapes every quote of every JSON body with a regex.
        arrays = ", ".join(f"%b::{kind}[]" for kind in types)
        cur.cur.execute(f"{head} SELECT * FROM unnest({arrays}) {tail}", [list(c) for c in zip(*rows)])
        return list(cur.cur.fetchall()) if "RETURNING" in tail.upper() else []

    def update_rows(self, cur: Cursor, table: str, key: str, columns: Sequence[tuple[str, str]],
                    assignments: str, rows: Sequence[Sequence[Any]]) -> None:
        arrays = ", ".join(f"%b::{kind}[]" for _, kind in columns)
        names = ", ".join(name for name, _ in columns)
        cur.cur.execute(f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS new ({names}) "
                        f"WHERE {table}.{key} = new.{columns[0][0]}", [list(c) for c in zip(*rows)])

    def many(self, cur: Cursor, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple]]:
        # One round trip for all of them (libpq's pipeline mode): under load every wait for the server is
        # a chance to lose the CPU, so an answer's tail grows with its round trips.
        conn = cur.cur.connection
        cursors = []
        try:
            with conn.pipeline():
                for sql, params in statements:
                    cursors.append(conn.cursor())
                    cursors[-1].execute(self.sql(sql), tuple(params))
            return [list(c.fetchall()) for c in cursors]
        finally:
            for c in cursors:
                c.close()

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        # One array parameter: a statement of more than 50 parameters is parsed again on every execution.
        return f"{column} = ANY(?)", [list(values)]

    def lock_migrations(self, cur: Cursor) -> None:
        # Several instances starting at once on a fresh database: one migrates, the others wait for its
        # commit and then find it done (a transaction-scoped advisory lock; 0x7a11 is "tally").
        cur.execute("SELECT pg_advisory_xact_lock(31249)")


def redacted(url: str) -> str:
    """A store URL fit for logs: a password in it (postgresql://user:secret@host/db) replaced."""
    return re.sub(r"^(postgres(?:ql)?://[^:/@]*:)[^@]*@", r"\1***@", url)


def open_database(url: str) -> Database:
    if url.startswith("sqlite:"):
        return SQLite(url)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgreSQL(url)
    raise StoreError(f"unknown store {url!r}: use sqlite:PATH or postgresql://…")
