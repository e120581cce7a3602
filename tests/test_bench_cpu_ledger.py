"""The tracker benchmark's accounting (benchmarks/cpu_ledger.py, bench_tracker): a forking server's CPU is
found by parent pid, a backend that exited still counts, a tracker that cannot come up is a clear error
rather than a hang; the rounds alternate which drain goes first, their figure is a median, every round's
events are fresh with `tally:seq` going on, and the bare subscriber drains exactly its round's messages."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_tracker  # noqa: E402
import common  # noqa: E402
import cpu_ledger  # noqa: E402

BURN_S = 0.3

# A stand-in for a postmaster: forks one worker that burns BURN_S of CPU, says so, waits for a line, exits;
# the parent reaps it and then idles until its stdin closes.
SERVER = textwrap.dedent(f"""
    import os, sys, time
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        while time.process_time() < {BURN_S}:
            pass
        print("burnt", os.getpid(), flush=True)
        os.read(r, 1)
        os._exit(0)
    sys.stdin.readline()
    os.write(w, b"x")
    os.waitpid(pid, 0)
    print("reaped", flush=True)
    sys.stdin.readline()
""")


def tick() -> float:
    return 1 / common.CLK_TCK


def test_server_cpu_counts_live_and_reaped_children_by_parent_pid():
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    bystander = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE)
    try:
        word, child = server.stdout.readline().split()
        assert word == "burnt"
        assert cpu_ledger.children_of(server.pid) == [int(child)]
        assert bystander.pid not in cpu_ledger.children_of(server.pid)
        live = cpu_ledger.server_cpu(server.pid)
        assert live >= BURN_S - tick()

        server.stdin.write("\n")
        server.stdin.flush()
        assert server.stdout.readline().strip() == "reaped"
        assert cpu_ledger.children_of(server.pid) == []
        assert cpu_ledger.server_cpu(server.pid) >= live  # the exited worker is in the parent's cutime now
    finally:
        for proc in (server, bystander):
            proc.stdin.close()
            proc.wait(10)


def test_a_gone_process_counts_nothing():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert cpu_ledger.server_cpu(proc.pid) == 0.0
    assert cpu_ledger.processes_cpu(lambda: [proc.pid])() == 0.0


def test_machine_busy_is_a_share_of_the_total():
    busy, interrupts, total = cpu_ledger.machine_busy()
    assert 0 <= interrupts <= busy <= total
    assert busy > 0


def test_ledger_per_message_and_utilisation():
    used = {"a": 1.0, "b": 10.0}
    ledger = cpu_ledger.CpuLedger({name: (lambda name=name: used[name]) for name in used}).start()
    used["a"], used["b"] = 3.0, 10.5
    ledger.stop()
    assert ledger.used == {"a": 2.0, "b": 0.5}
    assert ledger.per_message_ms(1000) == {"a": 2.0, "b": 0.5}
    ledger.wall = 2.5
    assert ledger.utilisation(["a", "b"]) == pytest.approx(1.0 / cpu_ledger.cores())
    assert 0.0 <= ledger.interrupts <= ledger.machine <= 1.0


def test_a_tracker_that_cannot_start_is_a_clear_error(tmp_path):
    broker = SimpleNamespace(host="127.0.0.1", port=1)
    fleet = bench_tracker.Fleet(tmp_path, broker, f"postgresql://tally@/nope?host={tmp_path}/none&port=5")
    try:
        with pytest.raises(RuntimeError) as failed:
            fleet.start_all(timeout=60)
        for i in range(bench_tracker.INSTANCES):
            assert f"tracker {i} exited with 1" in str(failed.value)
        assert "cannot connect" in str(failed.value)
    finally:
        fleet.stop_all()


def test_the_ledger_names_what_else_ran():
    burner = subprocess.Popen([sys.executable, "-c", "import sys, time\nsys.stdin.readline()\n"
                               f"while time.process_time() < {BURN_S}: pass\nprint('burnt', flush=True)\n"
                               "sys.stdin.readline()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        anyone = cpu_ledger.CpuLedger({}).start()
        ours = cpu_ledger.CpuLedger({}, mine=lambda: {burner.pid}).start()
        burner.stdin.write("go\n")
        burner.stdin.flush()
        assert burner.stdout.readline().strip() == "burnt"
        anyone.stop()
        ours.stop()
        assert any(f"[{burner.pid}]" in line for line in anyone.busiest_others(10_000))
        assert not any(f"[{burner.pid}]" in line for line in ours.busiest_others(10_000))
    finally:
        burner.stdin.close()
        burner.wait(10)


def test_state_sees_a_stopped_process():
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE)
    try:
        proc.send_signal(signal.SIGSTOP)
        assert common.wait_until(lambda: cpu_ledger.state(proc.pid) == "T", 10)
        proc.send_signal(signal.SIGCONT)
        assert common.wait_until(lambda: cpu_ledger.state(proc.pid) != "T", 10)
    finally:
        proc.stdin.close()
        proc.wait(10)
    assert cpu_ledger.state(proc.pid) is None


def test_rounds_alternate_which_drain_goes_first():
    assert [bench_tracker.round_order(i) for i in range(4)] == [("bare", "warm"), ("warm", "bare")] * 2


def test_the_figure_of_rounds_is_their_median_and_a_missing_one_is_counted():
    assert bench_tracker.spread([0.29, 0.63, 0.41, None, 0.5]) == {
        "median": pytest.approx(0.455), "min": 0.29, "max": 0.63, "n": 4, "missing": 1}
    assert bench_tracker.spread([0.4, 0.9, 0.5])["median"] == 0.5
    assert bench_tracker.spread([None]) == {"median": None, "min": None, "max": None, "n": 0, "missing": 1}


def test_every_round_has_fresh_events_and_tally_seq_goes_on_per_gateway():
    seqs: dict[str, int] = {}
    per_round = 2 * bench_tracker.GATEWAYS + 3
    rounds = [bench_tracker.fleet_events(per_round, seqs, 1.7e9, r * per_round) for r in range(3)]
    events = [json.loads(payload) for messages in rounds for _, payload in messages]
    assert len({e["eventID"] for e in events}) == len(events)
    assert len({e["epcList"][0] for e in events}) == len(events)
    by_gateway: dict[str, list[int]] = {}
    for topic, payload in (m for messages in rounds for m in messages):
        event = json.loads(payload)
        assert topic == f"tally/{event['tally:gateway']}/events"
        by_gateway.setdefault(event["tally:gateway"], []).append(event["tally:seq"])
    assert len(by_gateway) == bench_tracker.GATEWAYS
    for numbers in by_gateway.values():
        assert numbers == list(range(1, len(numbers) + 1))


def test_the_bare_subscriber_drains_exactly_each_rounds_messages(mosquitto):
    """Its session keeps what is published between drains, and nothing of one round is handed to it
    again in the next (each message is acknowledged before the drain ends)."""
    count = 300
    bench_tracker.bare_session(mosquitto, connect=False)
    for r in range(3):
        bench_tracker.publish(mosquitto, bench_tracker.fleet_events(count, {}, 1.7e9, r * count))
        assert bench_tracker.bare_session(mosquitto, connect=True, count=count) > 0
    with pytest.raises(RuntimeError, match="got 0 of 1 messages in 1 s"):
        bench_tracker.bare_session(mosquitto, connect=True, count=1, end=True, wait=1)
