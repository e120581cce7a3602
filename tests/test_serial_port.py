"""Serial ports are opened without throwing away what the device sent while the port was closed: a gateway
restarting after SIGKILL reads the scans that arrived meanwhile (pyserial empties the queue on open)."""

from __future__ import annotations

import time

from drivers.serial_port import open_port, read_available
from simulators.serial_scanner import SerialScannerSimulator


def test_scans_sent_while_the_port_was_closed_are_read_after_open(tmp_path):
    sim = SerialScannerSimulator(str(tmp_path / "scanner"), terminator="cr").start()
    try:
        first = open_port(sim.path, baudrate=9600, timeout=0.2)
        first.close()                      # the gateway dies ...
        sim.scan("SCANNED-WHILE-DOWN")     # ... the worker scans ...
        port = open_port(sim.path, baudrate=9600, timeout=0.2)  # ... and it comes back
        try:
            data = b""
            deadline = time.monotonic() + 5
            while b"\r" not in data and time.monotonic() < deadline:
                data += read_available(port, sim.path)
            assert data == b"SCANNED-WHILE-DOWN\r"
        finally:
            port.close()
    finally:
        sim.stop()
