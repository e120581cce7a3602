"""Reads in, records out: decode, apply dock rules, build the EPCIS event, hand it to the outbox,
and decide what became of each read (its outcome).

Runs on the asyncio loop only (device threads hand reads over with call_soon_threadsafe),
so the working state here — current mode, double-scan windows, packing sessions — has
exactly one owner and needs no locks. That state lives in a `WorkingState` the daemon
keeps across reloads; a Pipeline is only the rules of one config applied to it.

Parts of the gateway (GPS, RFID cycles, manifests) extend the pipeline through
`Extension`s handed in at construction: handlers per read content, where a vehicle is,
the event clock, observers of every event. Nothing is patched in afterwards.

Anything that cannot be understood becomes a *reject*: a record on the outbox's
`rejects` stream (published on `{root}/{id}/rejects`), durable like events, so no
scan is ever silently dropped and the central system never receives an EPCIS
event that names nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping

from drivers.base import Read

from . import events, outcomes
from .config import Config, DeviceConfig
from .decode import decode, set_company_prefixes
from .dock import ModeBoard, PackingSession
from .event_split import split
from .events import Where, iso_time
from .outbox import Outbox, Result
from .outcomes import Outcome, OutcomeBus, Pending
from .ratelog import RateLimitedLog
from .working_state import WorkingState

log = logging.getLogger("tally.pipeline")

#: content -> handler(pipeline, read); other parts of the gateway (RFID cycles, GPS) hand theirs in
Handler = Callable[["Pipeline", Read], None]
Position = Callable[[], tuple[str | None, Mapping[str, Any]]]
EventWall = Callable[[float], tuple[float, Mapping[str, Any]]]

# A Pi has no real-time clock: before NTP has set it, the time is the last shutdown's or 1970.
NOT_BEFORE = 1_704_067_200.0  # 2024-01-01T00:00:00Z
SESSIONS_KEY = "packing-sessions"


def plain_event_wall(wall: float) -> tuple[float, Mapping[str, Any]]:
    """Without GPS: the system time, marked when it cannot be right (an event must not pass for 1970)."""
    return wall, ({} if wall >= NOT_BEFORE else {"clockSource": "unsynchronised"})


@dataclass(frozen=True)
class Extension:
    """What one part of the gateway adds to the pipeline (each field optional)."""

    handlers: Mapping[str, Handler] = field(default_factory=dict)
    #: where a vehicle is: () -> (geo read point or None, extension fields)
    position: Position | None = None
    #: the business location of the geofence a vehicle is in, if any
    fence_location: Callable[[], str | None] | None = None
    #: event time from a read's wall time (the GPS clock guard on vehicles without RTC)
    event_wall: EventWall | None = None
    #: called with every event as it is handed to the outbox (e.g. a vehicle's cargo)
    observers: tuple[Callable[[dict[str, Any]], None], ...] = ()
    #: checks a decoded scan against the active manifest: (device, decoded) -> match or None
    manifest: Any = None


class Pipeline:
    def __init__(self, config: Config, outbox: Outbox, state: WorkingState | None = None,
                 outcomes_bus: OutcomeBus | None = None, extensions: Iterable[Extension] = ()):
        self.config = config
        self.outbox = outbox
        self.state = state if state is not None else WorkingState()
        self.outcomes = outcomes_bus if outcomes_bus is not None else OutcomeBus()
        set_company_prefixes(config.gateway["company_prefixes"])
        self.devices: dict[str, DeviceConfig] = {d.name: d for d in config.devices}
        self.modes = ModeBoard(config.modes)
        self.max_event_bytes = int(config.outbox.get("max_event_kb", 0) * 1024)
        self.filters = {d.name: self.state.filter_for(d.name, d.dedupe_ms / 1000.0) for d in config.devices}
        self.handlers: dict[str, Handler] = {"barcode": Pipeline.scan}
        self.position: Position = lambda: (None, {})
        self.fence_location: Callable[[], str | None] = lambda: None
        self.event_wall: EventWall = plain_event_wall
        self.observers: list[Callable[[dict[str, Any]], None]] = []
        self.manifest: Any = None
        for ext in extensions:
            self.handlers.update(ext.handlers)
            self.position = ext.position or self.position
            self.fence_location = ext.fence_location or self.fence_location
            self.event_wall = ext.event_wall or self.event_wall
            self.manifest = ext.manifest or self.manifest
            self.observers.extend(ext.observers)
        self._log = RateLimitedLog(log, 60.0)

    # The working state, by its old names (remote set-mode, status, tests).
    @property
    def overrides(self) -> dict[str, Where]:
        return self.state.overrides

    @property
    def sessions(self) -> dict[str, PackingSession]:
        return self.state.sessions

    @property
    def counters(self) -> dict[str, int]:
        return self.state.counters

    @property
    def last_event(self) -> dict[str, Any] | None:
        return self.state.last_event

    # ---- entry point ---------------------------------------------------------------------

    def on_reads(self, reads: list[Read]) -> None:
        counters = self.state.counters
        for read in reads:
            counters["reads"] += 1
            handler = self.handlers.get(read.content)
            try:
                if handler is None:
                    self.reject(read, f"no handler for {read.content!r} reads")
                else:
                    handler(self, read)
            except Exception as exc:  # one bad read must never take the others down
                self._log(read.device, logging.ERROR, "%s: could not process a read", read.device, exc_info=True)
                self.reject(read, f"internal error: {exc.__class__.__name__}")

    def on_results(self, results: list[Result]) -> None:
        """The outbox's verdicts (on the loop): committed events become `accepted`/`unexpected` outcomes."""
        for result in results:
            token = result.token
            if not isinstance(token, Pending):
                if not result.accepted and result.stream != "positions":  # positions have their own drop count
                    self.state.counters["not_accepted"] += 1
                continue
            if result.accepted:
                manifest = None
                if token.manifest is not None and self.manifest is not None:
                    manifest = self.manifest.confirm(token.manifest)
                self.outcomes.publish(Outcome(token.kind, token.device, token.text, event_id=token.event_id,
                                              seq=result.seq, read_wall=token.read_wall,
                                              manifest=getattr(token.manifest, "name", None)))
                if manifest is not None:  # that scan completed the manifest
                    self.outcomes.publish(Outcome(outcomes.COMPLETE, token.device, manifest=manifest))
            else:
                self.state.counters["not_accepted"] += 1
                if token.manifest is not None and self.manifest is not None:
                    self.manifest.release(token.manifest)  # a lost scan does not count towards the manifest
                self.outcomes.publish(Outcome(outcomes.NOT_ACCEPTED, token.device, token.text, reason=result.reason,
                                              event_id=token.event_id, seq=result.seq, read_wall=token.read_wall))

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
        override = self.state.overrides.get(device)
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

    def emit(self, event: dict[str, Any], device: str, *, kind: str = outcomes.ACCEPTED, text: str | None = None,
             read_wall: float | None = None, manifest: Any = None) -> None:
        """Hand an event to the outbox; its outcome (`kind`) is said once it is committed."""
        parts = split(event, self.max_event_bytes)
        if len(parts) > 1:
            self.state.counters["split_events"] += 1
        for i, part in enumerate(parts):
            # The outcome rides on the last part: the read is accepted when all of it is.
            token = Pending(kind, device, text, part["eventID"], read_wall, manifest) if i == len(parts) - 1 else None
            self.outbox.submit("events", part, device, token)
            self.state.counters["events"] += 1
            for observe in self.observers:
                observe(part)
        self.state.last_event = {"time": event["eventTime"], "type": event["type"], "device": device,
                                 "eventID": parts[-1]["eventID"]}

    def reject(self, read: Read, error: str, decoded: Mapping[str, Any] | None = None) -> None:
        raw = read.payload if isinstance(read.payload, str) else read.payload.hex()
        record = {
            "gateway": self.config.gateway_id, "device": read.device, "driver": read.driver,
            "time": iso_time(read.wall), "raw": raw, "error": error,
        }
        if decoded is not None:
            record["kind"] = decoded.get("kind")
        self.outbox.submit("rejects", record, read.device)
        self.state.counters["rejects"] += 1
        self.outcomes.publish(Outcome(outcomes.REJECTED, read.device, raw, reason=error, read_wall=read.wall))
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
            self.state.counters["duplicates"] += 1
            self.outcomes.publish(Outcome(outcomes.DUPLICATE, read.device, text, read_wall=read.wall))
            return
        decoded = decode(text, symbology=read.meta.get("symbology"))
        wall, time_ext = self.event_wall(read.wall)
        match = self.manifest.check(read.device, decoded) if self.manifest is not None else None
        more: dict[str, Any] = {}
        if match is not None:
            more["manifest"] = match.mark
        ext = self.extensions(read, raw=text, symbology=decoded.get("symbology"), **time_ext, **more)
        event = events.from_decoded(decoded, wall=wall, where=self.where(read.device), extensions=ext)
        if event is None:
            error = decoded.get("error") or f"not an identifier Tally can put in an event (kind {decoded.get('kind')})"
            self.reject(read, error, decoded)
            return
        kind = outcomes.ACCEPTED
        if match is not None and not match.expected:
            kind = outcomes.UNEXPECTED
            self.state.counters["unexpected"] += 1
        self.emit(event, read.device, kind=kind, text=text, read_wall=read.wall, manifest=match)
        session = self.state.sessions.get(read.device)
        if session is not None:
            how, identity = events.is_member(decoded)
            if identity:
                session.add(how, identity)
                self._save_sessions()

    def apply_mode(self, read: Read, mode: Any) -> None:
        self.state.counters["modes"] += 1
        device = read.device
        if mode.action == "mode":
            self.state.overrides[device] = Where(biz_step=mode.biz_step, disposition=mode.disposition)
            log.info("%s: mode %s (bizStep %s, disposition %s)", device, mode.text, mode.biz_step, mode.disposition)
            self.outcomes.publish(Outcome(outcomes.MODE, device, mode.text, read_wall=read.wall))
        elif mode.action == "pack-start":
            if device in self.state.sessions:
                self.close_session(read)
            self.state.sessions[device] = PackingSession(started=read.wall)
            self._save_sessions()
            log.info("%s: packing session started", device)
            self.outcomes.publish(Outcome(outcomes.PACK_OPEN, device, mode.text, read_wall=read.wall))
        elif mode.action == "pack-close":
            self.close_session(read)
        elif mode.action == "manifest-close":
            close = getattr(self.manifest, "close_by", None)
            report = close(f"closed by mode barcode on {device}") if close is not None else None
            self.outcomes.publish(Outcome(outcomes.MODE, device, mode.text, read_wall=read.wall,
                                          manifest=report["name"] if report else None))
        elif mode.action == "pack-cancel":
            if self.state.sessions.pop(device, None) is not None:
                self._save_sessions()
                log.info("%s: packing session cancelled", device)
            self.outcomes.publish(Outcome(outcomes.MODE, device, mode.text, read_wall=read.wall))

    def close_session(self, read: Read) -> None:
        session = self.state.sessions.pop(read.device, None)
        if session is None:
            self.reject(read, "packing session closed, but none was open on this device; no aggregation")
            return
        self._save_sessions()
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
        self.emit(event, read.device, kind=outcomes.PACK_CLOSE, read_wall=read.wall)
        self.state.counters["aggregations"] += 1
        log.info("%s: packed %d units and %d classes onto %s", read.device, len(session.epcs),
                 len(session.classes), session.parent)

    def _save_sessions(self) -> None:
        # In the same grouped commit as the scans that changed it: as durable as they are, no extra fsync.
        self.outbox.put_state(SESSIONS_KEY, self.state.sessions_record())

    def status(self) -> dict[str, Any]:
        return {
            "counters": dict(self.state.counters),
            "outcomes": dict(self.outcomes.counts),
            "modes": {d: {"biz_step": w.biz_step, "disposition": w.disposition}
                      for d, w in self.state.overrides.items()},
            "packing": {d: {"parent": s.parent, "items": len(s.epcs) + int(sum(s.classes.values()))}
                        for d, s in self.state.sessions.items()},
            "last_event": self.state.last_event,
        }
