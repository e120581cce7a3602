"""Carrier tracking numbers: which carrier, the number to track, and whether its check digit holds.

Formats, check algorithms and lookups are the public tracking_number_data set
(jkeen/tracking_number_data, MIT), shipped unchanged in `tracking_data/` and read by
tracking_formats.py; a newer release of the data is a file drop there. What is ours,
because the data set does not say it, is below and each part has a test:

- Order. Where formats of two couriers accept the same number the data gives no order.
  Formats with a check digit come first (a check that holds is evidence, a bare shape is
  not), each group in the data's order, then `_PRECEDENCE` moves a few formats ahead of
  the one they overlap with: USPS IMpb behind a 420 + ZIP routing code before FedEx 34
  (a 34-digit IMpb label also fits FedEx's 34-digit shape; the data's own example
  4201028200009261290113185417468510 passes both checks), Old Dominion (fixed prefix)
  before DHL Express 11, Purolator before FedEx 12 and DHL piece IDs (the data's
  Purolator examples pass those too).
- Distinctive shapes. A number whose shape only a carrier prints (letters, a GS1-style
  application identifier such as 96 or 92..95, or more than 30 digits) but whose check
  fails is still that carrier's, valid false with the error; a bare digit run with a bad
  check is nobody's number (an internal code, a misread GTIN) and gives None. Once a
  distinctive format has the number's shape, bare-digit formats are not tried.
- `tracking_number` is what the carrier's tracking page takes: without the 420 + ZIP
  routing prefix of USPS labels (the data's RoutingApplicationId group), and for FedEx
  34-digit and ASTRA barcodes the 12-digit Express number inside them.
- UPU S10 numbers (courier "s10" in the data) keep the issuing post as `carrier` (usps,
  royal_mail, post_cf ...) so shipment identities stay stable, with `scheme` "s10", the
  issuing `country`, and "UPU S10" as product (the data calls it "S10").
- FedEx Ground (SSCC-18) is an SSCC: its check digit covers all 17 digits (GS1 General
  Specifications 7.9.1), not only the data's 15-digit SerialNumber group, which would
  take a misread SSCC for a valid FedEx number.

The FedEx SmartPost / USPS overlap and the IMpb layouts (USPS Publication 199) are fixed
in the data itself since its 2.0.0; tests keep both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from .tracking_formats import UNBOUNDED, CourierFormat, formats


@dataclass(frozen=True)
class TrackingNumber:
    carrier: str
    product: str
    tracking_number: str
    valid: bool
    error: str | None = None
    scheme: str | None = None  # "s10" for UPU S10 numbers
    country: str | None = None  # ISO 3166 alpha-2 of the post that issued an S10 number
    service: str | None = None  # the data's name for the number's service type, when it has one
    format_id: str = ""  # the data set's id of the format that read the number
    checked: bool = False  # the format has a check digit, and it held


# (ahead, behind): the first format id is tried before the second.
_PRECEDENCE: tuple[tuple[str, str], ...] = (
    ("usps_impb_c", "fedex_34"),
    ("usps_impb_n", "fedex_34"),
    ("usps_legacy", "fedex_34"),
    ("Old Dominion", "dhl_express"),
    ("Old Dominion Guaranteed Shipment", "dhl_express"),
    ("purolator_numeric", "fedex_12"),
    ("purolator_alpha", "dhl_express_piece_id"),
)

# Distinctive because only carrier barcodes are that long as bare digits.
_LONG_DIGITS = 30
# Groups that hold a fixed GS1-style prefix (the data's glossary terms).
_PREFIX_GROUPS = ("ApplicationIdentifier", "RoutingApplicationId")

# National posts named by the S10 country code; other posts are "post_<cc>".
_POSTS = {"US": "usps", "CA": "canada_post", "GB": "royal_mail", "DE": "deutsche_post", "AU": "australia_post",
          "CN": "china_post", "FR": "la_poste", "NL": "postnl", "JP": "japan_post", "IN": "india_post"}

_STRIP = str.maketrans("", "", " \t")


def normalize(text: str) -> str:
    """Upper case without blanks: how people type and scanners print tracking numbers."""
    return text.translate(_STRIP).upper()


def ordered(found: tuple[CourierFormat, ...]) -> tuple[CourierFormat, ...]:
    """Formats in the order they are tried (see the module docstring)."""
    result = [f for f in found if f.checksum is not None] + [f for f in found if f.checksum is None]
    for ahead, behind in _PRECEDENCE:
        ids = [f.id for f in result]
        if ahead in ids and behind in ids and ids.index(ahead) > ids.index(behind):
            result.insert(ids.index(behind), result.pop(ids.index(ahead)))
    return tuple(result)


@cache
def _index() -> tuple[dict[int, tuple[CourierFormat, ...]], tuple[CourierFormat, ...], int, int]:
    """Formats by the length of number they can match: most texts are rejected by length alone."""
    ranked = ordered(formats())
    bounded = [f for f in ranked if f.max_len < UNBOUNDED]
    unbounded = tuple(f for f in ranked if f.max_len >= UNBOUNDED)
    shortest = min((f.min_len for f in ranked), default=0)
    longest = max((f.max_len for f in bounded), default=0)
    by_length = {n: tuple(f for f in ranked if f.min_len <= n <= f.max_len) for n in range(shortest, longest + 1)}
    return by_length, unbounded, shortest, longest


def _candidates(n: int) -> tuple[CourierFormat, ...]:
    by_length, unbounded, shortest, longest = _index()
    if n <= longest:
        return by_length.get(n, ())
    return tuple(f for f in unbounded if f.min_len <= n)


def _distinctive(text: str, m: re.Match[str]) -> bool:
    if not text.isdigit() or len(text) > _LONG_DIGITS:
        return True
    groups = m.re.groupindex
    return any(name in groups and m.group(name) for name in _PREFIX_GROUPS)


def _product(fmt: CourierFormat) -> str:
    return "UPU S10" if fmt.courier == "s10" else fmt.name


def _lookups(fmt: CourierFormat, m: re.Match[str]) -> tuple[dict[str, Mapping[str, Any]], str | None]:
    """What the format's lookups say about the number, and the first required one that fails."""
    found: dict[str, Mapping[str, Any]] = {}
    error = None
    for lookup in fmt.lookups:
        value = m.group(lookup.group)
        entry = lookup.find(value) if value is not None else None
        if entry is not None:
            found.setdefault(lookup.group, entry)
        elif lookup.name in fmt.required and error is None:
            error = f"{_product(fmt)} {lookup.group} {value} is not in the data set's {lookup.name} list"
    return found, error


def _check_error(fmt: CourierFormat, m: re.Match[str]) -> str | None:
    if fmt.checksum is None:
        return None
    serial = (m.group("ShippingContainerType") if fmt.id == "fedex_ground_sscc_18" else "") + \
        (m.group("SerialNumber") or "")
    if fmt.prepend_if is not None and fmt.prepend_if[0].fullmatch(serial):
        serial = fmt.prepend_if[1] + serial
    found = m.group("CheckDigit") or ""
    expected = fmt.checksum(serial)
    if expected is None:
        return f"{_product(fmt)} check digit cannot be computed over {serial}"
    return None if found == expected else f"{_product(fmt)} check digit is {found}, expected {expected}"


def _tracking_number(fmt: CourierFormat, m: re.Match[str], text: str) -> str:
    if fmt.id in ("fedex_34", "fedex_ground_gsn"):
        tail = text[-14:]
        return tail[2:] if tail.startswith("00") else text
    if fmt.id == "fedex_astra_32":
        return m.group("SerialNumber") + m.group("CheckDigit")
    if "RoutingApplicationId" in m.re.groupindex and m.group("RoutingApplicationId"):
        return text[m.start("SerialNumber"):]
    return text


def _reading(fmt: CourierFormat, m: re.Match[str], text: str, error: str | None,
             details: dict[str, Mapping[str, Any]]) -> TrackingNumber:
    carrier, product, scheme, country = fmt.courier, _product(fmt), None, None
    if fmt.courier == "s10":
        scheme, country = "s10", m.group("CountryCode")
        carrier = _POSTS.get(country, f"post_{country.lower()}")
    service = details.get("ServiceType", {}).get("name")
    return TrackingNumber(carrier, product, _tracking_number(fmt, m, text), error is None, error,
                          scheme, country, str(service) if service else None, fmt.id,
                          error is None and fmt.checksum is not None)


def match(text: str) -> TrackingNumber | None:
    """The carrier tracking number `text` is, or None. `text` should be normalized already."""
    candidates = _candidates(len(text))
    if not candidates or not text.isascii():
        return None
    first_bad: TrackingNumber | None = None
    for fmt in candidates:
        m = fmt.pattern.fullmatch(text)
        if m is None:
            continue
        distinctive = _distinctive(text, m)
        if first_bad is not None and not distinctive:
            continue  # the number has a carrier's shape; a bare-digits reading would be a guess
        details, error = _lookups(fmt, m)
        if error is None:
            error = _check_error(fmt, m)
        if error is None:
            return _reading(fmt, m, text, None, details)
        if first_bad is None and distinctive:
            first_bad = _reading(fmt, m, text, error, details)
    return first_bad
