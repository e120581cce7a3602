"""CycleEngine: one RFID device's reads → read cycles per read point → CycleReports.

Timed mode: a cycle opens at the first read after a quiet spell and closes `cycle_ms` later; while
tags keep coming, cycles run back to back, and one more cycle follows the last busy one so that
tags that left show up as deletions. Triggered mode: trigger(True) opens a cycle, trigger(False)
closes it (or `cycle_ms` does, if set, and a new one opens while the trigger stays on); reads
outside a cycle are counted and ignored. A report is made when a cycle saw tags or lost some
(or always, with report_empty_cycles).

All times are the caller's clock (seconds); pass the same one to add/tick/trigger.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from gateway.decode.epc import decode_epc

from .config import CycleConfig
from .cycle import ReadCycle
from .report import CycleReport
from .tag_read import TagRead

DECODE_CACHE = 65_536


class _Every:
    def __repr__(self) -> str:
        return "EVERY_READ_POINT"


#: trigger() target meaning all read points of the device (None is a read point: "no URI")
EVERY_READ_POINT = _Every()


@dataclass
class _Point:
    cycle: ReadCycle | None = None
    previous: frozenset[str] = frozenset()
    sequence: int = 0
    trigger_on: bool = False


@dataclass(frozen=True, slots=True)
class _Identity:
    identity: str | None
    scheme: str | None
    company_prefix: str | None


class CycleEngine:
    def __init__(self, config: CycleConfig, default_read_point: str | None = None):
        if len(config.door_read_points(default_read_point, include_default=True)) > 1:
            raise ValueError("antenna_read_points: a door's inside and outside antennas must share one read point "
                             "(map them all, or none, to the device's read point)")
        self.config = config
        self.default_read_point = default_read_point
        self._points: dict[str | None, _Point] = {}
        self._decoded: OrderedDict[str, _Identity] = OrderedDict()
        self.stats = {k: 0 for k in ("reads", "accepted", "below_rssi", "filtered", "undecodable", "outside_cycle",
                                     "overflow", "cycles", "reports")}
        for point in self.read_points:
            self._point(point)

    # --- what the pipeline calls -----------------------------------------------------------------

    @property
    def read_points(self) -> list[str | None]:
        points = [self.default_read_point] + list(self.config.antenna_read_points.values())
        return list(dict.fromkeys(points))

    def read_point_of(self, antenna: int | None) -> str | None:
        if antenna is None:
            return self.default_read_point
        return self.config.antenna_read_points.get(antenna, self.default_read_point)

    def add(self, read: TagRead) -> list[CycleReport]:
        reports = self.tick(read.time)
        self.stats["reads"] += 1
        config = self.config
        if config.rssi_min is not None and read.rssi is not None and read.rssi < config.rssi_min:
            self.stats["below_rssi"] += 1
            return reports
        ident = self._identify(read.epc)
        if ident.identity is None:
            self.stats["undecodable"] += 1
            return reports
        if not self._wanted(ident):
            self.stats["filtered"] += 1
            return reports
        point_key = self.read_point_of(read.antenna)
        point = self._point(point_key)
        if point.cycle is None:
            if config.mode != "timed":
                self.stats["outside_cycle"] += 1
                return reports
            point.cycle = self._open(point_key, read.time)
        if point.cycle.add(read, ident.identity, ident.scheme):
            self.stats["accepted"] += 1
        else:
            self.stats["overflow"] += 1
        return reports

    def tick(self, now: float) -> list[CycleReport]:
        """Close every cycle whose time is up (call at next_deadline() or periodically)."""
        reports: list[CycleReport] = []
        timed = self.config.mode == "timed"
        for key, point in self._points.items():
            while point.cycle is not None and now >= point.cycle.deadline:
                end = point.cycle.deadline
                saw_tags = bool(point.cycle.tags)
                report = self._close(point, end, "timer" if timed else "timeout")
                if report is not None:
                    reports.append(report)
                if timed and (saw_tags or self.config.report_empty_cycles):
                    start = end
                    length = self.config.cycle_ms / 1000.0
                    if self.config.report_empty_cycles and now >= end + 2 * length:
                        start = now - (now - end) % length  # after a long gap, skip the windows nobody saw
                    point.cycle = self._open(key, start)
                elif not timed and point.trigger_on:
                    point.cycle = self._open(key, end)
        return reports

    def trigger(self, on: bool, now: float, read_point: str | None | _Every = EVERY_READ_POINT) -> list[CycleReport]:
        """A door sensor / GPI edge: True opens a cycle, False closes it, for one read point
        (default: every read point of this device)."""
        reports = self.tick(now)
        keys = self.read_points if isinstance(read_point, _Every) else [read_point]
        for key in keys:
            point = self._point(key)
            point.trigger_on = on
            if on and point.cycle is None:
                point.cycle = self._open(key, now)
            elif not on and point.cycle is not None:
                report = self._close(point, now, "trigger")
                if report is not None:
                    reports.append(report)
        return reports

    def flush(self, now: float) -> list[CycleReport]:
        """Close every open cycle now (shutdown, reconfiguration)."""
        reports = self.tick(now)
        for point in self._points.values():
            if point.cycle is not None:
                report = self._close(point, max(now, point.cycle.started), "flush")
                if report is not None:
                    reports.append(report)
        return reports

    def next_deadline(self) -> float | None:
        deadlines = [p.cycle.deadline for p in self._points.values() if p.cycle is not None]
        finite = [d for d in deadlines if math.isfinite(d)]
        return min(finite) if finite else None

    def open_cycles(self) -> dict[str | None, int]:
        """Read point → distinct tags in its open cycle (for status pages)."""
        return {k: len(p.cycle.tags) for k, p in self._points.items() if p.cycle is not None}

    # --- internals --------------------------------------------------------------------------------

    def _point(self, key: str | None) -> _Point:
        point = self._points.get(key)
        if point is None:
            point = self._points[key] = _Point()
        return point

    def _open(self, key: str | None, start: float) -> ReadCycle:
        length = self.config.cycle_ms / 1000.0
        deadline = start + length if length > 0 else math.inf
        self.stats["cycles"] += 1
        return ReadCycle(key, start, deadline, self.config.inside_antennas, self.config.outside_antennas,
                         self.config.max_tags)

    def _close(self, point: _Point, ended: float, reason: str) -> CycleReport | None:
        cycle = point.cycle
        point.cycle = None
        assert cycle is not None
        report = cycle.close(ended, reason, point.sequence + 1, point.previous)
        point.previous = frozenset(t.identity for t in report.tags)
        if not (report.tags or report.deletions or self.config.report_empty_cycles):
            return None
        point.sequence += 1
        self.stats["reports"] += 1
        return report

    def _identify(self, epc: str) -> _Identity:
        cached = self._decoded.get(epc)
        if cached is not None:
            self._decoded.move_to_end(epc)
            return cached
        decoded = decode_epc(epc)
        if decoded["valid"]:
            ident = _Identity(decoded["identity"], decoded.get("scheme"), decoded.get("company_prefix"))
        elif self.config.keep_undecodable and decoded.get("raw_uri"):
            ident = _Identity(decoded["raw_uri"], None, None)
        else:
            ident = _Identity(None, None, None)
        self._decoded[epc] = ident
        if len(self._decoded) > DECODE_CACHE:
            self._decoded.popitem(last=False)
        return ident

    def _wanted(self, ident: _Identity) -> bool:
        schemes = self.config.epc_schemes
        if schemes:
            scheme = ident.scheme
            if scheme is None or (scheme not in schemes and scheme.split("-")[0] not in schemes):
                return False
        prefixes = self.config.company_prefixes
        return not prefixes or ident.company_prefix in prefixes


__all__ = ["EVERY_READ_POINT", "CycleEngine"]
