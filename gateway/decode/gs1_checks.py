"""Content checks on GS1 AI values beyond length and character set, and what the values mean.

Follows the linters GS1's Barcode Syntax Dictionary names for each AI component (the
simple ones generically, by name, in `_component_lint`; the rest by AI in `_lint`): check digits of every key (csum),
the GMN check pair (csumalpha), dates (yymmd0 allows day 00 = last day of the month,
yymmdd does not), times, ISO 3166 country and ISO 4217 currency codes, IBAN, piece of
total, latitude/longitude, and the pairs of AIs that must not share a message.

Not checked, on purpose: the "req" associations (AI 10 needs a GTIN, ...). GS1 says they
apply to all the barcodes on an item together, and a dock scanner reads one barcode of a
multi-barcode logistic label at a time, so a lone (10) is normal there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from . import DecodeError
from . import gs1_dates as dates
from .checksums import gs1_alpha_pair, gs1_mod10, iban_ok
from .gs1_ai import ApplicationIdentifier
from .iso_codes import COUNTRY_ALPHA2, COUNTRY_NUMERIC, CURRENCY_NUMERIC

# AI -> (start, length, key name) of the part that ends in a GS1 mod-10 check digit.
_CHECK_DIGIT: dict[str, tuple[int, int, str]] = {
    "00": (0, 18, "SSCC"),
    "01": (0, 14, "GTIN"),
    "02": (0, 14, "GTIN"),
    "03": (0, 14, "GTIN"),
    "253": (0, 13, "GDTI"),
    "255": (0, 13, "GCN"),
    "402": (0, 17, "GSIN"),
    "8003": (1, 13, "GRAI"),
    "8006": (0, 14, "GTIN"),
    "8026": (0, 14, "GTIN"),
    "8017": (0, 18, "GSRN"),
    "8018": (0, 18, "GSRN"),
    **{f"41{d}": (0, 13, "GLN") for d in "01234567"},
}


def check_digit(key: str, digits: str) -> None:
    """Raise 'GTIN check digit is 3, expected 7' style errors."""
    expected = gs1_mod10(digits[:-1])
    if int(digits[-1]) != expected:
        raise DecodeError(f"{key} check digit is {digits[-1]}, expected {expected}")


def _country(code: str, what: str, *, allow_999: bool = False) -> None:
    if code not in COUNTRY_NUMERIC and not (allow_999 and code == "999"):
        raise DecodeError(f"{what}: {code} is not an ISO 3166 country code")


def _currency(code: str, what: str) -> None:
    if code not in CURRENCY_NUMERIC:
        raise DecodeError(f"{what}: {code} is not an ISO 4217 currency code")


def _pieces(value: str, what: str) -> None:
    piece, total = int(value[-4:-2]), int(value[-2:])
    if piece == 0 or total == 0 or piece > total:
        raise DecodeError(f"{what}: piece {piece} of {total} is impossible")


def _pct_encoding(value: str, what: str) -> None:
    i = value.find("%")
    while i != -1:
        hexdigits = value[i + 1:i + 3]
        if len(hexdigits) != 2 or any(c not in "0123456789abcdefABCDEF" for c in hexdigits):
            raise DecodeError(f"{what}: '%' at position {i + 1} must start a %XX escape")
        i = value.find("%", i + 3)


def _lint(ai: str, value: str, what: str, today: dt.date | None) -> None:
    """The AI-specific content rules; formats (length, charset) were checked already."""
    if ai in _CHECK_DIGIT:
        start, length, key = _CHECK_DIGIT[ai]
        check_digit(key, value[start:start + length])
    if ai == "8003" and value[0] != "0":
        raise DecodeError(f"{what}: the first digit must be 0")
    if ai in ("11", "12", "13", "15", "16", "17"):
        dates.yymmdd(value, day_zero=True, what=what, today=today)
    elif ai in ("4324", "4325"):
        dates.yymmdd(value[:6], day_zero=True, what=what, today=today)
        dates.hhmm(value[6:], what=what, allow_unknown=True)
    elif ai in ("4326", "7006"):
        dates.yymmdd(value, day_zero=False, what=what, today=today)
    elif ai == "7003":
        dates.yymmdd(value[:6], day_zero=False, what=what, today=today)
        dates.hhmm(value[6:], what=what)
    elif ai == "7007":
        first = dates.yymmdd(value[:6], day_zero=False, what=what, today=today)
        if len(value) == 12:
            last = dates.yymmdd(value[6:], day_zero=False, what=what, today=today)
            if last < first:
                raise DecodeError(f"{what}: the range ends ({last}) before it starts ({first})")
    elif ai == "7011":
        dates.yymmdd(value[:6], day_zero=False, what=what, today=today)
        if len(value) > 6:
            dates.hhmm(value[6:], what=what)
    elif ai == "8008":
        dates.yymmdd(value[:6], day_zero=False, what=what, today=today)
        _hour_minute_second(value[6:], what)
    elif ai == "7250":
        dates.yyyymmdd(value, what=what)
    elif ai == "7251":
        dates.yyyymmdd(value[:8], what=what)
        dates.hhmm(value[8:], what=what)
    elif ai in ("421", "422", "424", "426"):
        _country(value[:3], what)
    elif ai in ("423", "425"):
        if len(value) % 3:
            raise DecodeError(f"{what}: a list of 3-digit country codes, got {len(value)} digits")
        for i in range(0, len(value), 3):
            _country(value[i:i + 3], what)
    elif "7030" <= ai <= "7039" and len(ai) == 4:
        _country(value[:3], what, allow_999=True)
    elif ai in ("4307", "4317"):
        if value not in COUNTRY_ALPHA2:
            raise DecodeError(f"{what}: {value} is not an ISO 3166 alpha-2 country code")
    elif ai[:3] in ("391", "393") and len(ai) == 4:
        _currency(value[:3], what)
    elif ai == "8007":
        if not iban_ok(value):
            raise DecodeError(f"{what}: {value} is not a valid IBAN (check digits)")
    elif ai in ("8006", "8026"):
        _pieces(value, what)
    elif ai == "8011":
        if len(value) > 1 and value[0] == "0":
            raise DecodeError(f"{what}: must not start with 0")
    elif ai == "8001":
        if value[:4] == "0000" or value[4:9] == "00000" or value[9:12] == "000":
            raise DecodeError(f"{what}: width, length and diameter must not be zero")
        if value[12] not in "019":
            raise DecodeError(f"{what}: winding direction must be 0, 1 or 9")
    elif ai == "4309":
        if int(value[:10]) > 1_800_000_000:
            raise DecodeError(f"{what}: latitude out of range")
        if int(value[10:]) > 3_600_000_000:
            raise DecodeError(f"{what}: longitude out of range")
    elif ai == "7252":
        if value not in ("0", "1", "2", "9"):
            raise DecodeError(f"{what}: {value} is not an ISO/IEC 5218 sex code")
    elif ai in _PCT_ENCODED:
        _pct_encoding(value, what)


_PCT_ENCODED = frozenset(
    ["4300", "4301", "4302", "4303", "4304", "4305", "4306", "4310", "4311", "4312", "4313",
     "4314", "4315", "4316", "4320", "7253", "7254", "7255", "7256", "7257", "7259"])


def _hour_minute_second(text: str, what: str) -> None:
    if int(text[:2]) > 23:
        raise DecodeError(f"{what}: hour {text[:2]} does not exist")
    for part, name in ((text[2:4], "minute"), (text[4:6], "second")):
        if part and (len(part) != 2 or int(part) > 59):
            raise DecodeError(f"{what}: {name} {part} does not exist")


def _posinseqslash(part: str, what: str) -> None:
    position, _, count = part.partition("/")
    if not (position.isdigit() and count.isdigit()) or not 0 < int(position) <= int(count):
        raise DecodeError(f"{what}: {part!r} is not a position in a sequence (like 1/3)")


_IMPORTER_INDEX = frozenset("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")


def _component_lint(name: str, part: str, what: str) -> None:
    """The dictionary's linters that `_lint` does not apply by AI (GS1 Barcode Syntax Tests)."""
    if name == "yesno" and part not in ("0", "1"):
        raise DecodeError(f"{what}: {part} is neither 0 (no) nor 1 (yes)")
    if name == "hyphen" and part.strip("-"):
        raise DecodeError(f"{what}: {part!r} must be '-'")
    if name == "hasnondigit" and part.isdigit():
        raise DecodeError(f"{what}: must contain a character that is not a digit")
    if name == "mediatype" and not ("01" <= part <= "10" or "80" <= part <= "99"):
        raise DecodeError(f"{what}: {part} is not an AIDC media type")
    if name == "importeridx" and part not in _IMPORTER_INDEX:
        raise DecodeError(f"{what}: {part!r} is not an importer index")
    if name == "posinseqslash":
        _posinseqslash(part, what)
    if name == "csumalpha":
        pair = gs1_alpha_pair(part[:-2])
        if len(part) < 3 or pair != part[-2:]:
            raise DecodeError(f"{what}: check characters are {part[-2:]!r}, expected {pair!r}")


_COMPONENT_LINTERS = frozenset(["yesno", "hyphen", "hasnondigit", "mediatype", "importeridx", "posinseqslash",
                                "csumalpha"])


def check_value(ai: ApplicationIdentifier, value: str, today: dt.date | None = None) -> None:
    """Raise DecodeError if the value is not what the AI allows; return quietly if it is."""
    ai.check_syntax(value)
    _lint(ai.ai, value, ai.label(), today)
    for comp, part in ai.parts(value):
        for name in comp.linters:
            if name in _COMPONENT_LINTERS:
                _component_lint(name, part, ai.label())
    ai.check_format(value)


# --- what values mean ------------------------------------------------------------------

DATE_AIS = frozenset(["11", "12", "13", "15", "16", "17", "4324", "4325", "4326", "7003", "7006",
                      "7007", "7011", "8008", "7250", "7251"])


def date_value(ai: str, value: str, today: dt.date | None = None) -> str:
    """ISO 8601 text for a date AI (a valid value); ranges (7007) as 'start/end'."""
    what = f"AI ({ai})"
    if ai == "7250":
        return dates.iso(dates.yyyymmdd(value, what=what))
    if ai == "7251":
        return dates.iso(dates.yyyymmdd(value[:8], what=what), dates.hhmm(value[8:], what=what))
    day = dates.yymmdd(value[:6], day_zero=ai in ("11", "12", "13", "15", "16", "17", "4324", "4325"),
                       what=what, today=today)
    rest = value[6:]
    if ai == "7007" and rest:
        return f"{day.isoformat()}/{dates.yymmdd(rest, day_zero=False, what=what, today=today).isoformat()}"
    if ai == "8008":
        hour = dt.time(int(rest[:2]), int(rest[2:4] or 0))
        return dates.iso(day, hour, int(rest[4:6]) if len(rest) == 6 else None)
    if rest:
        return dates.iso(day, dates.hhmm(rest, what=what, allow_unknown=True))
    return dates.iso(day)


def decimal_value(ai: str, value: str) -> str | None:
    """The number a measure, amount or price AI carries, with its implied decimal point.

    310n..369n, 390n..395n: the last digit of the AI says how many digits of the value
    are decimals; 391n and 393n start with a 3-digit ISO 4217 currency code.
    """
    if len(ai) != 4 or not ai.isdigit():
        return None
    family = ai[:3]
    if not ("310" <= family <= "369" or "390" <= family <= "395"):
        return None
    digits = value[3:] if family in ("391", "393") else value
    return format(Decimal(digits).scaleb(-int(ai[3])), "f")


# --- pairs of AIs that must not appear together (Syntax Dictionary "ex=") ----------------


def _family(ai: str) -> str:
    """Measures and amounts differ only by their decimal digit: 3103 and 3102 are one family."""
    if len(ai) == 4 and ai[0] == "3" and ("310" <= ai[:3] <= "369" or "390" <= ai[:3] <= "395"):
        return ai[:3] + "n"
    return ai


_EXCLUSIVE: dict[str, frozenset[str]] = {
    "01": frozenset(["02", "255", "37"]),
    "21": frozenset(["235"]),
    "255": frozenset(["01", "02", "415", "8006", "8020", "8026"]),
    "390n": frozenset(["391n", "394n", "8111"]),
    "392n": frozenset(["393n"]),
    "394n": frozenset(["8111"]),
    "395n": frozenset(["392n", "393n", "8005"]),
    "420": frozenset(["421"]),
    "421": frozenset(["4307"]),
    "422": frozenset(["426"]),
    "423": frozenset(["426"]),
    "424": frozenset(["426"]),
    "425": frozenset(["426"]),
    "4330": frozenset(["4331"]),
    "4332": frozenset(["4333"]),
    "8006": frozenset(["01", "37"]),
    "8017": frozenset(["8018"]),
    "8026": frozenset(["02", "8006"]),
}


def check_combination(elements: Iterable[tuple[str, str]]) -> None:
    """Raise DecodeError for AIs that repeat with different values or must not be combined."""
    seen: dict[str, str] = {}
    families: dict[str, str] = {}
    for ai, value in elements:
        if ai in seen:
            if seen[ai] != value:
                raise DecodeError(f"AI ({ai}) appears twice with different values")
            continue
        seen[ai] = value
        family = _family(ai)
        if family != ai and family in families:
            raise DecodeError(f"AI ({families[family]}) and AI ({ai}) give the same measure twice")
        families.setdefault(family, ai)
    present = {_family(ai): ai for ai in seen}
    for family, ai in present.items():
        for other in _EXCLUSIVE.get(family, ()):
            if other in present:
                raise DecodeError(f"AI ({ai}) and AI ({present[other]}) must not be used together")

