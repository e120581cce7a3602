"""The thread a hardware feedback channel does its I/O in, behind a small bounded queue."""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any, Callable

from ..ratelog import RateLimitedLog

log = logging.getLogger("tally.feedback")

QUEUE = 16


class SignalWorker:
    """Runs `send(signal)` for each signal in its own thread; never blocks the caller.

    A full queue drops its oldest signal (counted): the worker at the door needs the answer to
    the scan in hand, not a backlog of beeps for scans long gone.
    """

    def __init__(self, name: str, send: Callable[[Any], None], size: int = QUEUE,
                 close: Callable[[], None] | None = None):
        self.name = name
        self.send = send
        self.close_channel = close
        self.queue: deque[Any] = deque()
        self.size = size
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.last_error: str | None = None
        self._cond = threading.Condition()
        self._stopping = False
        self._halt = threading.Event()
        self._log = RateLimitedLog(log, 60.0)
        self._thread = threading.Thread(target=self._run, name=f"feedback-{name}", daemon=True)
        self._thread.start()

    def put(self, signal: Any) -> None:
        with self._cond:
            if self._stopping:
                return
            if len(self.queue) >= self.size:
                self.queue.popleft()
                self.dropped += 1
            self.queue.append(signal)
            self._cond.notify()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stopping = True
            self._halt.set()
            self._cond.notify()
        self._thread.join(timeout)

    def pause(self, seconds: float) -> None:
        """Hold a pattern step; cut short when the channel stops."""
        self._halt.wait(seconds)

    @property
    def stopping(self) -> bool:
        return self._stopping

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self.queue and not self._stopping:
                        self._cond.wait()
                    if self._stopping:
                        return
                    signal = self.queue.popleft()
                try:
                    self.send(signal)
                    self.sent += 1
                except Exception as exc:  # noqa: BLE001 - a failed signal is counted; reading goes on
                    self.failed += 1
                    self.last_error = f"{exc.__class__.__name__}: {exc}"
                    self._log(self.name, logging.WARNING, "feedback %s failed: %s", self.name, self.last_error)
        finally:
            if self.close_channel is not None:
                try:
                    self.close_channel()
                except Exception:  # noqa: BLE001 - closing a line or port that is already gone
                    pass

    def status(self) -> dict[str, Any]:
        return {"channel": self.name, "sent": self.sent, "failed": self.failed, "dropped": self.dropped,
                "queued": len(self.queue), "error": self.last_error}
