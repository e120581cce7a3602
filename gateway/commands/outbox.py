"""The outbox's quarantine: records the broker refused for good (too large, payload format, topic).

    tally outbox list -c FILE                  # id, stream, size, when, why
    tally outbox export -c FILE [--out F]      # one JSON object per line, the payload included
    tally outbox resend -c FILE ID… | --all    # back into the outbox (same eventID: consumers de-duplicate)
    tally outbox discard -c FILE ID… | --all   # gone for good (counted: the quarantine count drops)

Safe while the gateway runs: SQLite serialises the writes, and the running gateway notices the
change on its next commit. Exit 1 when an id is not in the quarantine.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time

from .. import quarantine
from . import load_config


ACTIONS = {"list": "the quarantined records", "export": "the quarantined records with their payloads, as JSON lines",
           "resend": "back into the outbox", "discard": "delete for good"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text in ACTIONS.items():
        sub = actions.add_parser(name, help=help_text)
        sub.add_argument("-c", "--config", default="/etc/tally/tally.toml", help="the gateway's config file")
        sub.add_argument("ids", nargs="*", type=int, help="quarantine ids (see list); none: all for list/export")
        if name in ("resend", "discard"):
            sub.add_argument("--all", action="store_true", help="every record in the quarantine")
        if name == "export":
            sub.add_argument("--out", help="write to this file instead of stdout")
        if name == "list":
            sub.add_argument("--json", action="store_true", help="JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if config is None:
        return 2
    path = config.data_dir / "outbox.sqlite3"
    if not path.is_file():
        print(f"tally outbox: no outbox at {path}", file=sys.stderr)
        return 1
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        conn.executescript(quarantine.SCHEMA)
        if args.action in ("list", "export"):
            return _show(conn, args)
        if not args.ids and not args.all:
            print(f"tally outbox {args.action}: name ids, or --all", file=sys.stderr)
            return 2
        ids = quarantine.all_ids(conn) if args.all else args.ids
        missing = sorted(set(ids) - set(quarantine.all_ids(conn)))
        done = (quarantine.resend if args.action == "resend" else quarantine.discard)(conn, ids)
        verb = "re-sent" if args.action == "resend" else "discarded"
        print(f"{verb} {done} record(s)" + (f"; not in the quarantine: {missing}" if missing else ""))
        return 1 if missing else 0
    finally:
        conn.close()


def _show(conn: sqlite3.Connection, args: argparse.Namespace) -> int:
    rows = quarantine.rows(conn, args.ids or None, payloads=args.action == "export")
    if args.action == "export":
        out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
        try:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        finally:
            if args.out:
                out.close()
        return 0
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("the quarantine is empty")
        return 0
    for row in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["quarantined"]))
        print(f"{row['id']:>8}  {row['stream']:<9} {row['bytes']:>8} B  {when}  {row['device'] or '-'}: {row['reason']}")
    return 0
