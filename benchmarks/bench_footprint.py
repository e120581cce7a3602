"""Footprint: RSS, start to ready, idle CPU of `tally run` with a dock door's devices (no camera).

Configured: the status server (on by default: health, metrics, page) on a free loopback port, the
serial scanner (pty simulator), and whatever of the LLRP reader (simulators.llrp_reader on a
loopback port, no tags in the field) and the NMEA GPS (simulators.gps on a pty, 1 Hz) the tree has
drivers for (`drivers.load`). Start to ready = exec to READY=1 on a NOTIFY_SOCKET this benchmark
listens on (a unix datagram socket, as systemd's), also to each device's "open" log line and to the
broker link being up. RSS = VmRSS after a settle; idle CPU = /proc/PID/stat utime+stime over
`--idle-seconds` with the GPS still streaming and no scans, with wakeups/s (voluntary context
switches of all threads), for three gateways idling side by side in the same window: all of the
above, a vehicle's (scanner + GPS, moving: a position every 5 s) and a scanner-only one. An LLRP
reader with timed cycles makes the main loop tick 10 times a second (gateway/rfid), so "all of
the above" costs more than the vehicle. For a before/after of code changes, `idle_ab.py`.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from common import DEVICE, GATEWAY_ID, CpuMeter, Gateway, gateway_config, rss_kb, scanner_device


def available(driver: str) -> str | None:
    """None when the driver loads, else why not."""
    import drivers

    try:
        drivers.load(driver)
        return None
    except Exception as exc:  # UnknownDriver, or a half-written module
        return f"{exc.__class__.__name__}: {exc}"


def devices(stack: ExitStack, tmp: Path, which: set[str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    from simulators.serial_scanner import SerialScannerSimulator

    configured: dict[str, str] = {}
    scanner = stack.enter_context(SerialScannerSimulator(str(tmp / "scanner")))
    out = [scanner_device(scanner.path)]
    configured[DEVICE] = "serial-scanner on a pty"
    if "llrp" in which:
        from simulators.llrp_reader import LlrpReaderSimulator, Mix

        reader = stack.enter_context(LlrpReaderSimulator(scenario=Mix(()), rate=0.0))
        out.append({"name": "door-1-portal", "driver": "llrp", "host": "127.0.0.1", "port": reader.port,
                    "cycle_ms": 1000, "outside_antennas": [1], "inside_antennas": [2]})
        configured["door-1-portal"] = "llrp reader simulator, no tags in the field"
    if "nmea" in which:
        from simulators.gps import GpsSimulator

        gps = GpsSimulator(str(tmp / "gps"), rate_hz=1.0, seed=1).start()
        stack.callback(gps.stop)
        out.append({"name": "yard-gps", "driver": "nmea", "port": gps.path})
        configured["yard-gps"] = "nmea GPS simulator on a pty, 1 Hz"
    return out, configured


def notify_socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.05)
    return sock


class Started:
    """One gateway started and up: what its start took. `finish()` reads RSS and status and stops it."""

    def __init__(self, stack: ExitStack, port: int, tmp: Path, which: set[str], gateway_id: str = GATEWAY_ID):
        tmp.mkdir(parents=True, exist_ok=True)
        self.stack = ExitStack()
        stack.callback(self.stack.close)  # reverse order: the gateway goes before its devices
        devs, self.configured = devices(self.stack, tmp, which)
        from gateway.broker import free_port

        # The status server on, as by default (health, metrics, page), on a free loopback port.
        config = gateway_config(tmp / "tally.toml", broker_port=port, data_dir=tmp / "data", devices=devs,
                                status={"listen": f"127.0.0.1:{free_port()}"})
        # Gateways side by side on one broker each need their own id, or they take each other's session.
        config.write_text(config.read_text().replace(f'id = "{GATEWAY_ID}"', f'id = "{gateway_id}"'))
        sock = notify_socket(tmp / "notify")
        self.stack.callback(sock.close)
        self.gw = gw = Gateway(config, tmp / "gateway.log", env={"NOTIFY_SOCKET": str(tmp / "notify")})
        self.stack.callback(self.stop)
        self.code: int | None = None
        ready = None
        deadline = time.monotonic() + 30
        while ready is None and time.monotonic() < deadline and gw.proc.poll() is None:
            try:
                message = sock.recv(4096).decode()
            except socket.timeout:
                continue
            if "READY=1" in message.split("\n"):
                ready = time.monotonic() - gw.t_exec
        self.ready = ready
        self.opened = sorted(name for name in self.configured if gw.wait_log(f"{name}: open", 15))
        self.t_open = time.monotonic() - gw.t_exec
        gw.wait_connected(20)
        self.t_connected = time.monotonic() - gw.t_exec

    def stop(self) -> None:
        if self.code is None and self.gw.proc.returncode is None:
            self.code = self.gw.stop()

    def finish(self, idle: dict[str, Any] | None) -> dict[str, Any]:
        gw = self.gw
        rss = rss_kb(gw.pid)
        status = gw.status()
        with open(f"/proc/{gw.pid}/status") as fh:
            hwm = next((int(line.split()[1]) for line in fh if line.startswith("VmHWM:")), None)
        threads = len(os.listdir(f"/proc/{gw.pid}/task"))
        self.stack.close()
        ready = self.ready
        out = {"configured": self.configured, "opened": self.opened,
               "start_to_ready_s": round(ready, 3) if ready else None,
               "start_to_devices_open_s": round(self.t_open, 3), "start_to_broker_s": round(self.t_connected, 3),
               "rss_mb": round(rss / 1024, 1) if rss else None, "peak_rss_mb": round(hwm / 1024, 1) if hwm else None,
               "threads": threads, "exit_code": self.code, "counters": status.get("counters"),
               "device_states": {d["name"]: d["state"] for d in status.get("devices", [])}}
        if idle is not None:
            out.update(idle_cpu_pct_of_core=idle["cpu_pct_of_core"], idle_s=idle["wall_s"],
                       idle_wakeups_per_s=idle["wakeups_per_s"])
        return out


def wakeups(pid: int) -> int:
    """Voluntary context switches of every thread of `pid`: how often it went to sleep and woke."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("voluntary_ctxt_switches"))
        except (OSError, StopIteration):
            pass  # a thread that ended meanwhile
    return total


def idle_together(started: dict[str, Started], idle_s: float) -> dict[str, dict[str, Any]]:
    """CPU and wakeups of each gateway over the same `idle_s` window: a busy neighbour costs all alike."""
    time.sleep(2.0)  # settle: first GPS fixes, LLRP set-up done
    meters = {name: (CpuMeter(s.gw.pid).start(), wakeups(s.gw.pid)) for name, s in started.items()}
    time.sleep(idle_s)
    out = {}
    for name, (meter, woke) in meters.items():
        idle = meter.stop()
        idle["wakeups_per_s"] = round((wakeups(started[name].gw.pid) - woke) / idle["wall_s"], 1)
        out[name] = idle
    return out


def run(opts: Any, broker: Any) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="tally-bench-footprint-"))
    missing = {d: why for d in ("llrp", "nmea") if (why := available(d))}
    which = {"llrp", "nmea"} - set(missing)
    out: dict[str, Any] = {"not_configured": missing}
    try:
        # Three gateways started one after the other, then idling together: the dock door with
        # everything (its start is the first timed start), a vehicle (scanner + GPS) and a scanner.
        with ExitStack() as stack:
            started = {"all": Started(stack, broker.port, tmp / "start0", which),
                       "vehicle": Started(stack, broker.port, tmp / "vehicle", which & {"nmea"}, "bench-vehicle"),
                       "scanner_only": Started(stack, broker.port, tmp / "scanner-only", set(), "bench-scanner")}
            idle = idle_together(started, opts.idle_seconds)
            first, vehicle, scanner_only = (started[k].finish(idle[k]) for k in ("all", "vehicle", "scanner_only"))
        starts = [first]
        for i in range(1, opts.starts):
            with ExitStack() as stack:
                starts.append(Started(stack, broker.port, tmp / f"start{i}", which).finish(None))
    finally:
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    readies = [s["start_to_ready_s"] for s in starts if s["start_to_ready_s"]]
    out.update(first)
    out["starts"] = [{k: s[k] for k in ("start_to_ready_s", "start_to_devices_open_s", "start_to_broker_s", "rss_mb")}
                     for s in starts]
    out["start_to_ready_s_median"] = round(statistics.median(readies), 3) if readies else None
    out["start_to_ready_s_max"] = max(readies) if readies else None
    out["rss_mb_max"] = max(s["rss_mb"] for s in starts if s["rss_mb"])
    keep = ("rss_mb", "start_to_ready_s", "threads", "idle_cpu_pct_of_core", "idle_wakeups_per_s")
    out["vehicle"] = {"configured": vehicle["configured"], **{k: vehicle[k] for k in keep}}
    out["scanner_only"] = {k: scanner_only[k] for k in keep}
    ready_max = out["start_to_ready_s_max"]

    def idle_row(label: str, s: dict[str, Any]) -> tuple[str, Any, str, bool]:
        return (label, s["idle_cpu_pct_of_core"], f"<= 0.5 over {first['idle_s']} s; {s['idle_wakeups_per_s']} "
                "wakeups/s", s["idle_cpu_pct_of_core"] <= 0.5)

    out["table"] = [
        ("configured", ", ".join(sorted(first["configured"])), "not: " + (", ".join(missing) or "-"), None),
        ("RSS, MB", out["rss_mb_max"], f"<= 45 (scanner only: {scanner_only['rss_mb']})", out["rss_mb_max"] <= 45),
        ("start to READY=1, s (median / max)", f"{out['start_to_ready_s_median']} / {ready_max}",
         f"<= 1.5 over {len(readies)} starts", ready_max is not None and ready_max <= 1.5),
        ("start to devices open / broker, s", f"{first['start_to_devices_open_s']} / {first['start_to_broker_s']}",
         "first start", None),
        idle_row("idle CPU, % of a core, all of the above (GPS streaming at 1 Hz)", first),
        idle_row("idle CPU, vehicle: scanner + GPS at 1 Hz", vehicle),
        idle_row("idle CPU, scanner only, % of a core", scanner_only),
    ]
    return out
