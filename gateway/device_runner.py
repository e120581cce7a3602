"""Runs one driver in its own thread: open, read, and reopen when the device comes back.

Reconnect lives here once, so every device family behaves the same when unplugged:
the runner notices (DeviceGone), logs it once, and retries the open with backoff
until the device returns, without a restart.

Backpressure: before each read the runner asks its `gate`. While the outbox has no
room (or the loop is far behind), it does not read: the device's own buffer and flow
control hold the scans (a serial scanner's UART FIFO and RTS/CTS, a pty's buffer, an
LLRP reader's report queue), which is where they are safest, instead of in our memory.

A driver whose read() keeps failing backs off exponentially; its traceback is logged
once and then counted, not printed four times a second.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from drivers.base import DeviceGone, DeviceUnavailable, Driver, Read

from .ratelog import RateLimitedLog

log = logging.getLogger("tally.device")

BACKOFF_MIN = 0.25
BACKOFF_MAX = 5.0
FAILING_MAX = 30.0   # a driver that keeps raising waits up to this between attempts
PAUSE_POLL = 0.05    # how often a paused device looks again whether it may read
MAX_BEHIND = 1000    # reads handed to the loop and not yet processed before the runner waits for it
CATCH_UP = 0.002     # how long it waits then: the loop is only busy, this is not a pause


@dataclass
class DeviceState:
    name: str
    driver: str
    where: str
    state: str = "starting"  # starting | open | reopening | stopped
    since: float = 0.0
    error: str | None = None
    reads: int = 0
    opens: int = 0
    errors: int = 0          # unexpected open/read failures (driver bugs, I/O errors), counted
    paused: bool = False     # backpressure: not reading because the outbox has no room
    pauses: int = 0
    last_read: float | None = None


class DeviceRunner:
    def __init__(self, driver: Driver, sink: Callable[[list[Read]], None],
                 gate: Callable[[], bool] = lambda: True):
        self.driver = driver
        self.sink = sink
        self.gate = gate
        self.state = DeviceState(driver.device, driver.name, driver.describe(), since=time.time())
        self.handed = 0   # this thread's count of reads given to the loop
        self.taken = 0    # the loop's count of those it processed
        self.beat = time.monotonic()
        self.stopping = False
        self._stop = threading.Event()
        self._log = RateLimitedLog(log, 60.0)
        self._thread = self._new_thread()

    def _new_thread(self) -> threading.Thread:
        return threading.Thread(target=self._run, name=f"device-{self.driver.device}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def restart(self) -> None:
        """The supervisor's last resort when the thread died anyway."""
        if self._thread.is_alive() or self.stopping:
            return
        self._thread = self._new_thread()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping = True
        self._stop.set()
        self._thread.join(timeout)

    def _set(self, state: str, error: str | None = None) -> None:
        if state != self.state.state:
            self.state.since = time.time()
        self.state.state, self.state.error = state, error

    def _deliver(self, reads: list[Read]) -> None:
        if reads:
            self.state.reads += len(reads)
            self.state.last_read = reads[-1].wall
            self.handed += len(reads)
            self.sink(reads)

    def _wait_for_room(self) -> None:
        while not self._stop.is_set():
            self.beat = time.monotonic()
            if not self.gate():
                if not self.state.paused:
                    self.state.paused = True
                    self.state.pauses += 1
                    self._log("paused", logging.WARNING, "%s: paused: the outbox has no room; the device holds its "
                              "scans meanwhile (%d pauses)", self.driver.device, self.state.pauses)
                self._stop.wait(PAUSE_POLL)
            elif self.handed - self.taken >= MAX_BEHIND:
                self._stop.wait(CATCH_UP)  # reads queued for the loop: they reach the outbox before we read more
            else:
                break
        if self.state.paused and not self._stop.is_set():
            log.debug("%s: reading again", self.driver.device)
            self.state.paused = False

    def _run(self) -> None:
        name = self.driver.device
        backoff = BACKOFF_MIN
        failing = BACKOFF_MIN
        announced = False
        while not self._stop.is_set():
            self.beat = time.monotonic()
            try:
                self.driver.open()
            except DeviceUnavailable as exc:
                if not announced:
                    log.warning("%s: %s; will keep trying", name, exc)
                    announced = True
                self._set("reopening", str(exc))
                self._stop.wait(backoff)
                backoff = min(BACKOFF_MAX, backoff * 2)
                continue
            except Exception as exc:  # noqa: BLE001 - a driver bug must not kill the gateway; counted, retried
                self.state.errors += 1
                self._log("open", logging.ERROR, "%s: open failed unexpectedly; will keep trying", name, exc_info=True)
                self._set("reopening", f"open failed: {exc}")
                self._stop.wait(backoff)
                backoff = min(BACKOFF_MAX, backoff * 2)
                continue
            self.state.opens += 1
            log.info("%s: open (%s)%s", name, self.driver.describe(), " again" if self.state.opens > 1 else "")
            self._set("open")
            backoff, announced = BACKOFF_MIN, False
            failed = False
            try:
                while not self._stop.is_set():
                    self._wait_for_room()
                    if self._stop.is_set():
                        break
                    self.beat = time.monotonic()
                    self._deliver(self.driver.read(self.driver.idle_wait))
                    failing = BACKOFF_MIN
            except DeviceGone as exc:
                log.warning("%s: gone (%s); reopening when it returns", name, exc)
                self._set("reopening", str(exc))
                announced = True
            except Exception as exc:  # noqa: BLE001 - counted; the device is reopened after a growing pause
                failed = True
                self.state.errors += 1
                self._log("read", logging.ERROR, "%s: read failed unexpectedly; reopening", name, exc_info=True)
                self._set("reopening", f"read failed: {exc}")
            finally:
                try:
                    self._deliver(self.driver.flush())
                except Exception:  # noqa: BLE001 - what the driver held is lost with it; counted
                    self.state.errors += 1
                    self._log("flush", logging.ERROR, "%s: flush failed", name, exc_info=True)
                try:
                    self.driver.close()
                except Exception:  # noqa: BLE001 - closing a broken device: nothing of ours is in it
                    self._log("close", logging.ERROR, "%s: close failed", name, exc_info=True)
            if not self._stop.is_set():
                if failed:
                    self._stop.wait(failing)
                    failing = min(FAILING_MAX, failing * 2)
                else:
                    self._stop.wait(BACKOFF_MIN)
        self._set("stopped")
