"""What a vehicle carries, so that arriving at or leaving a geofence says *which shipments* moved.

Learnt from the events the vehicle's own scanners emit: an event with bizStep `loading`
puts its identities on board, `unloading` takes them off. At a geofence crossing the
cargo becomes one ObjectEvent (bizStep `arriving` / `departing`, CBV 2.0) at the fence's
read point and business location (split into several events when it is large: see
gateway/event_split.py). The cargo is saved with the scans that changed it (the outbox's
state table, via `on_change`), so a restart or a reload knows what is on board.

Bounded: a vehicle that is loaded and never unloaded (a missing unloading scanner) must not
grow without end. Past `max_items` the oldest entries are forgotten and counted.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

LOADING = {"loading"}
UNLOADING = {"unloading"}


MAX_ITEMS = 20_000


class Cargo:
    def __init__(self, max_items: int = MAX_ITEMS, on_change: Callable[["Cargo"], None] | None = None) -> None:
        self.epcs: dict[str, None] = {}   # ordered set
        self.classes: dict[str, float] = {}
        self.max_items = max_items
        self.forgotten = 0
        self.on_change = on_change

    def record(self) -> dict[str, Any]:
        return {"epcs": list(self.epcs), "classes": self.classes}

    def restore(self, saved: Any) -> None:
        if isinstance(saved, dict):
            self.epcs = dict.fromkeys(str(e) for e in saved.get("epcs") or [])
            self.classes = {str(k): float(v) for k, v in (saved.get("classes") or {}).items()}

    def observe(self, event: Mapping[str, Any]) -> None:
        step = event.get("bizStep")
        if event.get("type") != "ObjectEvent" or step not in LOADING | UNLOADING:
            return
        load = step in LOADING
        for epc in event.get("epcList", ()):
            if load:
                self.epcs[epc] = None
            else:
                self.epcs.pop(epc, None)
        for q in event.get("quantityList", ()):
            cls, qty = q["epcClass"], q.get("quantity", 1)
            left = self.classes.get(cls, 0) + (qty if load else -qty)
            if left > 0:
                self.classes[cls] = left
            else:
                self.classes.pop(cls, None)
        while len(self.epcs) + len(self.classes) > self.max_items:
            if self.epcs:
                self.epcs.pop(next(iter(self.epcs)))
            else:
                self.classes.pop(next(iter(self.classes)))
            self.forgotten += 1
        if self.on_change is not None:
            self.on_change(self)

    @property
    def empty(self) -> bool:
        return not self.epcs and not self.classes

    def status(self) -> dict[str, Any]:
        return {"units": len(self.epcs), "classes": len(self.classes), "forgotten": self.forgotten}
