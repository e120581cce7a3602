"""`decode(text, symbology=None)`: what a scanned barcode says, as one JSON-able dict. Never raises.

Output: {"input", "kind", "valid", "error"?, ...} with kind gs1 | tracking | epc | text,
as DESIGN.md's `decode` contract. Extra fields: "symbology" (human name), "syntax" (how a
GS1 reading was written: element-string | hri | digital-link | gtin | sscc), "dates"
and "decimals" (AI -> ISO date / number with its implied decimal point), "product" (the
carrier's product for tracking numbers), "contents" (what an SSCC label says its pallet
holds: 02 + 37 + 10).

Order of precedence, first match wins:

An AIM identifier at the start of the text decides first; a driver's `symbology` name
counts like one when the text has none.

1. EAN/UPC and ITF-14 (]E0 ]E3 ]E4 ]I1): a GTIN (UPC-E expanded to UPC-A). As the GS1
   Barcode Syntax Engine reads scan data: ]E0 carries exactly 13 digits (UPC-A and UPC-E
   as their 13-digit EAN-13 form), ]E4 exactly 8; a composite symbol's 2D component
   follows as "|]e0" + its element string, and its AIs join the GTIN's (`composite`).
   A decoder that names the symbology (ZBar's "upc-a", "upc-e") may send 12 or 8 digits.
2. http(s) URI (scheme all lower or all upper case, as the syntax engine requires): a GS1
   Digital Link if its path holds a GS1 key, else text.
3. "(01)..." human-readable form (some decoders print GS1 data so).
4. FNC1-in-first symbologies (]C1 ]d2 ]Q3 ]e0 ]J1 ...): a GS1 element string (a "|",
   never GS1 data, joins a linear and a 2D composite component, "|]e0" too); but a
   carrier label printed as GS1-128 (USPS (420) ZIP + (92..95) IMpb, FedEx (96) ...),
   whose only AIs are 420/421 and 91-99, is that carrier's tracking number.
   "urn:epc:..." URIs: kind epc.
5. Text with FNC1 separators (GS, or an unambiguous stand-in: "{GS}", "<GS>", U+241D,
   "^]"): a GS1 element string.
6. All digits (blanks ignored):
   a. 8, 12, 13 or 14 digits with a valid GS1 check digit: a GTIN (EAN-8, UPC-A,
      EAN-13, ITF-14); 18 digits with a valid check digit: an SSCC.
   b. A valid GS1 element string whose first AI is a key (00, 01, 414, 8003 ...) with a
      valid check digit, e.g. "00" + SSCC (20 digits) or "01" + GTIN (16 digits).
   c. A carrier tracking number whose check digit holds (see tracking.py for the order
      among carriers), or one whose carrier-specific shape (96..., 420+ZIP, 9x IMpb) is
      unmistakable but whose check digit fails (valid false). At GTIN lengths a format
      without a check digit (DHL eCommerce 14) does not count: that is a misread GTIN.
   d. GTIN/SSCC lengths with a bad check digit: kind gs1, valid false.
   e. Any other valid GS1 element string; a key-led one with errors (valid false).
   With a Code 128 identifier that is not GS1-128 (]C0), carriers come before a: a
   12-digit FedEx number in plain Code 128 is not a UPC-A. With the identifier of a
   symbology that never carries GS1 keys (Code 39 ]A, Codabar ]F, plain QR ]Q1, ...),
   only c applies, else the digits are text.
7. Other text: a tracking number (1Z..., TBA..., S10 like EC123456785US ...), else a GS1
   element string whose first AI is a key, else kind text.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from . import DecodeError, aim, digital_link, gs1_checks, identity, tracking
from .checksums import gs1_mod10
from .gs1_ai import AI_TABLE, lookup
from .gs1_element_string import GS, parse_element_string, parse_hri, split_element_string

MAX_INPUT = 8192  # larger than any barcode's capacity (QR: 7089 digits)

# GS1 keys: an element string that starts with one (and whose key is right) is GS1 data
# even when something later in it is wrong.
_KEY_AIS = frozenset(["00", "01", "02", "03", "253", "255", "401", "402", "410", "411", "412", "413", "414",
                      "415", "416", "417", "7023", "8003", "8004", "8006", "8010", "8013", "8017", "8018"])
_GTIN_LENGTHS = (8, 12, 13, 14)
_SURE_GS = ("{GS}", "\u241d", "^]")  # none of these characters exists in GS1 data
_MAYBE_GS = "<GS>"  # "<", ">" are GS1 characters; used only if the reading then holds
_DIGITS = re.compile(r"[0-9]+")
_EPC_URI = re.compile(r"urn:epc:(id|class|idpat):([a-z0-9-]+):([!-~]+)")

_EPC_KIND = {"sgtin": "unit", "sscc": "logistic_unit", "sgln": "location", "grai": "asset", "giai": "asset",
             "gsin": "shipment", "ginc": "shipment", "lgtin": "class"}


def decode(text: str, symbology: str | None = None) -> dict[str, Any]:
    """One barcode's text (and the driver's symbology name, if any) to one result dict."""
    try:
        result = _decode(text, symbology)
    except Exception as exc:  # a bug here must not stop a dock; tests assert this never happens
        return {"input": text if isinstance(text, str) else repr(text), "kind": "text", "valid": False,
                "error": f"internal decoder error ({type(exc).__name__})"}
    # The contract's fields first, so a line of `tally decode` reads naturally.
    ordered = {key: result.pop(key) for key in ("input", "kind", "valid", "error") if key in result}
    ordered.update(result)
    return ordered


def _decode(text: str, symbology: str | None) -> dict[str, Any]:
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    result: dict[str, Any] = {"input": text}
    if len(text) > MAX_INPUT:
        return _fail(result, "text", f"input is {len(text)} characters, longer than any barcode holds")
    found, data = aim.split(text)
    hint = found or aim.from_name(symbology)
    if hint is not None:
        result["symbology"] = hint.name
    body = data.strip(" \t\r\n")
    if not body:
        return _fail(result, "text", "no data after the symbology identifier" if found else "empty input")

    if hint is not None and hint.gtin:
        return _retail(result, body, hint, aim.from_name(symbology) if found else None)
    if digital_link.is_http_uri(body) and body[:8].rstrip(":/").lower() in ("http", "https") \
            and (body[:5].islower() or body[:5].isupper()):
        return _uri(result, body)
    if body.startswith("(") and body[1:3].isdigit():
        return _hri(result, body)
    if hint is not None and hint.gs1:
        if "|" in body:
            return _composite(result, _with_gs(body))
        return _element_string(result, _with_gs(body))
    if body.startswith("urn:epc:"):
        return _epc_uri(result, body)
    if GS in body or any(token in body for token in _SURE_GS) or _MAYBE_GS in body:
        data = _with_gs(body)
        if lookup(data.lstrip(GS)) is not None:
            return _element_string(result, data)
    plain = tracking.normalize(body)
    if _DIGITS.fullmatch(plain):
        if hint is not None and hint.name not in ("code128", "itf"):
            # A symbology that never carries GS1 keys (Code 39, Codabar, plain QR, ...): its
            # digits are an internal code or a tracking number, not a GTIN that failed its check.
            found = tracking.match(plain)
            return _tracking(result, found) if found is not None else _text(result)
        return _digits(result, plain, code128=hint is not None and hint.name == "code128")
    return _other_text(result, body, plain)


def _fail(result: dict[str, Any], kind: str, error: str) -> dict[str, Any]:
    result["kind"] = kind
    result["valid"] = False
    result["error"] = error
    return result


def _with_gs(body: str) -> str:
    for token in _SURE_GS:
        body = body.replace(token, GS)
    if _MAYBE_GS in body:
        candidate = body.replace(_MAYBE_GS, GS)
        if split_element_string(candidate)[1] is None:
            body = candidate
    return body


# --- GS1 -------------------------------------------------------------------------------


def _reading(data: str) -> tuple[list[tuple[str, str]], str | None, bool]:
    """An element string's pairs (as far as they go), its first error, and whether it is
    surely GS1: it starts with a GS1 key whose own value is right."""
    pairs, error = split_element_string(data)
    if error is None:
        error = _first_error(pairs)
    # When the whole string checks out, so does its first pair: no need to check it again.
    likely = bool(pairs) and pairs[0][0] in _KEY_AIS and (error is None or _first_error(pairs[:1]) is None)
    return pairs, error, likely


def _first_error(pairs: list[tuple[str, str]], today: dt.date | None = None) -> str | None:
    try:
        for ai, value in pairs:
            gs1_checks.check_value(AI_TABLE[ai], value, today)
        gs1_checks.check_combination(pairs)
    except DecodeError as exc:
        return str(exc)
    return None


_UNCHECKED = "unchecked"  # a sentinel: the pairs' values have not been checked yet


def _gs1_result(result: dict[str, Any], pairs: list[tuple[str, str]], syntax: str,
                error: str | None = _UNCHECKED) -> dict[str, Any]:
    """`error` is the first error of pairs already checked (None: they are right)."""
    today = dt.date.today()
    if error is _UNCHECKED:
        error = _first_error(pairs, today)
    result["kind"] = "gs1"
    result["valid"] = error is None
    if error is not None:
        result["error"] = error
    result["syntax"] = syntax
    ais: dict[str, str] = {}
    for ai, value in pairs:
        ais.setdefault(ai, value)
    result["ais"] = ais
    for ai, name in (("01", "gtin"), ("10", "lot"), ("21", "serial"), ("00", "sscc")):
        if ai in ais:
            result[name] = ais[ai]
    if "02" in ais and "01" not in ais and "00" not in ais:
        result["gtin"] = ais["02"]  # a case label counting trade items of this GTIN (02 + 37)
    dates, decimals = {}, {}
    for ai, value in ais.items():
        try:
            if ai in gs1_checks.DATE_AIS:
                dates[ai] = gs1_checks.date_value(ai, value, today)
            else:
                number = gs1_checks.decimal_value(ai, value)
                if number is not None:
                    decimals[ai] = number
        except (DecodeError, ValueError, ArithmeticError):
            continue  # the error is reported already; an unreadable value gets no meaning
    if "17" in dates:
        result["expiry"] = dates["17"]
    elif "7003" in dates:
        result["expiry"] = dates["7003"][:10]
    if dates:
        result["dates"] = dates
    if decimals:
        result["decimals"] = decimals
    if result["valid"]:
        found, contents = identity.from_ais(ais)
        if found is not None:
            result["identity"] = found.uri
            result["identity_kind"] = found.kind
            if found.quantity is not None and found.kind == "class":
                result["quantity"] = found.quantity
        if contents:
            result["contents"] = contents
    return result


_CARRIER_AIS = frozenset(["420", "421", "91", "92", "93", "94", "95", "96", "97", "98", "99"])


def _element_string(result: dict[str, Any], data: str) -> dict[str, Any]:
    try:
        pairs = parse_element_string(data)
    except DecodeError as exc:
        result["syntax"] = "element-string"
        return _fail(result, "gs1", str(exc))
    if all(ai in _CARRIER_AIS for ai, _ in pairs):
        # Carrier labels in GS1-128: USPS IMpb is (420) ZIP + (92..95) number, FedEx Ground
        # is (96) ...; the digits together are the tracking barcode, not GS1 trade data.
        found = tracking.match(tracking.normalize("".join(ai + value for ai, value in pairs)))
        if found is not None:
            result["ais"] = dict(pairs)
            return _tracking(result, found)
    return _gs1_result(result, pairs, "element-string")


def _hri(result: dict[str, Any], body: str) -> dict[str, Any]:
    try:
        pairs = parse_hri(body)
    except DecodeError as exc:
        if body[1:5].rstrip(")").isdigit() and body[1:5].rstrip(")") not in AI_TABLE:
            return _other_text(result, body, tracking.normalize(body))
        result["syntax"] = "hri"
        return _fail(result, "gs1", str(exc))
    return _gs1_result(result, pairs, "hri")


def _uri(result: dict[str, Any], body: str) -> dict[str, Any]:
    try:
        pairs = digital_link.parse(body)
    except DecodeError as exc:
        result["syntax"] = "digital-link"
        return _fail(result, "gs1", str(exc))
    if pairs is None:
        return _text(result)
    return _gs1_result(result, pairs, "digital-link")


def _upc_e_to_a(digits: str) -> str:
    """UPC-E (number system, 6 digits, check) expanded to the 12-digit UPC-A it stands for."""
    ns, d, check = digits[0], digits[1:7], digits[7]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return ns + body + check


# Digits the syntax engine requires behind an EAN/UPC identifier; other lengths are errors.
_AIM_DIGITS = {"]E0": 13, "]E4": 8}
_CC_PREFIX = "|]e0"  # the 2D component of an EAN/UPC composite, a message of its own


def _retail(result: dict[str, Any], body: str, hint: aim.Symbology,
            named: aim.Symbology | None = None) -> dict[str, Any]:
    """EAN/UPC/ITF-14 symbols carry exactly one GTIN (plus an EAN add-on after ]E3, or the
    2D component of a composite symbol after "|]e0")."""
    digits, cc = body, None
    if "|" in body:
        digits, _, rest = body.partition("|")
        if not ("|" + rest).startswith(_CC_PREFIX) or hint.aim not in _AIM_DIGITS:
            return _fail(result, "gs1", f"{hint.name}: a composite component must follow as |]e0 + GS1 data")
        cc = rest[len(_CC_PREFIX) - 1:]
        if not cc:
            return _fail(result, "gs1", "composite component has no data")
    if hint.aim == "]E3" and len(body) in (15, 18):
        digits, result["add_on"] = body[:13], body[13:]
    if not _DIGITS.fullmatch(digits):
        return _fail(result, "gs1", f"{hint.name} data must be digits")
    expected = _AIM_DIGITS.get(hint.aim or "")
    if expected is not None and len(digits) != expected and not _named_upc(named, digits):
        return _fail(result, "gs1", f"{hint.aim} data has {expected} digits ({hint.name}), got {len(digits)}")
    if len(digits) == 8 and (hint.name == "upc-e" or hint.aim in ("]E0", "]E3")):
        if digits[0] not in "01":
            return _fail(result, "gs1", "UPC-E number system must be 0 or 1")
        result["symbology"] = "upc-e"
        digits = _upc_e_to_a(digits)
    elif result.get("symbology") == "ean-13" and (len(digits) == 12 or (len(digits) == 13 and digits[0] == "0")):
        result["symbology"] = "upc-a"  # EAN/UPC readers send UPC-A as 12 digits or 13 with a leading 0
    if len(digits) not in _GTIN_LENGTHS:
        return _fail(result, "gs1", f"a GTIN has 8, 12, 13 or 14 digits, got {len(digits)}")
    if cc is None:
        return _gtin(result, digits)
    gtin = digits.rjust(14, "0")
    if gs1_mod10(gtin[:-1]) != int(gtin[-1]):
        return _gtin(result, digits)  # the linear part is wrong: say so as for a lone GTIN
    try:
        pairs = parse_element_string(cc)
    except DecodeError as exc:
        result["syntax"] = "gtin"
        return _fail(result, "gs1", f"composite component: {exc}")
    result["composite"] = True
    return _gs1_result(result, [("01", gtin), *pairs], "gtin")


def _named_upc(named: aim.Symbology | None, digits: str) -> bool:
    """ZBar sends UPC-A as 12 and UPC-E as 8 digits behind ]E0, naming the symbology."""
    return named is not None and (named.name, len(digits)) in (("upc-a", 12), ("upc-e", 8))


def _composite(result: dict[str, Any], data: str) -> dict[str, Any]:
    """A linear GS1 symbol and its 2D component, "linear|cc" or "linear|]e0cc", as one message.

    The syntax engine transmits them as one ]e0 message, with a GS after the linear part
    when its last AI has a variable length; a GS after a fixed-length one is allowed too.
    """
    linear, _, cc = data.partition("|")
    cc = cc.removeprefix("]e0")
    if not linear or not cc or "|" in cc:
        result["syntax"] = "element-string"
        return _fail(result, "gs1", "a composite symbol is linear data | 2D component data")
    result["composite"] = True
    return _element_string(result, linear.rstrip(GS) + GS + cc)


def _gtin(result: dict[str, Any], digits: str) -> dict[str, Any]:
    gtin = digits.rjust(14, "0")
    expected = gs1_mod10(gtin[:-1])
    error = None if int(gtin[-1]) == expected else f"GTIN check digit is {gtin[-1]}, expected {expected}"
    return _gs1_result(result, [("01", gtin)], "gtin", error or _UNCHECKED)


def _sscc(result: dict[str, Any], digits: str) -> dict[str, Any]:
    expected = gs1_mod10(digits[:-1])
    error = None if int(digits[-1]) == expected else f"SSCC check digit is {digits[-1]}, expected {expected}"
    return _gs1_result(result, [("00", digits)], "sscc", error or _UNCHECKED)


def _digits(result: dict[str, Any], digits: str, *, code128: bool) -> dict[str, Any]:
    n = len(digits)
    found = tracking.match(digits) if code128 else None
    if found is not None and found.valid:
        return _tracking(result, found)
    if n in _GTIN_LENGTHS and gs1_mod10(digits[:-1]) == int(digits[-1]):
        return _gtin(result, digits)
    if n == 18 and gs1_mod10(digits[:-1]) == int(digits[-1]):
        return _sscc(result, digits)
    pairs, error, likely = _reading(digits)
    if error is None and likely:
        return _gs1_result(result, pairs, "element-string", None)
    if found is None:
        found = tracking.match(digits)
        if found is not None and n in _GTIN_LENGTHS and not found.checked:
            # Only a format without a check digit (DHL eCommerce 14) takes these digits: a
            # GTIN with a misread check digit is likelier than a shipment. ]C0 says otherwise.
            found = None
    if found is not None:
        return _tracking(result, found)
    if n in _GTIN_LENGTHS:
        return _gtin(result, digits)
    if n == 18:
        return _sscc(result, digits)
    if pairs and (error is None or likely):
        return _gs1_result(result, pairs, "element-string", error)
    return _text(result)


def _tracking(result: dict[str, Any], found: tracking.TrackingNumber) -> dict[str, Any]:
    result["kind"] = "tracking"
    result["valid"] = found.valid
    if found.error:
        result["error"] = found.error
    result["carrier"] = found.carrier
    result["product"] = found.product
    result["tracking_number"] = found.tracking_number
    if found.scheme is not None:
        result["scheme"] = found.scheme  # "s10": a UPU S10 item, `country` the issuing post's
        result["country"] = found.country
    if found.service is not None:
        result["service"] = found.service
    if found.valid:
        result["identity"] = identity.shipment(found.carrier, found.tracking_number)
        result["identity_kind"] = "shipment"
    return result


def _other_text(result: dict[str, Any], body: str, plain: str) -> dict[str, Any]:
    found = tracking.match(plain)
    if found is not None:
        return _tracking(result, found)
    if body[:2].isdigit():
        pairs, error, likely = _reading(body)
        if likely:
            return _gs1_result(result, pairs, "element-string", error)
    return _text(result)


def _text(result: dict[str, Any]) -> dict[str, Any]:
    result["kind"] = "text"
    result["valid"] = True
    return result


def _epc_uri(result: dict[str, Any], body: str) -> dict[str, Any]:
    if body.startswith(("urn:epc:id:", "urn:epc:tag:")):
        try:
            from .epc import decode_epc
        except ImportError:
            pass
        else:
            epc = decode_epc(body)
            epc.pop("input", None)
            epc.update({key: value for key, value in result.items() if key != "input"})
            return {"input": result["input"], **epc}
    m = _EPC_URI.fullmatch(body)
    result["kind"] = "epc"
    if m is None:
        return _fail(result, "epc", "not an EPC URI (urn:epc:id|class|idpat:scheme:...)")
    result["valid"] = True
    result["scheme"] = m.group(2)
    result["epc_uri"] = body
    result["identity"] = body
    if m.group(1) in ("class", "idpat"):
        result["identity_kind"] = "class"
    else:
        result["identity_kind"] = _EPC_KIND.get(m.group(2), "other")
    return result
