"""Where the CPU went between two moments: seconds per named group of processes, from /proc, and the
whole machine's busy time from /proc/stat (other people's work on a shared machine included, which is
why both are kept).

A group is a callable returning cumulative CPU seconds, so a group can be a process that is not
running yet (0 until it exists) or a server whose workers come and go (PostgreSQL's backends).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import common


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            # comm may hold spaces and parentheses: the fields proper start after the last ')'
            return fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def state(pid: int) -> str | None:
    """R, S, D, T (stopped by a signal), Z …; None once the process is gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields is not None else None


def children_of(ppid: int) -> list[int]:
    """Live processes whose parent is `ppid` (by parent pid, never by name: other servers of the same
    program on the machine must not count)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and int(fields[1]) == ppid:
                out.append(int(entry))
    return out


def server_cpu(parent: int) -> float:
    """A forking server's CPU: the parent's own, what its exited and reaped children used (cutime and
    cstime, so a backend that came and went is not missed) and what its live children used so far."""
    fields = _stat_fields(parent)
    if fields is None:
        return 0.0
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    for child in children_of(parent):
        child_fields = _stat_fields(child)
        if child_fields is not None:
            ticks += int(child_fields[11]) + int(child_fields[12])
    return ticks / common.CLK_TCK


def all_processes() -> dict[int, tuple[str, float]]:
    """pid -> (command name, CPU seconds of the process itself) for every process now on the machine."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    text = fh.read()
            except OSError:
                continue
            name = text[text.find("(") + 1:text.rfind(")")]
            fields = text.rsplit(")", 1)[1].split()
            out[int(entry)] = (name, (int(fields[11]) + int(fields[12])) / common.CLK_TCK)
    return out


def postmaster_pid(data_dir: Path) -> int:
    """The postmaster of a PostgreSQL data directory (first line of postmaster.pid)."""
    return int((data_dir / "postmaster.pid").read_text().splitlines()[0])


def processes_cpu(pids: Callable[[], list[int]]) -> Callable[[], float]:
    """A group of processes chosen when read (an exited one counts 0 from then on)."""
    return lambda: sum(common.cpu_seconds(pid) or 0.0 for pid in pids())


def machine_busy() -> tuple[float, float, float]:
    """(busy, interrupts, total) CPU seconds of every core since boot, from /proc/stat's first line.
    Interrupts (irq + softirq: loopback TCP is mostly softirq) are in busy but in no process's time."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    # guest and guest_nice are already inside user and nice; steal is the hypervisor's, not this machine's work
    user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
    busy = user + nice + system + irq + softirq
    return (busy / common.CLK_TCK, (irq + softirq) / common.CLK_TCK,
            (busy + idle + iowait + steal) / common.CLK_TCK)


def cores() -> int:
    return len(os.sched_getaffinity(0))


class CpuLedger:
    """CPU seconds of each group between start() and stop(), and the wall time between them."""

    def __init__(self, groups: dict[str, Callable[[], float]], mine: Callable[[], set[int]] = set):
        """`mine`: the pids the groups cover, so that what else ran in the window can be named."""
        self.groups = groups
        self.mine = mine
        self.everyone: dict[int, tuple[str, float]] = {}
        self.others: list[tuple[str, int, float]] = []
        self.before: dict[str, float] = {}
        self.machine_before = (0.0, 0.0, 0.0)
        self.t0 = 0.0
        self.used: dict[str, float] = {}
        self.wall = 0.0
        self.machine = 0.0
        self.interrupts = 0.0

    def start(self) -> "CpuLedger":
        self.before = {name: read() for name, read in self.groups.items()}
        self.everyone = all_processes()
        self.machine_before = machine_busy()
        self.t0 = time.monotonic()
        return self

    def stop(self) -> "CpuLedger":
        self.wall = time.monotonic() - self.t0
        self.used = {name: read() - self.before[name] for name, read in self.groups.items()}
        busy, interrupts, total = machine_busy()
        spent = total - self.machine_before[2]
        self.machine = (busy - self.machine_before[0]) / spent if spent > 0 else 0.0
        self.interrupts = (interrupts - self.machine_before[1]) / spent if spent > 0 else 0.0
        mine = self.mine()
        # Processes that started and ended inside the window are not seen: this names the big ones only.
        after = all_processes()
        self.others = sorted(((name, pid, cpu - self.everyone.get(pid, (name, 0.0))[1])
                              for pid, (name, cpu) in after.items() if pid not in mine),
                             key=lambda other: -other[2])
        return self

    def busiest_others(self, count: int = 3) -> list[str]:
        """The processes outside the groups that used the most CPU in the window, as `name[pid] seconds`."""
        return [f"{name}[{pid}] {cpu:.2f} s" for name, pid, cpu in self.others[:count] if cpu > 0]

    def per_message_ms(self, messages: int) -> dict[str, float]:
        return {name: round(1000 * used / messages, 3) for name, used in self.used.items()}

    def utilisation(self, names: list[str]) -> float:
        """The named groups' CPU over this window's wall time on every core this process may use."""
        return sum(self.used[name] for name in names) / (self.wall * cores()) if self.wall > 0 else 0.0
