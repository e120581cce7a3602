"""Software stand-ins for every device family, for the demo and the tests.

Each simulator module exposes `add_arguments(parser)` and `run(args) -> int` for
`tally simulate KIND`, plus a class usable from tests. Simulators never import
`gateway`: they speak the device's own bytes.
"""

from __future__ import annotations

SIMULATORS: dict[str, tuple[str, str]] = {
    # kind: (module, one-line help)
    "serial-scanner": ("simulators.serial_scanner", "a serial barcode scanner on a pty typing labels"),
    "keyboard": ("simulators.keyboard", "a keyboard-wedge scanner's evdev event stream (uinput where present)"),
    "camera": ("simulators.camera", "camera frames or a video file with rendered barcodes"),
    "llrp": ("simulators.llrp_reader", "an LLRP RFID reader on a TCP port"),
    "serial-rfid": ("simulators.serial_rfid", "a serial UHF RFID module on a pty"),
    "gps": ("simulators.gps", "an NMEA GPS receiver on a pty driving a route"),
}
