"""A recall: every unit, case, pallet, shipment and vehicle of one lot (GTIN + batch/lot), directly or
by containment, each with its last known place, from the tracker's store. JSON out; exit 1 if the
lot was never seen, 2 on bad input."""

from __future__ import annotations

import argparse
import sys

from .track import add_store_arguments, ask


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)
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
    answer = ask(args, lambda cur: track.recall(cur, lot))
    if answer is None:
        return 2
    return 0 if answer["items"] else 1
