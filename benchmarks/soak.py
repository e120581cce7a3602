"""The soak: a simulated dock shift against the real daemon, with the faults a Pi at a dock meets, at random.

    python benchmarks/soak.py --seconds 3600 --kills 100          # the one-hour shift (prints one JSON object)
    python benchmarks/soak.py --seconds 300 --seed 1234           # a repeat of a run (the seed is in its JSON)
    ./dev bench soak                                              # the same, as a scenario of benchmarks/run.py

A pty serial scanner types unique GS1 labels at a steady rate into `python -m gateway run`; a persistent
QoS 1 subscriber on a real mosquitto records every event. Faults, one after another at random times, each
logged with its time: SIGKILL of the gateway (and a restart), broker outages (mosquitto stopped for a few
seconds, started again on the same port; its persistence keeps the subscriber's session), scanner
unplug/replug, disk-full episodes (the data directory is a small tmpfs; a filler file takes all its room for
a few seconds) and SIGHUP reloads.

The promise checked at the end (exit 1 if it broke):
- every label typed was delivered, unless it was typed from `--margin` seconds before a SIGKILL or an unplug
  until the gateway had the scanner open again (in the dying gateway's memory, in the air, or in the port's
  buffer, which pyserial's open discards): those are reported as `typed_not_accepted`, with their times
  relative to the fault, and everything else missing as `lost`;
- `tally:seq` has no gap that the gateway's counted drops do not explain, and one seq has one eventID
  (duplicates are allowed: at least once, the same eventID again);
- RSS and open file descriptors of each gateway lifetime stay flat after a warm-up.
Needs root for the tmpfs (without it the disk-full episodes are skipped, and the JSON says so).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GATEWAY_ID = "soak-gw"
DEVICE = "door-1-scanner"
GTIN = "09506000134352"
WARM_UP = 10.0          # seconds of a lifetime before its RSS/fd baseline is taken (imports, caches, first commits)
RSS_GROWTH_MB = 24.0    # allowed growth within one lifetime after the warm-up
RSS_GROWTH_SHARE = 0.3  # ... or this share of the baseline, whichever is larger
FD_GROWTH = 6           # sockets come and go with the broker; a leak grows without bound


def label(seed: int, i: int) -> str:
    """A GS1 unit label (GTIN + serial), unique in the run and across seeds."""
    return f"]d201{GTIN}21S{seed % 100000:05d}{i:08d}"


def now() -> float:
    return time.monotonic()


class Log:
    """The fault log: (seconds since start, what, details)."""

    def __init__(self, t0: float):
        self.t0 = t0
        self.items: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, what: str, **details: Any) -> dict[str, Any]:
        item = {"t": round(now() - self.t0, 2), "what": what, **details}
        with self._lock:
            self.items.append(item)
        print(f"soak: {item}", file=sys.stderr, flush=True)
        return item


class Typist:
    """Types label i at the steady rate; remembers when each write started and returned (monotonic)."""

    def __init__(self, sim, seed: int, rate: float):
        self.sim, self.seed, self.rate = sim, seed, rate
        self.typed: list[tuple[str, float, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="soak-typist", daemon=True)

    def _run(self) -> None:
        interval = 1.0 / self.rate
        next_at = now()
        i = 0
        while not self.stop.is_set():
            text = label(self.seed, i)
            t0 = now()
            self.sim.scan(text)  # blocks while the pty is full (gateway down or paused): the scanner's buffer
            self.typed.append((text, t0, now()))
            i += 1
            next_at = max(next_at + interval, now() - 1.0)  # after a block, no burst to catch up
            delay = next_at - now()
            if delay > 0:
                self.stop.wait(delay)


class Sampler:
    """VmRSS and open fds of the current gateway process every `interval` seconds, per lifetime (pid)."""

    def __init__(self, interval: float):
        self.interval = interval
        self.pid: int | None = None
        self.started: dict[int, float] = {}
        self.samples: dict[int, list[tuple[float, int, int]]] = {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def follow(self, pid: int) -> None:
        self.started[pid] = now()
        self.samples[pid] = []
        self.pid = pid

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            pid = self.pid
            if pid is None:
                continue
            try:
                with open(f"/proc/{pid}/status") as fh:
                    rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
                fds = len(os.listdir(f"/proc/{pid}/fd"))
            except (OSError, StopIteration, ValueError):
                continue
            self.samples[pid].append((now() - self.started[pid], rss, fds))

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)

    def lifetimes(self) -> list[dict[str, Any]]:
        out = []
        for pid, samples in self.samples.items():
            if not samples:
                continue
            warm = [s for s in samples if s[0] >= WARM_UP]
            rss = [s[1] for s in samples]
            fds = [s[2] for s in samples]
            item = {"pid": pid, "seconds": round(samples[-1][0], 1), "samples": len(samples),
                    "rss_mb": {"start": round(rss[0] / 1024, 1), "end": round(rss[-1] / 1024, 1),
                               "max": round(max(rss) / 1024, 1)},
                    "fds": {"start": fds[0], "end": fds[-1], "max": max(fds)}}
            if len(warm) >= 2:
                base_rss, base_fd = warm[0][1], warm[0][2]
                item["after_warm_up"] = {"rss_growth_mb": round((max(s[1] for s in warm) - base_rss) / 1024, 1),
                                         "fd_growth": max(s[2] for s in warm) - base_fd,
                                         "base_rss_mb": round(base_rss / 1024, 1)}
            out.append(item)
        return out


def flat(lifetimes: list[dict[str, Any]]) -> tuple[bool, list[str]]:
    problems = []
    for life in lifetimes:
        after = life.get("after_warm_up")
        if not after:
            continue
        allowed = max(RSS_GROWTH_MB, RSS_GROWTH_SHARE * after["base_rss_mb"])
        if after["rss_growth_mb"] > allowed:
            problems.append(f"pid {life['pid']}: RSS grew {after['rss_growth_mb']} MB in {life['seconds']} s "
                            f"(allowed {allowed:.1f})")
        if after["fd_growth"] > FD_GROWTH:
            problems.append(f"pid {life['pid']}: {after['fd_growth']} more open files after the warm-up")
    maxima = [life["rss_mb"]["max"] for life in lifetimes]
    if len(maxima) >= 3 and maxima[-1] > 1.5 * sorted(maxima)[len(maxima) // 2]:
        problems.append(f"the last lifetime's RSS ({maxima[-1]} MB) is over 1.5 x the median lifetime's")
    return not problems, problems


class Shift:
    def __init__(self, opts: argparse.Namespace, workdir: Path):
        from gateway.broker import Mosquitto, free_port
        from simulators.serial_scanner import SerialScannerSimulator

        self.opts = opts
        self.work = workdir
        self.rng = random.Random(opts.seed)
        self.port = free_port()
        self.broker = Mosquitto(port=self.port, persistence=True)
        self.sim = SerialScannerSimulator(str(workdir / "scanner"))
        self.mounted: Path | None = None
        self.data = self._data_dir()
        self.config = self._config()
        self.gw: subprocess.Popen | None = None
        self.gw_log = open(workdir / "gateway.log", "ab")
        self.sampler = Sampler(opts.sample)
        self.log = Log(now())
        self.lifetimes = 0
        self.not_accepted_windows: list[tuple[float, float, str]] = []

    # ---- parts ----------------------------------------------------------------------------------

    def _data_dir(self) -> Path:
        where = self.work / "data"
        where.mkdir()
        if self.opts.tmpfs_mb > 0:
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.opts.tmpfs_mb}m", "tally-soak",
                                   str(where)], capture_output=True, text=True)
            if done.returncode == 0:
                self.mounted = where
            else:
                self.mount_error = done.stderr.strip() or f"mount exited {done.returncode}"
        return where

    def _config(self) -> Path:
        from tests.helpers.gateway import write_config

        device = {"name": DEVICE, "driver": "serial-scanner", "port": self.sim.path, "biz_step": "receiving",
                  "disposition": "in_progress", "dedupe_ms": 0}
        return write_config(self.work / "gateway.toml", broker_port=self.port, data_dir=self.data,
                            devices=[device], gateway_id=GATEWAY_ID,
                            extra={"gateway": {"log_level": "info", "runtime_dir": str(self.work / "run")},
                                   "outbox": {"min_free_mb": 0.5}})

    def status(self) -> dict[str, Any]:
        from gateway import status_file
        from gateway.config import load

        path = status_file.find(load(self.config))
        try:
            return json.loads(path.read_text()) if path else {}
        except (OSError, ValueError):
            return {}

    def start_gateway(self, timeout: float = 30.0) -> float:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.gw = subprocess.Popen([sys.executable, "-m", "gateway", "run", "-c", str(self.config)], cwd=ROOT,
                                   env=env, stdout=self.gw_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.lifetimes += 1
        self.sampler.follow(self.gw.pid)
        deadline = now() + timeout
        while now() < deadline:
            s = self.status()
            if s.get("pid") == self.gw.pid and s.get("devices") and s["devices"][0]["state"] == "open":
                return now()
            if self.gw.poll() is not None:
                raise RuntimeError(f"the gateway exited {self.gw.returncode} at start")
            time.sleep(0.05)
        raise RuntimeError("the gateway did not open the scanner in time")

    # ---- faults ---------------------------------------------------------------------------------

    def kill(self) -> None:
        assert self.gw is not None
        t = now()
        self.gw.kill()
        self.gw.wait()
        item = self.log.add("sigkill", pid=self.gw.pid)
        ready = self.start_gateway()
        item["down_s"] = round(ready - t, 2)
        self.not_accepted_windows.append((t - self.opts.margin, ready, f"sigkill at {item['t']}"))

    def outage(self) -> None:
        seconds = self.rng.uniform(2, 8)
        item = self.log.add("broker-outage", seconds=round(seconds, 1))
        self.broker.stop()
        time.sleep(seconds)
        self.broker.start()
        item["back_at"] = round(now() - self.log.t0, 2)

    def unplug(self) -> None:
        seconds = self.rng.uniform(1, 4)
        t = now()
        self.sim.unplug()  # waits for a write in progress: the label in the air goes with the cable
        item = self.log.add("unplug", seconds=round(seconds, 1))
        time.sleep(seconds)
        wall = time.time()
        self.sim.replug()
        # What the scanner sends before the gateway has the port open again is discarded by the open itself
        # (pyserial's open flushes the input buffer): the window lasts until the device is open again.
        back = self.reopened(wall)
        item["reopened_after_s"] = round(back - t - seconds, 2)
        self.not_accepted_windows.append((t - self.opts.margin, back, f"unplug at {item['t']}"))

    def reopened(self, since_wall: float, timeout: float = 30.0) -> float:
        deadline = now() + timeout
        while now() < deadline:
            device = (self.status().get("devices") or [{}])[0]
            if device.get("state") == "open" and (device.get("since") or 0) >= since_wall:
                return now()
            time.sleep(0.05)
        return now()

    def disk_full(self) -> None:
        if self.mounted is None:
            self.log.add("disk-full skipped", reason=getattr(self, "mount_error", "no tmpfs"))
            return
        seconds = self.rng.uniform(3, 8)
        before = self.status()
        filler = self.data / "filler"
        fh = open(filler, "wb")
        written = _fill(fh)
        item = self.log.add("disk-full", seconds=round(seconds, 1), filler_mb=round(written / (1 << 20), 1))
        seen = {"paused": False, "held_max": 0, "commit_failures": 0}
        until = now() + seconds
        while now() < until:
            # Another writer on the card takes whatever the gateway gives back (its reserve, a checkpoint).
            written += _fill(fh)
            status = self.status()
            device = (status.get("devices") or [{}])[0]
            seen["paused"] |= bool(device.get("paused"))
            seen["held_max"] = max(seen["held_max"], (status.get("backlog") or {}).get("held") or 0)
            if status.get("pid") == before.get("pid"):
                failures = (status.get("outbox") or {}).get("commit_failures") or 0
                seen["commit_failures"] = failures - ((before.get("outbox") or {}).get("commit_failures") or 0)
            time.sleep(0.2)
        item.update(seen, filler_mb=round(written / (1 << 20), 1))
        fh.close()
        filler.unlink()
        # Over when the gateway has recovered: reads held in memory are not accepted yet, and a SIGKILL right
        # now would take them (legitimately: nobody was told they were).
        freed, deadline = now(), now() + 60
        while now() < deadline:
            s = self.status()
            if s.get("devices") and not s["devices"][0].get("paused") and not (s.get("backlog") or {}).get("held"):
                break
            time.sleep(0.1)
        item["recovered_after_s"] = round(now() - freed, 2)

    def reload(self) -> None:
        assert self.gw is not None
        self.gw.send_signal(signal.SIGHUP)
        self.log.add("sighup", pid=self.gw.pid)

    def schedule(self) -> list[tuple[float, str]]:
        o = self.opts
        kinds = (["kill"] * o.kills + ["outage"] * o.outages + ["unplug"] * o.unplugs + ["disk_full"] * o.disk_full
                 + ["reload"] * o.reloads)
        start, end = min(15.0, o.seconds * 0.1), o.seconds * 0.95
        return sorted((self.rng.uniform(start, end), kind) for kind in kinds)

    # ---- the shift ------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        from tests.helpers.mqtt import Subscriber

        o = self.opts
        self.broker.start()
        sub = Subscriber(self.broker.host, self.port, f"tally/{GATEWAY_ID}/#", client_id="soak-subscriber",
                         persistent=True)
        self.sim.start()
        self.sampler.thread.start()
        typist = Typist(self.sim, o.seed, o.rate)
        try:
            self.start_gateway()
            plan = self.schedule()
            t0 = self.log.t0 = now()
            typist.thread.start()
            for at, kind in plan:
                delay = t0 + at - now()
                if delay > 0:
                    time.sleep(delay)
                getattr(self, kind)()
                time.sleep(o.settle)  # the held backlog drains before the next fault
            left = t0 + o.seconds - now()
            if left > 0:
                time.sleep(left)
            typist.stop.set()
            typist.thread.join(30)
            self.log.add("shift over", typed=len(typist.typed))
            drained = self.drain(sub, typist)
            final = self.status()
            assert self.gw is not None
            self.gw.send_signal(signal.SIGTERM)
            exit_code = self.gw.wait(30)
            return self.report(sub, typist, final, drained, exit_code)
        finally:
            typist.stop.set()
            self.sampler.close()
            sub.close()
            self.close()

    def drain(self, sub, typist: Typist) -> dict[str, Any]:
        """Until everything typed is delivered, or the backlog is empty and nothing more arrives for a while."""
        wanted = {text for text, _, _ in typist.typed}
        deadline = now() + self.opts.drain
        last_count, quiet_since = -1, now()
        while now() < deadline:
            got = {e.get("tally:raw") for e in sub.on("events")}
            if wanted <= got:
                break
            s = self.status()
            backlog = s.get("backlog") or {}
            count = len(sub.messages)
            if count != last_count:
                last_count, quiet_since = count, now()
            elif backlog.get("events") == 0 and not backlog.get("held") and now() - quiet_since > 10:
                break
            time.sleep(0.5)
        return {"seconds": round(self.opts.drain - (deadline - now()), 1)}

    def report(self, sub, typist: Typist, final: dict[str, Any], drained: dict[str, Any],
               exit_code: int) -> dict[str, Any]:
        events = sub.on("events")
        rejects = sub.on("rejects")
        typed = {text: (t0 - self.log.t0, t1 - self.log.t0) for text, t0, t1 in typist.typed}
        by_raw: dict[str, int] = {}
        ids_by_seq: dict[int, set[str]] = {}
        raw_by_seq: dict[int, set[str]] = {}
        fragments = []
        for e in events:
            raw = e.get("tally:raw")
            by_raw[raw] = by_raw.get(raw, 0) + 1
            ids_by_seq.setdefault(e["tally:seq"], set()).add(e["eventID"])
            raw_by_seq.setdefault(e["tally:seq"], set()).add(raw)
            if raw not in typed:
                fragments.append(raw)
        fragments += [r.get("raw") for r in rejects]  # a label cut by a SIGKILL mid-read, or by an unplug
        windows = [(a - self.log.t0, b - self.log.t0, why) for a, b, why in self.not_accepted_windows]
        delivered = [t for t in typed if t in by_raw]
        missing = [t for t in typed if t not in by_raw]
        not_accepted, lost = [], []
        for text in missing:
            t0, t1 = typed[text]
            why = next((w for a, b, w in windows if t0 <= b and t1 >= a), None)
            (not_accepted if why else lost).append((text, round(t0, 2), why))
        seqs = sorted(ids_by_seq)
        gaps = [s for s in range(1, seqs[-1] + 1) if s not in ids_by_seq] if seqs else []
        drops = final.get("drops") or {}
        two_ids = {s: sorted(ids) for s, ids in ids_by_seq.items() if len(ids) > 1}
        two_raws = {s: sorted(r) for s, r in raw_by_seq.items() if len(r) > 1}
        lifetimes = self.sampler.lifetimes()
        is_flat, growth = flat(lifetimes)
        count = {k: sum(1 for f in self.log.items if f["what"] == k)
                 for k in ("sigkill", "broker-outage", "unplug", "disk-full", "sighup")}
        broken = []
        if lost:
            broken.append(f"{len(lost)} labels typed outside any fault window were never delivered")
        if len(gaps) > drops.get("events", 0):
            broken.append(f"{len(gaps)} gaps in tally:seq but {drops.get('events', 0)} counted drops")
        if two_ids or two_raws:
            broken.append(f"{len(two_ids)} seqs with more than one eventID, {len(two_raws)} with more than one raw")
        if not is_flat:
            broken += growth
        if exit_code != 0:
            broken.append(f"the last gateway exited {exit_code} on SIGTERM")
        rss_max = [life["rss_mb"]["max"] for life in lifetimes]
        return {
            "ok": not broken,
            "broken": broken,
            "seed": self.opts.seed,
            "command": "python benchmarks/soak.py " + " ".join(self.opts.argv),
            "seconds": self.opts.seconds,
            "rate_per_s": self.opts.rate,
            "reads_typed": len(typed),
            "delivered_unique": len(delivered),
            "accepted_events": len(seqs),
            "duplicates_delivered": len(events) - len(ids_by_seq),
            "typed_not_accepted": len(not_accepted),
            "typed_not_accepted_by_fault": _tally_by(not_accepted),
            "typed_not_accepted_windows": _windows(not_accepted, windows, self.opts.margin),
            "lost": len(lost),
            "lost_examples": lost[:20],
            "fragments": len(fragments),
            "fragment_examples": fragments[:5],
            "seq_gaps": len(gaps),
            "seq_gap_examples": gaps[:20],
            "counted_drops": drops,
            "counters": final.get("counters"),
            "outbox": final.get("outbox"),
            "supervisor": final.get("supervisor"),
            "device": (final.get("devices") or [{}])[0],
            "kills": count["sigkill"],
            "outages": count["broker-outage"],
            "unplugs": count["unplug"],
            "disk_full": count["disk-full"],
            "disk_full_paused": sum(1 for f in self.log.items if f.get("paused")),
            "reloads": count["sighup"],
            "gateway_lifetimes": self.lifetimes,
            "drain_s": drained["seconds"],
            "memory": {"flat": is_flat, "problems": growth,
                       "rss_max_mb": {"first": rss_max[0] if rss_max else None,
                                      "last": rss_max[-1] if rss_max else None,
                                      "max": max(rss_max) if rss_max else None},
                       "lifetimes": lifetimes if len(lifetimes) <= 12 else lifetimes[:3] + lifetimes[-3:],
                       "fd_max": max((life["fds"]["max"] for life in lifetimes), default=None),
                       "growth_after_warm_up_max": {
                           "rss_mb": max((life["after_warm_up"]["rss_growth_mb"] for life in lifetimes
                                          if "after_warm_up" in life), default=None),
                           "fds": max((life["after_warm_up"]["fd_growth"] for life in lifetimes
                                       if "after_warm_up" in life), default=None)},
                       "peak_rss_mb_range": [min(rss_max, default=None), max(rss_max, default=None)]},
            "faults": self.log.items,
            "workdir": str(self.work) if self.opts.keep else None,
        }

    def close(self) -> None:
        if self.gw is not None and self.gw.poll() is None:
            self.gw.kill()
            self.gw.wait()
        self.gw_log.close()
        self.sim.stop()
        self.broker.close()
        if self.mounted is not None:
            subprocess.run(["umount", "-l", str(self.mounted)], capture_output=True)


def _fill(fh) -> int:
    """Append to `fh` until the filesystem has no room left; the bytes written."""
    written, block = 0, b"\0" * (1 << 16)
    while True:
        try:
            written += os.write(fh.fileno(), block)
        except OSError:
            if len(block) <= 512:
                return written
            block = block[:len(block) // 4]


def _tally_by(items: list[tuple[str, float, str]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for _, _, why in items:
        kind = why.split(" at ")[0]
        out[kind] = out.get(kind, 0) + 1
    return out


def _windows(items: list[tuple[str, float, str]], windows: list[tuple[float, float, str]],
              margin: float) -> list[dict[str, Any]]:
    """Per fault: how many labels were not accepted, typed from when to when relative to the fault (s)."""
    out = []
    for a, b, why in windows:
        times = [t for _, t, w in items if w == why]
        if times:
            fault = a + margin
            out.append({"fault": why, "count": len(times), "from_s": round(min(times) - fault, 2),
                        "to_s": round(max(times) - fault, 2), "window_end_s": round(b - fault, 2)})
    return out


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/soak.py", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the shift")
    parser.add_argument("--rate", type=float, default=30.0, help="scans per second typed")
    parser.add_argument("--kills", type=int, help="SIGKILLs (default: one per 36 s, as 100 in an hour)")
    parser.add_argument("--outages", type=int, help="broker outages (default: one per 4 minutes, at least 1)")
    parser.add_argument("--unplugs", type=int, help="scanner unplugs (default: one per 4 minutes, at least 1)")
    parser.add_argument("--disk-full", type=int, help="disk-full episodes (default: one per 5 minutes, at least 1)")
    parser.add_argument("--reloads", type=int, help="SIGHUP reloads (default: one per 5 minutes, at least 1)")
    parser.add_argument("--seed", type=int, help="random seed (default: a new one, printed in the JSON)")
    parser.add_argument("--margin", type=float, default=0.5,
                        help="seconds before a SIGKILL or unplug whose labels may be in flight and not accepted")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after each fault before the next")
    parser.add_argument("--sample", type=float, default=2.0, help="RSS/fd sampling interval")
    parser.add_argument("--drain", type=float, default=180.0, help="at most this long for the backlog to drain")
    parser.add_argument("--tmpfs-mb", type=int, default=16, help="size of the data directory's tmpfs (0: none)")
    parser.add_argument("--out", help="also write the JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (gateway log, config)")
    opts = parser.parse_args(argv)
    opts.argv = list(argv)
    minutes = opts.seconds / 60
    defaults = {"kills": round(opts.seconds / 36), "outages": max(1, round(minutes / 4)),
                "unplugs": max(1, round(minutes / 4)), "disk_full": max(1, round(minutes / 5)),
                "reloads": max(1, round(minutes / 5))}
    for key, value in defaults.items():
        if getattr(opts, key) is None:
            setattr(opts, key, value)
    if opts.seed is None:
        opts.seed = random.SystemRandom().randrange(1, 1 << 31)
    return opts


def soak(opts: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="tally-soak-"))
    try:
        return Shift(opts, workdir).run()
    finally:
        if not opts.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def run(opts: argparse.Namespace, broker=None) -> dict[str, Any]:
    """benchmarks/run.py's scenario entry: its own broker (it must stop and start it), not the runner's."""
    soak_opts = options(["--seconds", str(opts.soak_seconds), "--seed", str(opts.seed)]
                        + (["--kills", str(opts.soak_kills)] if opts.soak_kills is not None else []))
    result = soak(soak_opts)
    result["table"] = [
        ("reads typed", result["reads_typed"], "", None),
        ("delivered (unique)", result["delivered_unique"], "", None),
        ("typed, not accepted (kill/unplug windows)", result["typed_not_accepted"], "", None),
        ("lost", result["lost"], "0", result["lost"] == 0),
        ("seq gaps / counted drops", f"{result['seq_gaps']}/{result['counted_drops'].get('events', 0)}",
         "gaps <= drops", result["seq_gaps"] <= result["counted_drops"].get("events", 0)),
        ("kills/outages/unplugs/disk-full/reloads",
         f"{result['kills']}/{result['outages']}/{result['unplugs']}/{result['disk_full']}/{result['reloads']}",
         "", None),
        ("RSS max first/last lifetime (MB)",
         f"{result['memory']['rss_max_mb']['first']}/{result['memory']['rss_max_mb']['last']}", "flat",
         result["memory"]["flat"]),
    ]
    if not result["ok"]:
        result["error"] = "; ".join(result["broken"])
    return result


def main(argv: list[str] | None = None) -> int:
    opts = options(sys.argv[1:] if argv is None else argv)

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    result = soak(opts)
    text = json.dumps(result, indent=1, default=str)
    if opts.out:
        Path(opts.out).write_text(text + "\n")
    print(text)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
