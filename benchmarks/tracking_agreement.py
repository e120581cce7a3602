"""Tracking numbers: agreement with tracking_number_data's own test numbers, and the cost per scan.

Agreement: a `valid` test number counts when it is read as valid and as that courier's (S10:
scheme "s10"); an `invalid` one when it is not read as a valid number of the format listing
it. `decode` is the whole scanner pipeline: there a number that is also a valid GS1 key
(FedEx's SSCC-18 labels) is read as that key, and GTIN-length digits that only a format
without a check digit takes (DHL eCommerce 14) as a misread GTIN; both count as misses here.

    .venv/bin/python benchmarks/tracking_agreement.py
"""

from __future__ import annotations

import json
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.decode import decode  # noqa: E402
from gateway.decode.tracking import match, normalize  # noqa: E402
from gateway.decode.tracking_formats import data_version, formats  # noqa: E402


def _right(fmt, courier: str | None, scheme: str | None) -> bool:
    return scheme == "s10" if fmt.courier == "s10" else courier == fmt.courier


def main() -> None:
    total = by_match = by_decode = 0
    misses: list[str] = []
    for fmt in formats():
        for number in fmt.valid_examples:
            total += 1
            found = match(normalize(number))
            by_match += bool(found and found.valid and _right(fmt, found.carrier, found.scheme))
            r = decode(number)
            ok = r["kind"] == "tracking" and r["valid"] and _right(fmt, r.get("carrier"), r.get("scheme"))
            by_decode += ok
            if not ok:
                misses.append(f"{fmt.id} {number.strip()!r} -> {r['kind']}")
        for number in fmt.invalid_examples:
            total += 1
            found = match(normalize(number))
            by_match += not (found and found.valid and found.format_id == fmt.id)
            r = decode(number)
            by_decode += not (r["kind"] == "tracking" and r["valid"] and r.get("product") in (fmt.name, "UPU S10"))
    n = 20000
    timing = {label: round(timeit.timeit(lambda t=text: match(t), number=n) / n * 1e6, 2)
              for label, text in (("non-candidate (41 chars)", "X" * 41), ("text of no carrier's shape", "PALLET-7"),
                                  ("UPS", "1Z5R89390357567127"), ("12 bare digits", "986578788855"),
                                  ("S10", "RB123456785GB"))}
    print(json.dumps({"data_version": data_version(), "test_numbers": total,
                      "agreement_match": round(by_match / total, 4), "agreement_decode": round(by_decode / total, 4),
                      "decode_misses": misses, "match_us": timing}, indent=2))


if __name__ == "__main__":
    main()
