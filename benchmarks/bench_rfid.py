"""RFID: 2,000 tag reads/s over LLRP into the gateway, and the daemon's CPU for them.

simulators.llrp_reader plays a steady tag population (TagPopulation: 100 SGTIN-96 tags seen by 4
antennas) at `--rfid-rate` reads/s on a loopback port; the real daemon (`tally run`) reads it with
the llrp driver (its defaults: one RO_ACCESS_REPORT per tag read) in 1 s read cycles. Over
`--rfid-seconds`, after a 2 s warm-up: reads the reader made (simulator counter), reads the
daemon took in (status.json device counter, time-stamped), cycle events published, and the
daemon's CPU from /proc/PID/stat. Target: <= 30% of a core at 2,000 reads/s.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_throughput import counter
from common import CpuMeter, Gateway, gateway_config, stop

DEVICE = "door-1-portal"


def device_reads(status: dict[str, Any]) -> tuple[float, int] | None:
    for device in status.get("devices", []):
        if device.get("name") == DEVICE:
            return status.get("time", 0.0), int(device.get("reads") or 0)
    return None


def fresh_status(gw: Gateway, after: float, timeout: float = 5.0) -> dict[str, Any]:
    """The first status.json written after wall time `after` (rewritten on change, at least every 5 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = gw.status()
        if status.get("time", 0) > after:
            return status
        time.sleep(0.05)
    return gw.status()


def run(opts: Any, broker: Any) -> dict[str, Any]:
    import drivers

    try:
        drivers.load("llrp")
        from simulators.llrp_reader import LlrpReaderSimulator, TagPopulation
    except Exception as exc:
        return {"skipped": f"the LLRP driver or reader simulator is not there yet: {exc}"}
    tmp = Path(tempfile.mkdtemp(prefix="tally-bench-rfid-"))
    rate, seconds = opts.rfid_rate, opts.rfid_seconds
    try:
        with LlrpReaderSimulator(scenario=TagPopulation(count=100), rate=rate) as reader:
            config = gateway_config(tmp / "tally.toml", broker_port=broker.port, data_dir=tmp / "data", devices=[
                {"name": DEVICE, "driver": "llrp", "host": "127.0.0.1", "port": reader.port, "cycle_ms": 1000}])
            gw = Gateway(config, tmp / "gateway.log")
            sub = None
            try:
                if not gw.wait_log(f"{DEVICE}: open", 20):
                    raise RuntimeError(f"reader never opened:\n{gw.log()[-2000:]}")
                gw.wait_connected()
                # counts cycle events until shortly after the measurement window closes
                sub, lines = counter(broker.port, 1 << 30, idle=seconds + 10, deadline=seconds + 3.5)
                time.sleep(2.0)
                first = device_reads(fresh_status(gw, time.time()))
                sim0 = reader.stats["tag_reads"]
                cpu = CpuMeter(gw.pid).start()
                time.sleep(seconds)
                usage = cpu.stop()
                sim1 = reader.stats["tag_reads"]
                last = device_reads(fresh_status(gw, time.time()))
                status = gw.status()
                events = lines.next(15)["received"]
            finally:
                stop(sub)
                gw.stop()
    finally:
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    took = (last[1] - first[1]) / (last[0] - first[0]) if first and last and last[0] > first[0] else None
    out = {"reader_rate_asked": rate, "reader_reads_per_s": round((sim1 - sim0) / usage["wall_s"]),
           "daemon_reads_per_s": round(took) if took else None, "cycle_events_published": events,
           "daemon_cpu_pct_of_core": usage["cpu_pct_of_core"], "measured_s": usage["wall_s"],
           "rfid_status": status.get("rfid"), "counters": status.get("counters")}
    cpu_pct = usage["cpu_pct_of_core"]
    out["table"] = [
        ("reader reads/s (daemon took in)", f"{out['reader_reads_per_s']} ({out['daemon_reads_per_s']})",
         f"asked {rate:g}/s", None),
        ("daemon CPU, % of a core", cpu_pct, "<= 30", cpu_pct <= 30),
        ("cycle events published", events, f"1 s cycles over {seconds:g} s", None),
    ]
    return out
