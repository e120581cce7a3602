"""One module per `tally` subcommand: add_arguments(parser) and run(args) -> exit code."""

from __future__ import annotations

import sys
from pathlib import Path

from ..config import Config, ConfigError, load


def load_config(path: str | Path) -> Config | None:
    """The config, or None after printing one line per problem (naming the key) on stderr."""
    try:
        return load(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{path}: {problem}", file=sys.stderr)
        return None
