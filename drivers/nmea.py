"""NMEA 0183 GPS/GNSS receivers on a serial line (USB CDC-ACM /dev/ttyACM*, USB-serial, UART).

One Read per complete sentence, payload the sentence text ("$GNGGA,...*5B"); the pipeline
assembles fixes from them (gateway.decode.nmea.NmeaAssembler). Framing only here: line
noise, cut sentences and over-long runs are dropped and counted in `self.framer.counters`.
Any talker (GP, GN, GL, GA, GB/BD, QZ, ...) passes; the assembler decides what it uses.

Baud rate: 9600 by default, the factory setting of most current modules (u-blox 6/7/M8/M10,
Quectel L76/L80/L86, MediaTek, CASIC). 4800 is the NMEA 0183 standard rate that SiRF
pucks and marine gear use; 38400 is the u-blox F9 default. USB CDC-ACM receivers ignore it.

Do not let gpsd own the same port (`exclusive` locks it for that reason).
"""

from __future__ import annotations

import os
import select
import time

from gateway.decode.nmea import MAX_SENTENCE, NmeaFramer

from .base import DeviceGone, DeviceUnavailable, Driver, Option, Read, in_range, one_of
from .serial_port import close_port, open_port

BAUDRATES = (4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)


class NmeaReceiver(Driver):
    name = "nmea"
    content = "nmea"
    idle_wait = 1.0  # a receiver talks once a second: waking 5 times between its bursts was most of its cost
    options = {
        "port": Option(str, doc="e.g. /dev/ttyACM0, /dev/serial0 or a udev name like /dev/tally/gps"),
        "baudrate": Option(int, 9600, one_of(*BAUDRATES),
                           doc="9600 for most modules, 4800 SiRF/marine, 38400 u-blox F9"),
        "max_length": Option(int, MAX_SENTENCE, in_range(82, 4096),
                             doc="longest sentence accepted, characters"),
        "exclusive": Option(bool, True, doc="lock the port so gpsd or a second gateway cannot read it too"),
    }

    def __init__(self, device, settings):
        super().__init__(device, settings)
        self.serial = None
        self.framer = NmeaFramer(max_length=self.settings["max_length"])

    @property
    def port(self) -> str:
        return self.settings["port"]

    def describe(self) -> str:
        return f"NMEA receiver on {self.port} @ {self.settings['baudrate']} baud"

    def open(self) -> None:
        if not os.path.exists(self.port):
            raise DeviceUnavailable(f"{self.port} does not exist (receiver unplugged?)")
        # timeout=0: reads never block; read() waits in select() with its own deadline,
        # which pyserial's timeout property would re-apply with a tcsetattr on every change.
        self.serial = open_port(self.port, baudrate=self.settings["baudrate"], timeout=0,
                                exclusive=self.settings["exclusive"])
        self.framer = NmeaFramer(self.framer.counters, self.settings["max_length"])

    def read(self, timeout: float) -> list[Read]:
        import serial

        port = self.serial
        if port is None:
            raise DeviceGone("not open")
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            remaining = deadline - time.monotonic()
            try:
                ready, _, _ = select.select([port.fileno()], [], [], max(0.0, remaining))
                data = port.read(max(1, port.in_waiting)) if ready else b""
            except (serial.SerialException, OSError, ValueError, TypeError) as exc:
                # EIO, "readiness to read but returned no data" (USB gone), a closed fd
                raise DeviceGone(f"{self.port} went away: {exc}") from None
            if data:
                reads = [self.make_read(s) for s in self.framer.feed(data)]
                if reads:
                    return reads
            elif not os.path.exists(self.port):
                raise DeviceGone(f"{self.port} disappeared")
            if time.monotonic() >= deadline:
                return []

    def close(self) -> None:
        close_port(self.serial)
        self.serial = None
