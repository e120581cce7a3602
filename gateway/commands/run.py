"""Run the gateway in the foreground, logging to stderr (journald-friendly).

SIGTERM/SIGINT stop it cleanly (exit 0, nothing accepted lost); SIGHUP reloads the config.
"""

from __future__ import annotations

import argparse
import sys

from .. import logs
from ..config import ConfigError, load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="the TOML config file")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        help="override gateway.log_level")


def run(args: argparse.Namespace) -> int:
    try:
        config = load(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{args.config}: {problem}", file=sys.stderr)
        return 2
    logs.setup(args.log_level or config.gateway["log_level"])
    from .. import plugins  # noqa: F401  (registers GPS, RFID, health, ... with the daemon)
    from ..daemon import run as run_daemon

    return run_daemon(config)
