"""What an LLRP reader simulator sees in its field, second by second: a pallet through a dock door,
a tag at the edge of range, a steady population, or a mix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from simulators.sgtin import sgtin96

@dataclass(frozen=True)
class Sighting:
    """A tag an antenna can see now: RSSI range (dBm) and the chance one inventory attempt reads it."""

    epc: bytes
    antenna: int
    rssi: tuple[int, int] = (-60, -45)
    probability: float = 1.0


class Scenario(Protocol):
    def sightings(self, t: float) -> list[Sighting]:
        """What is in the field `t` seconds after the inventory started."""


@dataclass
class PalletPass:
    """A pallet of `cases` SGTIN-96 cases driven through a dock door, again every pass + gap.

    direction "in" (receiving): the outside antennas see it first, then both, then the inside
    ones. "out" (shipping): the reverse. Each pass carries new serial numbers.
    """

    cases: int = 24
    company_prefix: str = "0614141"
    item_ref: str = "812345"
    outside: tuple[int, ...] = (1,)
    inside: tuple[int, ...] = (2,)
    direction: str = "in"
    pass_s: float = 3.0
    gap_s: float = 3.0
    first_serial: int = 1
    passes: int | None = None
    _cache: dict[int, list[bytes]] = field(default_factory=dict, repr=False)

    def epcs(self, index: int) -> list[bytes]:
        if index not in self._cache:
            base = self.first_serial + index * self.cases
            self._cache = {index: [sgtin96(self.company_prefix, self.item_ref, base + i, 2) for i in range(self.cases)]}
        return self._cache[index]

    def sightings(self, t: float) -> list[Sighting]:
        period = self.pass_s + self.gap_s
        index = int(t // period)
        if self.passes is not None and index >= self.passes:
            return []
        phase = (t - index * period) / self.pass_s
        if phase >= 1.0:
            return []
        first, second = (self.outside, self.inside) if self.direction == "in" else (self.inside, self.outside)
        antennas = first if phase < 1 / 3 else (first + second if phase < 2 / 3 else second)
        return [Sighting(epc, antenna, (-58, -44)) for epc in self.epcs(index) for antenna in antennas]


@dataclass
class LingeringTag:
    """One tag at the edge of the field: weak, and read only now and then."""

    epc: bytes = field(default_factory=lambda: sgtin96("0614141", "812345", 274877906943, 1))
    antennas: tuple[int, ...] = (1,)
    rssi: tuple[int, int] = (-84, -76)
    probability: float = 0.05

    def sightings(self, t: float) -> list[Sighting]:
        return [Sighting(self.epc, a, self.rssi, self.probability) for a in self.antennas]


@dataclass
class TagPopulation:
    """`count` tags always in view of every listed antenna (static shelves; the benchmark load)."""

    count: int = 100
    antennas: tuple[int, ...] = (1, 2, 3, 4)
    company_prefix: str = "0614141"
    item_ref: str = "812345"
    first_serial: int = 1_000_000
    rssi: tuple[int, int] = (-65, -45)
    _sightings: list[Sighting] = field(default_factory=list, repr=False)

    def sightings(self, t: float) -> list[Sighting]:
        if not self._sightings:
            epcs = [sgtin96(self.company_prefix, self.item_ref, self.first_serial + i, 1) for i in range(self.count)]
            self._sightings = [Sighting(e, a, self.rssi) for e in epcs for a in self.antennas]
        return self._sightings


@dataclass
class Mix:
    parts: tuple[Scenario, ...] = ()

    def sightings(self, t: float) -> list[Sighting]:
        return [s for part in self.parts for s in part.sightings(t)]
