"""Attaches the optional parts of the gateway to the daemon (imported by `tally run` for the side effect).

Each part is switched on by the config alone: GPS when a device is a GPS receiver, and so on.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .daemon import PLUGINS

if TYPE_CHECKING:
    from .daemon import Daemon

GPS_DRIVERS = {"nmea", "gpsd"}


def attach_gps(daemon: "Daemon") -> None:
    config = daemon.config
    if not any(d.driver in GPS_DRIVERS and d.enabled for d in config.devices):
        return
    from .gps.clock import system_clock_synchronised
    from .gps.service import GpsService
    from .gps.settings import GpsSettings

    gps = GpsService(config.extra.get("gps") or GpsSettings(), config.extra.get("geofence", ()))
    assert daemon.pipeline is not None
    gps.attach(daemon.pipeline)
    gps.clock.set_synchronised(system_clock_synchronised())
    last = [time.monotonic()]

    def check_clock(now: float) -> None:
        if time.monotonic() - last[0] >= 60:
            last[0] = time.monotonic()
            gps.clock.set_synchronised(system_clock_synchronised())

    daemon.ticks.append(check_clock)
    daemon.status_parts["gps"] = gps.status


def attach_rfid(daemon: "Daemon") -> None:
    if not any("cycle_mode" in d.settings and d.enabled for d in daemon.config.devices):
        return
    from .rfid.service import RfidService

    RfidService(daemon.pipeline).attach(daemon)


PLUGINS.extend([attach_gps, attach_rfid])

from . import plugins_ops  # noqa: E402,F401  (status server: health, metrics, page; remote commands)
