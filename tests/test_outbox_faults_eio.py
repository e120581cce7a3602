"""A disk that fails under the outbox (EIO, ENOSPC while statvfs still shows room, a failing fsync):
the failure is a visible, counted state, the records wait in memory unaccepted, the writer lives on,
and once the disk recovers every one of them is committed in order, accepted, and survives a power cut.
The disk is tests/helpers/faultfs.py, a real FUSE filesystem that fails on demand."""

from __future__ import annotations

import errno
import json
import sqlite3
import time

import pytest

from gateway.outbox import Outbox
from tests.helpers.outbox import collect
from tests.helpers import faultfs

pytestmark = pytest.mark.skipif(faultfs.available() is not None, reason=str(faultfs.available()))


@pytest.fixture
def disk(tmp_path):
    fs = faultfs.FaultFS(tmp_path / "disk", tmp_path / "mnt").start()
    yield fs
    fs.stop()


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    """Wait for the writer to get somewhere (it retries with backoff); the timeout only catches a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still not {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("err, fsync_only, message", [
    (errno.EIO, False, "disk I/O error"),
    (errno.ENOSPC, False, "database or disk is full"),  # statvfs shows room: a quota, a thin volume
    (errno.EIO, True, "disk I/O error"),  # the writes land in the page cache, the fsync fails
], ids=["EIO", "ENOSPC", "EIO-on-fsync"])
def test_a_failing_disk_holds_records_and_commits_them_once_it_recovers(disk, err, fsync_only, message):
    results, on_results = collect()
    db = disk.mountpoint / "outbox.db"
    box = Outbox(db, on_results=on_results).start()
    for i in range(10):
        box.submit("events", {"i": i}, token=i)
    assert box.flush()
    assert [(r.token, r.accepted, r.seq) for r in results] == [(i, True, i + 1) for i in range(10)]

    disk.fail(err, fsync_only=fsync_only)
    for i in range(10, 60):
        box.submit("events", {"i": i, "pad": "x" * 300}, token=i)
    wait_for(lambda: box.commit_failures >= 2, "retried")  # failed, and failed again on its own retry
    stats = box.stats()
    assert stats["failing"] and message in stats["failing"], stats
    assert stats["held"] == 50, stats  # in memory, in order, none refused
    assert stats["drops"]["events"] == 0
    assert [r.token for r in results] == list(range(10)), "nothing on a failing disk is accepted"
    assert box.alive and box.pressure
    assert not box.flush(0.5)  # a caller asking is told: not done
    assert stats["events"] == 10  # what the table holds did not move

    disk.recover()
    wait_for(lambda: box.held_count == 0 and box.failing is None, "recovered")
    assert box.flush()
    assert [(r.token, r.accepted, r.seq) for r in results] == [(i, True, i + 1) for i in range(60)]
    assert box.stats()["failing"] is None and box.alive and not box.pressure
    assert [json.loads(e.payload)["i"] for e in box.fetch(0, 100)] == list(range(60))

    # Accepted after the recovery means on the disk: it survives the power going now.
    cut = disk.cut()
    assert cut["lost_names"] == []
    box.close()
    conn = sqlite3.connect(disk.backing / "outbox.db")
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    rows = [json.loads(p) for (p,) in conn.execute("SELECT payload FROM outbox ORDER BY id")]
    conn.close()
    assert [(r["i"], r["tally:seq"]) for r in rows] == [(i, i + 1) for i in range(60)]


def test_a_disk_failing_at_start_is_an_error_not_a_hang(disk):
    """Opening the outbox on a disk that cannot be written fails loudly (the daemon then exits, and
    systemd restarts it), rather than starting a gateway that can accept nothing."""
    disk.fail(errno.EIO)
    with pytest.raises(sqlite3.Error):
        Outbox(disk.mountpoint / "outbox.db").start()
    disk.recover()
    box = Outbox(disk.mountpoint / "outbox.db").start()
    box.submit("events", {"i": 0})
    assert box.flush()
    box.close()


def test_records_accepted_after_a_lost_fsync_survive_a_power_cut(disk):
    """Linux after a writeback error: the failed fsync's pages are marked clean, still readable, never
    written; the next fsync succeeds without them. Whatever the outbox had committed without an fsync
    (deliveries, state) before that failure is then a hole in the WAL on the disk."""
    results, on_results = collect()
    box = Outbox(disk.mountpoint / "outbox.db", on_results=on_results).start()
    for i in range(20):
        box.submit("events", {"i": i, "pad": "x" * 300}, token=i)
    assert box.flush()
    box.acknowledge([e.id for e in box.fetch(0, 5)])  # delivered: today a commit without an fsync
    assert box.flush()

    disk.fail(errno.EIO, fsync_only=True, lose=True)
    for i in range(20, 30):
        box.submit("events", {"i": i, "pad": "x" * 300}, token=i)
    wait_for(lambda: box.commit_failures >= 1, "failing")
    disk.recover()
    wait_for(lambda: box.held_count == 0 and box.failing is None, "recovered")
    assert box.flush()
    assert [(r.token, r.accepted) for r in results] == [(i, True) for i in range(30)]

    disk.cut()
    box.close()
    conn = sqlite3.connect(disk.backing / "outbox.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        kept = [json.loads(p)["i"] for (p,) in conn.execute("SELECT payload FROM outbox ORDER BY id")]
    finally:
        conn.close()
    # The delivered five may come back (at-least-once); every accepted record must be there.
    assert [i for i in kept if i >= 5] == list(range(5, 30)), kept
