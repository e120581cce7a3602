"""Where is it: a carrier tracking number, SSCC, SGTIN, GTIN+lot (GS1 element string), EPC URI or
Digital Link URI, looked up in the tracker's store. Prints {identifier, kind, latest, where, chain,
history} as JSON. Exit 0 if it was seen, 1 if never, 2 if the input names nothing trackable."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the answer comes from: the tracker's config or a store URL (track and recall alike)."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("-c", "--config", help="the tracker's TOML config (its store is read)")
    source.add_argument("--store", help="sqlite:PATH or postgresql://… instead of a config")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)
    parser.add_argument("identifier")


def open_store(args: argparse.Namespace):
    """The store named by --store or by the config, or None after saying why."""
    from tracker.db import StoreError
    from tracker.store import Store

    url = args.store
    if url is None:
        from .tracker import load

        config = load(args.config)
        if config is None:
            return None
        url = config.store
    try:
        return Store(url).open()
    except StoreError as exc:
        print(f"tally: {exc}", file=sys.stderr)
        return None


def run(args: argparse.Namespace) -> int:
    from tracker import track
    from tracker.identifiers import NotAnIdentifier, resolve

    try:
        resolved = resolve(args.identifier)
    except NotAnIdentifier as exc:
        print(f"tally track: {exc}", file=sys.stderr)
        return 2
    answer = ask(args, lambda cur: track.track(cur, resolved))
    if answer is None:
        return 2
    return 0 if answer["history"] else 1


def ask(args: argparse.Namespace, question: Callable[[Any], dict[str, Any]]) -> dict[str, Any] | None:
    """The store's answer to `question(cursor)`, printed as JSON; None (after saying why) without a store."""
    store = open_store(args)
    if store is None:
        return None
    try:
        with store.db.reading() as cur:
            answer = question(cur)
    finally:
        store.close()
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    return answer
