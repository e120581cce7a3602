"""SGTIN-96 EPCs for simulated tags (GS1 EPC Tag Data Standard §14.5.1), written from the TDS and
not from gateway/decode/epc.py, so the decoder is checked against an independent encoder."""

from __future__ import annotations

# SGTIN-96 partition table: company prefix digits -> (partition, prefix bits, item reference bits)
_SGTIN_PARTITIONS = {12: (0, 40, 4), 11: (1, 37, 7), 10: (2, 34, 10), 9: (3, 30, 14), 8: (4, 27, 17),
                     7: (5, 24, 20), 6: (6, 20, 24)}


def sgtin96(company_prefix: str, item_ref: str, serial: int, filter_value: int = 1) -> bytes:
    """An SGTIN-96 EPC (TDS §14.5.1): header 0x30, filter, partition, prefix, item ref, serial."""
    if len(company_prefix) + len(item_ref) != 13:
        raise ValueError("company prefix + item reference (with indicator) must be 13 digits")
    partition, prefix_bits, item_bits = _SGTIN_PARTITIONS[len(company_prefix)]
    value = 0x30
    for bits, field_value in ((3, filter_value), (3, partition), (prefix_bits, int(company_prefix)),
                              (item_bits, int(item_ref)), (38, serial)):
        value = (value << bits) | field_value
    return value.to_bytes(12, "big")
