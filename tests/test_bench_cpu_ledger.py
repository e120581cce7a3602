"""The tracker benchmark's accounting (benchmarks/cpu_ledger.py, bench_tracker.Fleet): a forking server's
CPU is found by parent pid, a backend that exited still counts, and a tracker that cannot come up is a
clear error rather than a hang."""

from __future__ import annotations

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
