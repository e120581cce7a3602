"""Serial barcode scanners (RS-232, USB CDC-ACM /dev/ttyACM*, USB-serial) via pyserial."""

from __future__ import annotations

import threading
import time

from gateway.feedback.presets import PRESETS
from gateway.feedback.serial import check_commands

from .base import DeviceGone, Driver, Option, Read, in_range, one_of
from .scanner_framing import TERMINATORS, ScanFramer
from .serial_port import close_port, open_port, read_available, write_all

PARITY = {"none": "N", "even": "E", "odd": "O", "mark": "M", "space": "S"}


class SerialScanner(Driver):
    name = "serial-scanner"
    content = "barcode"
    options = {
        "port": Option(str, doc="e.g. /dev/ttyACM0 or a udev name like /dev/tally/door-1"),
        "baudrate": Option(int, 9600, one_of(1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)),
        "bytesize": Option(int, 8, one_of(5, 6, 7, 8)),
        "parity": Option(str, "none", one_of(*PARITY)),
        "stopbits": Option((int, float), 1, one_of(1, 1.5, 2)),
        "rtscts": Option(bool, False),
        "terminator": Option(str, "any", one_of(*TERMINATORS), doc="what ends a scan; none = silence"),
        "char_timeout_ms": Option((int, float), 50, in_range(1, 10_000)),
        "prefix": Option(str, "", doc="stripped from the start of each scan"),
        "suffix": Option(str, "", doc="stripped from the end of each scan"),
        "max_length": Option(int, 4096, in_range(16, 1 << 20)),
        "encoding": Option(str, "utf-8", one_of("utf-8", "latin-1", "ascii")),
        "feedback": Option(dict, {}, check_commands,
                           doc="bytes written back per outcome, e.g. { accepted = \"\\u0007\", "
                               "rejected = \"\\u001bBAD\\r\" }; accepted only once the event is committed"),
        "feedback_preset": Option(str, "", one_of("", *PRESETS),
                                  doc="host commands of a scanner family (from its manual); feedback overrides"),
    }

    def __init__(self, device, settings):
        super().__init__(device, settings)
        self.serial = None
        self.framer = self._framer()
        self._write_lock = threading.Lock()

    def _framer(self) -> ScanFramer:
        s = self.settings
        return ScanFramer(s["terminator"], s["char_timeout_ms"] / 1000.0, s["prefix"], s["suffix"], s["max_length"],
                          s["encoding"])

    def describe(self) -> str:
        return f"{self.settings['port']} @ {self.settings['baudrate']} baud"

    def open(self) -> None:
        s = self.settings
        self.serial = open_port(s["port"], baudrate=s["baudrate"], bytesize=s["bytesize"], parity=PARITY[s["parity"]],
                                stopbits=s["stopbits"], rtscts=s["rtscts"],
                                # An idle scanner should cost nothing: block long unless silence ends a scan.
                                timeout=0.2 if s["terminator"] != "none" else s["char_timeout_ms"] / 1000.0,
                                # feedback writes come from their own thread; a stalled port fails them
                                write_timeout=1.0)
        self.framer = self._framer()

    def read(self, timeout: float) -> list[Read]:
        deadline = time.monotonic() + timeout
        reads: list[Read] = []
        while True:
            data = read_available(self.serial, self.settings["port"])
            now = time.monotonic()
            frames = self.framer.feed(data, now) if data else self.framer.tick(now)
            reads.extend(self.make_read(f.text, aim=f.aim, error=f.error) for f in frames)
            if reads or now >= deadline:
                return reads

    def write(self, data: bytes) -> None:
        """Feedback to the scanner (thread-safe; pyserial reads and writes from two threads)."""
        with self._write_lock:
            port = self.serial
            if port is None:
                raise DeviceGone("not open")
            write_all(port, self.settings["port"], data)

    def flush(self) -> list[Read]:
        return [self.make_read(f.text, aim=f.aim, error=f.error) for f in self.framer.flush()]

    def close(self) -> None:
        close_port(self.serial)
        self.serial = None
