"""One read cycle at one read point: de-duplicates tag reads and decides door direction.

Direction rule (dock doors): with inside and outside antennas configured, a tag first seen on
an outside antenna and later on an inside one is coming in (receiving); first inside, then
outside, is going out (shipping). Seen on one side only, or first seen on both at the same
instant, is unknown: a tag that lingers by the door, or a pallet that turned back. The reader's
own timestamps order the sightings when it gives them (reads from one reader share a clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .report import RECEIVING, SHIPPING, UNKNOWN, CycleReport, TagSummary
from .tag_read import TagRead


def direction_of(first_outside: float | None, first_inside: float | None) -> str:
    if first_outside is None or first_inside is None or first_outside == first_inside:
        return UNKNOWN
    return RECEIVING if first_outside < first_inside else SHIPPING


@dataclass(slots=True)
class _Tag:
    epc: str
    identity: str
    scheme: str | None
    first_seen: float
    last_seen: float
    order: float
    count: int = 0
    max_rssi: float | None = None
    antennas: set[int] = field(default_factory=set)
    first_inside: float | None = None
    first_outside: float | None = None


class ReadCycle:
    def __init__(self, read_point: str | None, started: float, deadline: float,
                 inside: frozenset[int] = frozenset(), outside: frozenset[int] = frozenset(), max_tags: int = 100_000):
        self.read_point = read_point
        self.started = started
        self.deadline = deadline
        self.inside = inside
        self.outside = outside
        self.max_tags = max_tags
        self.tags: dict[str, _Tag] = {}
        self.reads = 0
        self.overflow = 0

    def add(self, read: TagRead, identity: str, scheme: str | None) -> bool:
        """Fold one read in; False if the cycle is full and the tag is new."""
        tag = self.tags.get(read.epc)
        if tag is None:
            if len(self.tags) >= self.max_tags:
                self.overflow += 1
                return False
            tag = self.tags[read.epc] = _Tag(read.epc, identity, scheme, read.time, read.time, read.order_time)
        tag.first_seen = min(tag.first_seen, read.time)
        tag.last_seen = max(tag.last_seen, read.time)
        tag.order = min(tag.order, read.order_time)
        tag.count += read.count
        self.reads += 1
        if read.rssi is not None and (tag.max_rssi is None or read.rssi > tag.max_rssi):
            tag.max_rssi = read.rssi
        antenna = read.antenna
        if antenna is not None:
            tag.antennas.add(antenna)
            when = read.order_time
            if antenna in self.inside and (tag.first_inside is None or when < tag.first_inside):
                tag.first_inside = when
            elif antenna in self.outside and (tag.first_outside is None or when < tag.first_outside):
                tag.first_outside = when
        return True

    def close(self, ended: float, reason: str, sequence: int, previous: frozenset[str]) -> CycleReport:
        directional = bool(self.inside and self.outside)
        ordered = sorted(self.tags.values(), key=lambda t: (t.order, t.epc))
        summaries = tuple(
            TagSummary(
                epc=t.epc, identity=t.identity, scheme=t.scheme, first_seen=t.first_seen, last_seen=t.last_seen,
                count=t.count, max_rssi=t.max_rssi, antennas=tuple(sorted(t.antennas)),
                direction=direction_of(t.first_outside, t.first_inside) if directional else None,
            )
            for t in ordered
        )
        current = [s.identity for s in summaries]
        current_set = frozenset(current)
        direction = None
        if directional:
            receiving = sum(1 for s in summaries if s.direction == RECEIVING)
            shipping = sum(1 for s in summaries if s.direction == SHIPPING)
            direction = RECEIVING if receiving > shipping else SHIPPING if shipping > receiving else UNKNOWN
        return CycleReport(
            read_point=self.read_point, sequence=sequence, started=self.started, ended=ended, reason=reason,
            tags=summaries,
            additions=tuple(i for i in current if i not in previous),
            deletions=tuple(sorted(previous - current_set)),
            direction=direction, reads=self.reads,
        )
