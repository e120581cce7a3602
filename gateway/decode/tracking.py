"""Carrier tracking numbers: which carrier, the number to track, and whether its check digit holds.

Formats and check algorithms follow the public tracking_number_data project
(jkeen/tracking_number_data, v2.0); the table below is our own code, not its JSON.
We do not use the PyPI package `tracking-numbers` (0.1.8, 2022), which wraps that data:
its bundled copy predates the data's fixes (v1.6 to v2.0: the FedEx SmartPost / USPS
overlap, where the data set's own invalid USPS example 03071790000523483742 passes there
as SmartPost; IMpb rebuilt from USPS Publication 199), it cannot tell "bad check digit"
from "not a tracking number" through its public API, and it raises ValueError on a UPS
number whose check character is a letter (1Z5R8939035756712A).

Formats are tried in order, distinctive ones (a fixed prefix or letters: 1Z, TBA, S10,
96..., 420+ZIP, 9x IMpb) before bare digit runs whose only mark is their length (USPS
20, DHL 10/11, FedEx 12/15, Canada Post 16), which are tried only if no distinctive
format has the number's shape. The first format whose check digit holds wins. When none
holds, a distinctive format still names its carrier with valid=false and the check
digit error; a bare digit run with a bad check is nobody's number and gives None.

`tracking_number` is what the carrier's tracking page takes: for USPS IMpb barcodes with
a routing prefix (420 + ZIP) the 22/26-digit IMpb part, for FedEx 34-digit barcodes the
12-digit number at their end.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .checksums import gs1_mod10, mod7, s10, ups_value, weighted_mod10, weighted_mod11_mod10
from .iso_codes import COUNTRY_ALPHA2

# check(match) -> None when it holds, else (found, expected) check characters.
Check = Callable[[re.Match[str]], "tuple[str, str] | None"]


@dataclass(frozen=True)
class TrackingNumber:
    carrier: str
    product: str
    tracking_number: str
    valid: bool
    error: str | None = None


@dataclass(frozen=True)
class _Format:
    carrier: str
    product: str
    pattern: re.Pattern[str]
    check: Check | None
    distinctive: bool
    number: Callable[[re.Match[str]], str] = lambda m: m.group(0)
    carrier_of: Callable[[re.Match[str]], str] | None = None


def _compare(found: str, expected: int) -> tuple[str, str] | None:
    return None if found == str(expected) else (found, str(expected))


def _gs1(group: str = "body") -> Check:
    """GS1 mod-10 over a group whose last digit is the check digit (USPS IMpb, FedEx Ground)."""
    def check(m: re.Match[str]) -> tuple[str, str] | None:
        digits = m.group(group)
        return _compare(digits[-1], gs1_mod10(digits[:-1]))
    return check


def _gs1_prefixed(prefix: str) -> Check:
    """Legacy 20-digit numbers checked as if a 2-digit application identifier led them."""
    def check(m: re.Match[str]) -> tuple[str, str] | None:
        digits = prefix + m.group(0)
        return _compare(digits[-1], gs1_mod10(digits[:-1]))
    return check


def _ups_style(m: re.Match[str]) -> tuple[str, str] | None:
    # UPS and OnTrac: letters to digits (A=2 ... Z=7), weights 1,2,1,2... from the left, mod 10.
    values = [ups_value(ch) for ch in m.group("serial")]
    return _compare(m.group("check"), weighted_mod10(values, 1, 2))


_FEDEX12 = (3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1)
_FEDEX34 = (1, 7, 3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1)


def _fedex(weights: tuple[int, ...]) -> Check:
    def check(m: re.Match[str]) -> tuple[str, str] | None:
        return _compare(m.group("check"), weighted_mod11_mod10(m.group("serial"), weights))
    return check


def _dhl(m: re.Match[str]) -> tuple[str, str] | None:
    return _compare(m.group("check"), mod7(m.group("serial")))


def _s10(m: re.Match[str]) -> tuple[str, str] | None:
    return _compare(m.group("check"), s10(m.group("serial")))


# S10 service indicators in use (UPU S10 standard, annex): first letter, second-letter range.
_S10_SERVICE = re.compile(r"E[A-Z]|L[A-Z]|M[A-Z]|Q[A-M]|R[A-Z]|U[A-Z]|V[A-Z]|C[A-Z]|H[A-Z]|[BDNPZ][A-Z]|A[V-Z]|G[AD]")

# National postal operators named by the S10 country code; others are "post_<cc>".
_POSTS = {"US": "usps", "CA": "canada_post", "GB": "royal_mail", "DE": "deutsche_post", "AU": "australia_post",
          "CN": "china_post", "FR": "la_poste", "NL": "postnl", "JP": "japan_post", "IN": "india_post"}


def _post_of(m: re.Match[str]) -> str:
    country = m.group("country")
    return _POSTS.get(country, f"post_{country.lower()}")


def _fedex34_number(m: re.Match[str]) -> str:
    tail = m.group(0)[-14:]
    return tail[2:] if tail.startswith("00") else m.group(0)


def _impb_number(m: re.Match[str]) -> str:
    return m.group("body")


_FORMATS: tuple[_Format, ...] = (
    _Format("ups", "UPS", re.compile(r"1Z(?P<serial>[A-Z0-9]{15})(?P<check>[A-Z0-9])"), _ups_style, True),
    _Format("amazon", "Amazon Logistics", re.compile(r"TB[ACM]\d{12}"), None, True),
    _Format("s10", "UPU S10", re.compile(r"(?P<service>[A-Z]{2})(?P<serial>\d{8})(?P<check>\d)(?P<country>[A-Z]{2})"),
            _s10, True, carrier_of=_post_of),
    _Format("ontrac", "OnTrac", re.compile(r"(?P<serial>[CD]\d{13})(?P<check>\d)"), _ups_style, True),
    _Format("lasership", "LaserShip", re.compile(r"1LS7[12]\d{10}|1LS7[12]\d{2}01[1-4]\d{6}-1|LX1[3-8]\d{6}"),
            None, True),
    _Format("dhl", "DHL eCommerce", re.compile(r"(?:GM|LX|RX|UV|CN|SG|TH|IN|HK|MY)\d[0-9A-Z]{9,38}"), None, True),
    _Format("dhl", "DHL Express piece", re.compile(r"J[A-Z]{2,3}\d{9,10}"), None, True),
    _Format("fedex", "FedEx Express (34)", re.compile(r"10\d{18}(?P<serial>\d{13})(?P<check>\d)"),
            _fedex(_FEDEX34), True, number=_fedex34_number),
    _Format("fedex", "FedEx Ground GSN (34)", re.compile(r"96\d{2}\d{5}\d{10}\d(?P<serial>\d{13})(?P<check>\d)"),
            _fedex(_FEDEX34), True, number=_fedex34_number),
    # USPS IMpb (Publication 199): 9[1-5] + service type + mailer id + package id, 22 or 26
    # digits (30 for 94); printed alone or behind a routing code 420 + ZIP (+4). FedEx
    # SmartPost and DHL eCommerce parcels delivered by USPS carry these too, so they are USPS.
    _Format("usps", "USPS IMpb", re.compile(r"420\d{5}(?:\d{4})?(?P<body>9[1-5](?:\d{20}|\d{24})|94\d{28})"),
            _gs1(), True, number=_impb_number),
    _Format("usps", "USPS IMpb", re.compile(r"420\d{5}(?P<body>9[1-5]\d{24})"), _gs1(), True, number=_impb_number),
    _Format("usps", "USPS IMpb", re.compile(r"(?P<body>9[1-5](?:\d{20}|\d{24})|94\d{28})"), _gs1(), True),
    _Format("fedex", "FedEx Ground 96 (22)", re.compile(r"96\d{5}(?P<body>\d{15})"), _gs1(), True),
    # Older 20-digit USPS numbers, printed with or without their "91" application identifier.
    _Format("usps", "USPS 20", re.compile(r"\d{20}"), _gs1_prefixed(""), False),
    _Format("usps", "USPS 20", re.compile(r"\d{20}"), _gs1_prefixed("91"), False),
    _Format("dhl", "DHL Express", re.compile(r"(?P<serial>\d{9,10})(?P<check>\d)"), _dhl, False),
    _Format("fedex", "FedEx Express", re.compile(r"(?P<serial>\d{11})(?P<check>\d)"), _fedex(_FEDEX12), False),
    _Format("fedex", "FedEx Ground", re.compile(r"(?P<body>\d{15})"), _gs1(), False),
    _Format("canada_post", "Canada Post", re.compile(r"(?P<body>\d{16})"), _gs1(), False),
)

_STRIP = str.maketrans("", "", " \t")


def normalize(text: str) -> str:
    """Upper case without blanks: how people type and scanners print tracking numbers."""
    return text.translate(_STRIP).upper()


def _extra_error(fmt: _Format, m: re.Match[str]) -> str | None:
    if fmt.carrier == "s10":
        if not _S10_SERVICE.fullmatch(m.group("service")):
            return f"S10 service indicator {m.group('service')} is not in use"
        if m.group("country") not in COUNTRY_ALPHA2:
            return f"S10 country code {m.group('country')} is not an ISO 3166 country"
    return None


def match(text: str) -> TrackingNumber | None:
    """The carrier tracking number `text` is, or None. `text` should be normalized already."""
    if not 10 <= len(text) <= 40 or not text.isascii():
        return None
    first_bad: TrackingNumber | None = None
    for fmt in _FORMATS:
        if first_bad is not None and not fmt.distinctive:
            break  # the number has a carrier's shape; a bare-digits reading would be a guess
        m = fmt.pattern.fullmatch(text)
        if m is None:
            continue
        carrier = fmt.carrier_of(m) if fmt.carrier_of else fmt.carrier
        problem = _extra_error(fmt, m)
        mismatch = fmt.check(m) if fmt.check and problem is None else None
        if problem is None and mismatch is None:
            return TrackingNumber(carrier, fmt.product, fmt.number(m), True)
        if first_bad is None and fmt.distinctive:
            if problem is None and mismatch is not None:
                problem = f"{fmt.product} check digit is {mismatch[0]}, expected {mismatch[1]}"
            first_bad = TrackingNumber(carrier, fmt.product, fmt.number(m), False, problem)
    return first_bad
