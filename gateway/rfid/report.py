"""What a finished read cycle says: the tags it saw, what changed since the last one, which way."""

from __future__ import annotations

from dataclasses import dataclass

RECEIVING, SHIPPING, UNKNOWN = "receiving", "shipping", "unknown"


@dataclass(frozen=True, slots=True)
class TagSummary:
    """One tag in one cycle, however many times it was read."""

    epc: str                      # hex, upper case
    identity: str                 # pure identity URI, or urn:epc:raw:… for non-GS1 EPCs
    scheme: str | None            # "sgtin-96", ... (None when undecodable)
    first_seen: float             # gateway clock
    last_seen: float
    count: int                    # reads, counting the reader's own seen counts
    max_rssi: float | None
    antennas: tuple[int, ...]
    direction: str | None         # receiving | shipping | unknown; None when no door sides are configured


@dataclass(frozen=True, slots=True)
class CycleReport:
    read_point: str | None
    sequence: int                 # per read point, from 1
    started: float
    ended: float
    reason: str                   # "timer" | "trigger" | "timeout" | "flush"
    tags: tuple[TagSummary, ...]  # in order of first sighting
    additions: tuple[str, ...]    # identities seen now and not in the previous cycle of this read point
    deletions: tuple[str, ...]    # identities in the previous cycle and not seen now
    direction: str | None         # majority of the tags whose direction is known; None when not configured
    reads: int                    # tag reads that went into this cycle

    @property
    def epc_list(self) -> list[str]:
        return [t.identity for t in self.tags]

    @property
    def receiving(self) -> list[str]:
        return [t.identity for t in self.tags if t.direction == RECEIVING]

    @property
    def shipping(self) -> list[str]:
        return [t.identity for t in self.tags if t.direction == SHIPPING]
