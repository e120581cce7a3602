"""usb-pos-scanner glue: config, open errors, the hidraw read loop on a pipe, pyusb where hardware exists."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from drivers import DeviceGone, DeviceUnavailable
from drivers.usb_pos_scanner import UsbPosScanner, build_reports

GS = "\x1d"


def test_module_does_not_import_pyusb():
    code = "import sys, drivers.usb_pos_scanner; print('usb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_option_defaults_pass_their_checks():
    for key, opt in UsbPosScanner.options.items():
        if opt.check:
            assert opt.check(opt.default) is None, key
    assert UsbPosScanner.options["vid"].check(0x10000)


def test_needs_vid_and_pid_or_hidraw():
    with pytest.raises(DeviceUnavailable, match="needs vid and pid, or hidraw"):
        UsbPosScanner("pos", {}).open()


def test_absent_usb_device_is_unavailable():
    # pyusb runs for real here: either no libusb backend or no such device, both "unavailable"
    drv = UsbPosScanner("pos", {"vid": 0x0C2E, "pid": 0x0B8F, "serial": "NOPE"})
    with pytest.raises(DeviceUnavailable):
        drv.open()
    assert drv.describe() == "usb-pos-scanner 0c2e:0b8f"


def test_absent_hidraw_is_unavailable(tmp_path):
    with pytest.raises(DeviceUnavailable, match="cannot open"):
        UsbPosScanner("pos", {"hidraw": str(tmp_path / "hidraw9")}).open()


@pytest.fixture
def fifo_scanner(tmp_path):
    """/dev/hidrawN stands in as a FIFO (no HID POS scanner here): reports are the same bytes."""
    path = tmp_path / "hidraw0"
    os.mkfifo(path)
    drv = UsbPosScanner("pos", {"hidraw": str(path)})
    drv.open()  # O_NONBLOCK: opens without a writer
    writer = os.open(path, os.O_WRONLY)
    yield drv, writer
    drv.close()
    try:
        os.close(writer)
    except OSError:
        pass


def test_hidraw_read_loop_returns_reads_with_aim(fifo_scanner):
    drv, writer = fifo_scanner
    data = ("0109506000134352" + GS + "10" + "L" * 60).encode()
    for r in build_reports(data, "]C1", "j"):
        os.write(writer, r)
    reads = drv.read(1.0)
    assert [r.payload for r in reads] == ["]C1" + data.decode()]
    assert reads[0].meta == {"aim": "]C1", "vendor_code": "j"} and reads[0].driver == "usb-pos-scanner"


def test_read_waits_for_a_report_within_timeout(fifo_scanner):
    drv, writer = fifo_scanner
    t0 = time.monotonic()
    assert drv.read(0.05) == []
    assert time.monotonic() - t0 < 0.5
    threading.Timer(0.05, lambda: os.write(writer, build_reports(b"4006381333931", "]E0")[0])).start()
    assert [r.payload for r in drv.read(2.0)] == ["]E04006381333931"]


def test_bad_report_is_counted_not_read(fifo_scanner):
    drv, writer = fifo_scanner
    bad = bytearray(build_reports(b"x")[0])
    bad[1] = 99
    os.write(writer, bytes(bad) + build_reports(b"ok", "]C0")[0])
    assert [r.payload for r in drv.read(1.0)] == ["]C0ok"] and drv.errors == 1


def test_unplugged_hidraw_is_gone(fifo_scanner):
    drv, writer = fifo_scanner
    os.close(writer)
    with pytest.raises(DeviceGone):
        drv.read(1.0)


def _hid_pos_device_present() -> bool:
    return bool(os.environ.get("TALLY_HIDPOS_VID") and os.environ.get("TALLY_HIDPOS_PID"))


@pytest.mark.skipif(not _hid_pos_device_present(),
                    reason="no HID POS scanner attached (set TALLY_HIDPOS_VID/PID and scan a code to run)")
def test_pyusb_glue_reads_a_real_scanner():
    drv = UsbPosScanner("pos", {"vid": int(os.environ["TALLY_HIDPOS_VID"], 0),
                                "pid": int(os.environ["TALLY_HIDPOS_PID"], 0)})
    drv.open()
    try:
        deadline = time.monotonic() + 20
        reads = []
        while not reads and time.monotonic() < deadline:
            reads = drv.read(1.0)
        assert reads and reads[0].payload
    finally:
        drv.close()
