"""One supervisor for every worker the daemon runs: the outbox writer, the MQTT thread, each device thread.

Each worker has a catch-all of its own (it counts, logs rate-limited and carries on); this is the
layer above, run from the main loop every tick: is each worker still turning (its heartbeat), and
if a thread died anyway, start it again. What it finds is the gateway's health, in one place:
`failing` reasons make /healthz 503 and stop the systemd watchdog pings (so systemd restarts a
gateway that cannot do its job); `warnings` mark it degraded (200, but said) — a broker refusing a
topic, a quarantined record, a device that keeps failing, another gateway with our id.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .ratelog import RateLimitedLog

if TYPE_CHECKING:
    from .daemon import Daemon

log = logging.getLogger("tally.supervisor")

WRITER_STALE = 10.0   # the writer turns at least once a second; this long silent is stuck
MQTT_STALE = 15.0     # the network thread turns at least once a second
DEVICE_STALE = 30.0   # a device read returns within its idle_wait (0.2-1 s); a driver stuck in I/O this long


@dataclass
class Health:
    failing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failing

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "degraded": bool(self.warnings), "reasons": list(self.failing),
                "warnings": list(self.warnings)}


class Supervisor:
    def __init__(self, daemon: "Daemon"):
        self.daemon = daemon
        self.restarts = {"mqtt": 0, "devices": 0}
        self.health = Health()
        self._log = RateLimitedLog(log, 60.0)

    def check(self, now: float | None = None) -> Health:
        """Run on the loop each tick: restart what died, and say how the gateway is."""
        now = time.monotonic() if now is None else now
        d = self.daemon
        failing: list[str] = []
        warnings: list[str] = []
        outbox = d.outbox
        if outbox is None or not outbox.alive:
            failing.append("the outbox is not open (or its writer thread has died)")
        else:
            if now - outbox.beat > WRITER_STALE:
                failing.append(f"the outbox writer has not turned for {now - outbox.beat:.0f}s")
            if outbox.failing:
                since = now - (outbox.failing_since or now)
                failing.append(f"outbox commits are failing for {since:.0f}s ({outbox.commit_failures} failures): "
                               f"{outbox.failing}; {outbox.held_count} records held in memory")
            elif outbox.held_count:
                warnings.append(f"the outbox is full ({outbox.bytes} of {outbox.limit_bytes} bytes the disk allows): "
                                f"{outbox.held_count} records wait in memory and devices are paused")
            if sum(outbox.drops.values()):
                warnings.append(f"records dropped since the outbox was created: {outbox.drops}")
            if sum(outbox.quarantined.values()):
                warnings.append(f"records in quarantine (the broker refused them for good): {outbox.quarantined}; "
                                "see `tally outbox list`")
        publisher = d.publisher
        if publisher is not None:
            if not publisher.thread_alive():
                self.restarts["mqtt"] += 1
                self._log("mqtt", logging.ERROR, "the MQTT thread died; starting it again")
                publisher.start()
            elif now - publisher.beat > MQTT_STALE:
                failing.append(f"the MQTT thread has not turned for {now - publisher.beat:.0f}s")
            warnings.extend(publisher.warnings())
        for runner in d.runners:
            state = runner.state
            if not runner.alive() and not runner.stopping:
                self.restarts["devices"] += 1
                self._log(f"device:{state.name}", logging.ERROR, "%s: its thread died; starting it again", state.name)
                runner.restart()
            elif state.state == "open" and not state.paused and now - runner.beat > DEVICE_STALE:
                warnings.append(f"device {state.name}: its driver has not returned from a read for "
                                f"{now - runner.beat:.0f}s")
            if state.errors and state.state == "reopening" and state.error and state.error.startswith("read failed"):
                warnings.append(f"device {state.name}: {state.error} ({state.errors} errors)")
        self.health = Health(failing, warnings)
        return self.health
