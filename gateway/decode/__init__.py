"""Sans-I/O parsers: text or bytes in, a value or a `DecodeError` out. No I/O, no logging.

Contract used by the event builder and `tally decode` (see DESIGN.md):

    decode(text, symbology=None) -> dict      # never raises
    decode_epc(hex_text) -> dict              # never raises

Each result is one JSON-able object: {"input", "kind", "valid", "error"?, ...}
with `kind` in gs1 | tracking | epc | text, and when known: ais, gtin, lot,
serial, expiry, sscc, carrier, tracking_number, scheme, epc_uri, identity,
and `identity_kind` in unit | class | logistic_unit | shipment | location |
asset | other, plus `quantity` for a class when the label carries a count.

Barcode text: `decode` (barcode.py; precedence between readings documented there),
`set_company_prefixes` (identity.py; which EPC URIs can be formed). Both are loaded on
first use, so `import gateway.decode` for NMEA or EPC work does not load GS1 tables.
"""

from __future__ import annotations

from typing import Any


class DecodeError(ValueError):
    """The only exception a parser raises; its message says what is wrong, in words."""


def __getattr__(name: str) -> Any:
    if name == "decode":
        from .barcode import decode

        return decode
    if name == "set_company_prefixes":
        from .identity import set_company_prefixes

        return set_company_prefixes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
