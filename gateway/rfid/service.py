"""The RFID part of the gateway: tag reads -> read cycles -> one EPCIS ObjectEvent per cycle.

Runs on the pipeline's loop. Each RFID device gets its own CycleEngine (config from the
device's cycle keys); the daemon ticks the engines, so a timed cycle closes on time even
when no more tags arrive, and open cycles are flushed into events on a clean stop.

A tag read is accepted, like a scan, when the event of its cycle is committed: until the
cycle closes (cycle_ms, default 1 s) it exists only in memory.

Event per cycle (CBV 2.0): action OBSERVE, epcList = the pure identities seen in order of
first sighting, eventTime = the cycle's end, readPoint = the antenna's read point (or the
device's), bizStep = the door direction when inside/outside antennas are configured
(receiving | shipping), else the device's or mode's. Extensions: `tally:cycle`
{sequence, started, reads, reason}, `tally:additions`, `tally:deletions` (against the
previous cycle of the same read point) and `tally:direction`. A cycle that saw no tag is
reported only with `report_empty_cycles` (then its epcList is empty and its deletions say
what left).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any, Callable

from drivers.base import Read
from gateway import events
from gateway.events import iso_time
from gateway.pipeline import Extension

from .config import CycleConfig
from .engine import CycleEngine
from .report import RECEIVING, SHIPPING, CycleReport
from .tag_read import tag_read_from

log = logging.getLogger("tally.rfid")


class RfidService:
    """Built per config; `engines` may come from the previous build (a reload keeps cycle history)."""

    def __init__(self, config: Any, engines: dict[str, CycleEngine] | None = None,
                 wake_by: Callable[[float], None] | None = None):
        previous = engines or {}
        #: asks the main loop to tick by a time: cycles end on time, without polling for their ends
        self.wake_by = wake_by or (lambda when: None)
        self.engines: dict[str, CycleEngine] = {}
        site_read_point = config.site.get("read_point")
        for device in config.devices:
            if "cycle_mode" in device.settings and device.enabled:  # an RFID device (content "epc")
                cycle = CycleConfig.from_settings(device.settings)
                read_point = device.read_point or site_read_point
                kept = previous.get(device.name)
                if kept is not None and kept.config == cycle and kept.default_read_point == read_point:
                    self.engines[device.name] = kept  # its previous cycles: additions stay additions
                else:
                    self.engines[device.name] = CycleEngine(cycle, default_read_point=read_point)
        self.counters = {"cycles": 0, "events": 0, "empty": 0}
        self.pipeline: Any = None

    def extension(self) -> Extension:
        return Extension(handlers={"epc": self.on_tag, "trigger": self.on_trigger})

    def bind(self, pipeline: Any) -> None:
        """The pipeline that timed cycles are emitted into (ticks have no read to carry it)."""
        self.pipeline = pipeline

    def on_tag(self, pipeline: Any, read: Read) -> None:
        self.pipeline = pipeline
        engine = self.engines.get(read.device)
        if engine is None:
            pipeline.reject(read, "tag read from a device without read-cycle settings")
            return
        self.emit(read.device, engine.add(tag_read_from(read)))
        self._schedule(engine)

    def on_trigger(self, pipeline: Any, read: Read) -> None:
        """A door sensor or reader GPI: meta {"on": bool, "read_point"?: uri}; opens/closes cycles."""
        for device, engine in self.engines.items():
            target = read.meta.get("devices")
            if target and device not in target:
                continue
            self.emit(device, engine.trigger(bool(read.meta.get("on")), read.wall))
            self._schedule(engine)

    def _schedule(self, engine: CycleEngine) -> None:
        deadline = engine.next_deadline()
        if deadline is not None:
            self.wake_by(deadline)

    def next_due(self) -> float | None:
        """The earliest end of an open timed cycle (wall clock), for the main loop's sleep."""
        deadlines = [d for d in (e.next_deadline() for e in self.engines.values()) if d is not None]
        return min(deadlines) if deadlines else None

    def tick(self, now: float) -> None:
        for device, engine in self.engines.items():
            self.emit(device, engine.tick(now))

    def flush(self) -> None:
        now = time.time()
        for device, engine in self.engines.items():
            self.emit(device, engine.flush(now))

    def emit(self, device: str, reports: list[CycleReport]) -> None:
        for report in reports:
            self.counters["cycles"] += 1
            if not report.tags and not self.engines[device].config.report_empty_cycles:
                self.counters["empty"] += 1
                continue
            self.pipeline.emit(self.event(device, report), device)
            self.counters["events"] += 1

    def event(self, device: str, report: CycleReport) -> dict[str, Any]:
        where = self.pipeline.where(device)
        if report.read_point:
            where = replace(where, read_point=report.read_point)
        if report.direction in (RECEIVING, SHIPPING):
            where = replace(where, biz_step=report.direction)
        wall, time_ext = self.pipeline.event_wall(report.ended)
        ext: dict[str, Any] = {
            "gateway": self.pipeline.config.gateway_id, "device": device,
            "cycle": {"sequence": report.sequence, "started": iso_time(report.started), "reads": report.reads,
                      "reason": report.reason},
            "additions": list(report.additions), "deletions": list(report.deletions),
            "direction": report.direction, **time_ext,
        }
        return events.object_event(wall=wall, where=where, epcs=report.epc_list, extensions=ext)

    def status(self) -> dict[str, Any]:
        return {"counters": dict(self.counters),
                "open_cycles": {d: {str(k): v for k, v in e.open_cycles().items()} for d, e in self.engines.items()},
                "engines": {d: dict(e.stats) for d, e in self.engines.items()}}
