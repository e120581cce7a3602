"""Runs one driver in its own thread: open, read, and reopen when the device comes back.

Reconnect lives here once, so every device family behaves the same when unplugged:
the runner notices (DeviceGone), logs it once, and retries the open with backoff
until the device returns, without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from drivers.base import DeviceGone, DeviceUnavailable, Driver, Read

log = logging.getLogger("tally.device")

BACKOFF_MIN = 0.25
BACKOFF_MAX = 5.0


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
    last_read: float | None = None


class DeviceRunner:
    def __init__(self, driver: Driver, sink: Callable[[list[Read]], None]):
        self.driver = driver
        self.sink = sink
        self.state = DeviceState(driver.device, driver.name, driver.describe(), since=time.time())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"device-{driver.device}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
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
            self.sink(reads)

    def _run(self) -> None:
        name = self.driver.device
        backoff = BACKOFF_MIN
        announced = False
        while not self._stop.is_set():
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
            except Exception as exc:  # a driver bug must not kill the gateway
                if not announced:  # the traceback once, not every few seconds for as long as it lasts
                    log.exception("%s: open failed unexpectedly; will keep trying", name)
                    announced = True
                self._set("reopening", f"open failed: {exc}")
                self._stop.wait(backoff)
                backoff = min(BACKOFF_MAX, backoff * 2)
                continue
            self.state.opens += 1
            log.info("%s: open (%s)%s", name, self.driver.describe(), " again" if self.state.opens > 1 else "")
            self._set("open")
            backoff, announced = BACKOFF_MIN, False
            try:
                while not self._stop.is_set():
                    self._deliver(self.driver.read(0.2))
            except DeviceGone as exc:
                log.warning("%s: gone (%s); reopening when it returns", name, exc)
                self._set("reopening", str(exc))
                announced = True
            except Exception as exc:
                log.exception("%s: read failed unexpectedly; reopening", name)
                self._set("reopening", f"read failed: {exc}")
            finally:
                try:
                    self._deliver(self.driver.flush())
                except Exception:
                    log.exception("%s: flush failed", name)
                try:
                    self.driver.close()
                except Exception:
                    log.exception("%s: close failed", name)
            if not self._stop.is_set():
                self._stop.wait(BACKOFF_MIN)
        self._set("stopped")
