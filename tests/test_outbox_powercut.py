"""Power cuts below SQLite: every record the outbox reported accepted survives, in order, with its seq.

A child process runs an Outbox on a FUSE filesystem (tests/helpers/faultfs.py) that keeps every
write in memory until it is fsynced; it submits records without pause, drains some as a publisher
would, and prints each token the moment its Result says accepted. At a random moment the power
goes: what was not fsynced is thrown away and the child dies where it stands. The backing
directory is then opened as a rebooted gateway would find it.

The same run with durability "normal" (no fsync per commit) must lose accepted records: proof
that the harness really throws unsynced writes away, so the "full" run proves something.
"""

from __future__ import annotations

import errno
import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gateway.outbox import Outbox
from tests.helpers import faultfs
from tests.helpers.gateway import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.skipif(faultfs.available() is not None,
                                                   reason=str(faultfs.available()))]

ROUNDS = 5
TOKENS_PER_ROUND = 1_000_000  # round r's tokens start at r * this, so every token is unique


def child(db: str, durability: str, first: int) -> None:
    """Submit records without end; print `A token seq` once accepted, `K token` before acknowledging it."""
    out = sys.stdout
    lock = threading.Lock()

    def say(lines: list[str]) -> None:
        with lock:
            out.write("".join(lines))
            out.flush()

    def on_results(results) -> None:
        say([f"{'A' if r.accepted else 'R'} {r.token} {r.seq}\n" for r in results])

    box = Outbox(db, durability=durability, on_results=on_results).start()
    say(["ready\n"])
    rng = random.Random(first)
    token = first
    while True:
        while box.in_memory > 32:
            time.sleep(0.0005)
        box.submit("events", {"token": token, "pad": "x" * rng.randrange(50, 600)}, token=token)
        token += 1
        if token % 97 == 0:  # a publisher delivering the oldest, as the gateway does while scans arrive
            delivered = box.fetch(0, 10)
            say([f"K {json.loads(e.payload)['token']}\n" for e in delivered])
            box.acknowledge([e.id for e in delivered])


def run_round(tmp: Path, durability: str, rnd: int, rng: random.Random) -> tuple[list[tuple[int, int]], set[int], dict]:
    """One power cut; returns (accepted (token, seq) in report order, tokens acknowledged, what the cut lost)."""
    backing, mount = tmp / "disk", tmp / "mnt"
    out_path = tmp / f"round{rnd}.out"
    fs = faultfs.FaultFS(backing, mount).start()
    with open(out_path, "w") as out, open(tmp / f"round{rnd}.err", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "tests.test_outbox_powercut", str(mount / "outbox.db"),
                                 durability, str(rnd * TOKENS_PER_ROUND)], stdout=out, stderr=err, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while "ready" not in out_path.read_text():
            assert proc.poll() is None, (tmp / f"round{rnd}.err").read_text()
            assert time.monotonic() < deadline, "the child never opened its outbox"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.3, 1.2))
        lost = fs.cut([proc])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        fs.stop()
    accepted, acked = [], set()
    for line in out_path.read_text().splitlines():
        word, *rest = line.split()
        if word == "A":
            accepted.append((int(rest[0]), int(rest[1])))
        elif word == "K":
            acked.add(int(rest[0]))
    return accepted, acked, lost


def after_reboot(db: Path) -> list[tuple[int, int]]:
    """The rows a rebooted gateway finds, (token, seq) in id order; the database must be sound."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = [json.loads(p) for (p,) in conn.execute("SELECT payload FROM outbox ORDER BY id")]
    finally:
        conn.close()
    box = Outbox(db).start()
    try:
        # meta is written in the same transaction as the rows: a cut cannot leave it drifted.
        assert box.repaired is None, box.repaired
        assert box.counts["events"] == len(rows)
    finally:
        box.close()
    return [(r["token"], r["tally:seq"]) for r in rows]


def power_cuts(tmp: Path, durability: str, seed: int, count: int = ROUNDS, until_lost: bool = False) -> list[dict]:
    rng = random.Random(seed)
    rounds = []
    for rnd in range(count):
        accepted, acked, cut = run_round(tmp, durability, rnd, rng)
        rows = after_reboot(tmp / "disk" / "outbox.db")
        present = dict(rows)
        seqs = [seq for _, seq in rows]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "rows out of order or seq reused"
        missing = [(t, s) for t, s in accepted if t not in acked and present.get(t) != s]
        rounds.append({"round": rnd, "accepted": len(accepted), "acked": len(acked), "lost": len(missing),
                       "unsynced_bytes_discarded": cut["lost_bytes"], "missing": missing[:5]})
        if until_lost and missing:
            break
    print(f"\npower cuts ({durability}): " + json.dumps([{k: v for k, v in r.items() if k != "missing"}
                                                         for r in rounds]))
    assert all(r["accepted"] > 0 for r in rounds), rounds  # each cut came while records were flowing
    return rounds


def test_the_disk_keeps_only_what_was_synced(tmp_path):
    """The harness itself, on plain files: the backing directory after a cut is what fsync made durable."""
    backing, mount = tmp_path / "disk", tmp_path / "mnt"
    (backing / "old").mkdir(parents=True)
    (backing / "old" / "kept").write_bytes(b"A" * 10_000)
    fs = faultfs.FaultFS(backing, mount).start()
    try:
        with open(mount / "old" / "kept", "r+b") as fh:
            fh.seek(5000)
            fh.write(b"B" * 100)  # synced below
            fh.flush()
            os.fsync(fh.fileno())
            fh.write(b"C" * 9000)  # extends the file, never synced
            fh.flush()
            fh.truncate(3000)
            fh.seek(0)
            fh.write(b"D")
            fh.flush()
            fh.seek(0)
            assert fh.read() == b"D" + b"A" * 2999  # the running system sees its own writes
        fd = os.open(mount / "old" / "unnamed", os.O_CREAT | os.O_WRONLY)
        os.write(fd, b"synced data, but the directory never was")
        os.fsync(fd)
        os.close(fd)
        fd = os.open(mount / "named", os.O_CREAT | os.O_WRONLY)
        os.write(fd, b"E" * 5000)
        os.fsync(fd)
        os.close(fd)
        dirfd = os.open(mount, os.O_RDONLY)
        os.fsync(dirfd)  # makes "named" durable, not old/unnamed
        os.close(dirfd)
        fs.fail(errno.EIO)
        with pytest.raises(OSError) as failed, open(mount / "named", "r+b") as fh:
            fh.write(b"F")
            fh.flush()
        assert failed.value.errno == errno.EIO
        assert (mount / "named").read_bytes() == b"E" * 5000  # reads still work
        fs.recover()
        cut = fs.cut()
    finally:
        fs.stop()
    assert not os.path.ismount(mount)
    assert (backing / "old" / "kept").read_bytes() == b"A" * 5000 + b"B" * 100 + b"A" * 4900
    assert not (backing / "old" / "unnamed").exists()
    assert (backing / "named").read_bytes() == b"E" * 5000
    assert cut["lost_names"] == ["/old/unnamed"] and cut["lost_files"] == ["/old/kept"]


def test_every_accepted_record_survives_power_cuts(tmp_path):
    rounds = power_cuts(tmp_path, "full", seed=10)
    assert [r["lost"] for r in rounds] == [0] * ROUNDS, rounds


def test_the_harness_discards_unsynced_writes(tmp_path):
    """Without an fsync per commit, accepted records die with the power: the cut really cuts."""
    # A cut that lands in a checkpoint (which syncs the WAL first) loses nothing even here: cut again.
    rounds = power_cuts(tmp_path, "normal", seed=10, count=10, until_lost=True)
    assert sum(r["lost"] for r in rounds) > 0, rounds


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], int(sys.argv[3]))
