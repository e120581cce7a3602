"""What every benchmark scenario shares: realistic events, child processes that are always cleaned up,
/proc sampling (RSS, CPU), percentiles, and a private broker.

Times are CLOCK_MONOTONIC (`time.monotonic()`), which is one clock for every process on the
machine, so a scan written here and a PUBACK seen in the daemon can be subtracted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PYTHON = sys.executable
GATEWAY_ID = "bench-gw"
TOPIC_ROOT = "tally"
EVENTS_TOPIC = f"{TOPIC_ROOT}/{GATEWAY_ID}/events"
DEVICE = "door-1-scanner"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# ---- child processes: every one we start is ended by us, by its pid ------------------------------

_children: list[subprocess.Popen] = []
_lock = threading.Lock()


def spawn(argv: list[str], **kw: Any) -> subprocess.Popen:
    """Popen, remembered so `reap_all()` can end it if a scenario fails or times out."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **kw.pop("env", {})}
    proc = subprocess.Popen(argv, cwd=kw.pop("cwd", ROOT), env=env, **kw)
    with _lock:
        _children.append(proc)
    return proc


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
    """End one child we started: `sig`, then SIGKILL if it does not go within `timeout`."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with _lock:
        if proc in _children:
            _children.remove(proc)
    return proc.returncode


def reap_all() -> None:
    with _lock:
        procs = list(_children)
    for proc in procs:
        stop(proc, signal.SIGKILL, 5)


# ---- /proc ---------------------------------------------------------------------------------------

def rss_kb(pid: int) -> int | None:
    """VmRSS of a process in kB (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a whole process (all its threads), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15 of stat)


class CpuMeter:
    """CPU share of one core used by a process between start() and stop()."""

    def __init__(self, pid: int):
        self.pid = pid
        self.t0 = self.c0 = 0.0

    def start(self) -> "CpuMeter":
        self.t0, self.c0 = time.monotonic(), cpu_seconds(self.pid) or 0.0
        return self

    def stop(self) -> dict[str, float]:
        wall, cpu = time.monotonic() - self.t0, (cpu_seconds(self.pid) or 0.0) - self.c0
        return {"cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "cpu_pct_of_core": round(100 * cpu / wall, 2)}


class RssSampler:
    """VmRSS of a process sampled in a thread every `interval` seconds, with a phase label per sample."""

    def __init__(self, pid: int, interval: float = 0.5):
        self.pid = pid
        self.interval = interval
        self.phase = "start"
        self.samples: list[tuple[float, str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> "RssSampler":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            kb = rss_kb(self.pid)
            if kb is None:
                return
            self.samples.append((time.monotonic(), self.phase, kb))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def summary(self) -> dict[str, Any]:
        by_phase: dict[str, list[int]] = {}
        for _, phase, kb in self.samples:
            by_phase.setdefault(phase, []).append(kb)
        return {phase: {"min_mb": round(min(v) / 1024, 1), "max_mb": round(max(v) / 1024, 1),
                        "last_mb": round(v[-1] / 1024, 1), "samples": len(v)} for phase, v in by_phase.items()}


# ---- statistics ----------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of unsorted values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def latency_summary(ms: list[float]) -> dict[str, Any]:
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 2), "p90_ms": round(percentile(ms, 90), 2),
            "p99_ms": round(percentile(ms, 99), 2), "max_ms": round(max(ms), 2),
            "mean_ms": round(sum(ms) / len(ms), 2)}


# ---- realistic scans and events ------------------------------------------------------------------

SITE = {"read_point": "urn:epc:id:sgln:0614141.07346.1234", "biz_location": "urn:epc:id:sgln:0614141.07346.0"}


def unique_labels(count: int, seed: int = 7) -> list[str]:
    """`count` distinct scans as a dock's scanners send them (AIM id, GS1 units, lots, SSCCs, EANs)."""
    from simulators.labels import labels

    seen: set[str] = set()
    out: list[str] = []
    for text in labels(seed):
        if text not in seen:
            seen.add(text)
            out.append(text)
            if len(out) == count:
                return out
    return out


class _Capture:
    """Stands in for the outbox: keeps what the pipeline submits (for building realistic payloads)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any], str | None]] = []

    def submit(self, stream: str, record: dict[str, Any], device: str | None = None, token: Any = None) -> None:
        self.records.append((stream, record, device))

    def put_state(self, key: str, value: Any) -> None:
        pass  # working state (packing sessions) is not what these payloads are about


def event_records(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """EPCIS events exactly as the gateway's own pipeline builds them from `count` generated scans."""
    from drivers.base import Read
    from gateway.config import parse
    from gateway.pipeline import Pipeline

    config = parse({"gateway": {"id": GATEWAY_ID, "data_dir": tempfile.gettempdir()}, "site": SITE,
                    "mqtt": {"host": "127.0.0.1"},
                    "device": [{"name": DEVICE, "driver": "serial-scanner", "port": "/dev/null",
                                "biz_step": "receiving", "disposition": "in_progress", "dedupe_ms": 0}]})
    capture = _Capture()
    pipeline = Pipeline(config, capture)  # type: ignore[arg-type]
    pipeline.on_reads([Read(DEVICE, "serial-scanner", "barcode", text) for text in unique_labels(count, seed)])
    return [record for stream, record, _ in capture.records if stream == "events"]


def event_payloads(count: int, seed: int = 7) -> list[bytes]:
    """Those events serialised as the outbox stores and publishes them (with a realistic tally:seq)."""
    out = []
    for seq, record in enumerate(event_records(count, seed), 1):
        record["tally:seq"] = 1_000_000 + seq
        out.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
    return out


def write_payload_file(path: Path, payloads: Iterable[bytes]) -> Path:
    """One payload per line (JSON never contains a raw newline)."""
    with open(path, "wb") as fh:
        for payload in payloads:
            fh.write(payload + b"\n")
    return path


def size_summary(payloads: list[bytes]) -> dict[str, int]:
    sizes = [len(p) for p in payloads]
    return {"min": min(sizes), "mean": round(sum(sizes) / len(sizes)), "max": max(sizes)}


# ---- the gateway's config ------------------------------------------------------------------------

def gateway_config(path: Path, *, broker_port: int, data_dir: Path, devices: list[dict[str, Any]] = (),
                   outbox: dict[str, Any] | None = None, mqtt: dict[str, Any] | None = None,
                   status: dict[str, Any] | None = None, log_level: str = "info", raw: str = "") -> Path:
    """A gateway config (tests.helpers' writer); the status server is off unless `status` says otherwise."""
    from tests.helpers.gateway import write_config

    extra: dict[str, dict[str, Any]] = {"gateway": {"log_level": log_level}}
    if outbox:
        extra["outbox"] = outbox
    if status:
        extra["status"] = status
    return write_config(path, broker_port=broker_port, data_dir=data_dir, devices=list(devices),
                        gateway_id=GATEWAY_ID, extra=extra, mqtt=mqtt, raw=raw)


def scanner_device(port: str, **more: Any) -> dict[str, Any]:
    return {"name": DEVICE, "driver": "serial-scanner", "port": port, "biz_step": "receiving",
            "disposition": "in_progress", "dedupe_ms": 0, **more}


def wait_until(predicate, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


class JsonLines:
    """JSON lines a child prints on stdout, one `next()` at a time (never blocking past a timeout)."""

    def __init__(self, proc: subprocess.Popen):
        assert proc.stdout is not None
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.buf = b""

    def next(self, timeout: float) -> dict[str, Any]:
        import select

        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no JSON line from pid {self.proc.pid} within {timeout:.0f}s")
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise RuntimeError(f"pid {self.proc.pid} closed stdout (exit {self.proc.poll()})")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def machine() -> dict[str, Any]:
    import platform

    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("model name", "Model")):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "kernel": platform.release(), "load_1m": round(os.getloadavg()[0], 2)}


# ---- the daemon as a child -----------------------------------------------------------------------

#: "NAME=FILE": gateway modules the harness-run daemons load from other files (run.py --gateway-module)
HARNESS_MODULES: list[str] = []


class Gateway:
    """The daemon in a child process: `tally run` itself, or benchmarks/daemon_harness.py (same code path
    plus tracing / in-process feeding). Logs go to a file; stdout (harness JSON lines) to a pipe."""

    def __init__(self, config: Path, log: Path, *, harness: list[str] | None = None,
                 env: dict[str, str] | None = None, stdin: bool = False):
        self.config = config
        self.log_path = log
        if harness is None:
            argv = [PYTHON, "-m", "gateway", "run", "-c", str(config)]
        else:
            argv = [PYTHON, str(BENCH / "daemon_harness.py"), "-c", str(config), *harness]
            argv += [arg for module in HARNESS_MODULES for arg in ("--module", module)]
        self._log = open(log, "ab")
        self.t_exec = time.monotonic()
        self.proc = spawn(argv, stdout=subprocess.PIPE, stderr=self._log, env=env or {},
                          stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)
        self.lines = JsonLines(self.proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def status(self) -> dict[str, Any]:
        from gateway import status_file
        from gateway.config import load

        path = status_file.find(load(self.config))
        try:
            if path is None:
                return {}
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    def wait_log(self, text: str, timeout: float) -> bool:
        return wait_until(lambda: text in self.log() or self.proc.poll() is not None, timeout, 0.01) and \
            text in self.log()

    def wait_connected(self, timeout: float = 20.0) -> None:
        """Until status.json says the broker link is up (written once a second)."""
        ok = wait_until(lambda: (self.status().get("broker") or {}).get("state") == "connected"
                        or self.proc.poll() is not None, timeout, 0.05)
        if not ok or self.proc.poll() is not None:
            raise RuntimeError(f"gateway never connected:\n{self.log()[-2000:]}")

    def go(self) -> None:
        """Tell a harness started with --wait-go to start feeding."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def stop(self) -> int | None:
        code = stop(self.proc)
        self._log.close()
        return code


VARIANT_HELP = "NAME or NAME=module:FILE,module:FILE (gateway modules to replace)"


def parse_variants(specs: list[str]) -> dict[str, list[str]]:
    """`--variant` values of the A/B benchmarks -> {name: ["module=FILE", ...]} (daemon_harness --module)."""
    variants = {}
    for spec in specs or ["current"]:
        name, _, mods = spec.partition("=")
        variants[name] = [f"{m.split(':', 1)[0]}={m.split(':', 1)[1]}" for m in mods.split(",") if m]
    return variants
