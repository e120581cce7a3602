"""Serial RFID: the M100 frame protocol, the SerialRfidReader over a pty, and AsciiRfidReader."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import load
from drivers import m100_protocol as m100
from drivers.ascii_rfid import AsciiFramer, AsciiRfidReader, normalize
from drivers.base import DeviceGone, DeviceUnavailable
from drivers.serial_rfid import SerialRfidReader
from simulators.sgtin import sgtin96
from simulators.pty_device import PtyDevice
from simulators import m100_frames
from simulators.serial_rfid import SerialRfidSimulator

# From the M100 user protocol / M5Stack UHF unit library: commands and a real tag notice.
SINGLE_POLL = bytes.fromhex("BB00220000227E")
MULTI_POLL_10000 = bytes.fromhex("BB00270003222710837E")
STOP_MULTI_POLL = bytes.fromhex("BB00280000287E")
HARDWARE_VERSION = bytes.fromhex("BB00030001000 47E".replace(" ", ""))
SET_POWER_20DBM = bytes.fromhex("BB00B6000207D08F7E")
NOTICE = bytes.fromhex("BB02220011C93400 30751FEB705C5904E3D50D70 3A76 EF7E".replace(" ", ""))
READ_ERROR = bytes.fromhex("BB01FF0001090A7E")


def test_command_encodings_match_the_module_documentation():
    assert m100.single_poll() == SINGLE_POLL
    assert m100.multi_poll(10000) == MULTI_POLL_10000
    assert m100.stop_multi_poll() == STOP_MULTI_POLL
    assert m100.get_info(m100.INFO_HARDWARE) == HARDWARE_VERSION
    assert m100.set_power(20.0) == SET_POWER_20DBM


def test_tag_notice_from_the_manual():
    (frame,) = m100.M100Framer().feed(NOTICE)
    notice = m100.parse_tag_notice(frame)
    assert notice.rssi == -55
    assert notice.pc == 0x3400
    assert notice.epc_hex == "30751FEB705C5904E3D50D70"
    assert notice.crc == 0x3A76 and notice.crc_ok
    assert m100.tag_notice(-55, notice.epc, 0x3400) == NOTICE


def test_the_simulator_encodes_independently_to_the_same_bytes():
    # the simulator has its own encoder (simulators/m100_frames.py): both must match the manual
    assert m100_frames.tag_notice(-55, bytes.fromhex("30751FEB705C5904E3D50D70"), pc_flags=0x0400) == NOTICE
    assert m100_frames.frame(m100_frames.RESPONSE, m100_frames.ERROR, b"\x09") == READ_ERROR
    bad_checksum = SET_POWER_20DBM[:-2] + b"\x00\x7e"
    reader = m100_frames.CommandReader()
    stream = b"\x00\x7e" + SINGLE_POLL + bad_checksum + MULTI_POLL_10000 + SET_POWER_20DBM
    commands = [c for i in range(0, len(stream), 4) for c in reader.feed(stream[i:i + 4])]
    assert [(c.command, c.payload) for c in commands] == [
        (0x22, b""), (0x27, bytes.fromhex("222710")), (0xB6, bytes.fromhex("07D0"))]


@settings(max_examples=200, deadline=None)
@given(st.integers(-128, 127), st.binary(min_size=2, max_size=62).filter(lambda b: len(b) % 2 == 0))
def test_simulator_notices_parse_with_the_driver(rssi, epc):
    (frame,) = m100.M100Framer().feed(m100_frames.tag_notice(rssi, epc))
    notice = m100.parse_tag_notice(frame)
    assert (notice.rssi, notice.epc) == (rssi, epc) and notice.crc_ok


def test_error_frame():
    (frame,) = m100.M100Framer().feed(READ_ERROR)
    assert frame.is_error and frame.error_code == 0x09 and frame.describe_error() == "read failed"


def test_framer_survives_noise_split_and_bad_frames():
    framer = m100.M100Framer()
    corrupted = bytearray(NOTICE)
    corrupted[10] ^= 0xFF  # checksum now wrong
    stream = (b"\x00\x7e\xbbnoise" + bytes(corrupted) + NOTICE + b"\xbb\x02\x22\xff\xff" + SINGLE_POLL
              + NOTICE[:9])
    frames = []
    for i in range(0, len(stream), 3):
        frames += framer.feed(stream[i:i + 3])
    assert [f.command for f in frames] == [0x22, 0x22]
    assert frames[0].type == m100.TYPE_NOTICE and frames[1].type == m100.TYPE_COMMAND
    assert framer.bad_frames >= 2 and framer.dropped_bytes > 0
    assert framer.feed(NOTICE[9:]) == [m100.Frame(m100.TYPE_NOTICE, 0x22, NOTICE[5:-2])]


def test_payload_bytes_that_look_like_frame_markers():
    epc = bytes.fromhex("BB7E00BB7E7E7EBBBB000000")
    frame_bytes = m100.tag_notice(-40, epc)
    (frame,) = m100.M100Framer().feed(b"\x7e" + frame_bytes)
    assert m100.parse_tag_notice(frame).epc == epc


def test_notice_with_inconsistent_pc_is_rejected():
    payload = bytes([0xC0, 0x30, 0x00]) + b"\x11" * 10 + b"\0\0"  # PC: 6 words, but 10 EPC bytes
    with pytest.raises(m100.M100Error, match="PC says 12 EPC bytes"):
        m100.parse_tag_notice(m100.Frame(m100.TYPE_NOTICE, m100.CMD_SINGLE_POLL, payload))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=40), st.sampled_from([NOTICE, SINGLE_POLL, READ_ERROR, b"\xbb", b"\x7e",
                                                                   NOTICE[:7], b"\xbb\x01\x22\x01\x00"])),
                max_size=12))
def test_fuzz_framer(chunks):
    framer = m100.M100Framer()
    for chunk in chunks:
        for frame in framer.feed(chunk):
            assert frame.type in (0, 1, 2)
            assert len(frame.payload) <= m100.MAX_PAYLOAD
            assert frame.encode()  # every frame it yields is a valid frame again
            if frame.command == m100.CMD_SINGLE_POLL and frame.type == m100.TYPE_NOTICE:
                try:
                    m100.parse_tag_notice(frame)
                except m100.M100Error:
                    pass
    assert framer.buffered <= 7 + m100.MAX_PAYLOAD


def test_whole_valid_frames_always_come_through_after_garbage():
    framer = m100.M100Framer()
    framer.feed(b"\xbb\x02\x22\x00\x50" + b"\x00" * 10)  # a header claiming 80 bytes, then silence
    frames = framer.feed(b"\x00" * 80 + NOTICE)
    assert frames and frames[-1].payload == NOTICE[5:-2]


# --- SerialRfidReader over a pty -------------------------------------------------------------------

def read_for(driver, seconds, until=None):
    reads = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reads.extend(driver.read(0.1))
        if until and until(reads):
            break
    return reads


def wait_for(predicate, timeout=2.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


TAGS = [sgtin96("0614141", "812345", n, 1) for n in range(1, 41)]


def test_registry():
    assert load("serial-rfid") is SerialRfidReader
    assert load("ascii-rfid") is AsciiRfidReader


def test_multi_poll_reads_every_tag():
    with SerialRfidSimulator(tags=TAGS, read_probability=0.8) as module:
        driver = SerialRfidReader("uhf-1", {"port": module.path, "transmit_power": 20})
        driver.open()
        try:
            assert driver.module_info == "M100 26dBm V1.0"
            assert module.power_centi_dbm == 2000
            assert wait_for(lambda: module.multi_polling)
            reads = read_for(driver, 3.0, until=lambda r: len({x.payload for x in r}) == len(TAGS))
        finally:
            driver.close()
    assert {r.payload for r in reads} == {t.hex().upper() for t in TAGS}
    read = reads[0]
    assert read.content == "epc" and read.driver == "serial-rfid"
    assert -65 <= read.meta["rssi"] <= -45 and read.meta["pc"] == "3000"


def test_single_poll_mode():
    with SerialRfidSimulator(tags=TAGS[:3]) as module:
        driver = SerialRfidReader("uhf-1", {"port": module.path, "mode": "single-poll", "poll_interval_ms": 20})
        driver.open()
        try:
            reads = read_for(driver, 1.0, until=lambda r: len(r) >= 9)
        finally:
            driver.close()
        polls = [c for c in module.commands if c.command == m100.CMD_SINGLE_POLL]
    assert len(reads) >= 9 and len(polls) >= 3
    assert not any(c.command == m100.CMD_MULTI_POLL for c in module.commands)


def test_no_tags_and_noise_give_no_reads():
    with SerialRfidSimulator(tags=[]) as module:
        driver = SerialRfidReader("uhf-1", {"port": module.path, "mode": "single-poll", "poll_interval_ms": 20})
        driver.open()
        try:
            module.send_raw(b"\xbb\x02\x22\x00\x11garbage\x7e\x00\xff")
            assert read_for(driver, 0.5) == []
            module.tags = TAGS[:1]
            module.send_raw(m100.tag_notice(-50, TAGS[1])[:-2] + b"\x00\x7e")  # corrupted checksum
            reads = read_for(driver, 1.0, until=lambda r: r)
        finally:
            driver.close()
    assert {r.payload for r in reads} == {TAGS[0].hex().upper()}


def test_a_notice_with_a_bad_crc_is_dropped():
    with SerialRfidSimulator(tags=[]) as module:
        driver = SerialRfidReader("uhf-1", {"port": module.path})
        driver.open()
        try:
            good = m100.tag_notice(-50, TAGS[0])
            payload = bytearray(good[5:-2])
            payload[5] ^= 0x01  # one flipped EPC bit: the tag CRC no longer matches
            module.send_raw(m100.encode_frame(m100.TYPE_NOTICE, m100.CMD_SINGLE_POLL, bytes(payload)) + good)
            reads = read_for(driver, 1.0, until=lambda r: r)
        finally:
            driver.close()
    assert [r.payload for r in reads] == [TAGS[0].hex().upper()]


def test_unplug_is_device_gone_and_replug_reopens():
    with SerialRfidSimulator(tags=TAGS[:2]) as module:
        driver = SerialRfidReader("uhf-1", {"port": module.path})
        driver.open()
        assert read_for(driver, 1.0, until=lambda r: r)
        module.unplug()
        with pytest.raises(DeviceGone):
            read_for(driver, 2.0)
        driver.close()
        with pytest.raises(DeviceUnavailable):
            driver.open()
        module.plug()
        driver.open()
        try:
            assert read_for(driver, 1.0, until=lambda r: r)
        finally:
            driver.close()


def test_wrong_port_fails_fast():
    with PtyDevice() as silent:
        with pytest.raises(DeviceUnavailable, match="no M100 module answers"):
            SerialRfidReader("uhf-1", {"port": str(silent.path)}).open()


# --- ASCII readers ---------------------------------------------------------------------------------

def em4100_frame(card: bytes) -> bytes:
    check = 0
    for b in card:
        check ^= b
    return b"\x02" + (card.hex().upper() + f"{check:02X}").encode() + b"\x03"


def test_ascii_framer_lines():
    framer = AsciiFramer("line")
    assert framer.feed(b"E200341\r\n\r\n") == ["E200341"]
    assert framer.feed(b"0001234") == []
    assert framer.feed(b"567\n") == ["0001234567"]
    assert framer.feed(b"tail") == [] and framer.flush() == ["tail"]


def test_ascii_framer_stx_etx_and_noise():
    framer = AsciiFramer("stx-etx", max_length=16)
    stream = b"noise" + em4100_frame(bytes.fromhex("0415AB3C2A")) + b"\x02half" + b"\x02" + b"X" * 40 + b"\x03\r\n"
    assert framer.feed(stream) == ["0415AB3C2AAC"]
    assert framer.dropped == 2  # the half frame and the oversized one


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["line", "stx-etx"]), st.lists(st.binary(max_size=50), max_size=10))
def test_fuzz_ascii_framer(framing, chunks):
    framer = AsciiFramer(framing, max_length=32)
    for chunk in chunks:
        for text in framer.feed(chunk):
            assert 0 < len(text) <= 32
            assert "\r" not in text and "\n" not in text
            payload, meta = normalize(text, "auto")
            assert payload is not None or meta["error"]


@pytest.mark.parametrize(
    "text,fmt,prefix,payload,meta",
    [
        ("3074257bf7194e4000001a85", "auto", "", "3074257BF7194E4000001A85", {"format": "hex"}),
        ("EPC: 3074 257B F719 4E40 0000 1A85", "auto", "EPC:", "3074257BF7194E4000001A85", {"format": "hex"}),
        ("0001234567", "auto", "", "0001234567", {"format": "decimal"}),
        ("0415AB3C2AAC", "em4100", "", "0415AB3C2A", {"format": "em4100", "card_number": "0363543594"}),
        ("0415AB3C2A00", "em4100", "", None, {"error": "EM4100 checksum mismatch in 0415AB3C2A00"}),
        ("12ab", "decimal", "", None, {"error": "not a decimal card number: '12ab'"}),
        ("\u00b2\u00b3", "auto", "", "\u00b2\u00b3", {"format": "text"}),
        ("xyz", "hex", "", None, {"error": "not hexadecimal: 'xyz'"}),
    ],
)
def test_normalize(text, fmt, prefix, payload, meta):
    assert normalize(text, fmt, prefix) == (payload, meta)


def test_ascii_reader_over_a_pty():
    with PtyDevice() as pty:
        driver = AsciiRfidReader("lf-1", {"port": str(pty.path), "framing": "stx-etx", "format": "em4100"})
        driver.open()
        try:
            pty.write(em4100_frame(bytes.fromhex("0415AB3C2A")) + b"\x02BADBADBADB00\x03"
                      + em4100_frame(bytes.fromhex("1100FF0102")))
            reads = read_for(driver, 1.0, until=lambda r: len(r) >= 2)
            assert [r.payload for r in reads] == ["0415AB3C2A", "1100FF0102"]
            assert reads[0].meta == {"format": "em4100", "card_number": "0363543594"}
            assert reads[0].content == "epc" and reads[0].driver == "ascii-rfid"
            pty.unplug()
            with pytest.raises(DeviceGone):
                read_for(driver, 1.0)
        finally:
            driver.close()


def test_ascii_uhf_reader_lines():
    with PtyDevice() as pty:
        driver = AsciiRfidReader("uhf-text", {"port": str(pty.path), "strip_prefix": "EPC:"})
        driver.open()
        try:
            pty.write(b"EPC:3074257BF7194E4000001A85\r\nEPC:\r\n3174257bf4499602d2000000\n")
            reads = read_for(driver, 1.0, until=lambda r: len(r) >= 2)
        finally:
            driver.close()
    assert [r.payload for r in reads] == ["3074257BF7194E4000001A85", "3174257BF4499602D2000000"]


@pytest.mark.slow
def test_simulate_serial_rfid_command_line():
    import os
    import re
    import signal
    import subprocess
    import sys

    code = ("import argparse, sys; import simulators.serial_rfid as m; p = argparse.ArgumentParser(); "
            "m.add_arguments(p); sys.exit(m.run(p.parse_args(sys.argv[1:])))")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-c", code, "--tags", "3", "--probability", "1"],
                            cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        path = re.search(r"module on (\S+)", proc.stdout.readline()).group(1)
        driver = SerialRfidReader("cli", {"port": path})
        driver.open()
        try:
            reads = read_for(driver, 10.0, until=lambda r: len({x.payload for x in r}) == 3)
        finally:
            driver.close()
        assert len({r.payload for r in reads}) == 3
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()
