"""What became of each read, decided in one place (the pipeline) and heard by many (feedback channels,
the status page, manifests, metrics).

`accepted` and `unexpected` are only ever said once the event is committed to the outbox: the
outbox's Result for the event's record turns into the outcome, so a beep never promises more
than the disk holds. Everything the pipeline knows at once (a duplicate, a rejected label, a mode
barcode) is said at once.

Observers run on the loop; a slow or failing one must never hold up reading, so each is called
in turn with any exception counted and logged (rate-limited), never raised into the pipeline.
Feedback channels that talk to hardware do their I/O in their own thread (see gateway/feedback/).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .ratelog import RateLimitedLog

log = logging.getLogger("tally.outcomes")

ACCEPTED = "accepted"          # the event is committed
DUPLICATE = "duplicate"        # inside the device's dedupe window
REJECTED = "rejected"          # not understood (the reason says why)
UNEXPECTED = "unexpected"      # committed, but not on the active manifest
NOT_ACCEPTED = "not-accepted"  # the outbox refused it: the scan is lost, and the worker must know
MODE = "mode"                  # a mode barcode switched the device
PACK_OPEN = "pack-open"        # a packing session started
PACK_CLOSE = "pack-close"      # a packing session closed into an AggregationEvent (committed)
COMPLETE = "complete"          # the active manifest has everything it expected
KINDS = (ACCEPTED, DUPLICATE, REJECTED, UNEXPECTED, NOT_ACCEPTED, MODE, PACK_OPEN, PACK_CLOSE, COMPLETE)


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str
    device: str
    text: str | None = None          # the scan as read (for the status page; never a topic)
    reason: str | None = None        # rejected / not-accepted: why
    event_id: str | None = None
    seq: int | None = None
    manifest: str | None = None      # the manifest it was checked against, if any
    read_wall: float | None = None   # when the device read it
    time: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class Pending:
    """The token an event carries through the outbox: what to say once its Result is known."""

    kind: str
    device: str
    text: str | None
    event_id: str
    read_wall: float | None
    manifest: Any = None             # the manifest match to confirm once committed


Observer = Callable[[Outcome], None]


class OutcomeBus:
    """Owned by the daemon and kept across reloads: channels subscribe once."""

    def __init__(self) -> None:
        self.observers: list[Observer] = []
        self.counts: dict[str, int] = {k: 0 for k in KINDS}
        self.observer_failures = 0
        self._log = RateLimitedLog(log, 60.0)

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        self.observers.append(observer)
        return lambda: self.observers.remove(observer) if observer in self.observers else None

    def publish(self, outcome: Outcome) -> None:
        self.counts[outcome.kind] = self.counts.get(outcome.kind, 0) + 1
        for observer in list(self.observers):
            try:
                observer(outcome)
            except Exception:  # noqa: BLE001 - the read is already decided and stored; only a signal is lost
                self.observer_failures += 1
                self._log(getattr(observer, "__qualname__", repr(observer)), logging.ERROR,
                          "outcome observer %r failed", observer, exc_info=True)
