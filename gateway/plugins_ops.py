"""Operations, plugged into the daemon: the health/metrics/status-page server and remote commands.

`attach(daemon)` runs on every pipeline build (start and each reload), after the daemon has reset
its ticks, status parts and command handler, and after the previous build's cleanups stopped the
previous server. Importing this module registers it in gateway.daemon.PLUGINS (once).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from . import daemon as _daemon
from . import health, remote

if TYPE_CHECKING:
    from drivers.base import Read

    from .daemon import Daemon

RECENT_PER_DEVICE = 5
RECENT_TEXT = 160  # characters of a scan shown; the full text is in the event's tally:raw

#: counter that moved -> what the read became
OUTCOMES = (("events", "event"), ("rejects", "reject"), ("duplicates", "duplicate"), ("modes", "mode"))


def _text(payload: str | bytes) -> str:
    if isinstance(payload, bytes):
        text = payload.decode("utf-8", "backslashreplace")
    else:
        text = payload
    # Control characters (GS separators, ESC) shown, not acted on, by whatever renders this.
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                   for c in text[:RECENT_TEXT])
    return text + ("…" if len(payload) > RECENT_TEXT else "")


def record_recent_reads(daemon: "Daemon") -> None:
    """Keep each device's last few reads and what they became, for the status page ("did my scan arrive?").

    Wraps this build's pipeline.on_reads (the one entry for reads): each read is handed on alone and its
    outcome read off the pipeline's own counters, so nothing is counted twice and nothing decided here.
    """
    pipeline = daemon.pipeline
    if pipeline is None:
        return
    inner = pipeline.on_reads
    recent: dict[str, deque[dict[str, Any]]] = {}

    def on_reads(reads: "list[Read]") -> None:
        for read in reads:
            before = dict(pipeline.counters)
            try:
                inner([read])
            finally:
                outcome = next((name for key, name in OUTCOMES if pipeline.counters.get(key, 0) > before.get(key, 0)),
                               "read")
                ring = recent.setdefault(read.device, deque(maxlen=RECENT_PER_DEVICE))
                ring.append({"time": read.wall, "text": _text(read.payload), "outcome": outcome})

    pipeline.on_reads = on_reads  # type: ignore[method-assign]
    daemon.status_parts["recent"] = lambda: {device: list(ring) for device, ring in recent.items()}


def attach(daemon: "Daemon") -> None:
    status = daemon.config.status
    if status.get("listen"):
        record_recent_reads(daemon)
        health.attach(daemon)
    if status.get("commands"):
        remote.attach(daemon)


if attach not in _daemon.PLUGINS:
    _daemon.PLUGINS.append(attach)
