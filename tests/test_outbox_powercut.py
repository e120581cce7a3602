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

import json
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


def power_cuts(tmp: Path, durability: str, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rounds = []
    for rnd in range(ROUNDS):
        accepted, acked, cut = run_round(tmp, durability, rnd, rng)
        rows = after_reboot(tmp / "disk" / "outbox.db")
        present = dict(rows)
        seqs = [seq for _, seq in rows]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "rows out of order or seq reused"
        missing = [(t, s) for t, s in accepted if t not in acked and present.get(t) != s]
        rounds.append({"round": rnd, "accepted": len(accepted), "acked": len(acked), "lost": len(missing),
                       "unsynced_bytes_discarded": cut["lost_bytes"], "missing": missing[:5]})
    print(f"\npower cuts ({durability}): " + json.dumps([{k: v for k, v in r.items() if k != "missing"}
                                                         for r in rounds]))
    assert all(r["accepted"] > 0 for r in rounds), rounds  # each cut came while records were flowing
    return rounds


def test_every_accepted_record_survives_power_cuts(tmp_path):
    rounds = power_cuts(tmp_path, "full", seed=10)
    assert [r["lost"] for r in rounds] == [0] * ROUNDS, rounds


def test_the_harness_discards_unsynced_writes(tmp_path):
    """Without an fsync per commit, accepted records die with the power: the cut really cuts."""
    rounds = power_cuts(tmp_path, "normal", seed=10)
    assert sum(r["lost"] for r in rounds) > 0, rounds


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], int(sys.argv[3]))
