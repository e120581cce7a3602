"""What a vehicle carries, so that arriving at or leaving a geofence says *which shipments* moved.

Learnt from the events the vehicle's own scanners emit: an event with bizStep `loading`
puts its identities on board, `unloading` takes them off. At a geofence crossing the
cargo becomes one ObjectEvent (bizStep `arriving` / `departing`, CBV 2.0) at the fence's
read point and business location. The cargo is in memory: after a restart the vehicle
knows it again as soon as its load is scanned; the scans themselves are never lost.
"""

from __future__ import annotations

from typing import Any, Mapping

LOADING = {"loading"}
UNLOADING = {"unloading"}


class Cargo:
    def __init__(self) -> None:
        self.epcs: dict[str, None] = {}   # ordered set
        self.classes: dict[str, float] = {}

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

    @property
    def empty(self) -> bool:
        return not self.epcs and not self.classes

    def status(self) -> dict[str, Any]:
        return {"units": len(self.epcs), "classes": len(self.classes)}
