"""USB scanners in HID POS mode (HID usage page 0x8C, Bar Code Scanner), read through pyusb or hidraw.

In HID POS mode a scanner sends its data as "scanned data" input reports
instead of typing it, so there is no keyboard layout, no lost GS, and the
AIM symbology identifier arrives in its own field. Report layout, as
documented by Honeywell and Access-IS for their HID POS scanners and used by
Windows' HID POS barcode driver (USB "HID Point of Sale Usage Tables" 1.02,
usages 0xFB–0xFF):

    byte 0      report ID (0x02)
    byte 1      number of data bytes in this report (0–56)
    bytes 2–4   symbology identifier 1–3: the AIM identifier, e.g. "]C1" (zeros: none)
    bytes 5–60  decoded data
    byte 61     vendor symbology code (Honeywell Code ID, e.g. "j" Code 128)
    byte 62     reserved
    byte 63     bit 0: decode data continued (more reports follow)

`HidPosParser` is sans-I/O (reports in, scans out); `UsbPosScanner` is the
thin pyusb (or /dev/hidrawN) glue around it.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import threading
import time
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

from gateway.feedback.hid_pos import OutputField, check_signals, output_fields, report_for

from .base import DeviceGone, DeviceUnavailable, Driver, Option, Read, in_range

log = logging.getLogger(__name__)

REPORT_SIZE = 64
DATA_OFFSET, DATA_MAX = 5, 56
VENDOR_CODE_OFFSET, CONTINUED_OFFSET = 61, 63
HID_CLASS = 3


@dataclass(frozen=True, slots=True)
class ScannedData:
    """One complete scan: `text` is the AIM identifier followed by the data."""

    aim: str
    data: bytes
    vendor_code: str

    @property
    def text(self) -> str:
        try:
            body = self.data.decode("utf-8")
        except UnicodeDecodeError:
            body = self.data.decode("latin-1")  # every byte maps: nothing is lost
        return self.aim + body


@dataclass(frozen=True, slots=True)
class HidPosError:
    """A report that could not be used; `reason` says why in words. Any partial scan is dropped."""

    reason: str


Outcome = ScannedData | HidPosError


class HidPosParser:
    """Feed input reports (bytes, report ID first); get `ScannedData` when a scan is complete."""

    def __init__(self, report_id: int = 0x02, max_length: int = 65536):
        self.report_id = report_id
        self.max_length = max_length
        #: reports with another ID (status, vendor): not scanned data
        self.ignored = 0
        self._parts: list[bytes] = []
        self._size = 0
        self._aim = ""
        # after a rejected report, the rest of that scan's reports are dropped
        self._discarding = False

    def feed(self, report: bytes | bytearray | memoryview) -> list[Outcome]:
        report = bytes(report)
        if not report or report[0] != self.report_id:
            self.ignored += 1
            return []
        if len(report) < REPORT_SIZE:
            self._reset()
            return [HidPosError(f"scanned-data report of {len(report)} bytes, expected {REPORT_SIZE}")]
        continued = bool(report[CONTINUED_OFFSET] & 0x01)
        if self._discarding:
            self._discarding = continued
            return []
        length = report[1]
        if length > DATA_MAX:
            self._reset()
            self._discarding = continued
            return [HidPosError(f"report claims {length} data bytes, at most {DATA_MAX} fit")]
        aim_bytes = report[2:5]
        aim = "" if aim_bytes == b"\x00\x00\x00" else aim_bytes.decode("latin-1")
        if not self._parts:
            self._aim = aim
        self._parts.append(report[DATA_OFFSET:DATA_OFFSET + length])
        self._size += length
        if self._size > self.max_length:
            self._reset()
            self._discarding = continued
            return [HidPosError(f"scan longer than {self.max_length} bytes; dropped")]
        if continued:
            return []
        code = report[VENDOR_CODE_OFFSET]
        scan = ScannedData(self._aim, b"".join(self._parts), chr(code) if 0x20 < code < 0x7F else "")
        self._reset()
        return [scan]

    @property
    def pending(self) -> bool:
        return bool(self._parts)

    def _reset(self) -> None:
        self._parts, self._size, self._aim = [], 0, ""


def build_reports(data: bytes, aim: str = "", vendor_code: str = "", report_id: int = 0x02) -> list[bytes]:
    """The reports a HID POS scanner sends for one scan (for tests and simulators)."""
    aim_bytes = aim.encode("latin-1").ljust(3, b"\x00")[:3]
    chunks = [data[i:i + DATA_MAX] for i in range(0, len(data), DATA_MAX)] or [b""]
    reports = []
    for i, chunk in enumerate(chunks):
        r = bytearray(REPORT_SIZE)
        r[0], r[1] = report_id, len(chunk)
        r[2:5] = aim_bytes
        r[DATA_OFFSET:DATA_OFFSET + len(chunk)] = chunk
        r[VENDOR_CODE_OFFSET] = ord(vendor_code) if vendor_code else 0
        r[CONTINUED_OFFSET] = 1 if i < len(chunks) - 1 else 0
        reports.append(bytes(r))
    return reports



class UsbPosScanner(Driver):
    name = "usb-pos-scanner"
    content = "barcode"
    options: Mapping[str, Option] = {
        "vid": Option(int, 0, in_range(0, 0xFFFF), "USB vendor ID, e.g. 0x0c2e (Honeywell); with pid"),
        "pid": Option(int, 0, in_range(0, 0xFFFF), "USB product ID"),
        "serial": Option(str, "", doc="USB serial number, to pick one of several identical scanners"),
        "hidraw": Option(str, "", doc="read /dev/hidrawN (or a udev symlink) instead of claiming the device "
                                      "with pyusb; no kernel driver is detached"),
        "report_id": Option(int, 0x02, in_range(1, 255), "report ID of the scanned-data report"),
        "feedback": Option(dict, {}, check_signals,
                           doc="HID POS output per outcome: good-read, error, not-on-file or good-read-led, e.g. "
                               "{ accepted = \"good-read\", rejected = \"error\" }"),
    }

    def __init__(self, device: str, settings: Mapping[str, Any]):
        super().__init__(device, settings)
        self.parser = HidPosParser(int(self.settings["report_id"]))
        self.errors = 0
        self._fd: int | None = None
        self._usb: Any = None
        self._ep: Any = None
        self._intf: int | None = None
        self._reattach = False
        self._outputs: list[OutputField] | None = None  # from the report descriptor, once per open
        self._write_lock = threading.Lock()

    @classmethod
    def check_settings(cls, settings):
        if settings.get("hidraw") or (settings.get("vid") and settings.get("pid")):
            return []
        return ["set vid and pid (the scanner's USB ids), or hidraw (its /dev/hidrawN)"]

    def describe(self) -> str:
        if self.settings["hidraw"]:
            return f"usb-pos-scanner {self.settings['hidraw']}"
        return f"usb-pos-scanner {self.settings['vid']:04x}:{self.settings['pid']:04x}"

    # -- open ----------------------------------------------------------------------

    def open(self) -> None:
        self.parser = HidPosParser(int(self.settings["report_id"]))
        self._outputs = None
        if self.settings["hidraw"]:
            self._open_hidraw(self.settings["hidraw"])
        elif self.settings["vid"] and self.settings["pid"]:
            self._open_usb()
        else:
            raise DeviceUnavailable("usb-pos-scanner needs vid and pid, or hidraw")

    def _open_hidraw(self, path: str) -> None:
        try:
            # writing (feedback) needs the node writable; without feedback, read-only access is enough
            mode = os.O_RDWR if self.settings["feedback"] else os.O_RDONLY
            self._fd = os.open(path, mode | os.O_NONBLOCK)
        except OSError as exc:
            raise DeviceUnavailable(f"cannot open {path}: {exc.strerror}") from exc

    def _open_usb(self) -> None:
        try:
            import usb.core
            import usb.util
        except ImportError as exc:
            raise DeviceUnavailable(f"pyusb is not installed: {exc}") from exc
        vid, pid, serial = self.settings["vid"], self.settings["pid"], self.settings["serial"]

        def wanted(dev: Any) -> bool:
            if not serial:
                return True
            try:
                return usb.util.get_string(dev, dev.iSerialNumber) == serial
            except (usb.core.USBError, ValueError):
                return False

        try:
            dev = usb.core.find(idVendor=vid, idProduct=pid, custom_match=wanted)
        except usb.core.NoBackendError as exc:
            raise DeviceUnavailable(f"no libusb backend for pyusb (apt-get install libusb-1.0-0): {exc}") from exc
        except usb.core.USBError as exc:
            raise DeviceUnavailable(f"{self.describe()}: {exc}") from exc
        if dev is None:
            raise DeviceUnavailable(f"{self.describe()}: no such USB device")
        try:
            intf, ep = self._hid_in_endpoint(dev, usb)
            if dev.is_kernel_driver_active(intf):
                dev.detach_kernel_driver(intf)  # usbhid holds it; we give it back on close
                self._reattach = True
            usb.util.claim_interface(dev, intf)
        except usb.core.USBError as exc:
            raise DeviceUnavailable(f"{self.describe()}: cannot claim the HID interface: {exc}") from exc
        self._usb, self._ep, self._intf = dev, ep, intf

    @staticmethod
    def _hid_in_endpoint(dev: Any, usb: Any) -> tuple[int, Any]:
        cfg = dev.get_active_configuration()
        for intf in cfg:
            if intf.bInterfaceClass != HID_CLASS:
                continue
            for ep in intf:
                if (usb.util.endpoint_direction(ep.bEndpointAddress) == usb.util.ENDPOINT_IN
                        and usb.util.endpoint_type(ep.bmAttributes) == usb.util.ENDPOINT_TYPE_INTR):
                    return intf.bInterfaceNumber, ep
        raise usb.core.USBError("no HID interface with an interrupt IN endpoint (is the scanner in HID POS mode?)")

    # -- read ----------------------------------------------------------------------

    def read(self, timeout: float) -> list[Read]:
        deadline = time.monotonic() + max(0.0, timeout)
        reads: list[Read] = []
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            data = self._next_report(remaining)
            # hidraw returns one report per read; a pipe standing in for it may join them
            for off in range(0, len(data or b""), REPORT_SIZE):
                reads += self._reads(self.parser.feed(data[off:off + REPORT_SIZE]))
            if reads or time.monotonic() >= deadline:
                return reads

    def _next_report(self, wait: float) -> bytes | None:
        if self._fd is not None:
            try:
                ready, _, _ = select.select([self._fd], [], [], wait)
                if not ready:
                    return None
                data = os.read(self._fd, 4096)
            except BlockingIOError:
                return None
            except OSError as exc:
                raise DeviceGone(f"{self.describe()} went away: {exc.strerror}") from exc
            if not data:
                raise DeviceGone(f"{self.describe()} went away (end of file)")
            return data
        if self._ep is None:
            raise DeviceGone(f"{self.describe()} is not open")
        import usb.core

        try:
            return bytes(self._ep.read(self._ep.wMaxPacketSize, timeout=max(1, int(wait * 1000))))
        except usb.core.USBTimeoutError:
            return None
        except usb.core.USBError as exc:
            if exc.errno == errno.ETIMEDOUT:
                return None
            # ENODEV/EIO/EPIPE (unplugged, reset) and anything else: the runner reopens
            raise DeviceGone(f"{self.describe()} went away: {exc}") from exc

    # -- feedback (output reports) ---------------------------------------------------

    def _report_descriptor(self) -> bytes:
        if self._fd is not None:
            node = os.path.basename(os.path.realpath(self.settings["hidraw"]))
            with open(f"/sys/class/hidraw/{node}/device/report_descriptor", "rb") as fh:
                return fh.read()
        if self._usb is None:
            raise DeviceGone(f"{self.describe()} is not open")
        # GET_DESCRIPTOR (Report, 0x22) from the HID interface
        return bytes(self._usb.ctrl_transfer(0x81, 0x06, 0x2200, self._intf, 4096))

    def output(self, usage: int) -> None:
        """Drive one HID POS output (a beep, the good-read LED); from a feedback thread."""
        with self._write_lock:
            if self._outputs is None:
                self._outputs = output_fields(self._report_descriptor())
            report = report_for(self._outputs, usage)
            if report is None:
                raise ValueError(f"the scanner's report descriptor has no output for HID POS usage 0x{usage:02X}")
            if self._fd is not None:
                os.write(self._fd, report)
            elif self._usb is not None:
                # SET_REPORT (Output) on the control pipe: every HID device takes it
                data = report if report[0] else report[1:]
                self._usb.ctrl_transfer(0x21, 0x09, 0x0200 | report[0], self._intf, data)
            else:
                raise DeviceGone(f"{self.describe()} is not open")

    def _reads(self, outcomes: list[Outcome]) -> list[Read]:
        reads = []
        for o in outcomes:
            if isinstance(o, ScannedData):
                meta = {"aim": o.aim} if o.aim else {}
                if o.vendor_code:
                    meta["vendor_code"] = o.vendor_code
                reads.append(self.make_read(o.text, **meta))
            else:
                self.errors += 1
                log.warning("%s: %s", self.describe(), o.reason)
        return reads

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:
                pass
        dev, self._usb, self._ep = self._usb, None, None
        if dev is None:
            return
        import usb.core
        import usb.util

        # Each step may fail on an unplugged device; nothing is left to give back then.
        try:
            usb.util.release_interface(dev, self._intf)
            if self._reattach:
                dev.attach_kernel_driver(self._intf)
        except usb.core.USBError:
            pass
        usb.util.dispose_resources(dev)
        self._reattach = False
