"""Validate a config file: exit 0 if it is good, else exit 2 with one line per problem, naming the key."""

from __future__ import annotations

import argparse

from . import load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="the TOML config file")


def run(args: argparse.Namespace) -> int:
    from tracker.config import is_tracker_file

    if is_tracker_file(args.config):  # a central tracker's config: the same strictness, its own keys
        from .tracker import check_config

        return check_config(args.config)
    config = load_config(args.config)
    if config is None:
        return 2
    enabled = [d for d in config.devices if d.enabled]
    print(f"{args.config}: ok (gateway {config.gateway_id}, {len(enabled)} devices, "
          f"broker {', '.join(map(str, config.brokers))})")
    return 0
