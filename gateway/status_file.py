"""Where the daemon's status snapshot lives (a runtime directory, tmpfs, not the SD card) and when it is rewritten.

Rewriting a file every second on the data directory wears an SD card for nothing and, on a full
card, fails with everything else. systemd gives the service `$RUNTIME_DIRECTORY` (RuntimeDirectory=
in the unit); without it `/run/tally` is used when we may write there, else the data directory.
`tally status` runs in another process without that variable, so the file's name says which
gateway it is (id and data directory) and the reader looks in each of those places.

The daemon builds a snapshot every second, but `StatusFile` rewrites the file only when it says
something new: at once when anything changed beyond what moves by itself (the clock, ages, a
GPS streaming once a second, message counts), otherwise every `REFRESH_S`, well inside the
`STALE_S` after which `tally status` calls the gateway not running. An idle gateway then does
not serialise and rename a file every second for nobody.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from .config import Config

SYSTEM_RUN = Path("/run/tally")

#: `tally status` (gateway/commands/status.py) calls a snapshot older than this a gateway not running
STALE_S = 10.0
#: an unchanged snapshot is rewritten this often anyway, so its `time` never nears STALE_S
REFRESH_S = 5.0
#: paths ("*": every item of a list) whose change alone does not make a snapshot new: the clock,
#: ages, what a GPS streaming at 1 Hz moves every second, and the counts every message moves
#: (a vehicle's position every few seconds: commits, publishes, acks, positions waiting). They
#: are written with the next change, or the next refresh. A scan changes more than these: its
#: outcome, events, rejects or duplicates; so do states, health, drops and quarantine.
VOLATILE: tuple[tuple[str, ...], ...] = (
    ("time",), ("uptime_s",), ("backlog", "oldest_age_s"), ("counters", "reads"),
    ("devices", "*", "reads"), ("devices", "*", "last_read"), ("gps",),
    ("outbox", "commits"), ("broker", "published"), ("broker", "acked"), ("backlog", "positions"),
    ("backlog", "bytes"),
)


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
    """Atomic: a reader never sees half a file. One line: `indent` would take json's pure-Python
    encoder, ~4x the CPU of the C one (`tally status --json` indents what it prints)."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(snapshot, default=str))
    os.replace(tmp, path)


def steady(snapshot: Any, paths: tuple[tuple[str, ...], ...] = VOLATILE) -> Any:
    """The snapshot without the volatile paths: equal for two snapshots that say the same. The
    snapshot itself is left alone (copies are made along the paths only)."""
    for path in paths:
        snapshot = _without(snapshot, path)
    return snapshot


def _without(node: Any, path: tuple[str, ...]) -> Any:
    key, rest = path[0], path[1:]
    if key == "*":
        if not isinstance(node, list):
            return node
        return [_without(item, rest) if rest else None for item in node]
    if not isinstance(node, dict) or key not in node:
        return node
    copy = dict(node)
    if rest:
        copy[key] = _without(node[key], rest)
    else:
        del copy[key]
    return copy


class StatusFile:
    """One gateway's status file: `update(snapshot)` every second; written when it says something new."""

    def __init__(self, path: Path, refresh_s: float = REFRESH_S, clock: Callable[[], float] = time.monotonic):
        self.path = path
        self.refresh_s = refresh_s
        self.clock = clock
        self.writes = 0
        self.skipped = 0
        self._steady: Any = None
        self._written: float | None = None

    def update(self, snapshot: dict[str, Any], force: bool = False) -> bool:
        """Write `snapshot` if it is new, `force`d, or the last write is `refresh_s` old. A failed
        write raises and is tried again on the next update."""
        now = self.clock()
        view = steady(snapshot)
        if (not force and self._written is not None and now - self._written < self.refresh_s
                and view == self._steady):
            self.skipped += 1
            return False
        write(self.path, snapshot)
        self._steady, self._written = view, now
        self.writes += 1
        return True
