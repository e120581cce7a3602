"""HID POS scanners (usb-pos-scanner): the beeper and good-read LED through HID output reports.

The HID Point of Sale Usage Tables (Bar Code Scanner page, 0x8C) name the outputs a host may drive:
Sound Error Beep (0x85), Sound Good Read Beep (0x86), Sound Not On File Beep (0x87) and Good Read LED
(0x7D). Where they sit in which output report is the scanner's own business, written in its HID report
descriptor, so the report bytes are built from that descriptor (`output_fields` parses it, `report_for`
sets the one field; both sans-I/O) and the driver only reads the descriptor and writes the bytes.

    [[device]]
    driver = "usb-pos-scanner"
    feedback = { accepted = "good-read", rejected = "error", unexpected = "not-on-file" }
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..outcomes import Outcome
from . import KEYS, key_of
from .worker import SignalWorker

if TYPE_CHECKING:
    from ..config import Config

BAR_CODE_SCANNER_PAGE = 0x8C
SIGNALS = {"error": 0x85, "good-read": 0x86, "not-on-file": 0x87, "good-read-led": 0x7D}


@dataclass(frozen=True, slots=True)
class OutputField:
    report_id: int           # 0: the device does not number its reports
    page: int
    usage: int
    bit: int                 # offset in the report, after the report ID byte
    size: int                # bits
    report_bits: int         # the whole report's length in bits (without the ID byte)


class DescriptorError(ValueError):
    pass


def _items(descriptor: bytes):
    i = 0
    while i < len(descriptor):
        prefix = descriptor[i]
        if prefix == 0xFE:  # a long item: its size is in the next byte; none of ours
            if i + 2 >= len(descriptor):
                raise DescriptorError("truncated long item")
            i += 3 + descriptor[i + 1]
            continue
        size = (0, 1, 2, 4)[prefix & 3]
        if i + 1 + size > len(descriptor):
            raise DescriptorError(f"truncated item at byte {i}")
        data = descriptor[i + 1:i + 1 + size]
        yield (prefix >> 2) & 3, prefix >> 4, int.from_bytes(data, "little"), size
        i += 1 + size


def output_fields(descriptor: bytes) -> list[OutputField]:
    """Every variable field of every output report in a HID report descriptor. Total: DescriptorError."""
    page = size = count = report_id = 0
    stack: list[tuple[int, int, int, int]] = []
    usages: list[tuple[int, int]] = []
    usage_min: int | None = None
    bits: dict[int, int] = {}
    found: list[tuple[int, int, int, int, int]] = []
    for kind, tag, value, nbytes in _items(descriptor):
        if kind == 1:    # global
            if tag == 0:
                page = value
            elif tag == 7:
                size = value
            elif tag == 8:
                report_id = value
            elif tag == 9:
                count = value
            elif tag == 10:
                stack.append((page, size, count, report_id))
            elif tag == 11:
                if not stack:
                    raise DescriptorError("Pop without Push")
                page, size, count, report_id = stack.pop()
        elif kind == 2:  # local
            full = (value >> 16, value & 0xFFFF) if nbytes == 4 else (page, value)
            if tag == 0:
                usages.append(full)
            elif tag == 1:
                usage_min = value
            elif tag == 2 and usage_min is not None:
                if value - usage_min > 4096:
                    raise DescriptorError("usage range too large")
                usages.extend((page, u) for u in range(usage_min, value + 1))
        elif kind == 0:  # main
            if tag == 9:  # Output
                if size * count > 1 << 16:
                    raise DescriptorError("output field too large")
                start = bits.get(report_id, 0)
                variable, constant = value & 0x02, value & 0x01
                if variable and not constant and usages:
                    for n in range(count):
                        up, u = usages[min(n, len(usages) - 1)]
                        found.append((report_id, up, u, start + n * size, size))
                bits[report_id] = start + size * count
            if tag in (8, 9, 10, 11, 12):
                usages, usage_min = [], None
    return [OutputField(r, p, u, b, s, bits[r]) for r, p, u, b, s in found]


def report_for(fields: list[OutputField], usage: int, page: int = BAR_CODE_SCANNER_PAGE) -> bytes | None:
    """The output report that switches `usage` on (everything else off); None if the scanner has no such output."""
    for f in fields:
        if f.page == page and f.usage == usage:
            body = bytearray((f.report_bits + 7) // 8)
            body[f.bit // 8] |= 1 << (f.bit % 8)  # the field's value 1: its least significant bit (HID is LSB first)
            return bytes([f.report_id]) + bytes(body)  # hidraw and SET_REPORT: ID first (0 when unnumbered)
    return None


def check_signals(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be a table of outcome = signal"
    for key, signal in value.items():
        if key not in KEYS:
            return f"{key!r} is not an outcome (known: {', '.join(KEYS)})"
        if signal not in SIGNALS:
            return f"{key}: {signal!r} is not a HID POS signal (known: {', '.join(SIGNALS)})"
    return None


class NoDevice(Exception):
    pass


class HidPosFeedback:
    """The observer for every HID POS scanner with `feedback` set; one worker thread per scanner."""

    def __init__(self, config: "Config", driver_of: Callable[[str], Any], queue: int):
        self.driver_of = driver_of
        self.signals = {d.name: {k: SIGNALS[v] for k, v in d.settings["feedback"].items()}
                        for d in config.devices if d.enabled and d.driver == "usb-pos-scanner"
                        and d.settings.get("feedback")}
        self.workers = {name: SignalWorker(f"hid-pos:{name}", self._send, queue) for name in self.signals}

    @staticmethod
    def _send(signal: tuple[Any, int]) -> None:
        driver, usage = signal
        if driver is None:
            raise NoDevice("the device is not running")
        driver.output(usage)

    def __call__(self, outcome: Outcome) -> None:
        usage = self.signals.get(outcome.device, {}).get(key_of(outcome.kind))
        if usage is not None:
            self.workers[outcome.device].put((self.driver_of(outcome.device), usage))

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()

    def status(self) -> list[dict[str, Any]]:
        return [w.status() for w in self.workers.values()]
