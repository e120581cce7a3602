"""Stack lights and buzzers on GPIO lines, through libgpiod v2 (`pip install tally[gpio]`).

    [[indicator]]
    name = "door-1-light"
    chip = "/dev/gpiochip0"
    devices = ["door-1"]                       # empty: every device
    accepted = { line = 17, ms = 300 }
    rejected = { line = 27, ms = 200, blink = 3 }

A pattern is the line on for `ms`, then off (for `ms` between blinks). Patterns play one after
another in the indicator's own thread; `steps()` is the sans-I/O part, `Lines` the thin libgpiod
glue. `chip = "record:PATH"` is the stand-in used by tests and the demo (this machine has no
gpio-sim module): it records each line change with its time as a JSON line in PATH.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from ..outcomes import Outcome
from . import KEYS, key_of
from .worker import SignalWorker

RECORD = "record:"


@dataclass(frozen=True)
class Pattern:
    line: int
    ms: int = 200
    blink: int = 1


@dataclass(frozen=True)
class Indicator:
    name: str
    chip: str
    devices: tuple[str, ...]
    patterns: tuple[tuple[str, Pattern], ...]   # (outcome key, pattern)

    def pattern(self, key: str) -> Pattern | None:
        return dict(self.patterns).get(key)

    def lines(self) -> list[int]:
        return sorted({p.line for _, p in self.patterns})


def steps(pattern: Pattern) -> list[tuple[int, bool, float]]:
    """(line, on, seconds to hold) for one pattern."""
    hold = pattern.ms / 1000.0
    out: list[tuple[int, bool, float]] = []
    for i in range(pattern.blink):
        out.append((pattern.line, True, hold))
        out.append((pattern.line, False, hold if i < pattern.blink - 1 else 0.0))
    return out


def _int(path: str, value: Any, low: int, high: int, problems: list[str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(f"{path}: must be a whole number from {low} to {high}, got {value!r}")
        return None
    return value


def validate_indicators(raw: Any, path: str, problems: list[str]) -> tuple[Indicator, ...]:
    """`[[indicator]]` sections (gateway.config.EXTRA_SECTIONS)."""
    if not isinstance(raw, list):
        problems.append(f"{path}: must be an array of tables ([[{path}]])")
        return ()
    out, names = [], set()
    for index, table in enumerate(raw):
        where = f"{path}[{index}]"
        if not isinstance(table, dict):
            problems.append(f"{where}: must be a table")
            continue
        name, chip, devices = table.get("name"), table.get("chip"), table.get("devices", [])
        if not isinstance(name, str) or not name:
            problems.append(f"{where}.name: missing (required), a string")
        elif name in names:
            problems.append(f"{where}.name: {name!r} is used by another indicator")
        names.add(name)
        if not isinstance(chip, str) or not chip:
            problems.append(f"{where}.chip: missing (required), e.g. /dev/gpiochip0")
        if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
            problems.append(f"{where}.devices: must be a list of device names")
            devices = []
        patterns = []
        for key, value in table.items():
            if key in ("name", "chip", "devices"):
                continue
            if key not in KEYS:
                problems.append(f"{where}.{key}: unknown key (known: name, chip, devices, {', '.join(KEYS)})")
                continue
            if not isinstance(value, dict):
                problems.append(f"{where}.{key}: must be a table {{ line = N, ms = N, blink = K }}")
                continue
            for extra in set(value) - {"line", "ms", "blink"}:
                problems.append(f"{where}.{key}.{extra}: unknown key (known: blink, line, ms)")
            if "line" not in value:
                problems.append(f"{where}.{key}.line: missing (required)")
                continue
            line = _int(f"{where}.{key}.line", value["line"], 0, 1023, problems)
            ms = _int(f"{where}.{key}.ms", value.get("ms", 200), 1, 60_000, problems)
            blink = _int(f"{where}.{key}.blink", value.get("blink", 1), 1, 20, problems)
            if None not in (line, ms, blink):
                patterns.append((key, Pattern(line, ms, blink)))  # type: ignore[arg-type]
        if not patterns and isinstance(name, str):
            problems.append(f"{where}: give at least one outcome, e.g. accepted = {{ line = 17, ms = 300 }}")
        out.append(Indicator(str(name), str(chip), tuple(devices), tuple(patterns)))
    return tuple(out)


# ---- lines ------------------------------------------------------------------------------------

class Lines(Protocol):
    def set(self, line: int, on: bool) -> None: ...
    def close(self) -> None: ...


class RecordedLines:
    """The GPIO stand-in: every line change with its time, in memory and (optionally) as JSON lines."""

    def __init__(self, path: str | None = None):
        self.path = path
        self.changes: list[tuple[float, int, bool]] = []
        self._lock = threading.Lock()

    def set(self, line: int, on: bool) -> None:
        now = time.time()
        with self._lock:
            self.changes.append((now, line, on))
            if self.path:
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"time": now, "line": line, "on": on}) + "\n")

    def close(self) -> None:
        pass


class GpiodLines:
    """libgpiod v2: the indicator's lines requested as outputs, off, for as long as it runs."""

    def __init__(self, chip: str, lines: list[int], consumer: str):
        try:
            import gpiod
            from gpiod.line import Direction, Value
        except ImportError:
            raise RuntimeError("the gpiod module is not installed "
                               "(install the wheel's gpio extra; the .deb has it)") from None
        self._on, self._off = Value.ACTIVE, Value.INACTIVE
        settings = gpiod.LineSettings(direction=Direction.OUTPUT, output_value=Value.INACTIVE)
        self.request = gpiod.request_lines(chip, consumer=consumer, config={tuple(lines): settings})

    def set(self, line: int, on: bool) -> None:
        self.request.set_value(line, self._on if on else self._off)

    def close(self) -> None:
        self.request.release()


def open_lines(indicator: Indicator) -> Lines:
    if indicator.chip.startswith(RECORD):
        return RecordedLines(indicator.chip[len(RECORD):] or None)
    return GpiodLines(indicator.chip, indicator.lines(), f"tally-{indicator.name}")


class IndicatorChannel:
    """One indicator: an outcome observer whose patterns play in the indicator's thread."""

    def __init__(self, indicator: Indicator, queue: int, lines: Lines | None = None):
        self.indicator = indicator
        self.lines = lines
        self._lines_lock = threading.Lock()
        self.worker = SignalWorker(f"indicator:{indicator.name}", self._play, queue, close=self._close)

    def _open(self) -> Lines:
        with self._lines_lock:
            if self.lines is None:
                self.lines = open_lines(self.indicator)  # a failure is counted and retried with the next signal
            return self.lines

    def _play(self, pattern: Pattern) -> None:
        lines = self._open()
        for line, on, hold in steps(pattern):
            lines.set(line, on)
            if hold and not self.worker.stopping:
                self.worker.pause(hold)
        if self.worker.stopping:
            lines.set(pattern.line, False)

    def _close(self) -> None:
        with self._lines_lock:
            if self.lines is not None:
                for line in self.indicator.lines():
                    try:
                        self.lines.set(line, False)
                    except Exception:  # noqa: BLE001 - the chip may be gone
                        pass
                self.lines.close()

    def __call__(self, outcome: Outcome) -> None:
        if self.indicator.devices and outcome.device not in self.indicator.devices:
            return
        pattern = self.indicator.pattern(key_of(outcome.kind))
        if pattern is not None:
            self.worker.put(pattern)

    def stop(self) -> None:
        self.worker.stop()

    def status(self) -> dict[str, Any]:
        return self.worker.status()
