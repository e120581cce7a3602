"""Run the gateway in the foreground, logging to stderr (journald-friendly).

SIGTERM/SIGINT stop it cleanly (exit 0, nothing accepted lost); SIGHUP reloads the config.
"""

from __future__ import annotations

import argparse

from .. import logs
from . import load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="the TOML config file")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        help="override gateway.log_level")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if config is None:
        return 2
    logs.setup(args.log_level or config.gateway["log_level"])
    from ..daemon import run as run_daemon

    return run_daemon(config)
