"""A recall: every unit, case, pallet, shipment and vehicle of one lot (GTIN + batch/lot), directly or
by containment, each with its last known place, from the tracker's store. JSON out; exit 1 if the
lot was never seen, 2 on bad input."""

from __future__ import annotations

import argparse
import json
import sys

from .track import open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("-c", "--config", help="the tracker's TOML config (its store is read)")
    source.add_argument("--store", help="sqlite:PATH or postgresql://… instead of a config")
    parser.add_argument("--gtin", required=True)
    parser.add_argument("--lot", required=True)


def run(args: argparse.Namespace) -> int:
    from tracker import track
    from tracker.identifiers import NotAnIdentifier, gtin_lot

    try:
        lot = gtin_lot(args.gtin, args.lot)
    except NotAnIdentifier as exc:
        print(f"tally recall: {exc}", file=sys.stderr)
        return 2
    store = open_store(args)
    if store is None:
        return 2
    try:
        with store.db.reading() as cur:
            answer = track.recall(cur, lot)
    finally:
        store.close()
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    return 0 if answer["items"] else 1
