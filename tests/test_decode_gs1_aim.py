"""AIM symbology identifiers and composite symbols, as the GS1 Barcode Syntax Engine reads scan data.

Test vectors are ported from the GS1 Barcode Syntax Engine (https://github.com/gs1/gs1-syntax-engine,
Apache-2.0), src/c-lib/scandata.c: `test_scandata_processScanData` (scan data in, success or
failure and the AI data out) and `test_scandata_generateScanData` (the scan data the engine
makes for each symbology, composite symbols included, read back here). The engine writes FNC1
as "^"; scan data carries it as GS (\\x1d).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.decode import decode

GS = "\x1d"


def ais(result):
    assert result["kind"] == "gs1" and result["valid"], result
    return result["ais"]


# --- processScanData: accepted, with the AIs the engine extracts ------------------------

@pytest.mark.parametrize("scan,expected", [
    ("]Q3011231231231233310ABC123" + GS + "99TESTING", {"01": "12312312312333", "10": "ABC123", "99": "TESTING"}),
    ("]d2011231231231233310ABC123" + GS + "99TESTING", {"01": "12312312312333", "10": "ABC123", "99": "TESTING"}),
    ("]e0011231231231233310ABC123" + GS + "99TESTING", {"01": "12312312312333", "10": "ABC123", "99": "TESTING"}),
    ("]e0011231231231233310ABC123" + GS + "99TESTING" + GS + "98XYZ",
     {"01": "12312312312333", "10": "ABC123", "99": "TESTING", "98": "XYZ"}),
    ("]e0011231231231233310ABC123" + GS + "1199122598TESTING" + GS + "97XYZ",
     {"01": "12312312312333", "10": "ABC123", "11": "991225", "98": "TESTING", "97": "XYZ"}),
    ("]C1011231231231233310ABC123" + GS + "99TESTING", {"01": "12312312312333", "10": "ABC123", "99": "TESTING"}),
    ("]E02112345678900", {"01": "02112345678900"}),
    ("]E02112345678900|]e099COMPOSITE" + GS + "98XYZ", {"01": "02112345678900", "99": "COMPOSITE", "98": "XYZ"}),
    ("]E402345673", {"01": "00000002345673"}),
    ("]E402345673|]e099COMPOSITE" + GS + "98XYZ", {"01": "00000002345673", "99": "COMPOSITE", "98": "XYZ"}),
    # Digital Link URIs in plain QR / Data Matrix, scheme in lower or upper case
    ("]Q1https://example.com/01/12312312312333?99=TEST", {"01": "12312312312333", "99": "TEST"}),
    ("]Q1HTTPS://example.com/01/12312312312333?99=TEST", {"01": "12312312312333", "99": "TEST"}),
    ("]d1https://example.com/01/12312312312333?99=TEST", {"01": "12312312312333", "99": "TEST"}),
    ("]d1HTTPS://example.com/01/12312312312333?99=TEST", {"01": "12312312312333", "99": "TEST"}),
])
def test_process_scan_data_accepted(scan, expected):
    assert ais(decode(scan)) == expected


@pytest.mark.parametrize("scan", [
    "]e0", "]C1", "]Q3", "]d2",  # empty GS1 data
    "]E0", "]E0123456789012", "]E012345678901234", "]E01234ABC890123", "]E02112345678901",  # short, long, letters, check
    "]E4", "]E41234567", "]E4123456789", "]E412ABC678", "]E402345674",
])
def test_process_scan_data_refused(scan):
    r = decode(scan)
    assert r["valid"] is False and r["error"], r
    assert "identity" not in r


def test_e0_with_12_digits_is_not_an_ean13():
    r = decode("]E0123456789012")
    assert r["kind"] == "gs1" and r["error"] == "]E0 data has 13 digits (ean-13), got 12"


@pytest.mark.parametrize("scan", [
    "]Q1TESTING", "]Q1^TESTING", "]Q1\\^TESTING", "]d1TESTING", "]d1^TESTING",
    "]Q1HtTps://example.com/01/12312312312333?99=TEST",  # mixed-case scheme: not a Digital Link
    "]d1HtTps://example.com/01/12312312312333?99=TEST",
])
def test_plain_data_stays_text(scan):
    r = decode(scan)
    assert r["kind"] == "text", r


def test_empty_plain_data():
    # The engine accepts "]Q1" with no data; a read with nothing in it is an error for us.
    assert decode("]Q1")["valid"] is False


# --- generateScanData: what composite symbols transmit ----------------------------------

@pytest.mark.parametrize("scan,symbology,expected", [
    # DataBar Expanded and GS1-128 with a CC: one ]e0 message, GS after a variable-length AI
    ("]e0011231231231233310ABC123" + GS + "99TESTING" + GS + "98COMPOSITE" + GS + "97XYZ", "gs1-databar",
     {"01": "12312312312333", "10": "ABC123", "99": "TESTING", "98": "COMPOSITE", "97": "XYZ"}),
    ("]e0011231231231233310ABC123" + GS + "1199122598COMPOSITE" + GS + "97XYZ", "gs1-databar",
     {"01": "12312312312333", "10": "ABC123", "11": "991225", "98": "COMPOSITE", "97": "XYZ"}),
    # DataBar Omnidirectional and Limited with a CC
    ("]e0012401234567890599COMPOSITE" + GS + "98XYZ", "gs1-databar",
     {"01": "24012345678905", "99": "COMPOSITE", "98": "XYZ"}),
    ("]e0011501234567890799COMPOSITE" + GS + "98XYZ", "gs1-databar",
     {"01": "15012345678907", "99": "COMPOSITE", "98": "XYZ"}),
    # EAN/UPC with a CC: the primary, then "|" and the CC as a new ]e0 message
    ("]E00416000336108|]e099COMPOSITE" + GS + "98XYZ", "upc-a", {"01": "00416000336108", "99": "COMPOSITE", "98": "XYZ"}),
    ("]E00001234000057|]e099COMPOSITE" + GS + "98XYZ", "upc-a", {"01": "00001234000057", "99": "COMPOSITE", "98": "XYZ"}),
    ("]E02112345678900|]e099COMPOSITE" + GS + "98XYZ", "ean-13", {"01": "02112345678900", "99": "COMPOSITE", "98": "XYZ"}),
    ("]E402345673|]e099COMPOSITE" + GS + "98XYZ", "ean-8", {"01": "00000002345673", "99": "COMPOSITE", "98": "XYZ"}),
    # generated plain symbols
    ("]Q3011231231231233310ABC123" + GS + "99TESTING", "gs1-qr", {"01": "12312312312333", "10": "ABC123", "99": "TESTING"}),
    ("]d2011231231231233310ABC123" + GS + "99TESTING", "gs1-datamatrix",
     {"01": "12312312312333", "10": "ABC123", "99": "TESTING"}),
])
def test_generated_scan_data_reads_back(scan, symbology, expected):
    r = decode(scan)
    assert ais(r) == expected and r["symbology"] == symbology


def test_composite_is_marked_and_its_gtin_is_the_identity():
    r = decode("]E02112345678900|]e010LOT7" + GS + "2112")
    assert r["composite"] is True and r["lot"] == "LOT7" and r["serial"] == "12"
    assert r["identity_kind"] == "unit"
    assert "composite" not in decode("]E02112345678900")


@pytest.mark.parametrize("scan", [
    # "linear|cc" as some decoders print a composite (the engine's own input syntax)
    "]e00112312312312333|10ABC123",
    "]C10112312312312333|]e010ABC123",
    "]e0011231231231233310ABC123|]e099TESTING",
])
def test_pipe_joined_composites(scan):
    r = decode(scan)
    assert r["composite"] and r["ais"]["01"] == "12312312312333" and r["valid"], r


@pytest.mark.parametrize("scan,error", [
    ("]E02112345678900|99COMPOSITE", "composite component must follow as |]e0"),
    ("]E02112345678900|]e0", "composite component has no data"),
    ("]E02112345678900|]e099COMPOSITE^98XYZ", "is not allowed"),  # the engine: illegal ^ character
    ("]I119506000134359|]e010A", "composite component must follow as |]e0"),
    ("]C1|10ABC", "linear data | 2D component"),
])
def test_bad_composites(scan, error):
    r = decode(scan)
    assert r["valid"] is False and error in r["error"], r


def test_driver_named_upc_keeps_zbars_short_forms():
    assert decode("]E0" + "416000336108", "upc-a")["gtin"] == "00416000336108"
    assert decode("]E0" + "416000336108")["valid"] is False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["]E0", "]E4", "]e0", "]C1", "]d2", "]Q3", "]J1", "]E3", "]I1"]),
       st.lists(st.sampled_from(list("0123456789") * 4 + ["|", "|]e0", GS, "A", "]"]), max_size=40).map("".join))
def test_aim_and_composites_are_total(prefix, body):
    r = decode(prefix + body)
    assert r["kind"] in {"gs1", "tracking", "text", "epc"} and isinstance(r["valid"], bool)
    assert "internal decoder error" not in r.get("error", "")
