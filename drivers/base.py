"""The one interface every device family implements.

A driver opens its device, hands back raw `Read`s, and closes. It never parses
beyond framing and never retries: the gateway's device runner owns reconnects,
so every driver gets the same unplug/replug behaviour for free (EdgeX style).

Drivers are blocking and run in their own thread; `read()` must return within
its timeout so the runner can stop the thread promptly.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping


@dataclass(frozen=True, slots=True)
class Read:
    """One raw observation from a device.

    `content` says what the payload is so the pipeline picks the decoder:
    "barcode" (scanned text), "epc" (RFID EPC as hex), "nmea" (one NMEA
    sentence), "tpv" (a gpsd-style position dict in meta), "trigger"
    (a door sensor / GPI edge in meta).
    """

    device: str
    driver: str
    content: str
    payload: str | bytes
    mono: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)
    meta: Mapping[str, Any] = field(default_factory=dict)


class DeviceUnavailable(Exception):
    """The device cannot be opened (absent, busy, refused). The runner retries."""


class DeviceGone(Exception):
    """An open device went away (unplugged, reset, connection lost). The runner reopens it."""


REQUIRED = object()


@dataclass(frozen=True)
class Option:
    """One driver-specific config key: its type, default and an optional check.

    `check` returns an error message (without the key name) or None.
    """

    type: type | tuple[type, ...]
    default: Any = REQUIRED
    check: Callable[[Any], str | None] | None = None
    doc: str = ""


def one_of(*choices: Any) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(map(repr, choices))}"

    check.choices = choices  # type: ignore[attr-defined]  (for the generated config reference)
    return check


def in_range(low: float | None = None, high: float | None = None) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if low is not None and value < low:
            return f"must be at least {low}"
        if high is not None and value > high:
            return f"must be at most {high}"
        return None

    check.bounds = (low, high)  # type: ignore[attr-defined]  (for the generated config reference)
    return check


def resolve_settings(options: Mapping[str, Option], settings: Mapping[str, Any]) -> dict[str, Any]:
    """`settings` with every declared option's default filled in where the value is missing or None.

    The defaults live only in the Option specs, which the config validator applies too, so a driver
    built from a validated config and one built in a test with a few keys see the same values.
    A missing required key stays missing (a KeyError names it); undeclared keys (the device's
    common ones, read cycles) are kept.
    """
    out = dict(settings)
    for key, opt in options.items():
        if out.get(key) is None and opt.default is not REQUIRED:
            out[key] = copy.copy(opt.default)  # a list default must not be shared between devices
    return out


class Driver:
    """Base class: subclasses set `name`, `content`, `options` and implement open/read/close."""

    #: the `driver = "…"` value in config
    name: ClassVar[str] = ""
    #: what its Reads carry (see Read.content)
    content: ClassVar[str] = ""
    #: driver-specific config keys
    options: ClassVar[Mapping[str, Option]] = {}
    #: how long one read() may wait when nothing arrives; the runner checks stop and backpressure
    #: between reads, so this is also how late a stop or a pause is noticed
    idle_wait: ClassVar[float] = 0.2

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> list[str]:
        """Rules across keys that one Option cannot express; each problem names its keys."""
        return []

    def __init__(self, device: str, settings: Mapping[str, Any]):
        self.device = device
        #: the one way a driver reads its settings: `self.settings[key]`, defaults already applied
        self.settings = resolve_settings(self.options, settings)

    def open(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def read(self, timeout: float) -> list[Read]:  # pragma: no cover - interface
        """Block up to `timeout` seconds; return the reads that completed (maybe none).

        Raise DeviceGone if the device went away.
        """
        raise NotImplementedError

    def flush(self) -> list[Read]:
        """Return what should still count before close(): a half-framed scan, or what the device hands
        over when told to stop (an LLRP reader's final report). Called on shutdown and before a reopen."""
        return []

    def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:
        """Where the device is, for logs and status (never secrets)."""
        return self.name

    def make_read(self, payload: str | bytes, **meta: Any) -> Read:
        return Read(self.device, self.name, self.content, payload, meta=meta)
