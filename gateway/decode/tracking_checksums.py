"""The check-digit algorithms tracking_number_data names, with the parameters its JSON gives them.

Each algorithm is built once from a format's `validation.checksum` object and then takes
the serial (blanks removed, `prepend_if` applied) and returns the check character the
serial should carry, or None when the serial cannot be checked (a character the
algorithm has no value for). Semantics follow the data set's CHECKSUM_ALGORITHMS.md
(the reference Ruby implementation), including its quirks: mod10 maps letters to
(code - 3) % 10 and ignores `modulo`; sum_product zips from the left.

An algorithm name not in ALGORITHMS makes its format unusable (reported by
`tracking_formats.problems()`), never a crash: a newer data release may add one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# Built once per format from its parameters: serial -> expected check character, or None.
Check = Callable[[str], "str | None"]
Algorithm = Callable[[Mapping[str, Any]], Check]

_LETTER_VALUES = {chr(c): (c - 3) % 10 for c in range(ord("A"), ord("Z") + 1)}
_VALUES = {**{str(d): d for d in range(10)}, **_LETTER_VALUES}  # digits, and UPS's letters (A=2 ... Z=7)


def mod10(p: Mapping[str, Any]) -> Check:
    reverse = bool(p.get("reverse"))
    odds, evens = int(p.get("odds_multiplier") or 1), int(p.get("evens_multiplier") or 1)

    def check(serial: str) -> str | None:
        chars = serial[::-1] if reverse else serial
        try:
            total = sum(_VALUES[ch] * (odds if i % 2 else evens) for i, ch in enumerate(chars))
        except KeyError:
            return None
        return str(-total % 10)
    return check


def mod7(p: Mapping[str, Any]) -> Check:
    modulo = int(p.get("modulo", 7))

    def check(serial: str) -> str | None:
        return str(int(serial) % modulo) if serial.isdigit() and serial.isascii() else None
    return check


def _weighted(serial: str, weights: tuple[int, ...]) -> int | None:
    if not (serial.isdigit() and serial.isascii()) or len(serial) > len(weights):
        return None
    return sum((ord(ch) - 48) * w for ch, w in zip(serial, weights, strict=False))


def s10(p: Mapping[str, Any]) -> Check:
    weights = tuple(int(w) for w in p.get("weightings") or (8, 6, 4, 2, 3, 5, 9, 7))
    modulo = int(p.get("modulo", 11))

    def check(serial: str) -> str | None:
        total = _weighted(serial, weights)
        if total is None:
            return None
        remainder = total % modulo
        return str({1: 0, 0: 5}.get(remainder, 11 - remainder))
    return check


def sum_product_with_weightings_and_modulo(p: Mapping[str, Any]) -> Check:
    weights = tuple(int(w) for w in p.get("weightings") or ())
    modulo1, modulo2 = int(p.get("modulo1", 11)), int(p.get("modulo2", 10))

    def check(serial: str) -> str | None:
        total = _weighted(serial, weights)
        return None if total is None else str(total % modulo1 % modulo2)
    return check


def luhn(p: Mapping[str, Any]) -> Check:
    """Luhn (ISO/IEC 7812-1): from the digit left of the check digit, every second one doubled."""
    modulo = int(p.get("modulo", 10))

    def check(serial: str) -> str | None:
        if not (serial.isdigit() and serial.isascii()):
            return None
        total = 0
        for i, ch in enumerate(reversed(serial)):
            d = ord(ch) - 48
            if i % 2 == 0:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        return str(-total % modulo)
    return check


def mod_37_36(p: Mapping[str, Any]) -> Check:
    """ISO/IEC 7064 MOD 37,36 hybrid (DPD parcel label specification 2.4.1)."""
    alphabet = str(p.get("alphabet") or "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    mod = int(p.get("modulo", 36))

    def check(serial: str) -> str | None:
        cd = mod
        for ch in serial:
            val = alphabet.find(ch)
            if val < 0:
                return None
            cd += val
            if cd > mod:
                cd -= mod
            cd *= 2
            if cd > mod:
                cd -= mod + 1
        cd = mod + 1 - cd
        if cd == mod:
            cd = 0
        return alphabet[cd] if 0 <= cd < len(alphabet) else None
    return check


ALGORITHMS: dict[str, Algorithm] = {
    "mod10": mod10,
    "mod7": mod7,
    "s10": s10,
    "sum_product_with_weightings_and_modulo": sum_product_with_weightings_and_modulo,
    "luhn": luhn,
    "mod_37_36": mod_37_36,
}
