"""Reads in, records out: decode, apply dock rules, build the EPCIS event, hand it to the outbox.

Runs on the asyncio loop only (device threads hand reads over with
call_soon_threadsafe), so the per-device state here — current mode, double-scan
windows, packing sessions — has exactly one owner and needs no locks.

Anything that cannot be understood becomes a *reject*: a record on the outbox's
`rejects` stream (published on `{root}/{id}/rejects`), durable like events, so no
scan is ever silently dropped and the central system never receives an EPCIS
event that names nothing.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Callable, Mapping

from drivers.base import Read

from . import events
from .config import Config, DeviceConfig
from .decode import decode, set_company_prefixes
from .dock import DoubleScanFilter, ModeBoard, PackingSession
from .events import Where, iso_time
from .outbox import Outbox

log = logging.getLogger("tally.pipeline")

#: content -> handler(pipeline, read); other parts of the gateway (RFID cycles, GPS) register here
Handler = Callable[["Pipeline", Read], None]


# A Pi has no real-time clock: before NTP has set it, the time is the last shutdown's or 1970.
NOT_BEFORE = 1_704_067_200.0  # 2024-01-01T00:00:00Z


def plain_event_wall(wall: float) -> tuple[float, Mapping[str, Any]]:
    """Without GPS: the system time, marked when it cannot be right (an event must not pass for 1970)."""
    return wall, ({} if wall >= NOT_BEFORE else {"clockSource": "unsynchronised"})


class Pipeline:
    def __init__(self, config: Config, outbox: Outbox):
        self.config = config
        self.outbox = outbox
        set_company_prefixes(config.gateway["company_prefixes"])
        self.devices: dict[str, DeviceConfig] = {d.name: d for d in config.devices}
        self.modes = ModeBoard(config.modes)
        self.overrides: dict[str, Where] = {}
        self.filters = {d.name: DoubleScanFilter(d.dedupe_ms / 1000.0) for d in config.devices}
        self.sessions: dict[str, PackingSession] = {}
        self.handlers: dict[str, Handler] = {"barcode": Pipeline.scan}
        #: where a vehicle is: () -> (geo read point or None, extension fields); set by the GPS part
        self.position: Callable[[], tuple[str | None, Mapping[str, Any]]] = lambda: (None, {})
        #: the business location of the geofence a vehicle is in, if any (set by the GPS part)
        self.fence_location: Callable[[], str | None] = lambda: None
        #: event time from a read's wall time (the GPS clock guard replaces it on vehicles without RTC)
        self.event_wall: Callable[[float], tuple[float, Mapping[str, Any]]] = plain_event_wall
        #: called with every event after it is handed to the outbox (e.g. a vehicle's cargo)
        self.observers: list[Callable[[dict[str, Any]], None]] = []
        self.counters = {"reads": 0, "events": 0, "rejects": 0, "duplicates": 0, "modes": 0, "aggregations": 0}
        self.last_event: dict[str, Any] | None = None

    # ---- entry point ---------------------------------------------------------------------

    def on_reads(self, reads: list[Read]) -> None:
        for read in reads:
            self.counters["reads"] += 1
            handler = self.handlers.get(read.content)
            try:
                if handler is None:
                    self.reject(read, f"no handler for {read.content!r} reads")
                else:
                    handler(self, read)
            except Exception as exc:  # one bad read must never take the others down
                log.exception("%s: could not process a read", read.device)
                self.reject(read, f"internal error: {exc.__class__.__name__}")

    # ---- context -------------------------------------------------------------------------

    def where(self, device: str) -> Where:
        cfg = self.devices.get(device)
        site = self.config.site
        base = Where(
            biz_step=cfg.biz_step if cfg else None,
            disposition=cfg.disposition if cfg else None,
            read_point=(cfg.read_point if cfg else None) or site.get("read_point"),
            biz_location=(cfg.biz_location if cfg else None) or self.fence_location() or site.get("biz_location"),
        )
        override = self.overrides.get(device)
        if override is not None:
            base = replace(base, biz_step=override.biz_step or base.biz_step,
                           disposition=override.disposition or base.disposition)
        if not base.read_point:
            # A vehicle has no fixed read point: where the GPS says it is, is where the read happened.
            geo, _ = self.position()
            if geo:
                base = replace(base, read_point=geo)
        return base

    def extensions(self, read: Read, **more: Any) -> dict[str, Any]:
        ext: dict[str, Any] = {"gateway": self.config.gateway_id, "device": read.device}
        _, position_ext = self.position()
        ext.update(position_ext)
        ext.update(more)
        return ext

    # ---- records out ---------------------------------------------------------------------

    def emit(self, event: dict[str, Any], device: str) -> None:
        self.outbox.submit("events", event, device)
        self.counters["events"] += 1
        for observe in self.observers:
            observe(event)
        self.last_event = {"time": event["eventTime"], "type": event["type"], "device": device,
                           "eventID": event["eventID"]}

    def reject(self, read: Read, error: str, decoded: Mapping[str, Any] | None = None) -> None:
        raw = read.payload if isinstance(read.payload, str) else read.payload.hex()
        record = {
            "gateway": self.config.gateway_id, "device": read.device, "driver": read.driver,
            "time": iso_time(read.wall), "raw": raw, "error": error,
        }
        if decoded is not None:
            record["kind"] = decoded.get("kind")
        self.outbox.submit("rejects", record, read.device)
        self.counters["rejects"] += 1
        log.info("%s: rejected a read: %s", read.device, error)

    # ---- barcodes ------------------------------------------------------------------------

    def scan(self, read: Read) -> None:
        text = read.payload if isinstance(read.payload, str) else read.payload.decode("utf-8", "backslashreplace")
        if read.meta.get("error"):
            self.reject(read, str(read.meta["error"]))
            return
        mode = self.modes.match(text, read.device)
        if mode is not None:
            self.apply_mode(read, mode)
            return
        dedupe = self.filters.get(read.device)
        if dedupe is not None and not dedupe.admit(text, read.mono):
            self.counters["duplicates"] += 1
            return
        decoded = decode(text, symbology=read.meta.get("symbology"))
        wall, time_ext = self.event_wall(read.wall)
        ext = self.extensions(read, raw=text, symbology=decoded.get("symbology"), **time_ext)
        event = events.from_decoded(decoded, wall=wall, where=self.where(read.device), extensions=ext)
        if event is None:
            error = decoded.get("error") or f"not an identifier Tally can put in an event (kind {decoded.get('kind')})"
            self.reject(read, error, decoded)
            return
        self.emit(event, read.device)
        session = self.sessions.get(read.device)
        if session is not None:
            how, identity = events.is_member(decoded)
            if identity:
                session.add(how, identity)

    def apply_mode(self, read: Read, mode: Any) -> None:
        self.counters["modes"] += 1
        device = read.device
        if mode.action == "mode":
            self.overrides[device] = Where(biz_step=mode.biz_step, disposition=mode.disposition)
            log.info("%s: mode %s (bizStep %s, disposition %s)", device, mode.text, mode.biz_step, mode.disposition)
        elif mode.action == "pack-start":
            if device in self.sessions:
                self.close_session(read)
            self.sessions[device] = PackingSession(started=read.wall)
            log.info("%s: packing session started", device)
        elif mode.action == "pack-close":
            self.close_session(read)
        elif mode.action == "pack-cancel":
            if self.sessions.pop(device, None) is not None:
                log.info("%s: packing session cancelled", device)

    def close_session(self, read: Read) -> None:
        session = self.sessions.pop(read.device, None)
        if session is None:
            return
        if session.parent is None or session.empty:
            self.reject(read, "packing session closed without a pallet SSCC and at least one item; no aggregation")
            return
        wall, time_ext = self.event_wall(read.wall)
        here = self.where(read.device)
        where = replace(here, biz_step="packing", disposition=here.disposition or "in_progress")
        event = events.aggregation_event(
            wall=wall, where=where, parent=session.parent, children=session.epcs,
            child_classes=list(session.classes.items()),
            extensions=self.extensions(read, sessionStarted=iso_time(session.started), **time_ext))
        self.emit(event, read.device)
        self.counters["aggregations"] += 1
        log.info("%s: packed %d units and %d classes onto %s", read.device, len(session.epcs),
                 len(session.classes), session.parent)

    def status(self) -> dict[str, Any]:
        return {
            "counters": dict(self.counters),
            "modes": {d: {"biz_step": w.biz_step, "disposition": w.disposition} for d, w in self.overrides.items()},
            "packing": {d: {"parent": s.parent, "items": len(s.epcs) + int(sum(s.classes.values()))}
                        for d, s in self.sessions.items()},
            "last_event": self.last_event,
        }
