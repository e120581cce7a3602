"""HID POS scanned-data reports → scans (sans-I/O)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.usb_pos_scanner import HidPosError, HidPosParser, ScannedData, build_reports

GS = "\x1d"


def report(data: bytes, aim: bytes = b"]C1", code: int = ord("j"), continued: bool = False, rid: int = 2,
           length: int | None = None) -> bytes:
    """A report laid out by hand from the vendor documentation (not via build_reports)."""
    r = bytearray(64)
    r[0] = rid
    r[1] = len(data) if length is None else length
    r[2:5] = aim
    r[5:5 + len(data)] = data
    r[61] = code
    r[63] = 1 if continued else 0
    return bytes(r)


def test_single_report_scan_with_aim_and_vendor_code():
    (scan,) = HidPosParser().feed(report(b"0109506000134352" + b"\x1d" + b"10ABC"))
    assert scan == ScannedData("]C1", b"0109506000134352\x1d10ABC", "j")
    assert scan.text == "]C10109506000134352" + GS + "10ABC"


def test_multi_report_scan_like_the_access_is_manual_example():
    # 60 data bytes of a boarding-pass QR split 56 + 4, "data continued" set on the first report
    data = b"M1GATHERGOOD/MICHAEL YABCDEF LHRDURAK 3542 052Y003D23  AB"
    data = data.ljust(60, b"X")
    p = HidPosParser()
    assert p.feed(report(data[:56], b"]Q0", ord("s"), continued=True)) == [] and p.pending
    (scan,) = p.feed(report(data[56:], b"]Q0", ord("s")))
    assert scan.data == data and scan.aim == "]Q0" and scan.vendor_code == "s" and not p.pending


def test_no_aim_identifier_and_no_vendor_code():
    (scan,) = HidPosParser().feed(report(b"4006381333931", aim=b"\x00\x00\x00", code=0))
    assert scan.text == "4006381333931" and scan.aim == "" and scan.vendor_code == ""


def test_other_report_ids_are_ignored_and_counted():
    p = HidPosParser()
    assert p.feed(report(b"x", rid=1)) == [] and p.feed(b"") == []
    assert p.ignored == 2


def test_short_report_and_impossible_length_are_errors_and_drop_the_partial_scan():
    p = HidPosParser()
    p.feed(report(b"A" * 56, continued=True))
    (err,) = p.feed(b"\x02\x05]C1abc")
    assert isinstance(err, HidPosError) and "expected 64" in err.reason and not p.pending
    (err,) = p.feed(report(b"A", length=57))
    assert "at most 56" in err.reason
    (ok,) = p.feed(report(b"OK"))
    assert ok.text == "]C1OK"


def test_oversized_scan_is_rejected_then_parser_resyncs():
    p = HidPosParser(max_length=100)
    out = []
    for _ in range(3):
        out += p.feed(report(b"9" * 56, continued=True))
    out += p.feed(report(b"9" * 10))  # the oversized scan's last report: dropped with it
    assert len(out) == 1 and "longer than 100" in out[0].reason
    assert [s.text for s in p.feed(report(b"1"))] == ["]C11"]


def test_non_utf8_data_is_kept_byte_for_byte():
    (scan,) = HidPosParser().feed(report(b"\xff\xfe caf\xe9", aim=b"]d1"))
    assert scan.text == "]d1\xff\xfe caf\xe9" and scan.text[3:].encode("latin-1") == scan.data


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=400), aim=st.sampled_from(["", "]C1", "]d2", "]Q3", "]E0"]))
def test_build_reports_round_trips(data, aim):
    p = HidPosParser()
    out = []
    for r in build_reports(data, aim, "j"):
        out += p.feed(r)
    assert out == [ScannedData(aim, data, "j")]


@settings(max_examples=300, deadline=None)
@given(reports=st.lists(st.binary(max_size=70) | st.binary(min_size=64, max_size=64).map(lambda b: b"\x02" + b[1:]),
                        max_size=20))
def test_parser_is_total(reports):
    p = HidPosParser(max_length=200)
    for r in reports:
        for o in p.feed(r):
            assert isinstance(o, (ScannedData, HidPosError))
            if isinstance(o, ScannedData):
                assert len(o.data) <= 200 and isinstance(o.text, str)


def test_a_broken_report_inside_a_multi_report_scan_drops_the_whole_scan():
    p = HidPosParser()
    p.feed(report(b"A" * 56, continued=True))
    (err,) = p.feed(report(b"B", length=200, continued=True))
    assert isinstance(err, HidPosError)
    assert p.feed(report(b"C" * 4)) == []  # the broken scan's tail
    assert [s.text for s in p.feed(report(b"NEXT"))] == ["]C1NEXT"]
