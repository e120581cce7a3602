"""Run the central tracker in the foreground: MQTT ingest from a fleet of gateways into one store,
the EPCIS query interface, tracking and recall over HTTP. SIGTERM/SIGINT: commit, exit 0."""

from __future__ import annotations

import argparse
import logging
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="the tracker's TOML config (with a [tracker] section)")


def load(path: str):
    """The tracker config, or None after printing one line per problem (naming the key) on stderr."""
    from tracker.config import ConfigError, load as load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{path}: {problem}", file=sys.stderr)
        return None


def check_config(path: str) -> int:
    config = load(path)
    if config is None:
        return 2
    print(f"{path}: ok (tracker {config.tracker_id}, store {config.store.split(':', 1)[0]}, "
          f"broker {', '.join(map(str, config.brokers))}, share group {config.tracker['share_group']})")
    return 0


def run(args: argparse.Namespace) -> int:
    config = load(args.config)
    if config is None:
        return 2
    logging.basicConfig(level=config.tracker["log_level"].upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from tracker.db import StoreError
    from tracker.ingest import CredentialsError
    from tracker.service import run as run_tracker

    try:
        return run_tracker(config)
    except (StoreError, CredentialsError) as exc:
        print(f"tally tracker: {exc}", file=sys.stderr)
        return 1
