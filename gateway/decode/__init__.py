"""Sans-I/O parsers: text or bytes in, a value or a `DecodeError` out. No I/O, no logging.

Contract used by the event builder and `tally decode` (see DESIGN.md):

    decode(text, symbology=None) -> dict      # never raises
    decode_epc(hex_text) -> dict              # never raises

Each result is one JSON-able object: {"input", "kind", "valid", "error"?, ...}
with `kind` in gs1 | tracking | epc | text, and when known: ais, gtin, lot,
serial, expiry, sscc, carrier, tracking_number, scheme, epc_uri, identity,
and `identity_kind` in unit | class | logistic_unit | shipment | location |
asset | other, plus `quantity` for a class when the label carries a count.
"""

from __future__ import annotations


class DecodeError(ValueError):
    """The only exception a parser raises; its message says what is wrong, in words."""
