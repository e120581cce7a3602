"""Repeated errors, logged with a count instead of once per occurrence.

A failing SD card or a driver that raises on every read would otherwise fill the journal
(itself on the SD card) at several lines a second. The first occurrence is logged in
full; after that, at most one line per `interval` says how many happened since.
The counts themselves live with whoever owns the failure (status, metrics): this only
keeps the log readable.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def __call__(self, key: str, level: int, message: str, *args: Any, exc_info: bool = False) -> bool:
        """Log now, or count it for the next line; returns whether a line was written."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        self._last[key] = now
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message += " (%d more like this in the last %.0fs)"
            args = (*args, suppressed, now - last if last is not None else 0.0)
        # The traceback only the first time: after that it is the same one.
        self.logger.log(level, message, *args, exc_info=exc_info and last is None)
        return True

    def reset(self, key: str) -> None:
        """The condition ended: the next occurrence is news again, traceback and all."""
        self._last.pop(key, None)
        self._suppressed.pop(key, None)
