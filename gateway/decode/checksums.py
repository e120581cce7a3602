"""Check digits used by GS1 keys and carrier tracking numbers. Pure arithmetic, no validation of shape.

Each function takes the data characters *without* the check character(s) and
returns the expected check; callers compare and word the error.
"""

from __future__ import annotations

from collections.abc import Sequence


def gs1_mod10(digits: str) -> int:
    """GS1 standard check digit (GTIN, SSCC, GLN, GRAI, GSRN, GDTI, GSIN ...; Gen Specs 7.9.1).

    Weights 3,1,3,1... from the rightmost data digit, so one function serves every key length.
    """
    total = 0
    weight = 3
    for ch in reversed(digits):
        total += (ord(ch) - 48) * weight
        weight = 4 - weight
    return -total % 10


def weighted_mod10(values: Sequence[int], even_weight: int, odd_weight: int) -> int:
    """Mod-10 check with weights by position from the left (index 0 is even), as carriers define it."""
    total = 0
    for index, value in enumerate(values):
        total += value * (odd_weight if index % 2 else even_weight)
    return -total % 10


def weighted_mod11_mod10(digits: str, weights: Sequence[int]) -> int:
    """FedEx Express: sum of digit x weight, mod 11, mod 10. Weights run from the left, aligned right."""
    offset = len(weights) - len(digits)
    total = sum((ord(ch) - 48) * weights[offset + i] for i, ch in enumerate(digits))
    return total % 11 % 10


def mod7(digits: str) -> int:
    """DHL Express waybill: the serial as a number, mod 7."""
    return int(digits) % 7


_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10(digits: str) -> int:
    """UPU S10 check digit over the 8 serial digits (mod 11; 10 -> 0, 11 -> 5)."""
    total = sum((ord(ch) - 48) * w for ch, w in zip(digits, _S10_WEIGHTS, strict=False))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)


def ups_value(ch: str) -> int:
    """UPS (and OnTrac) map letters onto digits cyclically: A=2 ... I=0, J=1 ... S=0 ... Z=7."""
    return ord(ch) - 48 if ch.isdigit() else (ord(ch) - 3) % 10


# GS1 alphanumeric check character pair (GMN, AI 8013; Gen Specs 7.9.5).
_CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_CSET82_VALUE = {ch: i for i, ch in enumerate(_CSET82)}
_CSET32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_PRIMES = (
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193,
    197, 199, 211, 223, 227, 229, 233, 239, 241, 251, 257, 263, 269, 271, 277, 281, 283, 293, 307,
    311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373, 379, 383, 389, 397, 401, 409, 419, 421,
    431, 433, 439, 443, 449, 457, 461, 463, 467, 479, 487, 491, 499, 503, 509,
)


def gs1_alpha_pair(data: str) -> str | None:
    """The two check characters for `data` (CSET 82), or None if a character is outside CSET 82.

    Each character's CSET 82 position is weighted by ascending primes from the right; the
    sum mod 1021 is split into two 5-bit halves written in CSET 32.
    """
    if len(data) > len(_PRIMES):
        return None
    total = 0
    for i, ch in enumerate(reversed(data)):
        value = _CSET82_VALUE.get(ch)
        if value is None:
            return None
        total += value * _PRIMES[i]
    total %= 1021
    return _CSET32[total >> 5] + _CSET32[total & 31]


def iban_ok(iban: str) -> bool:
    """ISO 13616 IBAN check: move the first four characters to the end, letters to 10..35, mod 97 == 1."""
    if len(iban) < 5 or not iban.isascii() or not iban.isalnum():
        return False
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in moved.upper())
    return int(number) % 97 == 1
