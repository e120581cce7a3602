"""RFID read cycles (the ALE idea): a flood of tag reads in, a few clean cycle reports out.

Pure logic, no I/O, time passed in. The pipeline turns each `CycleReport` into an EPCIS
ObjectEvent (action OBSERVE, epcList = the pure identity URIs of `report.tags`).

    engine = CycleEngine(CycleConfig.from_settings(device_settings), default_read_point=uri)
    reports = engine.add(tag_read_from(read))      # on every Read of content "epc"
    reports += engine.tick(time.time())            # at engine.next_deadline() or so
    reports += engine.trigger(True, now)           # door sensor / GPI edge (triggered mode)
"""

from __future__ import annotations

from .config import CYCLE_OPTIONS, CycleConfig
from .engine import EVERY_READ_POINT, CycleEngine
from .report import CycleReport, TagSummary
from .tag_read import TagRead, tag_read_from

__all__ = ["CYCLE_OPTIONS", "EVERY_READ_POINT", "CycleConfig", "CycleEngine", "CycleReport", "TagRead", "TagSummary", "tag_read_from"]
