"""Tally, an edge scanning gateway: barcode, RFID and GPS reads to GS1 EPCIS 2.0 events over MQTT."""

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
    "outbox": ("gateway.commands.outbox", "the quarantine: list, export, re-send or discard records the broker refused"),
    "install": ("gateway.commands.install", "install the systemd unit, udev rules, config and data directory"),
    "tracker": ("gateway.commands.tracker", "run the central tracker: a fleet's events into one store, queries"),
    "track": ("gateway.commands.track", "where is it: a tracking number, SSCC, SGTIN, GTIN+lot or Digital Link"),
    "recall": ("gateway.commands.recall", "every unit, case, pallet and shipment of a lot, with its last place"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that command's module is imported (a daemon starts faster)."""
    parser = argparse.ArgumentParser(prog="tally", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tally {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            p = sub.add_parser(name, help=f"{help_text} (unavailable: {exc})")
            p.set_defaults(_unavailable=str(exc))
            continue
        p = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip(),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv and argv[0] in COMMANDS else None
    if command == "run":
        # Before any slow import: a SIGTERM while starting must still mean a clean stop.
        from .daemon_signals import catch_early_signals

        catch_early_signals()
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if getattr(args, "_unavailable", None):
        print(f"tally {args.command}: unavailable here: {args._unavailable}", file=sys.stderr)
        return 2
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
