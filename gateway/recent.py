"""Each device's last few reads and what they became, for the status page ("did my scan arrive?").

An outcome observer: the pipeline decides, this only remembers. Kept in the working state, so a
reload does not blank the technician's page.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .logs import printable
from .outcomes import COMPLETE, Outcome

RECENT_PER_DEVICE = 5
RECENT_TEXT = 160  # characters of a scan shown; the full text is in the event's tally:raw
MAX_DEVICES = 256  # devices come from config, but a bounded map never surprises


class RecentReads:
    def __init__(self) -> None:
        self.rings: dict[str, deque[dict[str, Any]]] = {}

    def __call__(self, outcome: Outcome) -> None:
        if outcome.kind == COMPLETE or outcome.text is None and outcome.kind not in ("not-accepted",):
            return
        ring = self.rings.get(outcome.device)
        if ring is None:
            if len(self.rings) >= MAX_DEVICES:
                return
            ring = self.rings[outcome.device] = deque(maxlen=RECENT_PER_DEVICE)
        text = outcome.text or ""
        entry = {"time": outcome.read_wall or outcome.time,
                 "text": printable(text[:RECENT_TEXT]) + ("…" if len(text) > RECENT_TEXT else ""),
                 "outcome": outcome.kind}
        if outcome.reason:
            entry["reason"] = outcome.reason
        ring.append(entry)

    def status(self) -> dict[str, list[dict[str, Any]]]:
        # In the order they were read: a duplicate or reject is known at once, an acceptance at the commit.
        return {device: sorted(ring, key=lambda e: e["time"]) for device, ring in self.rings.items()}
