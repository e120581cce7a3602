"""Serial UHF RFID modules (MagicRF M100 family: YRM100, JRD-100, M5Stack UHF) via pyserial.

The module inventories on command: `multi-poll` starts its continuous inventory rounds (re-armed
when it goes quiet), `single-poll` asks for one round every poll_interval_ms. Each tag notice
becomes one Read: EPC hex upper-case, meta rssi (dBm) and pc; notices whose Gen2 CRC does not
match the EPC are dropped (a corrupted EPC must not become an event).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from . import m100_protocol as m100
from .base import DeviceGone, DeviceUnavailable, Driver, Option, Read, in_range, one_of
from .serial_port import close_port, open_port, read_available, write_all

log = logging.getLogger(__name__)

#: a module that stops sending for this long while multi-polling gets its inventory re-armed
REARM_S = 2.0


class SerialRfidReader(Driver):
    name = "serial-rfid"
    content = "epc"
    options = {
        "port": Option(str, doc="e.g. /dev/ttyUSB0 or a udev name like /dev/tally/uhf-1"),
        "baudrate": Option(int, 115200, one_of(9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)),
        "protocol": Option(str, "m100", one_of("m100"), doc="module command set"),
        "mode": Option(str, "multi-poll", one_of("multi-poll", "single-poll")),
        "poll_interval_ms": Option(int, 100, in_range(10, 60_000), doc="single-poll period"),
        "transmit_power": Option((int, float), None, in_range(0, 33), doc="dBm; unset = module default"),
        "check_module": Option(bool, True, doc="ask the module for its version on open (fails fast on a wrong port)"),
    }

    def __init__(self, device: str, settings: dict[str, Any]):
        super().__init__(device, settings)
        self.serial = None
        self.framer = m100.M100Framer()
        self.module_info = ""
        self._next_poll = 0.0
        self._last_frame = 0.0
        self._bad_crc = 0

    def describe(self) -> str:
        return f"{self.settings['port']} @ {self.settings['baudrate']} baud (M100)"

    def open(self) -> None:
        port = self.settings["port"]
        self.serial = open_port(port, baudrate=self.settings["baudrate"])
        self.framer = m100.M100Framer()
        try:
            self.serial.reset_input_buffer()
            self._write(m100.stop_multi_poll())  # a module left inventorying by someone else
            if self.settings["check_module"]:
                info = self._request(m100.get_info(m100.INFO_HARDWARE), m100.CMD_GET_INFO, 1.0)
                if info is None:
                    raise DeviceUnavailable(f"{port}: no M100 module answers (wrong port or baud rate?)")
                self.module_info = info.payload[1:].decode("ascii", "replace").strip("\0 ")
                log.info("%s: M100 module %r on %s", self.device, self.module_info, port)
            power = self.settings["transmit_power"]
            if power is not None:
                reply = self._request(m100.set_power(power), m100.CMD_SET_POWER, 1.0)
                if reply is None or reply.is_error or reply.payload[:1] != b"\x00":
                    raise DeviceUnavailable(f"{port}: module refused transmit power {power} dBm")
            if self.settings["mode"] == "multi-poll":
                self._write(m100.multi_poll(0xFFFF))
        except DeviceGone as exc:
            self.close()
            raise DeviceUnavailable(str(exc)) from None
        except DeviceUnavailable:
            self.close()
            raise
        now = time.monotonic()
        self._last_frame = now
        self._next_poll = now

    def _write(self, data: bytes) -> None:
        write_all(self.serial, self.settings["port"], data)

    def _request(self, command: bytes, answer: int, timeout: float) -> m100.Frame | None:
        """Send a command and wait for its response frame; tag notices meanwhile are ignored."""
        self._write(command)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.framer.feed(self._read_bytes()):
                if frame.type == m100.TYPE_RESPONSE and frame.command in (answer, m100.CMD_ERROR):
                    return frame
        return None

    def _read_bytes(self) -> bytes:
        return read_available(self.serial, self.settings["port"])

    def read(self, timeout: float) -> list[Read]:
        deadline = time.monotonic() + timeout
        reads: list[Read] = []
        single = self.settings["mode"] == "single-poll"
        while True:
            now = time.monotonic()
            if single and now >= self._next_poll:
                self._write(m100.single_poll())
                self._next_poll = now + self.settings["poll_interval_ms"] / 1000.0
            elif not single and now - self._last_frame > REARM_S:
                self._write(m100.multi_poll(0xFFFF))
                self._last_frame = now
            data = self._read_bytes()
            if data:
                for frame in self.framer.feed(data):
                    self._last_frame = time.monotonic()
                    read = self._to_read(frame)
                    if read is not None:
                        reads.append(read)
            if reads or time.monotonic() >= deadline:
                return reads

    def _to_read(self, frame: m100.Frame) -> Read | None:
        if frame.type == m100.TYPE_NOTICE and frame.command == m100.CMD_SINGLE_POLL:
            try:
                notice = m100.parse_tag_notice(frame)
            except m100.M100Error as exc:
                log.warning("%s: dropped a tag notice: %s", self.device, exc)
                return None
            if not notice.crc_ok:
                self._bad_crc += 1
                log.warning("%s: dropped a tag notice with a bad CRC (%d so far)", self.device, self._bad_crc)
                return None
            return self.make_read(notice.epc_hex, rssi=notice.rssi, pc=f"{notice.pc:04X}")
        if frame.is_error and frame.error_code != m100.ERROR_NO_TAG:
            log.warning("%s: module error: %s", self.device, frame.describe_error())
        return None

    def close(self) -> None:
        close_port(self.serial, goodbye=m100.stop_multi_poll())
        self.serial = None
