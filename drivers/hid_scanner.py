"""Keyboard-wedge (USB HID keyboard) barcode scanners, read through evdev.

Thin glue: open /dev/input/eventN (by-id path recommended), grab it so scans do
not leak into a console or login prompt, and feed its key events to the
sans-I/O `WedgeDecoder`. The layout is the one the scanner was programmed for;
the host's keyboard layout plays no part.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import select
import struct
import time
from typing import Any
from collections.abc import Mapping

from .base import DeviceGone, DeviceUnavailable, Driver, Option, Read, in_range, one_of
from .keyboard_wedge import TERMINATOR_KEYS, Scan, ScanRejected, WedgeDecoder
from .keymaps import LAYOUTS, LED_CAPSL

log = logging.getLogger(__name__)

# _IOW('E', 0xa0, int): make the kernel stamp events with CLOCK_MONOTONIC, the
# clock time.monotonic() reads, so tick() and event times agree across NTP steps.
EVIOCSCLOCKID = 0x400445A0
CLOCK_MONOTONIC = 1
_GONE_ERRNOS = {errno.ENODEV, errno.EIO, errno.ENXIO, errno.EBADF}


def _check_terminator(value: Any) -> str | None:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return "must be a string or a list of strings"
    bad = [n for n in names if n != "none" and n not in TERMINATOR_KEYS]
    if bad:
        return f"unknown terminator {bad[0]!r} (known: {', '.join(TERMINATOR_KEYS)}, none)"
    return None


def _check_gs_substitute(value: Any) -> str | None:
    return None if len(value) <= 1 else "must be a single character (or empty for none)"


def terminator_names(value: str | list[str]) -> list[str]:
    names = [value] if isinstance(value, str) else list(value)
    return [n for n in names if n != "none"]


class HidScanner(Driver):
    name = "hid-scanner"
    content = "barcode"
    options: Mapping[str, Option] = {
        "device": Option(str, doc="event device, e.g. /dev/input/by-id/usb-…-event-kbd"),
        "layout": Option(str, "us", one_of(*LAYOUTS), "keyboard country the scanner is programmed for"),
        "terminator": Option((str, list), ["enter", "kp_enter"], _check_terminator,
                             "key(s) ending a scan: enter, kp_enter, tab, or none (timeout only)"),
        "gs_substitute": Option(str, "", _check_gs_substitute,
                                "character the scanner sends in place of GS (FNC1), e.g. ~"),
        "char_timeout_ms": Option((int, float), 200, in_range(1, 10_000),
                                  "a gap this long between characters ends a scan"),
        "max_length": Option(int, 4096, in_range(1, 1_000_000), "longer scans are rejected"),
        "grab": Option(bool, True, doc="take the device exclusively so scans do not reach the console"),
    }

    def __init__(self, device: str, settings: Mapping[str, Any]):
        super().__init__(device, settings)
        self.path = str(self.settings["device"])
        self._dev: Any = None
        self._clock = time.time
        self._decoder: WedgeDecoder | None = None
        self.rejected = 0

    def _new_decoder(self, caps_lock: bool = False, num_lock: bool = True) -> WedgeDecoder:
        c = self.settings
        return WedgeDecoder(
            c["layout"],
            terminators=terminator_names(c["terminator"]),
            gs_substitute=c["gs_substitute"] or None,
            char_timeout=float(c["char_timeout_ms"]) / 1000.0,
            max_length=int(c["max_length"]),
            caps_lock=caps_lock,
            num_lock=num_lock,
        )

    def open(self) -> None:
        try:
            import evdev  # lazily: a serial-only gateway needs no evdev
        except ImportError as exc:
            raise DeviceUnavailable(f"python evdev is not installed: {exc}") from exc
        try:
            dev = evdev.InputDevice(self.path)
        except (OSError, ValueError) as exc:
            raise DeviceUnavailable(f"cannot open {self.path}: {getattr(exc, 'strerror', None) or exc}") from exc
        try:
            if self.settings["grab"]:
                dev.grab()
        except OSError as exc:
            dev.close()
            raise DeviceUnavailable(f"cannot grab {self.path} (another program holds it?): {exc.strerror}") from exc
        self._dev = dev
        self._clock = time.time
        try:
            fcntl.ioctl(dev.fd, EVIOCSCLOCKID, struct.pack("i", CLOCK_MONOTONIC))
            self._clock = time.monotonic
        except OSError:
            pass  # old kernels: events stay on the wall clock, and so does tick()
        leds: list[int] = []
        try:
            leds = dev.leds()
        except OSError:
            pass
        # The scanner compensates for the host's Caps Lock LED, so start from it.
        self._decoder = self._new_decoder(caps_lock=LED_CAPSL in leds, num_lock=True)
        log.info("opened %s (%s layout)", self.path, self.settings["layout"])

    def _events(self) -> list[tuple[int, int, int, float]]:
        """Whatever events are waiting: [(type, code, value, timestamp)]."""
        try:
            return [(e.type, e.code, e.value, e.timestamp()) for e in self._dev.read()]
        except BlockingIOError:
            return []

    def read(self, timeout: float) -> list[Read]:
        if self._dev is None or self._decoder is None:
            raise DeviceGone(f"{self.path} is not open")
        decoder = self._decoder
        reads: list[Read] = []
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            remaining = deadline - time.monotonic()
            wait = max(0.0, remaining)
            if decoder.char_timeout is not None and decoder.pending:
                wait = min(wait, decoder.char_timeout)
            try:
                ready, _, _ = select.select([self._dev], [], [], wait)
                events = self._events() if ready else []
            except OSError as exc:
                if exc.errno in _GONE_ERRNOS:
                    raise DeviceGone(f"{self.path} went away: {exc.strerror}") from exc
                raise DeviceGone(f"{self.path} read failed: {exc}") from exc
            for type_, code, value, ts in events:
                reads += self._reads(decoder.feed(type_, code, value, ts))
            reads += self._reads(decoder.tick(self._clock()))
            if reads or remaining <= 0:
                return reads

    def _reads(self, outcomes: list) -> list[Read]:
        reads = []
        for o in outcomes:
            if isinstance(o, Scan):
                reads.append(self.make_read(o.text, ended_by=o.ended_by, layout=self.settings["layout"]))
            elif isinstance(o, ScanRejected):
                self.rejected += 1
                # length only: scan content stays out of logs
                log.warning("%s: %s (%d characters)", self.path, o.reason, o.length)
        return reads

    def flush(self) -> list[Read]:
        return self._reads(self._decoder.flush()) if self._decoder else []

    def close(self) -> None:
        dev, self._dev = self._dev, None
        if dev is None:
            return
        # Either may fail on an unplugged device: nothing is left to release then.
        if self.settings["grab"]:
            try:
                dev.ungrab()
            except OSError:
                pass
        try:
            dev.close()
        except OSError:
            pass

    def describe(self) -> str:
        return f"hid-scanner {self.path} ({self.settings['layout']} layout)"

    @property
    def stats(self) -> dict[str, int]:
        d = self._decoder
        return {
            "rejected": self.rejected,
            "ignored_keys": d.ignored_keys if d else 0,
            "ignored_repeats": d.ignored_repeats if d else 0,
        }
