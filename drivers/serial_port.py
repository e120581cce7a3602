"""The pyserial handling every serial device family shares: open, read what is there, write, close.

One place decides what an unplugged port looks like (SerialException, EIO, "readiness to read
but returned no data", a closed fd) and turns it into DeviceGone, and what a port that cannot
be opened looks like (DeviceUnavailable), so every serial driver reopens the same way.
"""

from __future__ import annotations

from typing import Any

from .base import DeviceGone, DeviceUnavailable


def open_port(path: str, *, baudrate: int, timeout: float | None = 0.05, exclusive: bool = True,
              **settings: Any) -> Any:
    import serial  # pyserial, imported here so that a config check needs no serial stack

    port = serial.Serial(None, baudrate=baudrate, timeout=timeout, exclusive=exclusive, **settings)
    port.port = path
    # pyserial empties the input queue on open. What the device sent while we were away (a gateway
    # restarting after a crash, a reader pausing under backpressure) are scans: keep them.
    port._reset_input_buffer = lambda: None
    try:
        port.open()
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceUnavailable(f"cannot open {path}: {exc}") from None
    finally:
        del port._reset_input_buffer
    return port


#: At most this much per read: what is not read stays in the device's buffer, where backpressure wants it
#: (the gateway asks before each read whether it has room; one read must not empty a 200 KB pty buffer).
CHUNK = 4096


def read_available(port: Any, path: str) -> bytes:
    """What the device sent (at least one byte, or b"" after the port's timeout), up to CHUNK bytes."""
    import serial

    if port is None:
        raise DeviceGone("not open")
    try:
        return port.read(min(CHUNK, max(1, port.in_waiting)))
    except (serial.SerialException, OSError, ValueError, TypeError) as exc:
        raise DeviceGone(f"{path} went away: {exc}") from None


def write_all(port: Any, path: str, data: bytes) -> None:
    import serial

    if port is None:
        raise DeviceGone("not open")
    try:
        port.write(data)
    except (serial.SerialException, OSError, ValueError, TypeError) as exc:
        raise DeviceGone(f"{path} went away: {exc}") from None


def close_port(port: Any, goodbye: bytes = b"") -> None:
    """Best effort: the device may already be gone."""
    if port is None:
        return
    if goodbye:
        try:
            port.write(goodbye)
        except Exception:
            pass
    try:
        port.close()
    except Exception:
        pass
