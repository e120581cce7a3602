"""AIM symbology identifiers (ISO/IEC 15424): the "]C1" a scanner may put before the data.

`split(text)` returns the identifier (if any) and the data after it; `Symbology` says
what the identifier means: a human name, and whether the data is a GS1 message (FNC1 in
first position: GS1-128 ]C1, GS1 DataMatrix ]d2, GS1 QR ]Q3, GS1 DataBar ]e0, GS1
DotCode ]J1 ...) or a retail GTIN (EAN/UPC ]E0, ]E4, ITF-14 ]I1). As in the GS1 Barcode
Syntax Engine, ]e0 also carries every composite symbol with a GS1-128 or DataBar linear
part, and an EAN/UPC composite is "]E0" + 13 digits + "|]e0" + the 2D component (barcode.py).

Drivers that know the symbology from elsewhere (zxing-cpp, pyzbar, a scanner's own code
byte) pass a name; `from_name` maps the usual spellings onto the same vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Symbology:
    name: str
    gs1: bool = False  # data is a GS1 element string (FNC1 in first position)
    gtin: bool = False  # data is an EAN/UPC/ITF-14 GTIN
    aim: str | None = None


_AIM = re.compile(r"\][A-Za-z][0-9A-Za-z]")

# (code letter, modifier) -> Symbology; code letter alone gives the family name.
_BY_AIM: dict[str, Symbology] = {
    "C0": Symbology("code128"),
    "C1": Symbology("gs1-128", gs1=True),
    "C2": Symbology("code128"),  # FNC1 in second position: AIM application data, not GS1
    "C4": Symbology("code128"),
    "E0": Symbology("ean-13", gtin=True),
    "E1": Symbology("ean-2"),
    "E2": Symbology("ean-5"),
    "E3": Symbology("ean-13", gtin=True),  # with add-on
    "E4": Symbology("ean-8", gtin=True),
    "I0": Symbology("itf"),
    "I1": Symbology("itf-14", gtin=True),
    "I3": Symbology("itf"),
    "d0": Symbology("datamatrix"),
    "d1": Symbology("datamatrix"),
    "d2": Symbology("gs1-datamatrix", gs1=True),
    "d3": Symbology("datamatrix"),
    "d4": Symbology("datamatrix"),
    "d5": Symbology("gs1-datamatrix", gs1=True),
    "d6": Symbology("datamatrix"),
    "Q0": Symbology("qr"),
    "Q1": Symbology("qr"),
    "Q2": Symbology("qr"),
    "Q3": Symbology("gs1-qr", gs1=True),
    "Q4": Symbology("gs1-qr", gs1=True),
    "Q5": Symbology("qr"),
    "Q6": Symbology("qr"),
    "e0": Symbology("gs1-databar", gs1=True),
    "e1": Symbology("gs1-composite", gs1=True),
    "e2": Symbology("gs1-composite", gs1=True),
    "e3": Symbology("gs1-databar", gs1=True),
    "J0": Symbology("dotcode"),
    "J1": Symbology("gs1-dotcode", gs1=True),
    "z0": Symbology("aztec"),
    "z1": Symbology("aztec"),
    "z3": Symbology("aztec"),
    "L0": Symbology("pdf417"),
    "L1": Symbology("pdf417"),
    "L2": Symbology("pdf417"),
}

_FAMILY = {
    "A": "code39", "B": "telepen", "C": "code128", "D": "code-one", "E": "ean-upc", "F": "codabar",
    "G": "code93", "H": "code11", "I": "itf", "K": "code16k", "L": "pdf417", "M": "msi", "N": "anker",
    "O": "codablock", "P": "plessey", "Q": "qr", "R": "straight-2of5", "S": "straight-2of5", "T": "code49",
    "U": "maxicode", "X": "other", "Y": "expansion", "Z": "non-barcode", "c": "channel-code",
    "d": "datamatrix", "e": "gs1-databar", "o": "ocr", "p": "posicode", "s": "supercode", "z": "aztec",
    "J": "dotcode", "V": "other",
}


def split(text: str) -> tuple[Symbology | None, str]:
    """The AIM identifier at the start of `text` (if any) and the data after it."""
    if len(text) < 3 or text[0] != "]" or not _AIM.match(text):
        return None, text
    code = text[1:3]
    known = _BY_AIM.get(code)
    if known is None:
        family = _FAMILY.get(code[0])
        if family is None:
            return None, text
        known = Symbology(family)
    return Symbology(known.name, known.gs1, known.gtin, aim="]" + code), text[3:]


# Names drivers use (zxing-cpp BarcodeFormat, pyzbar ZBarSymbol, scanner manuals).
_BY_NAME: dict[str, Symbology] = {
    "code128": Symbology("code128"),
    "gs1128": Symbology("gs1-128", gs1=True),
    "ean128": Symbology("gs1-128", gs1=True),
    "ucc128": Symbology("gs1-128", gs1=True),
    "ean13": Symbology("ean-13", gtin=True),
    "ean8": Symbology("ean-8", gtin=True),
    "upca": Symbology("upc-a", gtin=True),
    "upce": Symbology("upc-e", gtin=True),
    "isbn10": Symbology("isbn-10"),
    "isbn13": Symbology("ean-13", gtin=True),
    "itf": Symbology("itf"),
    "i25": Symbology("itf"),
    "itf14": Symbology("itf-14", gtin=True),
    "datamatrix": Symbology("datamatrix"),
    "gs1datamatrix": Symbology("gs1-datamatrix", gs1=True),
    "qr": Symbology("qr"),
    "qrcode": Symbology("qr"),
    "microqrcode": Symbology("qr"),
    "rmqrcode": Symbology("qr"),
    "gs1qr": Symbology("gs1-qr", gs1=True),
    "gs1qrcode": Symbology("gs1-qr", gs1=True),
    "databar": Symbology("gs1-databar", gs1=True),
    "databarexpanded": Symbology("gs1-databar", gs1=True),
    "databarlimited": Symbology("gs1-databar", gs1=True),
    "databarexp": Symbology("gs1-databar", gs1=True),
    "gs1databar": Symbology("gs1-databar", gs1=True),
    "rss14": Symbology("gs1-databar", gs1=True),
    "rssexpanded": Symbology("gs1-databar", gs1=True),
    "code39": Symbology("code39"),
    "code93": Symbology("code93"),
    "codabar": Symbology("codabar"),
    "pdf417": Symbology("pdf417"),
    "aztec": Symbology("aztec"),
    "maxicode": Symbology("maxicode"),
    "dotcode": Symbology("dotcode"),
}


def from_name(name: str | None) -> Symbology | None:
    """A driver's symbology name ("EAN13", "DataMatrix", "gs1-128", "]C1") as a Symbology."""
    if not name:
        return None
    if name.startswith("]"):
        found, rest = split(name)
        return found if found is not None and not rest else None
    key = "".join(ch for ch in name.lower() if ch.isalnum())
    known = _BY_NAME.get(key)
    if known is not None:
        return known
    label = name.strip().lower()[:40]
    if not label:
        return None
    # "gs1-databar-expanded", "gs1-aztec", ...: a GS1 flavour carries element strings.
    return Symbology(label, gs1=key.startswith("gs1"))
