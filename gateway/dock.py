"""Dock work: double-scan suppression, mode barcodes and packing sessions. Pure logic, time passed in."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from .config import ModeConfig


class DoubleScanFilter:
    """The same label on the same device within `window_s` is one read (a worker's nervous second pull)."""

    def __init__(self, window_s: float, capacity: int = 4096):
        self.window_s = window_s
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()
        self.suppressed = 0

    def admit(self, text: str, now: float) -> bool:
        if self.window_s <= 0:
            return True
        last = self._seen.pop(text, None)
        self._seen[text] = now
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        if last is not None and now - last < self.window_s:
            self.suppressed += 1
            return False
        return True


@dataclass
class PackingSession:
    """A pallet being built: its SSCC, then what goes on it, until the close barcode."""

    started: float
    parent: str | None = None
    epcs: list[str] = field(default_factory=list)
    classes: dict[str, float] = field(default_factory=dict)

    def add(self, how: str, identity: str) -> str:
        """Add one scanned member; returns what it became: parent | child | duplicate."""
        if self.parent is None and how == "epc" and identity.startswith(("urn:epc:id:sscc:", "https://id.gs1.org/00/")):
            self.parent = identity
            return "parent"
        if how == "class":
            self.classes[identity] = self.classes.get(identity, 0) + 1
            return "child"
        if identity in self.epcs or identity == self.parent:
            return "duplicate"
        self.epcs.append(identity)
        return "child"

    @property
    def empty(self) -> bool:
        return not self.epcs and not self.classes


class ModeBoard:
    """Mode barcodes on the dock wall: which texts switch which devices to what."""

    def __init__(self, modes: tuple[ModeConfig, ...]):
        self._by_text = {m.text: m for m in modes}

    def match(self, text: str, device: str) -> ModeConfig | None:
        mode = self._by_text.get(text.strip())
        if mode is None or (mode.devices and device not in mode.devices):
            return None
        return mode
