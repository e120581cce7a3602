"""The outbox: ordered, sequenced, grouped commits, bounded with visible drops, durable across SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from gateway.outbox import Outbox

ROOT = Path(__file__).resolve().parents[1]


def test_order_sequence_and_ack(tmp_path):
    box = Outbox(tmp_path / "o.db").start()
    for i in range(10):
        box.submit("events", {"n": i}, "dev")
    box.submit("positions", {"lat": 1}, "gps")
    assert box.flush()
    rows = box.fetch(0, 100)
    payloads = [json.loads(r.payload) for r in rows]
    assert [p["n"] for p in payloads[:10]] == list(range(10))
    assert [p["tally:seq"] for p in payloads[:10]] == list(range(1, 11))
    assert payloads[10] == {"lat": 1, "seq": 1}  # positions have their own sequence
    assert box.stats()["events"] == 10 and box.stats()["positions"] == 1
    box.acknowledge([(r.id, r.stream, len(r.payload)) for r in rows[:5]])
    assert box.flush()
    assert [json.loads(r.payload)["n"] for r in box.fetch(0, 100)[:5]] == [5, 6, 7, 8, 9]
    assert box.stats()["events"] == 5
    box.close()
    # Reopened: the sequence continues, nothing is renumbered.
    box = Outbox(tmp_path / "o.db").start()
    box.submit("events", {"n": 10})
    box.flush()
    assert json.loads(box.fetch(0, 100)[-1].payload)["tally:seq"] == 11
    assert box.stats()["events"] == 6
    box.close()


def test_commits_are_grouped(tmp_path):
    box = Outbox(tmp_path / "o.db", batch_ms=5).start()
    for i in range(2000):
        box.submit("events", {"n": i})
    box.flush()
    assert box.stats()["events"] == 2000
    assert box.commits < 100, box.commits  # a burst is a handful of fsyncs, not 2,000
    box.close()


def test_budget_drops_positions_first_then_holds_then_refuses_scans(tmp_path):
    box = Outbox(tmp_path / "o.db", max_bytes=20_000, hold_max=50).start()
    pad = "x" * 150
    for i in range(60):
        box.submit("positions", {"i": i, "pad": pad})
    box.flush()
    assert box.stats()["positions"] == 60
    for i in range(200):
        box.submit("events", {"i": i, "pad": pad})
    assert not box.flush()  # records are held: flush must not pass for success
    stats = box.stats()
    assert stats["bytes"] <= 20_000
    assert stats["positions"] == 0 and stats["drops"]["positions"] == 60
    kept = stats["events"]
    # The first ones are kept, the next 50 wait in memory for room, the rest are refused and counted.
    assert 0 < kept < 150 and stats["held"] == 50 and stats["drops"]["events"] == 150 - kept
    assert box.pressure
    # The events kept are the first ones: nothing accepted was evicted for a newcomer.
    rows = box.fetch(0, 1000)
    assert [json.loads(r.payload)["i"] for r in rows] == list(range(kept))
    # Deliveries free space: the held ones go in, in order, numbered after the refused ones' numbers.
    box.acknowledge([r.id for r in rows])
    assert box.flush()
    rows = box.fetch(0, 1000)
    assert [json.loads(r.payload)["i"] for r in rows] == list(range(kept, kept + 50))
    assert rows[0].payload and json.loads(rows[0].payload)["tally:seq"] == 200 - 50 + 1
    assert not box.pressure
    box.close()
    box = Outbox(tmp_path / "o.db", max_bytes=20_000).start()
    assert box.stats()["drops"] == {"events": 150 - kept, "positions": 60, "rejects": 0}  # counted for good
    assert box.seq["events"] == 200  # every refused record took its number: the gap shows
    box.close()


def test_committed_records_survive_sigkill(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from gateway.outbox import Outbox
        box = Outbox({str(tmp_path / 'o.db')!r}).start()
        for i in range(500):
            box.submit("events", {{"i": i}})
        box.flush()
        print("committed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGKILL and "committed" in result.stdout
    box = Outbox(tmp_path / "o.db").start()
    assert [json.loads(r.payload)["i"] for r in box.fetch(0, 1000)] == list(range(500))
    box.close()


def test_wal_mode_and_durability_setting(tmp_path):
    box = Outbox(tmp_path / "o.db").start()
    assert box._writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._writer.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    box.close()
    box = Outbox(tmp_path / "p.db", durability="normal").start()
    assert box._writer.execute("PRAGMA synchronous").fetchone()[0] == 1
    box.close()
    assert os.path.exists(tmp_path / "o.db")


def test_counts_survive_restart_without_a_scan(tmp_path):
    box = Outbox(tmp_path / "o.db").start()
    for i in range(30):
        box.submit("events" if i % 3 else "positions", {"i": i})
    box.flush()
    rows = box.fetch(0, 5)
    box.acknowledge([(r.id, r.stream, len(r.payload)) for r in rows])
    box.flush()
    stats = box.stats()
    box.close()
    again = Outbox(tmp_path / "o.db").start()
    assert (again.counts, again.bytes) == ({k: stats[k] for k in ("events", "positions", "rejects")}, stats["bytes"])
    # and they match the table itself
    real = dict(again._reader.execute("SELECT stream, COUNT(*) FROM outbox GROUP BY stream").fetchall())
    assert {k: v for k, v in again.counts.items() if v} == real
    again.close()
