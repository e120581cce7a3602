"""Start a device simulator: `tally simulate KIND [options]` (see `tally simulate KIND --help`)."""

from __future__ import annotations

import argparse
import importlib
import sys

from simulators import SIMULATORS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kind", metavar="KIND")
    for kind, (module_name, help_text) in SIMULATORS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            p = sub.add_parser(kind, help=f"{help_text} (unavailable: {exc})")
            p.set_defaults(_sim=None, _why=str(exc))
            continue
        p = sub.add_parser(kind, help=help_text, description=(module.__doc__ or help_text).strip(),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_sim=module.run)


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "kind", None):
        print("tally simulate: name a simulator: " + ", ".join(SIMULATORS), file=sys.stderr)
        return 2
    if args._sim is None:
        print(f"tally simulate {args.kind}: unavailable: {args._why}", file=sys.stderr)
        return 2
    return int(args._sim(args) or 0)
