"""hid-scanner driver: config options, open errors, the read loop, and (where uinput exists) end to end."""

from __future__ import annotations

import errno
import os
import struct
import subprocess
import sys
import time

import pytest

from drivers import DeviceGone, DeviceUnavailable
from drivers.hid_scanner import HidScanner
from simulators.keyboard import VirtualWedge, key_events, uinput_available

GS = "\x1d"


def make(**settings) -> HidScanner:
    return HidScanner("wedge", {"device": "/dev/input/by-id/usb-Test_Scanner-event-kbd", **settings})


def test_driver_module_does_not_import_evdev():
    code = "import sys, drivers.hid_scanner; print('evdev' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_option_defaults_pass_their_own_checks_and_bad_values_are_named():
    for key, opt in HidScanner.options.items():
        if key != "device" and opt.check:
            assert opt.check(opt.default) is None, key
    opts = HidScanner.options
    assert "unknown terminator 'return'" in opts["terminator"].check(["enter", "return"])
    assert opts["terminator"].check("none") is None and opts["terminator"].check("tab") is None
    assert "single character" in opts["gs_substitute"].check("~~")
    assert opts["layout"].check("de") is None and "must be one of" in opts["layout"].check("dvorak")
    assert opts["grab"].default is True


def test_open_missing_device_is_unavailable():
    drv = make(device="/dev/input/by-id/no-such-scanner-event-kbd")
    with pytest.raises(DeviceUnavailable, match="cannot open"):
        drv.open()


def test_open_a_file_that_is_not_an_input_device_is_unavailable(tmp_path):
    path = tmp_path / "not-an-evdev"
    path.write_bytes(b"")
    drv = make(device=str(path))
    with pytest.raises(DeviceUnavailable):
        drv.open()


class PipeEventDevice:
    """Stand-in for evdev.InputDevice, because /dev/uinput (and so a real event node) is missing here.

    It speaks the kernel's own wire format: struct input_event records on a
    file descriptor, read back with evdev's InputEvent. EOF (the writer gone)
    reads as ENODEV, as an unplugged device does.
    """

    FMT = "llHHi"

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)

    def fileno(self) -> int:
        return self.r

    def send(self, events) -> None:
        data = b""
        for e in events:
            now = time.monotonic()
            data += struct.pack(self.FMT, int(now), int((now % 1) * 1e6), e.type, e.code, e.value)
        os.write(self.w, data)

    def unplug(self) -> None:
        os.close(self.w)

    def read(self):
        import evdev

        data = os.read(self.r, 24 * 64)
        if not data:
            raise OSError(errno.ENODEV, "No such device")
        return [evdev.InputEvent(*struct.unpack_from(self.FMT, data, off)) for off in range(0, len(data), 24)]

    def close(self) -> None:
        os.close(self.r)


@pytest.fixture
def piped():
    drv = make(layout="de", terminator="enter", char_timeout_ms=50, grab=False)
    dev = PipeEventDevice()
    drv._dev, drv._decoder, drv._clock = dev, drv._new_decoder(), time.monotonic
    yield drv, dev
    drv.close()


def test_read_loop_turns_events_into_reads(piped):
    drv, dev = piped
    dev.send(key_events("0109506000134352" + GS + "10ABC", "de", gs="alt", report_interval=0))
    reads = drv.read(1.0)
    assert [r.payload for r in reads] == ["0109506000134352" + GS + "10ABC"]
    assert reads[0].content == "barcode" and reads[0].driver == "hid-scanner" and reads[0].meta["ended_by"] == "enter"


def test_read_returns_within_timeout_when_idle(piped):
    drv, _ = piped
    t0 = time.monotonic()
    assert drv.read(0.05) == []
    assert time.monotonic() - t0 < 0.5


def test_read_ends_an_unterminated_scan_after_the_char_timeout(piped):
    drv, dev = piped
    dev.send(key_events("12345", "de", terminator="none", report_interval=0))
    t0 = time.monotonic()
    reads = drv.read(2.0)
    assert [r.payload for r in reads] == ["12345"] and reads[0].meta["ended_by"] == "timeout"
    assert time.monotonic() - t0 < 1.0


def test_flush_returns_a_partial_scan(piped):
    drv, dev = piped
    dev.send(key_events("987", "de", terminator="none", report_interval=0))
    drv._decoder.char_timeout = None
    assert drv.read(0.05) == []
    assert [r.payload for r in drv.flush()] == ["987"]


def test_unplugged_device_raises_device_gone(piped):
    drv, dev = piped
    dev.unplug()
    with pytest.raises(DeviceGone, match="went away"):
        drv.read(1.0)


def test_oversized_scan_is_counted_not_read(piped):
    drv, dev = piped
    drv._decoder.max_length = 4
    dev.send(key_events("123456", "de", report_interval=0) + key_events("12", "de", report_interval=0))
    assert [r.payload for r in drv.read(1.0)] == ["12"]
    assert drv.stats["rejected"] == 1


def test_describe_names_the_device_and_layout():
    assert make(layout="fr").describe() == "hid-scanner /dev/input/by-id/usb-Test_Scanner-event-kbd (fr layout)"


@pytest.mark.skipif(not uinput_available(), reason="/dev/uinput is missing: no virtual keyboard on this machine")
@pytest.mark.parametrize("layout,gs", [("us", "ctrl"), ("de", "alt"), ("fr", "ctrl")])
def test_end_to_end_through_a_uinput_virtual_keyboard(layout, gs):
    text = "]C10109506000134352" + GS + "10ABC"
    with VirtualWedge(layout, gs=gs) as kb:
        time.sleep(0.3)
        drv = HidScanner("wedge", {"device": kb.path, "layout": layout})
        drv.open()
        try:
            kb.type(text)
            reads = []
            deadline = time.monotonic() + 5
            while not reads and time.monotonic() < deadline:
                reads += drv.read(0.5)
            assert [r.payload for r in reads] == [text]
        finally:
            drv.close()
