"""HID POS feedback: output reports built from the scanner's own report descriptor (usage page 0x8C)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.usb_pos_scanner import UsbPosScanner
from gateway.config import ConfigError, parse
from gateway.feedback.hid_pos import SIGNALS, DescriptorError, HidPosFeedback, output_fields, report_for
from gateway.outcomes import Outcome

# A HID POS scanner: the scanned-data input report 2, and output report 4 with the good-read LED and the
# three beeps as one-bit flags, padded to a byte (HID Point of Sale Usage Tables, page 0x8C).
DESCRIPTOR = bytes([
    0x05, 0x8C, 0x09, 0x02, 0xA1, 0x01,            # Usage Page (Bar Code Scanner), Usage, Collection (Application)
    0x85, 0x02, 0x75, 0x08, 0x95, 0x3F, 0x09, 0xFE, 0x81, 0x02,  # Report 2: 63 bytes in
    0x85, 0x04, 0x15, 0x00, 0x25, 0x01, 0x75, 0x01,  # Report 4, logical 0..1, 1 bit each
    0x95, 0x01, 0x09, 0x7D, 0x91, 0x02,              # Good Read LED
    0x95, 0x03, 0x09, 0x85, 0x09, 0x86, 0x09, 0x87, 0x91, 0x02,  # Sound Error / Good Read / Not On File Beep
    0x95, 0x04, 0x91, 0x01,                          # padding
    0xC0,
])


def test_output_reports_from_the_descriptor():
    fields = output_fields(DESCRIPTOR)
    assert {(f.report_id, f.usage, f.bit) for f in fields} == {(4, 0x7D, 0), (4, 0x85, 1), (4, 0x86, 2), (4, 0x87, 3)}
    assert report_for(fields, SIGNALS["good-read-led"]) == b"\x04\x01"
    assert report_for(fields, SIGNALS["error"]) == b"\x04\x02"
    assert report_for(fields, SIGNALS["good-read"]) == b"\x04\x04"
    assert report_for(fields, SIGNALS["not-on-file"]) == b"\x04\x08"
    assert report_for(fields, 0x84) is None  # Powerup Beep is not an output of this scanner


def test_unnumbered_reports_extended_usages_ranges_and_push_pop():
    descriptor = bytes([
        0x05, 0x01, 0xA1, 0x01,                    # a Generic Desktop collection around it
        0xA4,                                      # Push (page 1)
        0x05, 0x8C, 0x75, 0x01, 0x95, 0x08, 0x91, 0x01,  # 8 bits of constant padding first
        0x19, 0x85, 0x29, 0x87, 0x95, 0x03, 0x91, 0x02,  # Usage Minimum/Maximum 0x85..0x87
        0xB4,                                      # Pop: page 1 again
        0x0B, 0x7D, 0x00, 0x8C, 0x00, 0x95, 0x01, 0x91, 0x02,  # an extended usage: page 0x8C, usage 0x7D
        0x95, 0x04, 0x91, 0x01, 0xC0,
    ])
    fields = output_fields(descriptor)
    assert report_for(fields, 0x86) == b"\x00\x00\x02"   # report ID 0 (unnumbered), byte 1 bit 1
    assert report_for(fields, 0x7D) == b"\x00\x00\x08"
    assert output_fields(b"") == []


@pytest.mark.parametrize("bad", [b"\x06\x8c", b"\xb4", b"\xfe\x05"])
def test_broken_descriptors_are_refused(bad):
    with pytest.raises(DescriptorError):
        output_fields(bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_descriptor_parsing_is_total(data):
    try:
        fields = output_fields(data)
    except DescriptorError:
        return
    for f in fields:
        report = report_for(fields, f.usage, f.page)
        assert report is not None and len(report) == 1 + (f.report_bits + 7) // 8


def test_feedback_option_is_validated():
    doc = {"gateway": {"id": "gw"}, "mqtt": {"host": "localhost"},
           "device": [{"name": "pos", "driver": "usb-pos-scanner", "hidraw": "/dev/hidraw0",
                       "feedback": {"accepted": "good-read", "rejected": "beep-loudly"}}]}
    with pytest.raises(ConfigError) as err:
        parse(doc)
    assert any("feedback" in p and "'beep-loudly' is not a HID POS signal" in p for p in err.value.problems)


def test_channel_and_driver_write_the_report():
    doc = {"gateway": {"id": "gw"}, "mqtt": {"host": "localhost"},
           "device": [{"name": "pos", "driver": "usb-pos-scanner", "hidraw": "/dev/hidraw0",
                       "feedback": {"accepted": "good-read", "unexpected": "not-on-file"}}]}
    config = parse(doc)
    driver = UsbPosScanner("pos", config.devices[0].settings)
    read_end, write_end = os.pipe()
    driver._fd, driver._outputs = write_end, output_fields(DESCRIPTOR)  # as open() leaves a hidraw node
    try:
        channel = HidPosFeedback(config, lambda name: driver, 8)
        channel(Outcome("accepted", "pos"))
        channel(Outcome("rejected", "pos"))    # not configured
        channel(Outcome("unexpected", "pos"))
        got = b""
        while len(got) < 4:
            got += os.read(read_end, 16)
        assert got == b"\x04\x04\x04\x08"
        channel.stop()
    finally:
        driver.close()
        os.close(read_end)
