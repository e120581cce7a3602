"""Device drivers, one module per device family.

The registry maps the config's `driver = "…"` to "module:Class" so that reading
a config never imports a hardware stack (OpenCV, evdev, pyusb) it does not use.
"""

from __future__ import annotations

import importlib

from .base import DeviceGone, DeviceUnavailable, Driver, Option, Read

REGISTRY: dict[str, str] = {
    "serial-scanner": "drivers.serial_scanner:SerialScanner",
    "hid-scanner": "drivers.hid_scanner:HidScanner",
    "usb-pos-scanner": "drivers.usb_pos_scanner:UsbPosScanner",
    "camera": "drivers.camera:Camera",
    "llrp": "drivers.llrp:LlrpReader",
    "serial-rfid": "drivers.serial_rfid:SerialRfidReader",
    "ascii-rfid": "drivers.ascii_rfid:AsciiRfidReader",
    "nmea": "drivers.nmea:NmeaReceiver",
    "gpsd": "drivers.gpsd:GpsdClient",
}


class UnknownDriver(LookupError):
    pass


def load(name: str) -> type[Driver]:
    """The driver class for a config name; UnknownDriver (plain message) if there is none."""
    target = REGISTRY.get(name)
    if target is None:
        raise UnknownDriver(f"unknown driver {name!r} (known: {', '.join(sorted(REGISTRY))})")
    module_name, _, cls_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownDriver(f"driver {name!r} cannot be loaded: {exc}") from exc
    return getattr(module, cls_name)


__all__ = ["REGISTRY", "Driver", "DeviceGone", "DeviceUnavailable", "Option", "Read", "UnknownDriver", "load"]
