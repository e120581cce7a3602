"""The store's schema: one set of versioned migrations for SQLite and PostgreSQL.

Times are TEXT in one fixed-width UTC form (`2026-01-02T03:04:05.123456Z`), so the same
comparisons and ORDER BY work on both engines and sort as time. `{id}` is the engine's
auto-increment primary key. Indexes follow the queries: identifier lookups (MATCH_*, /track,
/recall) go through `identifiers(value, role, event)`; time ranges through `events(event_time, id)`.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "events, identifiers, conflicts, invalid, gateways, gaps, positions, rejects", [
        """CREATE TABLE events (
            id {id},
            event_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            event_time TEXT NOT NULL,
            record_time TEXT NOT NULL,
            action TEXT,
            biz_step TEXT,
            disposition TEXT,
            read_point TEXT,
            biz_location TEXT,
            gateway TEXT,
            seq BIGINT,
            digest TEXT NOT NULL,
            body TEXT NOT NULL)""",
        "CREATE INDEX events_event_time ON events (event_time, id)",
        "CREATE INDEX events_record_time ON events (record_time, id)",
        "CREATE INDEX events_biz_step ON events (biz_step, event_time)",
        "CREATE INDEX events_disposition ON events (disposition, event_time)",
        "CREATE INDEX events_read_point ON events (read_point, event_time)",
        "CREATE INDEX events_biz_location ON events (biz_location, event_time)",
        "CREATE INDEX events_gateway_seq ON events (gateway, seq)",
        # role: epc, parentID, childEPC, inputEPC, outputEPC, epcClass, childEPCClass, inputEPCClass, outputEPCClass
        """CREATE TABLE identifiers (
            event BIGINT NOT NULL REFERENCES events (id),
            role TEXT NOT NULL,
            value TEXT NOT NULL,
            quantity DOUBLE PRECISION,
            uom TEXT)""",
        "CREATE INDEX identifiers_value ON identifiers (value, role, event)",
        "CREATE INDEX identifiers_event ON identifiers (event)",
        """CREATE TABLE conflicts (
            id {id},
            event_id TEXT NOT NULL,
            received_at TEXT NOT NULL,
            topic TEXT NOT NULL,
            digest TEXT NOT NULL,
            body TEXT NOT NULL)""",
        "CREATE INDEX conflicts_event_id ON conflicts (event_id)",
        """CREATE TABLE invalid (
            id {id},
            received_at TEXT NOT NULL,
            topic TEXT NOT NULL,
            reason TEXT NOT NULL,
            body TEXT NOT NULL)""",
        """CREATE TABLE gateways (
            gateway TEXT PRIMARY KEY,
            max_seq BIGINT,
            events BIGINT NOT NULL DEFAULT 0,
            last_seen TEXT,
            state TEXT,
            status TEXT,
            status_time TEXT)""",
        """CREATE TABLE gaps (
            id {id},
            gateway TEXT NOT NULL,
            first_seq BIGINT NOT NULL,
            last_seq BIGINT NOT NULL,
            detected_at TEXT NOT NULL,
            closed_at TEXT)""",
        "CREATE INDEX gaps_gateway ON gaps (gateway, closed_at)",
        """CREATE TABLE positions (
            id {id},
            gateway TEXT NOT NULL,
            device TEXT,
            time TEXT,
            lat DOUBLE PRECISION,
            lon DOUBLE PRECISION,
            received_at TEXT NOT NULL,
            body TEXT NOT NULL)""",
        "CREATE INDEX positions_gateway ON positions (gateway, id)",
        """CREATE TABLE rejects (
            id {id},
            gateway TEXT NOT NULL,
            received_at TEXT NOT NULL,
            body TEXT NOT NULL)""",
    ]),
    (2, "named queries, subscriptions with webhooks, durable deliveries", [
        """CREATE TABLE queries (
            name TEXT PRIMARY KEY,
            params TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
        """CREATE TABLE subscriptions (
            id {id},
            query TEXT NOT NULL,
            dest TEXT NOT NULL,
            signature_token TEXT,
            report_if_empty INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL)""",
        # next_try doubles as a lease: an instance claims a delivery by moving it forward.
        """CREATE TABLE deliveries (
            id {id},
            subscription BIGINT NOT NULL,
            created_at TEXT NOT NULL,
            body TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_try TEXT NOT NULL,
            delivered_at TEXT,
            last_error TEXT)""",
        "CREATE INDEX deliveries_due ON deliveries (delivered_at, next_try)",
    ]),
    # Instances sharing a gateway's messages commit its numbers out of order: a gap is reported (logged,
    # notified) only if still open after the tracker's gap_grace; until then reported_at is NULL.
    (3, "gaps reported after a grace", [
        "ALTER TABLE gaps ADD COLUMN reported_at TEXT",
        "UPDATE gaps SET reported_at = detected_at",
        "CREATE INDEX gaps_due ON gaps (closed_at, reported_at, detected_at)",
    ]),
]
