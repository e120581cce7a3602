"""Read-cycle settings for one RFID device, and their validation with key names in every message."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from drivers.base import Option, in_range, one_of

URI_PREFIXES = ("urn:", "geo:", "http://", "https://")
_DIGITS = re.compile(r"[0-9]+")


def _antenna_map(value: Any) -> str | None:
    for key, uri in value.items():
        if not _DIGITS.fullmatch(str(key)) or not 1 <= int(key) <= 0xFFFF:
            return f"keys must be antenna numbers as strings (\"1\", \"2\", ...), got {key!r}"
        if not isinstance(uri, str) or not uri.startswith(URI_PREFIXES):
            return f"antenna {key}: read point must be a URI (urn:epc:id:sgln:…), got {uri!r}"
    return None


def _antennas(value: Any) -> str | None:
    if not all(isinstance(a, int) and not isinstance(a, bool) and 1 <= a <= 0xFFFF for a in value):
        return "must be a list of antenna numbers"
    return None


def _strings(value: Any) -> str | None:
    if not all(isinstance(v, str) and v for v in value):
        return "must be a list of strings"
    return None


def _prefixes(value: Any) -> str | None:
    if not all(isinstance(v, str) and _DIGITS.fullmatch(v) and 4 <= len(v) <= 12 for v in value):
        return "must be a list of GS1 Company Prefixes (4-12 digits, as strings)"
    return None


#: config keys a device with an RFID driver accepts for its read cycles
CYCLE_OPTIONS: dict[str, Option] = {
    "cycle_mode": Option(str, "timed", one_of("timed", "triggered"),
                         doc="timed: back-to-back cycles of cycle_ms; triggered: a door sensor/GPI opens and closes them"),
    "cycle_ms": Option(int, 1000, in_range(0, 3_600_000),
                       doc="cycle length (timed) or the longest a triggered cycle stays open (0 = no limit)"),
    "rssi_min": Option((int, float), None, in_range(-128, 20), doc="reads weaker than this (dBm) are ignored"),
    "antenna_read_points": Option(dict, {}, _antenna_map, doc='{"1" = "urn:epc:id:sgln:…", ...}; others use the device read point'),
    "inside_antennas": Option(list, [], _antennas, doc="antennas on the warehouse side of a dock door"),
    "outside_antennas": Option(list, [], _antennas, doc="antennas on the yard/truck side of a dock door"),
    "epc_schemes": Option(list, [], _strings, doc='only these EPC schemes ("sgtin", "sscc-96", ...); [] = all'),
    "company_prefixes": Option(list, [], _prefixes, doc="only EPCs of these GS1 Company Prefixes; [] = all"),
    "report_empty_cycles": Option(bool, False, doc="also report cycles that saw nothing and lost nothing"),
    "keep_undecodable": Option(bool, True, doc="report non-GS1 EPCs by their raw URI (urn:epc:raw:…)"),
}


@dataclass(frozen=True)
class CycleConfig:
    mode: str = "timed"
    cycle_ms: int = 1000
    rssi_min: float | None = None
    antenna_read_points: Mapping[int, str] = field(default_factory=dict)
    inside_antennas: frozenset[int] = frozenset()
    outside_antennas: frozenset[int] = frozenset()
    epc_schemes: frozenset[str] = frozenset()
    company_prefixes: frozenset[str] = frozenset()
    report_empty_cycles: bool = False
    keep_undecodable: bool = True
    #: a cycle holds at most this many distinct tags; more are counted and dropped
    max_tags: int = 100_000

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        out = []
        if self.mode not in ("timed", "triggered"):
            out.append(f"cycle_mode: must be 'timed' or 'triggered', got {self.mode!r}")
        if self.mode == "timed" and self.cycle_ms <= 0:
            out.append("cycle_ms: a timed cycle needs a length above 0")
        both = self.inside_antennas & self.outside_antennas
        if both:
            out.append(f"inside_antennas/outside_antennas: antenna {min(both)} cannot be on both sides")
        if len(self.door_read_points()) > 1:
            out.append("antenna_read_points: a door's inside and outside antennas must share one read point")
        return out

    def door_read_points(self, default: str | None = None, include_default: bool = False) -> set[str | None]:
        """The read points the door antennas map to (unmapped ones count only with include_default)."""
        points = set()
        for antenna in self.inside_antennas | self.outside_antennas:
            if antenna in self.antenna_read_points:
                points.add(self.antenna_read_points[antenna])
            elif include_default:
                points.add(default)
        return points

    @property
    def directional(self) -> bool:
        return bool(self.inside_antennas and self.outside_antennas)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "CycleConfig":
        """From validated device settings (keys of CYCLE_OPTIONS; others are ignored)."""
        def get(key: str) -> Any:
            value = settings.get(key)
            return CYCLE_OPTIONS[key].default if value is None else value

        return cls(
            mode=get("cycle_mode"),
            cycle_ms=int(get("cycle_ms")),
            rssi_min=get("rssi_min"),
            antenna_read_points={int(k): v for k, v in (get("antenna_read_points") or {}).items()},
            inside_antennas=frozenset(get("inside_antennas") or ()),
            outside_antennas=frozenset(get("outside_antennas") or ()),
            epc_schemes=frozenset(s.lower() for s in get("epc_schemes") or ()),
            company_prefixes=frozenset(get("company_prefixes") or ()),
            report_empty_cycles=bool(get("report_empty_cycles")),
            keep_undecodable=bool(get("keep_undecodable")),
        )
