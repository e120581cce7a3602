"""A gpsd client: positions from gpsd's JSON protocol over TCP (default 127.0.0.1:2947).

For vehicles where gpsd already owns the receiver (and disciplines the clock with its PPS).
The client sends `?WATCH={"enable":true,"json":true};` and turns each TPV report with a
2D/3D fix and a time into one Read: payload the raw JSON line, `meta` the TPV normalised
to the keys of `gateway.decode.nmea.Fix.to_tpv()`:

    {"time": "2024-05-31T12:00:01.000Z", "mode": 3, "lat", "lon", "alt"?, "speed"?, "track"?,
     "sats"?, "hdop"?}

`alt` is altMSL (gpsd >= 3.20; older ones send alt), the NMEA GGA altitude. gpsd puts HDOP and
satellites used in SKY reports, not TPV: the latest SKY's are attached (possibly one epoch
old). At start-up gpsd may report an epoch more than once while it learns the receiver's
cycle (first from RMC, again with the GGA altitude); those are passed on as they come.

`GpsdReports` is the sans-I/O part (bytes in, reports out, never raises); the driver adds
the socket.
"""

from __future__ import annotations

import json
import math
import re
import select
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from .base import DeviceGone, DeviceUnavailable, Driver, Option, Read, in_range

DEFAULT_PORT = 2947
#: gpsd's longest reports (SKY with 60+ satellites, RAW) are a few KiB; anything far beyond is not gpsd
MAX_LINE = 64 * 1024
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\Z")


@dataclass
class GpsdCounters:
    reports: int = 0  # JSON objects with a class
    tpv: int = 0  # TPV reports turned into positions
    no_fix: int = 0  # TPV reports with mode < 2 or without lat/lon
    untimed: int = 0  # TPV reports with a fix but no time (gpsd has not seen a date yet)
    garbage: int = 0  # lines that are not JSON objects, or over-long
    other: dict[str, int] = field(default_factory=dict)  # VERSION, DEVICES, WATCH, SKY, ERROR, ...


def _number(report: dict[str, Any], key: str) -> float | None:
    value = report.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def normalise_tpv(report: dict[str, Any], sky: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A gpsd TPV -> the Fix.to_tpv() shape, or None if it is not a dated 2D/3D fix."""
    mode = report.get("mode")
    if type(mode) is not int or mode < 2:
        return None
    lat, lon = _number(report, "lat"), _number(report, "lon")
    when = report.get("time")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if not isinstance(when, str) or not _TIME.match(when):
        return None
    date_time, _, fraction = when[:-1].partition(".")
    tpv: dict[str, Any] = {"time": f"{date_time}.{(fraction + '000')[:3]}Z", "mode": min(mode, 3),
                           "lat": lat, "lon": lon}
    alt = _number(report, "altMSL")
    if alt is None:
        alt = _number(report, "alt")
    if alt is not None and mode >= 3:
        tpv["alt"] = alt
    for key in ("speed", "track"):
        value = _number(report, key)
        if value is not None:
            tpv[key] = value
    if sky:
        used = sky.get("uSat")
        if type(used) is int and used >= 0:
            tpv["sats"] = used
        hdop = _number(sky, "hdop")
        if hdop is not None:
            tpv["hdop"] = hdop
    return tpv


class GpsdReports:
    """gpsd's JSON lines -> (line, normalised TPV) for each usable TPV. Never raises."""

    def __init__(self, device: str | None = None, max_line: int = MAX_LINE):
        self.device = device or None
        self.max_line = max_line
        self.counters = GpsdCounters()
        self.sky: dict[str, Any] | None = None
        self.version: str | None = None
        self.errors: list[str] = []
        self._pending = b""
        self._skipping = False

    def feed(self, data: bytes) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        buffer = self._pending + bytes(data)
        *lines, self._pending = buffer.split(b"\n")
        for raw in lines:
            if self._skipping:
                self._skipping = False  # the tail of an over-long line, already counted
                continue
            self._line(raw, out)
        if len(self._pending) > self.max_line:
            self.counters.garbage += 1
            self._pending = b""
            self._skipping = True
        return out

    def _line(self, raw: bytes, out: list[tuple[str, dict[str, Any]]]) -> None:
        raw = raw.strip()
        if not raw:
            return
        try:
            text = raw.decode("utf-8")
            report = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError):
            self.counters.garbage += 1
            return
        if not isinstance(report, dict) or not isinstance(report.get("class"), str):
            self.counters.garbage += 1
            return
        self.counters.reports += 1
        kind = report["class"]
        if self.device and isinstance(report.get("device"), str) and report["device"] != self.device:
            return
        if kind == "TPV":
            tpv = normalise_tpv(report, self.sky)
            if tpv is not None:
                self.counters.tpv += 1
                out.append((text, tpv))
            elif type(report.get("mode")) is int and report["mode"] >= 2 and "time" not in report:
                self.counters.untimed += 1
            else:
                self.counters.no_fix += 1
            return
        self.counters.other[kind[:16]] = self.counters.other.get(kind[:16], 0) + 1
        if kind == "SKY":
            self.sky = report
        elif kind == "VERSION" and isinstance(report.get("release"), str):
            self.version = report["release"][:32]
        elif kind == "ERROR" and isinstance(report.get("message"), str):
            self.errors = (self.errors + [report["message"][:200]])[-5:]


class GpsdClient(Driver):
    name = "gpsd"
    content = "tpv"
    idle_wait = 1.0  # gpsd reports once an epoch (a second): no reason to wake more often between reports
    options = {
        "host": Option(str, "127.0.0.1", doc="gpsd's address (it listens on loopback unless started with -G)"),
        "port": Option(int, DEFAULT_PORT, in_range(1, 65535)),
        "gps_device": Option(str, "", doc="only this gpsd device path (e.g. /dev/ttyACM0); empty = any"),
        "connect_timeout_s": Option((int, float), 5.0, in_range(0.1, 60)),
    }

    def __init__(self, device, settings):
        super().__init__(device, settings)
        self.sock: socket.socket | None = None
        self.reports = GpsdReports(self.settings["gps_device"])

    def describe(self) -> str:
        where = f"gpsd at {self.settings['host']}:{self.settings['port']}"
        device = self.settings["gps_device"]
        return f"{where} ({device})" if device else where

    def open(self) -> None:
        host, port = self.settings["host"], self.settings["port"]
        try:
            sock = socket.create_connection((host, port), timeout=self.settings["connect_timeout_s"])
        except OSError as exc:
            raise DeviceUnavailable(f"cannot connect to gpsd at {host}:{port}: {exc.strerror or exc}") from None
        watch: dict[str, Any] = {"enable": True, "json": True}
        if self.settings["gps_device"]:
            watch["device"] = self.settings["gps_device"]
        try:
            sock.sendall(b"?WATCH=" + json.dumps(watch, separators=(",", ":")).encode() + b";\n")
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise DeviceUnavailable(f"gpsd at {host}:{port} refused the watch: {exc.strerror or exc}") from None
        self.sock = sock
        self.reports = GpsdReports(self.settings["gps_device"])

    def read(self, timeout: float) -> list[Read]:
        sock = self.sock
        if sock is None:
            raise DeviceGone("not connected")
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                ready, _, _ = select.select([sock], [], [], remaining)
                data = sock.recv(65536) if ready else None
            except BlockingIOError:
                data = None
            except (OSError, ValueError) as exc:
                raise DeviceGone(f"gpsd connection lost: {exc}") from None
            if data == b"":
                raise DeviceGone("gpsd closed the connection")
            if data:
                reads = [self.make_read(line, **tpv) for line, tpv in self.reports.feed(data)]
                if reads:
                    return reads
            if time.monotonic() >= deadline:
                return []

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.sendall(b'?WATCH={"enable":false};\n')
            except OSError:
                pass
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
