"""`tally …` and `python -m gateway …`: one program, subcommands in gateway/commands/."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("gateway.commands.run", "run the gateway daemon in the foreground"),
    "check-config": ("gateway.commands.check_config", "validate a config file (exit 2 naming each problem)"),
    "decode": ("gateway.commands.decode", "decode barcodes, EPCs or images to JSON, one object per input"),
    "nmea": ("gateway.commands.nmea", "NMEA 0183 from a file or stdin to one JSON fix per line"),
    "simulate": ("gateway.commands.simulate", "start a device simulator"),
    "demo": ("gateway.commands.demo", "the whole system on this machine: simulators, a broker, live events"),
    "status": ("gateway.commands.status", "the running daemon's state"),
    "install": ("gateway.commands.install", "install the systemd unit, udev rules, config and data directory"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tally", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tally {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue  # a command whose optional parts are not installed
        p = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip())
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
