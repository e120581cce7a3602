"""The GPS part of the gateway: fixes from `nmea`/`tpv` Reads -> positions, geofence crossings,
a geo readPoint for scans, and event times a Pi without RTC can trust.

Wiring (gateway/assembly.py builds it; nothing is patched in afterwards):

    gps = GpsService(config.extra.get("gps") or GpsSettings(), config.extra.get("geofence", ()))
    Pipeline(config, outbox, state, bus, extensions=[gps.extension()])
    # every minute or so, from the loop:
    gps.clock.set_synchronised(system_clock_synchronised())

Runs on the pipeline's loop (no locks). Positions go to the outbox's `positions` stream as
gpsd-TPV-like JSON plus "device"; a fix at which a geofence was crossed is always published
and carries "geofence": {"name", "event": "arrival"|"departure", "time"}.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable, Mapping

from drivers.base import Read
from gateway.decode import DecodeError
from gateway.decode.nmea import Fix, NmeaAssembler, iso_utc

from gateway import events
from gateway.events import Where
from gateway.pipeline import Extension

from .cargo import Cargo
from .clock import ClockGuard
from .geofence import Crossing, Geofence, GeofenceWatcher
from .policy import PositionPolicy
from .settings import GpsSettings
from .tracker import FixTracker, geo_uri

log = logging.getLogger("tally.gps")


class GpsService:
    def __init__(self, settings: GpsSettings | None = None, geofences: Iterable[Geofence] = (),
                 monotonic: Callable[[], float] = time.monotonic, cargo: Cargo | None = None):
        s = settings or GpsSettings()
        self.settings = s
        self.geofences = tuple(geofences)
        self.monotonic = monotonic
        self.policy = PositionPolicy(s.min_interval_s, s.min_distance_m, s.heading_change_deg, s.heartbeat_s,
                                     s.moving_speed_mps)
        self.tracker = FixTracker(s.max_fix_age_s)
        self.watcher = GeofenceWatcher(self.geofences, s.geofence_margin_m, s.geofence_confirm_fixes)
        self.clock = ClockGuard(max_skew_s=s.clock_max_skew_s)
        self.assemblers: dict[str, NmeaAssembler] = {}
        self.counters = {"fixes": 0, "positions": 0, "crossings": 0, "bad_tpv": 0}
        self.last_crossing: dict[str, Any] | None = None
        self.cargo = cargo if cargo is not None else Cargo()

    def extension(self) -> Extension:
        """What the GPS adds to the pipeline: NMEA/TPV handlers, where the vehicle is, the event clock, cargo."""
        return Extension(handlers={"nmea": self.on_nmea, "tpv": self.on_tpv}, position=self.position,
                         event_wall=self.event_wall, fence_location=self.biz_location,
                         observers=(self.cargo.observe,))

    # ---- reads in ---------------------------------------------------------------------------------

    def on_nmea(self, pipeline: Any, read: Read) -> None:
        assembler = self.assemblers.get(read.device)
        if assembler is None:
            assembler = self.assemblers[read.device] = NmeaAssembler()
        text = read.payload if isinstance(read.payload, str) else read.payload.decode("ascii", "replace")
        for fix in assembler.feed(text):
            self.on_fix(pipeline, read, fix)

    def on_tpv(self, pipeline: Any, read: Read) -> None:
        try:
            fix = Fix.from_tpv(read.meta)
        except DecodeError as exc:
            self.counters["bad_tpv"] += 1
            log.debug("%s: unusable TPV: %s", read.device, exc)
            return
        self.on_fix(pipeline, read, fix)

    def on_fix(self, pipeline: Any, read: Read, fix: Fix) -> None:
        self.counters["fixes"] += 1
        self.clock.observe(fix, read.wall, read.mono)
        self.tracker.update(fix, read.mono)
        crossings = self.watcher.update(fix)
        for crossing in crossings:
            self.counters["crossings"] += 1
            self.last_crossing = {"name": crossing.name, "event": crossing.kind, "time": iso_utc(crossing.time)}
            log.info("%s: %s %s at %s", read.device, crossing.kind, crossing.name, iso_utc(crossing.time))
            if pipeline is not None:
                self.cargo_event(pipeline, read, fix, crossing)
        publish = self.policy.offer(fix, read.mono)
        if (publish or crossings) and pipeline is not None:
            record = self.position_record(fix, read.device, crossings)
            pipeline.outbox.submit("positions", record, read.device)
            self.counters["positions"] += 1

    def cargo_event(self, pipeline: Any, read: Read, fix: Fix, crossing: Crossing) -> None:
        """Arriving at / departing from a fence: one ObjectEvent naming everything on board."""
        if self.cargo.empty:
            return
        fence = crossing.geofence
        where = Where(biz_step="arriving" if crossing.kind == "arrival" else "departing",
                      disposition="in_transit",
                      read_point=fence.read_point or geo_uri(fix),
                      biz_location=fence.biz_location if crossing.kind == "arrival" else None)
        wall, time_ext = self.event_wall(crossing.time.timestamp())
        event = events.object_event(
            wall=wall, where=where, epcs=list(self.cargo.epcs), classes=list(self.cargo.classes.items()),
            extensions={"gateway": pipeline.config.gateway_id, "device": read.device, "geofence": fence.name,
                        **time_ext})
        pipeline.emit(event, read.device)

    @staticmethod
    def position_record(fix: Fix, device: str, crossings: Iterable[Crossing] = ()) -> dict[str, Any]:
        record: dict[str, Any] = {**fix.to_tpv(), "device": device}
        crossings = list(crossings)
        if crossings:
            c = crossings[-1]
            record["geofence"] = {"name": c.name, "event": c.kind, "time": iso_utc(c.time)}
        return record

    # ---- context for events --------------------------------------------------------------------------

    def position(self) -> tuple[str | None, Mapping[str, Any]]:
        """(readPoint for a scan on this vehicle, extension fields): a fence's read_point when inside
        one that has it, else geo:LAT,LON of a fresh fix, else none."""
        ext: dict[str, Any] = {}
        inside = self.watcher.inside()
        if inside:
            ext["geofence"] = inside[0].name
            for fence in inside:
                if fence.read_point:
                    return fence.read_point, ext
        fix, age, stale = self.tracker.current(self.monotonic())
        if fix is None or not self.settings.geo_read_point:
            return None, ext
        # The last good fix, however old, with its age; a stale one is said to be stale.
        ext["fixAge"] = round(age or 0.0, 1)
        if stale:
            ext["fixStale"] = True
        return geo_uri(fix), ext

    def biz_location(self) -> str | None:
        for fence in self.watcher.inside():
            if fence.biz_location:
                return fence.biz_location
        return None

    def event_wall(self, wall: float) -> tuple[float, Mapping[str, Any]]:
        corrected, source = self.clock.event_time(wall, self.monotonic())
        return corrected, ({} if source == "system" else {"clockSource": source})

    def status(self) -> dict[str, Any]:
        fix, age, stale = self.tracker.current(self.monotonic())
        return {
            "fix": None if fix is None else {**fix.to_tpv(), "age_s": round(age or 0.0, 1), "stale": stale},
            "counters": dict(self.counters),
            "published": self.policy.published,
            "inside": [g.name for g in self.watcher.inside()],
            "last_crossing": self.last_crossing,
            "cargo": self.cargo.status(),
            "clock": self.clock.status(),
            "nmea": {device: a.counters.as_dict() for device, a in self.assemblers.items()},
        }
