"""The one place a daemon's parts are built from its config: pipeline extensions, periodic ticks,
status sections, cleanups, the status server and remote commands.

Called at start and on every reload. Each part is switched on by the config alone (GPS when a
device is a GPS receiver, RFID cycles when a reader is configured, ...). State that must survive
a reload is taken from the daemon's WorkingState (`state.part(...)`), never from the previous
build's objects: a part whose config did not change is kept as it is (its history with it), a
changed one is rebuilt. To add a feature, add a function here and call it from `build`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .pipeline import Extension, Pipeline

if TYPE_CHECKING:
    from .daemon import Daemon

GPS_DRIVERS = {"nmea", "gpsd"}
IDLE_TICK = 0.5
CARGO_KEY = "cargo"


@dataclass
class Parts:
    """What one build adds to the daemon; replaced whole on reload."""

    extensions: list[Extension] = field(default_factory=list)
    ticks: list[Callable[[float], None]] = field(default_factory=list)
    tick_interval: float = IDLE_TICK
    status: dict[str, Callable[[], Any]] = field(default_factory=dict)
    cleanups: list[Callable[[], Any]] = field(default_factory=list)
    bind: list[Callable[[Pipeline], None]] = field(default_factory=list)
    command_handler: Callable[[str, bytes], None] | None = None


def build(daemon: "Daemon") -> tuple[Pipeline, Parts]:
    """The pipeline for daemon.config, and the parts around it. The daemon installs both."""
    parts = Parts()
    gps(daemon, parts)
    rfid(daemon, parts)
    assert daemon.outbox is not None
    pipeline = Pipeline(daemon.config, daemon.outbox, daemon.state, daemon.outcomes, parts.extensions)
    for bind in parts.bind:
        bind(pipeline)
    return pipeline, parts


def operations(daemon: "Daemon", parts: Parts) -> None:
    """The status server (health, metrics, page) and remote commands: after the pipeline is installed."""
    from . import health, remote

    status = daemon.config.status
    if status.get("listen"):
        server = health.start(daemon)
        if server is not None:
            parts.ticks.append(server.tick)
            parts.cleanups.append(server.stop)
    if status.get("commands"):
        parts.command_handler = remote.RemoteCommands(daemon)


def gps(daemon: "Daemon", parts: Parts) -> None:
    config = daemon.config
    if not any(d.driver in GPS_DRIVERS and d.enabled for d in config.devices):
        return
    from .gps.cargo import Cargo
    from .gps.clock import system_clock_synchronised
    from .gps.service import GpsService
    from .gps.settings import GpsSettings

    outbox = daemon.outbox
    assert outbox is not None

    def new_cargo() -> Cargo:
        cargo = Cargo(on_change=lambda c: outbox.put_state(CARGO_KEY, c.record()))
        cargo.restore(outbox.load_state(CARGO_KEY))  # what was on board before a restart
        return cargo

    cargo = daemon.state.part("cargo", new_cargo)
    settings = config.extra.get("gps") or GpsSettings()
    fences = tuple(config.extra.get("geofence", ()))
    service = daemon.state.part("gps", lambda: GpsService(settings, fences, cargo=cargo),
                                same=lambda g: (g.settings, g.geofences) == (settings, fences))
    parts.extensions.append(service.extension())
    service.clock.set_synchronised(system_clock_synchronised())
    last = [time.monotonic()]

    def check_clock(now: float) -> None:
        if time.monotonic() - last[0] >= 60:
            last[0] = time.monotonic()
            service.clock.set_synchronised(system_clock_synchronised())

    parts.ticks.append(check_clock)
    parts.status["gps"] = service.status


def rfid(daemon: "Daemon", parts: Parts) -> None:
    if not any("cycle_mode" in d.settings and d.enabled for d in daemon.config.devices):
        return
    from .rfid.service import RfidService

    service = RfidService(daemon.config, engines=daemon.state.parts.get("rfid-engines"))
    daemon.state.parts["rfid-engines"] = service.engines
    parts.extensions.append(service.extension())
    parts.bind.append(service.bind)
    parts.ticks.append(service.tick)
    parts.tick_interval = min(parts.tick_interval, service.tick_interval)
    parts.cleanups.append(service.flush)
    parts.status["rfid"] = service.status
