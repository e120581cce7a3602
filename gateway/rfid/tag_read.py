"""One tag observation as the cycle engine sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TagRead:
    """`time` is the gateway's clock (the one tick()/trigger() get); `seen` is the reader's own
    timestamp, used only to order sightings from the same reader (e.g. door direction)."""

    epc: str
    time: float
    antenna: int | None = None
    rssi: float | None = None
    seen: float | None = None
    count: int = 1
    device: str = ""

    @property
    def order_time(self) -> float:
        return self.seen if self.seen is not None else self.time


def tag_read_from(read: Any) -> TagRead:
    """A driver `Read` (content "epc") → TagRead, on the wall clock (Read.wall)."""
    meta = read.meta or {}
    payload = read.payload
    epc = payload.hex().upper() if isinstance(payload, (bytes, bytearray)) else str(payload).strip().upper()
    count = meta.get("seen_count")
    seen = meta.get("first_seen")
    return TagRead(
        epc=epc,
        time=read.wall,
        antenna=meta.get("antenna"),
        rssi=meta.get("rssi"),
        seen=seen if isinstance(seen, (int, float)) else None,
        count=count if isinstance(count, int) and count > 0 else 1,
        device=read.device,
    )
