"""Where the daemon's once-a-second status snapshot lives: a runtime directory (tmpfs), not the SD card.

Rewriting a file every second on the data directory wears an SD card for nothing and, on a full
card, fails with everything else. systemd gives the service `$RUNTIME_DIRECTORY` (RuntimeDirectory=
in the unit); without it `/run/tally` is used when we may write there, else the data directory.
`tally status` runs in another process without that variable, so the file's name says which
gateway it is (id and data directory) and the reader looks in each of those places.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

from .config import Config

SYSTEM_RUN = Path("/run/tally")


def file_name(config: Config) -> str:
    tag = hashlib.sha256(str(config.data_dir.resolve()).encode()).hexdigest()[:10]
    return f"status-{config.gateway_id}-{tag}.json"


def _candidates(config: Config) -> Iterator[Path]:
    configured = config.gateway.get("runtime_dir")
    if configured:
        yield Path(configured)
        return
    env = os.environ.get("RUNTIME_DIRECTORY")
    if env:
        yield Path(env.split(":")[0])
    yield SYSTEM_RUN
    if SYSTEM_RUN.is_dir():
        try:
            yield from sorted(p for p in SYSTEM_RUN.iterdir() if p.is_dir())  # tally@NAME: /run/tally/NAME
        except OSError:
            pass
    yield config.data_dir


def choose(config: Config) -> Path:
    """The directory the daemon writes to: the first candidate it may write."""
    for directory in _candidates(config):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(directory, os.W_OK):
            return directory / file_name(config)
    return config.data_dir / file_name(config)


def find(config: Config) -> Path | None:
    """The newest status file of this gateway, wherever the daemon could have put it."""
    name = file_name(config)
    found = [d / name for d in _candidates(config) if (d / name).is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def write(path: Path, snapshot: dict[str, Any]) -> None:
    """Atomic: a reader never sees half a file."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(snapshot, indent=1, default=str))
    os.replace(tmp, path)
