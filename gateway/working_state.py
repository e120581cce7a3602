"""The pipeline's working state, kept apart from the pipeline so a reload (SIGHUP) does not lose it.

One object, owned by the daemon, handed to every Pipeline it builds: device modes set by mode
barcodes or remote `set-mode`, open packing sessions, double-scan windows, counters, and the
state of the parts (a vehicle's cargo, RFID read-cycle history, GPS fix and geofences). What must
outlive a restart too (open packing sessions, cargo) is written to the outbox's `state` table in
the same commits as the events, so it is exactly as durable as the scans it was learnt from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from .dock import DoubleScanFilter, PackingSession
from .events import Where

T = TypeVar("T")

COUNTERS = ("reads", "events", "rejects", "duplicates", "modes", "aggregations", "not_accepted", "unexpected",
            "split_events")


@dataclass
class WorkingState:
    overrides: dict[str, Where] = field(default_factory=dict)
    sessions: dict[str, PackingSession] = field(default_factory=dict)
    filters: dict[str, DoubleScanFilter] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=lambda: {k: 0 for k in COUNTERS})
    last_event: dict[str, Any] | None = None
    parts: dict[str, Any] = field(default_factory=dict)

    def part(self, key: str, make: Callable[[], T], same: Callable[[T], bool] = lambda _: True) -> T:
        """The part kept under `key` if it is still the same (config unchanged), else a new one."""
        current = self.parts.get(key)
        if current is None or not same(current):
            current = self.parts[key] = make()
        return current

    def filter_for(self, device: str, window_s: float) -> DoubleScanFilter:
        """A device's double-scan window, kept across reloads (its recent labels with it)."""
        current = self.filters.get(device)
        if current is None:
            current = self.filters[device] = DoubleScanFilter(window_s)
        current.window_s = window_s
        return current

    # ---- what survives a restart ---------------------------------------------------------------

    def sessions_record(self) -> dict[str, Any]:
        return {device: {"started": s.started, "parent": s.parent, "epcs": s.epcs, "classes": s.classes}
                for device, s in self.sessions.items()}

    def restore_sessions(self, saved: Any) -> None:
        if not isinstance(saved, dict):
            return
        for device, s in saved.items():
            try:
                self.sessions[device] = PackingSession(started=float(s["started"]), parent=s.get("parent"),
                                                       epcs=list(s.get("epcs") or []),
                                                       classes={str(k): float(v) for k, v in
                                                                (s.get("classes") or {}).items()})
            except (KeyError, TypeError, ValueError):
                continue  # a session saved by an older version that we cannot read: it was only in progress
