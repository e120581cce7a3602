"""EPC binary/URI decoding against the EPC Tag Data Standard's worked examples.

Vectors: GS1 EPC Tag Data Standard (TDS) appendix E examples (hex, tag URI, pure identity
URI), as also used by the GS1 Tag Data Translation test suites; GS1 keys from the TDS
"bare identifier" forms (e.g. gtin=09506000134352;serial=123456789).
"""

from __future__ import annotations

import string
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.decode.epc import decode_epc, parse_epc_bytes

# (hex, tag URI, pure identity URI)
TDS_EXAMPLES = [
    ("3074257BF7194E4000001A85", "urn:epc:tag:sgtin-96:3.0614141.812345.6789", "urn:epc:id:sgtin:0614141.812345.6789"),
    ("3674257BF6B7A659B2C2BF1000000000000000000000000000", "urn:epc:tag:sgtin-198:3.0614141.712345.32a%2Fb", "urn:epc:id:sgtin:0614141.712345.32a%2Fb"),
    ("3174257BF4499602D2000000", "urn:epc:tag:sscc-96:3.0614141.1234567890", "urn:epc:id:sscc:0614141.1234567890"),
    ("3274257BF46072000000162E", "urn:epc:tag:sgln-96:3.0614141.12345.5678", "urn:epc:id:sgln:0614141.12345.5678"),
    ("3974257BF46072CD9615F8800000000000000000000000000", "urn:epc:tag:sgln-195:3.0614141.12345.32a%2Fb", "urn:epc:id:sgln:0614141.12345.32a%2Fb"),
    ("3374257BF40C0E400000162E", "urn:epc:tag:grai-96:3.0614141.12345.5678", "urn:epc:id:grai:0614141.12345.5678"),
    ("3774257BF40C0E59B2C2BF100000000000000000000", "urn:epc:tag:grai-170:3.0614141.12345.32a%2Fb", "urn:epc:id:grai:0614141.12345.32a%2Fb"),
    ("3474257BF40000000000162E", "urn:epc:tag:giai-96:3.0614141.5678", "urn:epc:id:giai:0614141.5678"),
    ("3874257BF59B2C2BF1000000000000000000000000000000000", "urn:epc:tag:giai-202:3.0614141.32a%2Fb", "urn:epc:id:giai:0614141.32a%2Fb"),
    ("2D74257BF4499602D2000000", "urn:epc:tag:gsrn-96:3.0614141.1234567890", "urn:epc:id:gsrn:0614141.1234567890"),
    ("2E74257BF4499602D2000000", "urn:epc:tag:gsrnp-96:3.0614141.1234567890", "urn:epc:id:gsrnp:0614141.1234567890"),
    ("2C74257BF46072000000162E", "urn:epc:tag:gdti-96:3.0614141.12345.5678", "urn:epc:id:gdti:0614141.12345.5678"),
    ("3E74F4E4E7039B061438997367D0C18B266D1AB66EE0", "urn:epc:tag:gdti-174:3.4012345.98765.ABCDefgh012345678", "urn:epc:id:gdti:4012345.98765.ABCDefgh012345678"),
    ("3C74257BF400C0E680003039", "urn:epc:tag:cpi-96:3.0614141.98765.12345", "urn:epc:id:cpi:0614141.98765.12345"),
    ("3D74257BF75411DEF6B4CC00000003039", "urn:epc:tag:cpi-var:3.0614141.5PQ7%2FZ43.12345", "urn:epc:id:cpi:0614141.5PQ7%2FZ43.12345"),
    ("3F74F4E4E612640000019907", "urn:epc:tag:sgcn-96:3.4012345.67890.04711", "urn:epc:id:sgcn:4012345.67890.04711"),
    ("350007AB70425D4000000586", "urn:epc:tag:gid-96:31415.271828.1414", "urn:epc:id:gid:31415.271828.1414"),
    ("2F320434147455900000162E", "urn:epc:tag:usdod-96:3.CAGEY.5678", "urn:epc:id:usdod:CAGEY.5678"),
    ("3B0E0CF5E76C9047759AD00373DC7602E7200", "urn:epc:tag:adi-var:3.35962.PQ7VZ4.M37GXB92", "urn:epc:id:adi:35962.PQ7VZ4.M37GXB92"),
    ("4074F4E4E40C0E40820000000F6C", "urn:epc:tag:itip-110:3.4012345.012345.01.02.987", "urn:epc:id:itip:4012345.012345.01.02.987"),
    ("4174F4E4E40C0E4082DBDD8B36600000000000000000000000000000", "urn:epc:tag:itip-212:3.4012345.012345.01.02.mw133", "urn:epc:id:itip:4012345.012345.01.02.mw133"),
    ("3066C4409047E140075BCD15", "urn:epc:tag:sgtin-96:3.95060001343.05.123456789", "urn:epc:id:sgtin:95060001343.05.123456789"),
    ("311BA1B300CE0A6A83000000", "urn:epc:tag:sscc-96:0.952012.03456789123", "urn:epc:id:sscc:952012.03456789123"),
    ("3276451FD46072000000162E", "urn:epc:tag:sgln-96:3.9521141.12345.5678", "urn:epc:id:sgln:9521141.12345.5678"),
]


@pytest.mark.parametrize("hex_text,tag_uri,pure_uri", TDS_EXAMPLES, ids=[t[1].split(":")[3] for t in TDS_EXAMPLES])
def test_tds_example_from_hex(hex_text, tag_uri, pure_uri):
    result = decode_epc(hex_text)
    assert result["valid"], result
    assert result["kind"] == "epc"
    assert result["input"] == hex_text
    assert result["epc_uri"] == pure_uri
    assert result["identity"] == pure_uri
    assert result["tag_uri"] == tag_uri
    assert result["scheme"] == tag_uri.split(":")[3]


@pytest.mark.parametrize("hex_text,tag_uri,pure_uri", TDS_EXAMPLES, ids=[t[1].split(":")[3] for t in TDS_EXAMPLES])
def test_tds_example_from_uris(hex_text, tag_uri, pure_uri):
    from_tag = decode_epc(tag_uri)
    assert from_tag["valid"], from_tag
    assert from_tag["epc_uri"] == pure_uri
    from_pure = decode_epc(pure_uri)
    assert from_pure["valid"], from_pure
    assert from_pure["identity"] == pure_uri


@pytest.mark.parametrize(
    "uri,keys",
    [
        # GS1 keys from the TDS bare-identifier forms of the examples above
        ("urn:epc:id:sgtin:95060001343.05.123456789", {"gtin": "09506000134352", "serial": "123456789", "identity_kind": "unit"}),
        ("urn:epc:id:sgtin:0614141.812345.6789", {"gtin": "80614141123458", "serial": "6789", "company_prefix": "0614141"}),
        ("urn:epc:id:sgtin:0614141.712345.32a%2Fb", {"gtin": "70614141123451", "serial": "32a/b"}),
        ("urn:epc:id:sscc:952012.03456789123", {"sscc": "095201234567891235", "identity_kind": "logistic_unit"}),
        ("urn:epc:id:sscc:0614141.1234567890", {"sscc": "106141412345678908"}),
        ("urn:epc:id:sgln:9521141.12345.5678", {"gln": "9521141123454", "gln_extension": "5678", "identity_kind": "location"}),
        ("urn:epc:id:sgln:0614141.12345.0", {"gln": "0614141123452", "ais": {"414": "0614141123452"}}),
        ("urn:epc:id:grai:9521141.12345.5678", {"grai": "95211411234545678", "identity_kind": "asset", "ais": {"8003": "095211411234545678"}}),
        ("urn:epc:id:giai:9521141.5678", {"giai": "95211415678", "identity_kind": "asset"}),
        ("urn:epc:id:gsrn:9521141.1234567890", {"gsrn": "952114112345678906"}),
        ("urn:epc:id:gdti:9521141.12345.5678", {"gdti": "95211411234545678"}),
        ("urn:epc:id:itip:4012345.012345.01.02.987", {"gtin": "04012345123456", "ais": {"8006": "040123451234560102", "21": "987"}}),
        ("urn:epc:id:gid:31415.271828.1414", {"identity_kind": "other"}),
    ],
)
def test_gs1_keys(uri, keys):
    result = decode_epc(uri)
    assert result["valid"], result
    for key, value in keys.items():
        assert result[key] == value, key


@pytest.mark.parametrize(
    "text",
    [
        "3074257bf7194e4000001a85",
        "0x3074257BF7194E4000001A85",
        "3074 257B F719 4E40 0000 1A85",
        "30:74:25:7B:F7:19:4E:40:00:00:1A:85",
        "  3074257BF7194E4000001A85\r\n",
        "urn:epc:raw:96.x3074257BF7194E4000001A85",
        "3074257BF7194E4000001A8500000000",  # 128-bit EPC memory, zero padding after the 96 bits
    ],
)
def test_input_forms(text):
    result = decode_epc(text)
    assert result["valid"], result
    assert result["epc_uri"] == "urn:epc:id:sgtin:0614141.812345.6789"
    assert result["input"] == text
    assert result["filter"] == 3


def test_parse_epc_bytes():
    result = parse_epc_bytes(bytes.fromhex("3174257BF4499602D2000000"))
    assert result["valid"]
    assert result["input"] == "3174257BF4499602D2000000"
    assert result["sscc"] == "106141412345678908"
    assert result["raw_uri"] == "urn:epc:raw:96.x3174257BF4499602D2000000"


@pytest.mark.parametrize(
    "text,error_part",
    [
        ("", "empty"),
        ("hello", "not hexadecimal"),
        ("30G4", "not hexadecimal: 'G' at position 3"),
        ("E2003412DC03011812345678", "unknown EPC header 0xE2"),
        ("000000000000000000000000", "unprogrammed"),
        ("F7" + "00" * 15, "SGTIN+"),
        ("3074257BF7194E40", "sgtin-96 needs 96 bits, got 64"),
        ("3074257BF7194E4000001A8500000001", "not zero"),
        ("30" + "FF" * 11, "sgtin-96"),
        ("3B" + "00" * 3, "too short"),
        ("30" * 100, "too long"),
        ("urn:epc:id:sgtin:061414.812345.1", "13 digits"),
        ("urn:epc:id:nosuch:1.2", "unknown EPC scheme"),
        ("urn:epc:tag:sgtin-96:3.0614141.812345.ABC", "invalid serial"),
        ("urn:epc:tag:sgtin-96:9.0614141.812345.1", "bad filter"),
        ("urn:epc:tag:sgtin-96:3.0614141.812345.274877906944", "invalid serial"),
        ("urn:epc:raw:64.x3074257BF7194E4000001A85", "raw URI says 64 bits"),
        ("urn:epc:id:", "malformed"),
    ],
)
def test_invalid_inputs_say_why(text, error_part):
    result = decode_epc(text)
    assert result["valid"] is False
    assert result["kind"] == "epc"
    assert result["input"] == text
    assert error_part in result["error"]


def test_unknown_header_keeps_the_raw_identity():
    result = decode_epc("E2003412DC03011812345678")
    assert result["hex"] == "E2003412DC03011812345678"
    assert result["raw_uri"] == "urn:epc:raw:96.xE2003412DC03011812345678"


def test_epcpy_adi_bug_is_worked_around():
    """epcpy 0.1.8 splits ADI fields at any six zero bits; the TDS example proves it wrong."""
    from epcpy import ConvertException, hex_to_tag_encodable

    with pytest.raises(ConvertException):
        hex_to_tag_encodable("3B0E0CF5E76C9047759AD00373DC7602E7200")
    assert decode_epc("3B0E0CF5E76C9047759AD00373DC7602E7200")["epc_uri"] == "urn:epc:id:adi:35962.PQ7VZ4.M37GXB92"


def test_without_epcpy_installed_it_says_so(monkeypatch):
    import sys

    for name in [n for n in sys.modules if n == "epcpy" or n.startswith("epcpy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "epcpy", None)  # import epcpy -> ImportError
    for text in ("3074257BF7194E4000001A85", "urn:epc:id:sgtin:0614141.812345.6789",
                 "urn:epc:tag:sgtin-96:3.0614141.812345.6789"):
        result = decode_epc(text)
        assert result["valid"] is False and "epcpy" in result["error"]
    assert decode_epc("3B0E0CF5E76C9047759AD00373DC7602E7200")["valid"]  # ADI is decoded here


def test_not_text_input():
    assert decode_epc(None)["valid"] is False  # type: ignore[arg-type]
    assert parse_epc_bytes("30")["valid"] is False  # type: ignore[arg-type]


def test_decoding_is_fast():
    started = time.perf_counter()
    for serial in range(2000):
        decode_epc(f"30742{serial:019X}")
    per_decode = (time.perf_counter() - started) / 2000
    assert per_decode < 0.0005, f"{per_decode * 1e6:.0f} µs per EPC"


# --- fuzz: any text and any bytes give a result, never an exception -------------------------

KNOWN_HEADERS = [0x2C, 0x2D, 0x2E, 0x2F, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
                 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x40, 0x41, 0x00, 0xE2, 0xF7]


def _check(result, original):
    assert result["kind"] == "epc"
    assert isinstance(result["valid"], bool)
    assert result["input"] == original
    if result["valid"]:
        assert result["identity"].startswith("urn:epc:id:")
        assert result["identity_kind"] in {"unit", "logistic_unit", "location", "asset", "other"}
    else:
        assert result["error"]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(KNOWN_HEADERS), st.binary(min_size=0, max_size=64))
def test_fuzz_bytes_behind_known_headers(header, tail):
    data = bytes([header]) + tail
    _check(parse_epc_bytes(data), data.hex().upper())


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.hexdigits + " x:-", max_size=80))
def test_fuzz_hexish_text(text):
    _check(decode_epc(text), text)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["urn:epc:id:", "urn:epc:tag:", "urn:epc:raw:", "urn:epc:id:sgtin:", "urn:epc:tag:sgtin-96:",
                        "urn:epc:id:adi:", "urn:epc:tag:adi-var:", "urn:epc:tag:gid-96:", "urn:epc:id:itip:"]),
       st.text(max_size=60))
def test_fuzz_uris(prefix, rest):
    text = prefix + rest
    _check(decode_epc(text), text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_any_text(text):
    _check(decode_epc(text), text)
