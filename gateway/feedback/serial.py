"""Serial scanners: host command bytes written back on the port the driver reads.

Per device, `feedback = { accepted = "\\u0007", rejected = "\\u001bBAD\\r", ... }` (TOML string
escapes; each character is one byte, U+0000-U+00FF) and/or `feedback_preset` (presets.py). Each
device has its own worker thread, so a scanner whose port stalls never delays another's answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..outcomes import Outcome
from . import key_of
from .presets import PRESETS
from .worker import SignalWorker

if TYPE_CHECKING:
    from ..config import Config


class NoDevice(Exception):
    pass


def check_commands(value: Any) -> str | None:
    """The `feedback` option's check: outcome names and byte strings (None when fine)."""
    from . import KEYS

    if not isinstance(value, dict):
        return "must be a table of outcome = \"bytes\""
    for key, data in value.items():
        if key not in KEYS:
            return f"{key!r} is not an outcome (known: {', '.join(KEYS)})"
        if not isinstance(data, str):
            return f"{key}: must be a string of bytes, got {data!r}"
        if any(ord(c) > 0xFF for c in data):
            return f"{key}: only bytes (\\u0000-\\u00ff) can be sent to a scanner"
    return None


def commands_for(settings: Mapping[str, Any]) -> dict[str, bytes]:
    """A device's bytes per outcome key: its preset, then its own `feedback` table over it."""
    table: dict[str, str] = dict(PRESETS.get(settings.get("feedback_preset") or "", {}))
    table.update(settings.get("feedback") or {})
    return {key: data.encode("latin-1") for key, data in table.items() if data}


class SerialFeedback:
    """The observer for every serial scanner with feedback configured."""

    def __init__(self, config: "Config", driver_of: Callable[[str], Any], queue: int):
        self.driver_of = driver_of
        self.commands = {d.name: commands_for(d.settings) for d in config.devices
                         if d.enabled and ("feedback" in d.settings or "feedback_preset" in d.settings)}
        self.commands = {name: table for name, table in self.commands.items() if table}
        self.workers = {name: SignalWorker(f"serial:{name}", self._write, queue) for name in self.commands}

    @staticmethod
    def _write(signal: tuple[Any, bytes]) -> None:
        driver, data = signal
        if driver is None:
            raise NoDevice("the device is not running")
        driver.write(data)

    def __call__(self, outcome: Outcome) -> None:
        table = self.commands.get(outcome.device)
        if not table:
            return
        data = table.get(key_of(outcome.kind))
        if data:
            self.workers[outcome.device].put((self.driver_of(outcome.device), data))

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()

    def status(self) -> list[dict[str, Any]]:
        return [w.status() for w in self.workers.values()]
