"""The one place a daemon's parts are built from its config: pipeline extensions, periodic ticks,
status sections, cleanups, the status server and remote commands.

Called at start and on every reload. Each part is switched on by the config alone (GPS when a
device is a GPS receiver, RFID cycles when a reader is configured, ...). State that must survive
a reload is taken from the daemon's WorkingState (`state.part(...)`), never from the previous
build's objects: a part whose config did not change is kept as it is (its history with it), a
changed one is rebuilt. To add a feature, add a function here and call it from `build`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .pipeline import Extension, Pipeline

if TYPE_CHECKING:
    from .daemon import Daemon

GPS_DRIVERS = {"nmea", "gpsd"}
IDLE_TICK = 1.0  # status, supervision and expiries need no finer clock; RFID cycle ends are scheduled (`due`)
CARGO_KEY = "cargo"
MANIFEST_REPORT = "manifest-report"

log = logging.getLogger("tally")


@dataclass
class Parts:
    """What one build adds to the daemon; replaced whole on reload."""

    extensions: list[Extension] = field(default_factory=list)
    ticks: list[Callable[[float], None]] = field(default_factory=list)
    tick_interval: float = IDLE_TICK
    #: when a part's tick must run next (wall clock, None: no deadline); the loop sleeps until the earliest
    due: list[Callable[[], float | None]] = field(default_factory=list)
    status: dict[str, Callable[[], Any]] = field(default_factory=dict)
    cleanups: list[Callable[[], Any]] = field(default_factory=list)
    bind: list[Callable[[Pipeline], None]] = field(default_factory=list)
    command_handler: Callable[[str, bytes], None] | None = None
    #: messages on other topics under the gateway's own: last topic level -> handler(payload)
    topics: dict[str, Callable[[bytes], None]] = field(default_factory=dict)


def build(daemon: "Daemon") -> tuple[Pipeline, Parts]:
    """The pipeline for daemon.config, and the parts around it. The daemon installs both."""
    parts = Parts()
    gps(daemon, parts)
    rfid(daemon, parts)
    manifests(daemon, parts)
    assert daemon.outbox is not None
    pipeline = Pipeline(daemon.config, daemon.outbox, daemon.state, daemon.outcomes, parts.extensions)
    for bind in parts.bind:
        bind(pipeline)
    feedback(daemon, parts)
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

    service = RfidService(daemon.config, engines=daemon.state.parts.get("rfid-engines"), wake_by=daemon.wake_by)
    daemon.state.parts["rfid-engines"] = service.engines
    parts.extensions.append(service.extension())
    parts.bind.append(service.bind)
    parts.ticks.append(service.tick)
    parts.due.append(service.next_due)
    parts.cleanups.append(service.flush)
    parts.status["rfid"] = service.status


def manifests(daemon: "Daemon", parts: Parts) -> None:
    """The active manifest (gateway/manifest.py): from the retained topic, checked on every scan."""
    from .manifest import DEFINITION, PROGRESS, ManifestBoard

    outbox = daemon.outbox
    assert outbox is not None

    def new_board() -> ManifestBoard:
        board = ManifestBoard(save=outbox.put_state)
        # the manifest and the progress the outbox holds, after a restart
        board.restore(outbox.load_state(DEFINITION), outbox.load_state(PROGRESS))
        return board

    board = daemon.state.part("manifest", new_board)
    places = {d.name: (d.read_point, d.biz_location) for d in daemon.config.devices}
    board.places = lambda device: places.get(device, ())
    parts.extensions.append(Extension(manifest=board))

    def send_reports(now: float) -> None:
        report = board.tick(now)
        if report is not None:
            log.info("manifest %r expired: %d of %d seen", report["name"], report["seen"], report["expected"])
        publisher = daemon.publisher
        for report in list(board.reports):
            # retained: the centre finds the last report even if it was not listening
            if publisher is None or not publisher.publish_transient(MANIFEST_REPORT, report, retain=True):
                return  # sent once the broker is back (the report is kept with the manifest's state)
            board.report_sent(report)

    def on_manifest(payload: bytes) -> None:
        log.info("%s", board.receive(payload, time.time()))
        send_reports(time.time())

    board.on_close = lambda: send_reports(time.time())
    parts.ticks.append(send_reports)
    parts.topics["manifest"] = on_manifest
    parts.status["manifest"] = board.status


def feedback(daemon: "Daemon", parts: Parts) -> None:
    """Feedback channels (gateway/feedback/): outcome observers, each hardware one in its own thread."""
    from .feedback import FEEDBACK_DEFAULTS
    from .feedback.gpio import IndicatorChannel
    from .feedback.hid_pos import HidPosFeedback
    from .feedback.mqtt import MqttFeedback
    from .feedback.serial import SerialFeedback

    config = daemon.config
    settings = config.extra.get("feedback") or FEEDBACK_DEFAULTS
    queue = int(settings["queue"])

    def driver_of(name: str) -> Any:
        return next((r.driver for r in daemon.runners if r.state.name == name), None)

    channels: list[Any] = []
    for hardware in (SerialFeedback(config, driver_of, queue), HidPosFeedback(config, driver_of, queue)):
        if hardware.workers:
            channels.append(hardware)
    channels.extend(IndicatorChannel(indicator, queue) for indicator in config.extra.get("indicator", ()))
    if settings["mqtt"]:
        channels.append(MqttFeedback(config.gateway_id, lambda: daemon.publisher))
    unsubscribe = [daemon.outcomes.subscribe(channel) for channel in channels]

    def stop_all() -> None:
        for channel in channels:
            stop = getattr(channel, "stop", None)
            if stop is not None:
                stop()

    async def cleanup() -> None:
        for undo in unsubscribe:
            undo()
        await asyncio.to_thread(stop_all)  # a pattern or a write in progress must not hold the loop

    def status() -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for channel in channels:
            got = channel.status()
            rows.extend(got if isinstance(got, list) else [got])
        return {"channels": rows}

    parts.cleanups.append(cleanup)
    parts.status["feedback"] = status
