"""The serial scanner framer: terminators, timeouts, AIM identifiers, and any bytes at all."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.scanner_framing import ScanFramer, split_aim


def texts(frames):
    return [f.text for f in frames]


def test_terminators():
    assert texts(ScanFramer("cr").feed(b"ABC\rDEF\r", 0)) == ["ABC", "DEF"]
    assert texts(ScanFramer("lf").feed(b"ABC\nDEF\n", 0)) == ["ABC", "DEF"]
    assert texts(ScanFramer("crlf").feed(b"ABC\r\nDEF\r\n", 0)) == ["ABC", "DEF"]
    # "any": CR, LF and CRLF mixed, CRLF counted once, blank lines ignored
    assert texts(ScanFramer("any").feed(b"A\r\nB\rC\n\n\r\nD\r", 0)) == ["A", "B", "C", "D"]


def test_split_across_feeds():
    f = ScanFramer("crlf")
    assert f.feed(b"]C1010950", 0) == []
    assert f.feed(b"6000134352\r", 0.01) == []
    assert texts(f.feed(b"\n", 0.02)) == ["]C10109506000134352"]


def test_inter_character_timeout_without_terminator():
    f = ScanFramer("none", char_timeout=0.05)
    assert f.feed(b"1234", 0.0) == []
    assert f.tick(0.02) == []
    assert texts(f.tick(0.06)) == ["1234"]
    assert f.feed(b"56", 1.0) == []
    assert texts(f.feed(b"78", 1.5)) == ["56"]  # the gap itself ended the previous scan
    assert texts(f.flush()) == ["78"]


def test_prefix_suffix_and_aim():
    f = ScanFramer("cr", prefix="\x02", suffix="\x03")
    [frame] = f.feed(b"\x02]d2010950600013435221ABC\x03\r", 0)
    assert frame.text == "]d2010950600013435221ABC" and frame.aim == "]d2" and frame.error is None
    assert split_aim("0109506000134352") is None
    assert split_aim("]E0") == "]E0"


def test_group_separator_is_kept():
    [frame] = ScanFramer("cr").feed(b"]C10109506000134352" + b"10ABC\x1d21XYZ\r", 0)
    assert "\x1d" in frame.text and frame.error is None


def test_garbage_binary_and_oversized():
    f = ScanFramer("cr", max_length=32)
    frames = f.feed(b"\xff\xfe\x00garbage\r" + b"A" * 100 + b"\rOK\r" + b"\x1b[2Jx\r", 0)
    assert frames[0].error and "not utf-8" in frames[0].error.lower()
    assert frames[1].error and "oversized" in frames[1].error
    assert frames[2].text == "OK" and frames[2].error is None  # resynchronised at the next terminator
    assert frames[3].error == "control characters in scan"
    assert len(frames) == 4


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(["any", "cr", "lf", "crlf", "none"]),
       st.lists(st.integers(0, 600), max_size=5))
def test_any_bytes_any_split(data, terminator, cuts):
    f = ScanFramer(terminator, max_length=64)
    frames, pos, now = [], 0, 0.0
    for cut in sorted(cuts) + [len(data)]:
        frames += f.feed(data[pos:cut], now)
        frames += f.tick(now)
        pos, now = max(pos, cut), now + 0.01
    frames += f.flush()
    for frame in frames:
        assert isinstance(frame.text, str)
        assert frame.error is None or isinstance(frame.error, str)
        if frame.error is None:
            assert len(frame.text.encode()) <= 64


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), min_size=1, max_size=40)
                .map(str.strip).filter(bool), max_size=20))
def test_every_scan_comes_out_once_in_order(scans):
    f = ScanFramer("crlf")
    data = b"".join(s.encode() + b"\r\n" for s in scans)
    out = []
    for i in range(0, len(data), 7):  # delivered in arbitrary chunks, as a UART does
        out += f.feed(data[i:i + 7], 0)
    assert texts(out) == scans
