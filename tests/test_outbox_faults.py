"""The outbox under the faults a Pi meets: a full card, a failing disk, acks for rows already gone,
a meta table that drifted, records that cannot be stored. Real filesystems, no mocks."""

from __future__ import annotations

import json
import os
import sqlite3

from gateway import quarantine
from gateway.outbox import Outbox
from tests.helpers.outbox import collect

PAD = "x" * 600


def fill(where, leave: int = 0) -> str:
    """Fill the filesystem at `where` up to `leave` bytes free, for real; returns the filler's path."""
    path = os.path.join(where, "filler")
    st = os.statvfs(where)
    size = max(0, st.f_bavail * st.f_frsize - leave)
    with open(path, "wb") as fh:
        try:
            fh.write(b"\0" * size)
            fh.flush()
        except OSError:
            pass  # full is what we wanted
    return path


def test_acks_for_rows_already_evicted_do_not_drift(tmp_path):
    box = Outbox(tmp_path / "o.db", max_bytes=30_000).start()
    for i in range(30):
        box.submit("positions", {"i": i, "pad": PAD})
    assert box.flush()
    in_flight = box.fetch(0, 100)  # the publisher has these in flight ...
    for i in range(30):  # ... while scans evict them to make room
        box.submit("events", {"i": i, "pad": PAD})
    box.flush()
    assert box.counts["positions"] < 30
    box.acknowledge([(e.id, e.stream, len(e.payload)) for e in in_flight])  # PUBACKs for rows gone
    box.flush()
    real = dict(box._reader.execute("SELECT stream, COUNT(*) FROM outbox GROUP BY stream").fetchall())
    assert {k: v for k, v in box.counts.items() if v} == real
    assert min(box.counts.values()) >= 0
    assert box.bytes == quarantine.table_bytes(box._reader)
    box.close()


def test_start_repairs_meta_from_the_tables(tmp_path):
    box = Outbox(tmp_path / "o.db").start()
    for i in range(20):
        box.submit("events", {"i": i})
    box.flush()
    box.close()
    conn = sqlite3.connect(tmp_path / "o.db")
    conn.execute("UPDATE meta SET value = -7 WHERE key = 'count:events'")
    conn.execute("UPDATE meta SET value = 3 WHERE key = 'bytes'")
    conn.commit()
    conn.close()
    again = Outbox(tmp_path / "o.db").start()
    assert again.counts["events"] == 20
    assert again.bytes == quarantine.table_bytes(again._reader)
    assert again.repaired and "-7" in again.repaired
    again.close()
    clean = Outbox(tmp_path / "o.db").start()
    assert clean.repaired is None  # repaired for good, in meta
    clean.close()


def test_a_record_that_cannot_be_stored_is_refused_alone(tmp_path):
    results, on_results = collect()
    box = Outbox(tmp_path / "o.db", on_results=on_results).start()
    box.submit("events", {"i": 0}, token="a")
    box.submit("events", {"i": 1, "bad": {1, 2}}, token="b")  # a set is not JSON
    box.submit("events", {"i": 2}, token="c")
    assert box.flush()
    assert [(r.token, r.accepted, r.seq) for r in results] == [("a", True, 1), ("b", False, 2), ("c", True, 3)]
    assert box.drops["events"] == 1 and box.alive
    box.close()


def test_budget_follows_the_real_free_space(small_fs):
    where = small_fs(3 * 1024)
    results, on_results = collect()
    box = Outbox(where / "o.db", max_bytes=512 << 20, min_free_bytes=256 << 10, hold_max=100_000,
                 on_results=on_results).start()
    for i in range(6000):
        box.submit("events", {"i": i, "pad": PAD})
    box.flush(30)
    stats = box.stats()
    # max_bytes is far away; the card is not: records wait in memory instead of failing on ENOSPC.
    assert stats["limit_bytes"] < 3 << 20
    assert stats["held"] > 0 and box.pressure
    assert stats["commit_failures"] == 0, stats["failing"]
    assert stats["drops"]["events"] == 0
    accepted = [r for r in results if r.accepted]
    assert len(accepted) == stats["events"] < 6000
    # Deliver everything, batch by batch: every held record gets in, in order, none lost.
    delivered = []
    while len(delivered) < 6000:
        rows = box.fetch(0, 500)
        assert rows, (len(delivered), box.stats())
        delivered += [json.loads(r.payload)["i"] for r in rows]
        box.acknowledge([r.id for r in rows])
        box.flush(30)
    assert delivered == list(range(6000))
    assert len([r for r in results if r.accepted]) == 6000
    assert not box.pressure
    box.close()


def test_a_disk_that_fills_from_outside_holds_records_until_there_is_room(small_fs):
    where = small_fs(2 * 1024)
    results, on_results = collect()
    box = Outbox(where / "o.db", min_free_bytes=0, on_results=on_results).start()
    box.submit("events", {"i": -1})
    assert box.flush()
    filler = fill(where)  # a log file, another program: the card is full for real
    for i in range(300):
        box.submit("events", {"i": i, "pad": PAD})
    assert not box.flush(5)
    stats = box.stats()
    assert stats["held"] > 0 and box.pressure and box.alive
    assert stats["drops"]["events"] == 0  # held, not refused
    os.remove(filler)
    box.submit("events", {"i": 300})  # anything that wakes the writer; it also retries on its own
    assert box.flush(30)
    rows = box.fetch(0, 1000)
    assert [json.loads(r.payload)["i"] for r in rows] == list(range(-1, 301))
    assert sum(r.accepted for r in results) == 302
    box.close()


def test_overflowing_memory_backlog_refuses_newest_and_numbers_them(small_fs):
    where = small_fs(2 * 1024)
    results, on_results = collect()
    box = Outbox(where / "o.db", min_free_bytes=0, hold_max=40, on_results=on_results).start()
    filler = fill(where)
    for i in range(100):
        box.submit("events", {"i": i, "pad": PAD}, token=i)
    box.flush(5)
    refused = [r for r in results if not r.accepted]
    assert [r.token for r in refused] == list(range(40, 100))  # the newest, never an older one
    assert all(r.reason for r in refused)
    assert box.drops["events"] == 60
    os.remove(filler)
    assert box.flush(30)
    kept = [json.loads(r.payload) for r in box.fetch(0, 1000)]
    assert [k["i"] for k in kept] == list(range(40))
    # 100 numbers handed out: 40 kept + 60 gaps; the drop count reached the disk too.
    assert sorted([k["tally:seq"] for k in kept] + [r.seq for r in refused]) == list(range(1, 101))
    box.close()
    again = Outbox(where / "o.db").start()
    assert again.drops["events"] == 60 and again.seq["events"] == 100
    again.close()


def test_quarantine_moves_and_the_operator_resends_or_discards(tmp_path):
    box = Outbox(tmp_path / "o.db").start()
    for i in range(5):
        box.submit("events", {"i": i})
    box.flush()
    rows = box.fetch(0, 10)
    box.quarantine([(rows[1].id, "too large"), (rows[3].id, "payload format invalid")])
    box.flush()
    assert box.counts["events"] == 3 and box.quarantined["events"] == 2
    assert [json.loads(r.payload)["i"] for r in box.fetch(0, 10)] == [0, 2, 4]
    # The operator, from another process/connection, while the gateway runs:
    conn = sqlite3.connect(tmp_path / "o.db", isolation_level=None)
    listed = quarantine.rows(conn)
    assert [q["reason"] for q in listed] == ["too large", "payload format invalid"]
    assert quarantine.resend(conn, [listed[0]["id"]]) == 1
    assert quarantine.discard(conn, [listed[1]["id"]]) == 1
    conn.close()
    box.submit("events", {"i": 5})  # the writer's next commit notices the other connection's change
    box.flush()
    assert box.quarantined["events"] == 0
    assert [json.loads(r.payload)["i"] for r in box.fetch(0, 10)] == [0, 2, 4, 1, 5]
    assert box.counts["events"] == 5
    assert box.bytes == quarantine.table_bytes(box._reader)
    box.close()
