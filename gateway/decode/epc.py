"""RFID EPC binary (and EPC URIs) → the identity that goes into an EPCIS event.

`decode_epc(text)` takes what a reader hands us (hex, any case, spaces, "0x") or
an EPC pure-identity / tag / raw URI, and never raises: it returns one JSON-able
dict, {"input", "kind": "epc", "valid", "error"?, ...}, per DESIGN.md.

Binary → URI uses `epcpy` (checked against the EPC Tag Data Standard's worked
examples in tests/test_epc_decode.py) except:
  * ADI-var: epcpy splits the part number / serial at any run of six zero bits,
    not at 6-bit character boundaries, so the TDS example
    3B0E0CF5E76C9047759AD00373DC7602E7200 fails; decoded here instead.
  * header dispatch, length and padding checks, filter values and the GS1 keys
    (GTIN, SSCC, GLN, ...) are computed here from the pure-identity URI, so the
    result never depends on epcpy internals.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from . import DecodeError

#: Gen2 EPC memory holds at most 31 words after the PC (496 bits)
MAX_EPC_BITS = 496

# header → (scheme, bits or None for variable length, filter bits)
_SCHEMES: dict[int, tuple[str, int | None, int]] = {
    0x2C: ("gdti-96", 96, 3),
    0x2D: ("gsrn-96", 96, 3),
    0x2E: ("gsrnp-96", 96, 3),
    0x2F: ("usdod-96", 96, 4),
    0x30: ("sgtin-96", 96, 3),
    0x31: ("sscc-96", 96, 3),
    0x32: ("sgln-96", 96, 3),
    0x33: ("grai-96", 96, 3),
    0x34: ("giai-96", 96, 3),
    0x35: ("gid-96", 96, 0),
    0x36: ("sgtin-198", 198, 3),
    0x37: ("grai-170", 170, 3),
    0x38: ("giai-202", 202, 3),
    0x39: ("sgln-195", 195, 3),
    0x3B: ("adi-var", None, 6),
    0x3C: ("cpi-96", 96, 3),
    0x3D: ("cpi-var", None, 3),
    0x3E: ("gdti-174", 174, 3),
    0x3F: ("sgcn-96", 96, 3),
    0x40: ("itip-110", 110, 3),
    0x41: ("itip-212", 212, 3),
}

# headers we can name but not decode
_UNSUPPORTED: dict[int, str] = {
    0x00: "an unprogrammed tag (header 0x00)",
    0x3A: "GDTI-113, withdrawn from the Tag Data Standard",
    **{h: f"the TDS 2.0 '++' encoding {n}++" for h, n in {
        0xE6: "CPI", 0xE7: "GSRN", 0xE8: "GSRNP", 0xE9: "SGLN", 0xEA: "GDTI", 0xEB: "GRAI",
        0xEC: "SGCN", 0xED: "ITIP", 0xEE: "GIAI", 0xEF: "SSCC", 0xFC: "DSGTIN", 0xFD: "SGTIN"}.items()},
    **{h: f"the TDS 2.0 '+' encoding {n}+" for h, n in {
        0xF0: "CPI", 0xF1: "GRAI", 0xF2: "SGLN", 0xF3: "ITIP", 0xF4: "GSRN", 0xF5: "GSRNP",
        0xF6: "GDTI", 0xF7: "SGTIN", 0xF8: "SGCN", 0xF9: "SSCC", 0xFA: "GIAI", 0xFB: "DSGTIN"}.items()},
}

_IDENTITY_KIND = {
    "sgtin": "unit",
    "sscc": "logistic_unit",
    "sgln": "location",
    "grai": "asset",
    "giai": "asset",
}

_HEX_NOISE = re.compile(r"[\s:_-]+")
_HEX = re.compile(r"[0-9A-Fa-f]*")
_DIGITS = re.compile(r"[0-9]+")
_PURE_URI = re.compile(r"urn:epc:id:([a-z]+):(\S+)")
_TAG_URI = re.compile(r"urn:epc:tag:([a-z]+-(?:\d+|var)):(\S+)")
_RAW_URI = re.compile(r"urn:epc:raw:(\d+)\.x([0-9A-Fa-f]+)")


def decode_epc(hex_text: str) -> dict[str, Any]:
    """Decode an EPC given as hex text or as an EPC URI. Never raises."""
    if not isinstance(hex_text, str):
        return _invalid(repr(hex_text), "input is not text")
    text = hex_text.strip()
    if text.startswith("urn:epc:id:"):
        return _from_pure_uri(hex_text, text)
    if text.startswith("urn:epc:tag:"):
        return _from_tag_uri(hex_text, text)
    if text.startswith("urn:epc:raw:"):
        match = _RAW_URI.fullmatch(text)
        if not match:
            return _invalid(hex_text, "malformed EPC raw URI (expected urn:epc:raw:<bits>.x<hex>)")
        return _from_hex(hex_text, match.group(2), declared_bits=int(match.group(1)))
    compact = _HEX_NOISE.sub("", text)
    if compact[:2] in ("0x", "0X"):
        compact = compact[2:]
    return _from_hex(hex_text, compact)


def parse_epc_bytes(data: bytes) -> dict[str, Any]:
    """Decode an EPC given as bytes (as an LLRP reader or serial module reports it)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return _invalid(repr(data), "input is not bytes")
    return decode_epc(bytes(data).hex().upper())


# --- binary ---------------------------------------------------------------------------

def _from_hex(original: str, digits: str, declared_bits: int | None = None) -> dict[str, Any]:
    if not digits:
        return _invalid(original, "empty EPC")
    bad = _HEX.match(digits).end()
    if bad < len(digits):
        return _invalid(original, f"not hexadecimal: {digits[bad]!r} at position {bad + 1}")
    bits = len(digits) * 4
    if bits > MAX_EPC_BITS:
        return _invalid(original, f"EPC too long: {bits} bits (a Gen2 EPC has at most {MAX_EPC_BITS})")
    hex_upper = digits.upper()
    if declared_bits is not None:
        if declared_bits > bits or declared_bits <= bits - 4:
            return _invalid(original, f"raw URI says {declared_bits} bits but carries {bits}")
        bits = declared_bits
    value = int(hex_upper, 16)
    result: dict[str, Any] = {
        "input": original,
        "kind": "epc",
        "valid": False,
        "hex": hex_upper,
        "bits": bits,
        "raw_uri": f"urn:epc:raw:{bits}.x{hex_upper}",
    }
    if bits < 8:
        result["error"] = f"EPC too short: {bits} bits"
        return result
    header = value >> (len(digits) * 4 - 8)
    spec = _SCHEMES.get(header)
    if spec is None:
        name = _UNSUPPORTED.get(header)
        if name:
            result["error"] = f"header 0x{header:02X} is {name}, not supported"
        elif bits == 64:
            result["error"] = f"unknown EPC header 0x{header:02X} (64-bit EPC encodings were retired from the Tag Data Standard)"
        else:
            result["error"] = f"unknown EPC header 0x{header:02X} (not a GS1 EPC scheme)"
        return result
    scheme, scheme_bits, filter_bits = spec
    result["scheme"] = scheme
    if scheme_bits is not None:
        if bits < scheme_bits:
            result["error"] = f"{scheme} needs {scheme_bits} bits, got {bits}"
            return result
        spare = bits - scheme_bits
        if spare and value & ((1 << (len(digits) * 4 - scheme_bits)) - 1):
            result["error"] = f"{scheme} EPC is followed by {spare} bits that are not zero"
            return result
    elif bits < 64:
        result["error"] = f"{scheme} EPC too short: {bits} bits"
        return result
    binary = format(value, f"0{len(digits) * 4}b")
    if filter_bits:
        result["filter"] = int(binary[8:8 + filter_bits], 2)
    try:
        pure = _adi_uri(binary) if scheme == "adi-var" else _epcpy_uri(hex_upper)
    except _EpcError as exc:
        result["error"] = f"{scheme}: {exc}"
        return result
    body = pure.split(":", 4)[4]
    result["tag_uri"] = f"urn:epc:tag:{scheme}:" + (f"{result['filter']}.{body}" if filter_bits else body)
    return _with_identity(result, pure)


class _EpcError(DecodeError):
    """Internal: caught and turned into {"valid": false, "error": ...}."""


_NO_EPCPY = "EPC decoding needs the epcpy package (pip install 'tally-gateway[rfid]')"


def _epcpy():
    """epcpy, imported on first use: it compiles many regexes, which only RFID users should pay for."""
    try:
        import epcpy
        import epcpy.utils.parsers as parsers
    except ImportError:
        raise _EpcError(_NO_EPCPY) from None
    return epcpy, parsers


def _epcpy_uri(hex_upper: str) -> str:
    epcpy, _ = _epcpy()
    ConvertException, hex_to_tag_encodable = epcpy.ConvertException, epcpy.hex_to_tag_encodable
    try:
        return hex_to_tag_encodable(hex_upper).epc_uri
    except ConvertException as exc:
        raise _EpcError(_plain(exc.message or str(exc))) from None
    except (ValueError, IndexError, KeyError, TypeError) as exc:  # library bug on odd input: still total
        raise _EpcError(f"cannot be decoded ({type(exc).__name__})") from None


def _plain(message: str) -> str:
    """Library messages may quote the garbage they choked on; keep them printable and short."""
    text = "".join(ch if ch.isprintable() else "?" for ch in message)
    text = text[:120]
    return text[:1].lower() + text[1:]


_SIX_BIT = "".join(chr(64 + v) if v < 32 else chr(v) for v in range(64))


def _six_bit_chars(bits: str) -> list[str]:
    return [_SIX_BIT[int(bits[i:i + 6], 2)] for i in range(0, len(bits) - len(bits) % 6, 6)]


def _adi_uri(binary: str) -> str:
    """ADI-var (TDS §14.6.14): 6-bit filter, 36-bit CAGE/DoDAAC, then part number and
    serial as 6-bit characters, each ended by a 000000 terminator on a character boundary."""
    if len(binary) < 8 + 6 + 36 + 12:
        raise _EpcError(f"needs at least 62 bits, got {len(binary)}")
    cage = "".join(_six_bit_chars(binary[14:50])).lstrip(" ")
    fields: list[str] = []
    current: list[str] = []
    for pos in range(50, len(binary) - 5, 6):
        code = int(binary[pos:pos + 6], 2)
        if code == 0:
            fields.append("".join(current))
            current = []
            if len(fields) == 2:
                break
        else:
            current.append(_SIX_BIT[code])
    if len(fields) < 2:
        raise _EpcError("part number or serial is missing its 6-bit terminator")
    part, serial = fields
    if not re.fullmatch(r"[A-Z0-9]{5,6}", cage):
        raise _EpcError(f"invalid CAGE/DoDAAC code {cage!r}")
    if len(part) > 32 or not re.fullmatch(r"[A-Z0-9/-]*", part):
        raise _EpcError(f"invalid part number {part!r}")
    if not 1 <= len(serial) <= 30 or not re.fullmatch(r"#?[A-Z0-9/-]+", serial):
        raise _EpcError(f"invalid serial number {serial!r}")
    esc = lambda s: s.replace("%", "%25").replace("/", "%2F").replace("#", "%23")  # noqa: E731
    return f"urn:epc:id:adi:{cage}.{esc(part)}.{esc(serial)}"


# --- URIs -----------------------------------------------------------------------------

def _from_pure_uri(original: str, text: str) -> dict[str, Any]:
    match = _PURE_URI.fullmatch(text)
    if not match:
        return _invalid(original, "malformed EPC pure identity URI")
    result: dict[str, Any] = {"input": original, "kind": "epc", "valid": False, "scheme": match.group(1)}
    if match.group(1) == "adi":
        if not re.fullmatch(r"[A-Z0-9]{5,6}\.[A-Z0-9%/-]*\.(%23)?[A-Z0-9%/-]+", match.group(2)):
            result["error"] = "adi: malformed ADI URI"
            return result
        return _with_identity(result, text)
    try:
        epcpy, parsers = _epcpy()
    except _EpcError as exc:
        result["error"] = str(exc)
        return result
    ConvertException, EPC_SCHEME_IDENTIFIERS = epcpy.ConvertException, parsers.EPC_SCHEME_IDENTIFIERS
    scheme_class = EPC_SCHEME_IDENTIFIERS.get(match.group(1))
    if scheme_class is None:
        result["error"] = f"unknown EPC scheme {match.group(1)!r}"
        return result
    try:
        scheme_class(text)
    except ConvertException as exc:
        result["error"] = f"{match.group(1)}: {_plain(exc.message or str(exc))}"
        return result
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        result["error"] = f"{match.group(1)}: cannot be decoded ({type(exc).__name__})"
        return result
    return _with_identity(result, text)


def _from_tag_uri(original: str, text: str) -> dict[str, Any]:
    match = _TAG_URI.fullmatch(text)
    if not match:
        return _invalid(original, "malformed EPC tag URI")
    scheme, rest = match.groups()
    result: dict[str, Any] = {"input": original, "kind": "epc", "valid": False, "scheme": scheme}
    spec = next((s for s in _SCHEMES.values() if s[0] == scheme), None)
    if spec is None:
        result["error"] = f"unknown EPC binary scheme {scheme!r}"
        return result
    body = rest
    if spec[2]:
        filter_text, _, body = rest.partition(".")
        if not _DIGITS.fullmatch(filter_text) or int(filter_text) >= 1 << spec[2]:
            result["error"] = f"{scheme}: bad filter value {filter_text!r}"
            return result
        result["filter"] = int(filter_text)
    result["tag_uri"] = text
    pure = f"urn:epc:id:{scheme.split('-')[0]}:{body}"
    checked = _from_pure_uri(original, pure)
    if not checked["valid"]:
        checked.update(scheme=scheme, tag_uri=text, **({"filter": result["filter"]} if "filter" in result else {}))
        return checked
    if scheme not in ("adi-var",):
        fits = _fits_binary(scheme, pure, result.get("filter", 0))
        if fits is not None:
            result["error"] = f"{scheme}: {fits}"
            return result
    return _with_identity(result, pure)


def _fits_binary(scheme: str, pure: str, filter_value: int) -> str | None:
    """A tag URI names a binary encoding; check the identity fits it (e.g. a 96-bit serial)."""
    epcpy, parsers = _epcpy()
    ConvertException, EPC_SCHEME_IDENTIFIERS = epcpy.ConvertException, parsers.EPC_SCHEME_IDENTIFIERS
    cls = EPC_SCHEME_IDENTIFIERS[scheme.split("-")[0]]
    try:
        obj = cls(pure)
        coding = next(c for c in cls.BinaryCodingScheme if c.value == scheme)
        filters = [f for f in _filter_enum(cls) if int(f.value) == filter_value]
        if filters:
            obj.tag_uri(binary_coding_scheme=coding, filter_value=filters[0])
            obj.binary(binary_coding_scheme=coding, filter_value=filters[0])
        elif scheme == "gid-96":
            obj.binary(binary_coding_scheme=coding)
    except ConvertException as exc:
        return _plain(exc.message or str(exc))
    except (ValueError, IndexError, KeyError, TypeError, StopIteration):
        return "does not fit this binary encoding"
    return None


def _filter_enum(cls: type) -> list:
    import enum

    module = __import__(cls.__module__, fromlist=["*"])
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, enum.Enum) and value.__name__.endswith("FilterValue"):
            return list(value)
    return []


# --- GS1 keys from the pure identity ---------------------------------------------------

def _check_digit(digits: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def _with_identity(result: dict[str, Any], pure: str) -> dict[str, Any]:
    scheme_name, _, body = pure[len("urn:epc:id:"):].partition(":")
    parts = body.split(".")
    result["epc_uri"] = pure
    result["identity"] = pure
    result["identity_kind"] = _IDENTITY_KIND.get(scheme_name, "other")
    result.setdefault("scheme", scheme_name)
    try:
        keys = _gs1_keys(scheme_name, parts)
    except (ValueError, IndexError):  # URI shape already checked; belt and braces for totality
        keys = {}
    if keys:
        result.update(keys)
    result["valid"] = True
    result.pop("error", None)
    return result


def _gs1_keys(scheme: str, parts: list[str]) -> dict[str, Any]:
    """TDS §7: rearrange the URI's digits into the GS1 key and add its check digit."""
    u = unquote
    if scheme == "sgtin":
        cp, ir, serial = parts[0], parts[1], u(".".join(parts[2:]))
        gtin = ir[0] + cp + ir[1:]
        gtin += _check_digit(gtin)
        return {"company_prefix": cp, "gtin": gtin, "serial": serial, "ais": {"01": gtin, "21": serial}}
    if scheme == "sscc":
        cp, sr = parts
        sscc = sr[0] + cp + sr[1:]
        sscc += _check_digit(sscc)
        return {"company_prefix": cp, "sscc": sscc, "ais": {"00": sscc}}
    if scheme == "sgln":
        cp, lr, ext = parts[0], parts[1], u(".".join(parts[2:]))
        gln = cp + lr
        gln += _check_digit(gln)
        ais = {"414": gln}
        out: dict[str, Any] = {"company_prefix": cp, "gln": gln}
        if ext != "0":
            ais["254"] = ext
            out["gln_extension"] = ext
        out["ais"] = ais
        return out
    if scheme == "grai":
        cp, at, serial = parts[0], parts[1], u(".".join(parts[2:]))
        grai = cp + at
        grai += _check_digit(grai)
        return {"company_prefix": cp, "grai": grai + serial, "serial": serial, "ais": {"8003": "0" + grai + serial}}
    if scheme == "giai":
        cp, ref = parts[0], u(".".join(parts[1:]))
        return {"company_prefix": cp, "giai": cp + ref, "ais": {"8004": cp + ref}}
    if scheme in ("gsrn", "gsrnp"):
        cp, sr = parts
        key = cp + sr
        key += _check_digit(key)
        return {"company_prefix": cp, scheme: key, "ais": {"8018" if scheme == "gsrn" else "8017": key}}
    if scheme == "gdti":
        cp, dt, serial = parts[0], parts[1], u(".".join(parts[2:]))
        gdti = cp + dt
        gdti += _check_digit(gdti)
        return {"company_prefix": cp, "gdti": gdti + serial, "ais": {"253": gdti + serial}}
    if scheme == "sgcn":
        cp, cr, serial = parts
        gcn = cp + cr
        gcn += _check_digit(gcn)
        return {"company_prefix": cp, "gcn": gcn + serial, "ais": {"255": gcn + serial}}
    if scheme == "cpi":
        cp, ref, serial = parts[0], u(parts[1]), parts[2]
        return {"company_prefix": cp, "cpid": cp + ref, "serial": serial, "ais": {"8010": cp + ref, "8011": serial}}
    if scheme == "itip":
        cp, ir, piece, total, serial = parts[0], parts[1], parts[2], parts[3], u(".".join(parts[4:]))
        gtin = ir[0] + cp + ir[1:]
        gtin += _check_digit(gtin)
        return {"company_prefix": cp, "gtin": gtin, "serial": serial, "ais": {"8006": gtin + piece + total, "21": serial}}
    return {}


def _invalid(original: str, error: str) -> dict[str, Any]:
    return {"input": original, "kind": "epc", "valid": False, "error": error}


__all__ = ["MAX_EPC_BITS", "decode_epc", "parse_epc_bytes"]
