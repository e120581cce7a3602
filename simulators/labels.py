"""Realistic GS1 labels for simulators: what a dock's scanners actually see.

Independent of gateway/decode on purpose: a simulator that shared the decoder's
code would agree with its bugs.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Iterator

GS = "\x1d"
# GS1's own example company prefixes (GS1 General Specifications and EPCIS examples).
COMPANY_PREFIXES = ["0614141", "9506000", "4012345", "5012345"]


def check_digit(digits: str) -> str:
    """GS1 mod-10 check digit for GTIN/SSCC/GLN bodies."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def gtin(rng: random.Random) -> str:
    prefix = rng.choice(COMPANY_PREFIXES)
    body = "0" + prefix + "".join(rng.choice("0123456789") for _ in range(12 - len(prefix)))
    return body + check_digit(body)


def sscc(rng: random.Random) -> str:
    prefix = rng.choice(COMPANY_PREFIXES)
    body = str(rng.randint(0, 9)) + prefix + "".join(rng.choice("0123456789") for _ in range(16 - len(prefix)))
    return body + check_digit(body)


def _lot(rng: random.Random) -> str:
    return rng.choice(["L", "B", "LOT"]) + "".join(rng.choice("0123456789ABCDEF") for _ in range(rng.randint(3, 8)))


def _expiry(rng: random.Random) -> str:
    day = dt.date.today() + dt.timedelta(days=rng.randint(30, 900))
    return day.strftime("%y%m%d")


def label(rng: random.Random, aim: bool = True) -> str:
    """One scan as a scanner sends it: AIM identifier, FNC1 as GS after variable-length fields."""
    kind = rng.choices(["unit", "lot", "sscc", "ean13"], weights=[4, 3, 2, 1])[0]
    if kind == "unit":
        text, sym = f"01{gtin(rng)}21{rng.randint(1, 10**9)}", "]d2"
    elif kind == "lot":
        text, sym = f"01{gtin(rng)}17{_expiry(rng)}10{_lot(rng)}{GS}30{rng.randint(1, 48)}", "]C1"
    elif kind == "sscc":
        text, sym = f"00{sscc(rng)}", "]C1"
    else:
        g = gtin(rng)[1:]
        text, sym = g, "]E0"
    return (sym + text) if aim else text


def labels(seed: int | None = None, aim: bool = True) -> Iterator[str]:
    rng = random.Random(seed)
    while True:
        yield label(rng, aim)
