"""Manifests: what a door or vehicle should load or receive, and what each scan says about it.

A central system publishes one manifest per gateway, retained, on `{root}/{gateway_id}/manifest`:

    {"name": "truck-0815", "devices": ["door-1"],            # or "door": a device name / read point
     "expected": [{"sscc": "106141411234567897"},
                  {"tracking_number": "1Z999AA10123456784", "carrier": "ups"},
                  {"gtin": "09506000134352", "lot": "L1", "quantity": 12}],
     "expires": "2026-11-30T18:00:00Z"}

An empty retained payload withdraws it. Each scan is checked against the active manifest (sans-I/O
here; the wiring is gateway/assembly.py): a label on it is `expected`, anything else (or more of a
GTIN than it asked for) is `unexpected`, marked in its event and signalled at once. Closing the
manifest (mode barcode, remote command, expiry, withdrawal, a new manifest) gives a report of what
is missing and what was extra.

Progress is counted when the scan is checked, and saved with `put_state` into the same grouped
commit as the scan's event, so after a restart the progress is exactly what the outbox holds.
A retained manifest comes back on every reconnect: the same manifest keeps its progress, and a
closed one's name is remembered so it never reopens (the centre publishes a new name instead).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

MAX_EXPECTED = 100_000
CLOSED_REMEMBERED = 50
DEFINITION, PROGRESS = "manifest", "manifest-progress"   # outbox state keys


class ManifestError(ValueError):
    pass


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(value: Any, what: str) -> float:
    if not isinstance(value, str):
        raise ManifestError(f"{what} must be an ISO 8601 time string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ManifestError(f"{what}: {value[:40]!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ManifestError(f"{what}: {value[:40]!r} has no time zone (add Z or an offset)")
    return parsed.timestamp()


@dataclass(frozen=True, slots=True)
class Line:
    """One expected identifier: `key` is what a decoded scan is matched by."""

    key: str
    label: dict[str, Any]      # as the centre wrote it, without the quantity (for reports)
    quantity: int
    carrier: str | None = None


def _line(item: Any, index: int) -> Line:
    where = f"expected[{index}]"
    if not isinstance(item, dict):
        raise ManifestError(f"{where} must be an object")
    quantity = item.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 1_000_000:
        raise ManifestError(f"{where}.quantity must be a whole number from 1 to 1000000")

    def text(name: str) -> str:
        value = item.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ManifestError(f"{where}.{name} must be a non-empty string")
        return value.strip()

    if "sscc" in item:
        sscc = text("sscc")
        if not (sscc.isdigit() and len(sscc) == 18):
            raise ManifestError(f"{where}.sscc must be 18 digits")
        return Line(f"sscc:{sscc}", {"sscc": sscc}, quantity)
    if "tracking_number" in item:
        number = text("tracking_number").upper().replace(" ", "")
        carrier = text("carrier").lower() if "carrier" in item else None
        label = {"tracking_number": number} | ({"carrier": carrier} if carrier else {})
        return Line(f"tracking:{number}", label, quantity, carrier)
    if "gtin" in item:
        gtin = text("gtin")
        if not (gtin.isdigit() and len(gtin) in (8, 12, 13, 14)):
            raise ManifestError(f"{where}.gtin must be 8, 12, 13 or 14 digits")
        gtin = gtin.zfill(14)
        lot = text("lot") if "lot" in item else None
        label = {"gtin": gtin} | ({"lot": lot} if lot else {})
        return Line(f"gtin:{gtin}/{lot}" if lot else f"gtin:{gtin}", label, quantity)
    raise ManifestError(f"{where} needs one of sscc, tracking_number or gtin")


@dataclass(frozen=True)
class Manifest:
    name: str
    lines: tuple[Line, ...]
    devices: tuple[str, ...] = ()   # empty with no door: every device
    door: str | None = None
    expires: float | None = None

    @cached_property
    def total(self) -> int:
        return sum(line.quantity for line in self.lines)

    @cached_property
    def index(self) -> dict[str, Line]:
        return {line.key: line for line in self.lines}

    def applies_to(self, device: str, places: tuple[str | None, ...] = ()) -> bool:
        if self.devices:
            return device in self.devices
        if self.door:
            return self.door == device or self.door in places
        return True

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name,
                               "expected": [line.label | {"quantity": line.quantity} for line in self.lines]}
        if self.devices:
            out["devices"] = list(self.devices)
        if self.door:
            out["door"] = self.door
        if self.expires is not None:
            out["expires"] = _iso(self.expires)
        return out


def parse(payload: bytes | str) -> Manifest | None:
    """A manifest from its MQTT payload; None for an empty payload (withdrawn). Total: ManifestError."""
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            raise ManifestError("not UTF-8") from None
    if not payload.strip():
        return None
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        raise ManifestError("not JSON") from None
    if not isinstance(doc, dict):
        raise ManifestError("must be a JSON object")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ManifestError("name must be a non-empty string (at most 200 characters)")
    devices = doc.get("devices", [])
    if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
        raise ManifestError("devices must be a list of device names")
    door = doc.get("door")
    if door is not None and (not isinstance(door, str) or not door):
        raise ManifestError("door must be a non-empty string")
    expected = doc.get("expected")
    if not isinstance(expected, list) or not expected:
        raise ManifestError("expected must be a non-empty list")
    if len(expected) > MAX_EXPECTED:
        raise ManifestError(f"expected has more than {MAX_EXPECTED} lines")
    lines: dict[str, Line] = {}
    for i, item in enumerate(expected):
        line = _line(item, i)
        if line.key in lines:  # the same identifier twice: the quantities add up
            old = lines[line.key]
            line = Line(line.key, old.label, old.quantity + line.quantity, old.carrier)
        lines[line.key] = line
    expires = _parse_time(doc["expires"], "expires") if doc.get("expires") is not None else None
    return Manifest(name.strip(), tuple(lines.values()), tuple(devices), door, expires)


def keys_of(decoded: Mapping[str, Any]) -> list[str]:
    """The keys a decoded scan can match, most specific first."""
    keys = []
    if decoded.get("sscc"):
        keys.append(f"sscc:{decoded['sscc']}")
    if decoded.get("tracking_number"):
        keys.append(f"tracking:{str(decoded['tracking_number']).upper()}")
    if decoded.get("gtin"):
        gtin = str(decoded["gtin"]).zfill(14)
        if decoded.get("lot"):
            keys.append(f"gtin:{gtin}/{decoded['lot']}")
        keys.append(f"gtin:{gtin}")
    return keys


def _identifier(decoded: Mapping[str, Any]) -> dict[str, Any]:
    for name in ("sscc", "tracking_number"):
        if decoded.get(name):
            out = {name: decoded[name]}
            if name == "tracking_number" and decoded.get("carrier"):
                out["carrier"] = decoded["carrier"]
            return out
    if decoded.get("gtin"):
        return {"gtin": decoded["gtin"]} | ({"lot": decoded["lot"]} if decoded.get("lot") else {})
    return {"identity": decoded.get("identity") or decoded.get("input")}


@dataclass(frozen=True, slots=True)
class Match:
    """What the pipeline needs to know about one scan (and puts into its event as tally:manifest)."""

    name: str
    expected: bool
    key: str | None                 # the expected line it counted towards, or the extra entry
    count: int = 1

    @property
    def mark(self) -> dict[str, Any]:
        return {"name": self.name, "expected": self.expected}


@dataclass
class Progress:
    """The active manifest and what has been seen of it."""

    manifest: Manifest
    seen: dict[str, int] = field(default_factory=dict)
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)   # key -> identifier + count
    opened: float = 0.0
    completed: bool = False      # complete was announced

    @property
    def counted(self) -> int:
        return sum(min(self.seen.get(line.key, 0), line.quantity) for line in self.manifest.lines)

    @property
    def complete(self) -> bool:
        return self.counted >= self.manifest.total

    def check(self, decoded: Mapping[str, Any]) -> Match:
        lines = self.manifest.index
        quantity = decoded.get("quantity")
        count = quantity if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity > 0 else 1
        for key in keys_of(decoded):
            line = lines.get(key)
            if line is None:
                continue
            if line.carrier and decoded.get("carrier") and decoded["carrier"] != line.carrier:
                continue
            if key.startswith(("sscc:", "tracking:")):
                # one carton, one parcel: scanning it again is not more of it
                already = self.seen.get(key, 0)
                self.seen[key] = 1
                return Match(self.manifest.name, True, key, 1 - already)
            if self.seen.get(key, 0) + count > line.quantity:
                break  # more of this GTIN than ordered: the surplus is extra
            self.seen[key] = self.seen.get(key, 0) + count
            return Match(self.manifest.name, True, key, count)
        ident = _identifier(decoded)
        extra_key = json.dumps(ident, sort_keys=True)
        entry = self.extra.setdefault(extra_key, ident | {"count": 0})
        entry["count"] += count
        return Match(self.manifest.name, False, extra_key, count)

    def release(self, match: Match) -> None:
        """A checked scan whose event the outbox refused: it was never loaded, as far as anyone knows."""
        if match.key is None or not match.count:
            return
        if match.expected:
            left = self.seen.get(match.key, 0) - match.count
            if left > 0:
                self.seen[match.key] = left
            else:
                self.seen.pop(match.key, None)
        else:
            entry = self.extra.get(match.key)
            if entry is not None:
                entry["count"] -= match.count
                if entry["count"] <= 0:
                    del self.extra[match.key]

    def status(self) -> dict[str, Any]:
        m = self.manifest
        return {"name": m.name, "expected": m.total, "seen": self.counted,
                "extra": sum(e["count"] for e in self.extra.values()), "complete": self.complete,
                "expires": _iso(m.expires) if m.expires is not None else None,
                "devices": list(m.devices) or None, "door": m.door}

    def report(self, reason: str, closed: float) -> dict[str, Any]:
        missing = []
        for line in self.manifest.lines:
            short = line.quantity - min(self.seen.get(line.key, 0), line.quantity)
            if short:
                missing.append(line.label | {"quantity": short})
        return {"name": self.manifest.name, "expected": self.manifest.total, "seen": self.counted,
                "missing": missing, "extra": [dict(e) for e in self.extra.values()],
                "opened": _iso(self.opened) if self.opened else None, "closed": _iso(closed), "reason": reason}

    def record(self) -> dict[str, Any]:
        """What changes with each scan (the manifest itself is saved apart, once)."""
        return {"name": self.manifest.name, "seen": dict(self.seen), "extra": list(self.extra.values()),
                "completed": self.completed}

    @classmethod
    def restore(cls, definition: Any, saved: Any) -> "Progress | None":
        try:
            manifest = parse(json.dumps(definition["active"]))
            if manifest is None:
                return None
            progress = cls(manifest, opened=float(definition.get("opened") or 0.0))
            if isinstance(saved, dict) and saved.get("name") == manifest.name:
                progress.completed = bool(saved.get("completed"))
                progress.seen = {str(k): int(v) for k, v in (saved.get("seen") or {}).items()}
                for e in saved.get("extra") or []:
                    ident = {k: v for k, v in e.items() if k != "count"}
                    progress.extra[json.dumps(ident, sort_keys=True)] = ident | {"count": int(e.get("count", 1))}
            return progress
        except (KeyError, TypeError, ValueError, AttributeError):
            return None  # saved by a version we cannot read: the manifest comes back from the broker


def same_manifest(a: Manifest, b: Manifest) -> bool:
    return a.record() == b.record()


class ManifestBoard:
    """The gateway's active manifest: fed by MQTT, checked by the pipeline, closed by people or by time.

    Sans-I/O: `save(key, value)` persists (outbox.put_state, in the next grouped commit) under two
    keys: the manifest, closed names and waiting reports (DEFINITION, when they change) and the
    progress (PROGRESS, with every checked scan; small, so a long manifest is not rewritten per scan).
    Reports wait in `reports` until the wiring has published them, surviving a broker outage and a
    restart.
    """

    def __init__(self, save: Callable[[str, Any], None] = lambda key, value: None,
                 places: Callable[[str], tuple[str | None, ...]] = lambda device: ()):
        self.save = save
        self.places = places
        self.progress: Progress | None = None
        self.closed_names: list[str] = []
        self.reports: list[dict[str, Any]] = []
        self.refused = 0
        self.last_error: str | None = None
        self.published_reports = 0
        self.on_close: Callable[[], None] | None = None   # the wiring sends the report at once

    # ---- persistence --------------------------------------------------------------------------

    def definition_record(self) -> dict[str, Any]:
        progress = self.progress
        return {"active": progress.manifest.record() if progress else None,
                "opened": progress.opened if progress else None,
                "closed": list(self.closed_names), "reports": list(self.reports)}

    def progress_record(self) -> dict[str, Any] | None:
        return self.progress.record() if self.progress else None

    def restore(self, definition: Any, progress: Any = None) -> None:
        if not isinstance(definition, dict):
            return
        self.progress = Progress.restore(definition, progress) if definition.get("active") else None
        self.closed_names = [str(n) for n in definition.get("closed") or []][-CLOSED_REMEMBERED:]
        self.reports = [r for r in definition.get("reports") or [] if isinstance(r, dict)]

    def _changed(self, definition: bool = True) -> None:
        if definition:
            self.save(DEFINITION, self.definition_record())
        self.save(PROGRESS, self.progress_record())

    # ---- from the centre ----------------------------------------------------------------------

    def receive(self, payload: bytes | str, now: float) -> str:
        """A message on the manifest topic; says what it did (for the log)."""
        try:
            manifest = parse(payload)
        except ManifestError as exc:
            self.refused += 1
            self.last_error = str(exc)
            return f"refused a manifest: {exc}"
        if manifest is None:
            if self.progress is None:
                return "no manifest"
            name = self.progress.manifest.name
            self.close("withdrawn", now)
            return f"manifest {name!r} withdrawn"
        if self.progress is not None and same_manifest(self.progress.manifest, manifest):
            return f"manifest {manifest.name!r} still active ({self.progress.counted} of {manifest.total})"
        if manifest.name in self.closed_names:
            return f"manifest {manifest.name!r} was closed here; not reopened (publish it under a new name)"
        if manifest.expires is not None and manifest.expires <= now:
            return f"manifest {manifest.name!r} has already expired; ignored"
        if self.progress is not None:
            if self.progress.manifest.name == manifest.name:
                # the centre amended it: what was seen still counts
                old = self.progress
                self.progress = Progress(manifest, dict(old.seen), dict(old.extra), old.opened)
                self._changed()
                return f"manifest {manifest.name!r} amended ({self.progress.counted} of {manifest.total})"
            self.close("replaced", now)
        self.progress = Progress(manifest, opened=now)
        self._changed()
        return f"manifest {manifest.name!r} active: {manifest.total} expected"

    # ---- from the pipeline --------------------------------------------------------------------

    def check(self, device: str, decoded: Mapping[str, Any]) -> Match | None:
        progress = self.progress
        if progress is None or not decoded.get("valid") or not decoded.get("identity"):
            return None
        if not progress.manifest.applies_to(device, self.places(device)):
            return None
        match = progress.check(decoded)
        self._changed(definition=False)  # in the same grouped commit as this scan's event
        return match

    def confirm(self, match: Match) -> str | None:
        """After the scan's event is committed: the manifest's name if that scan completed it."""
        progress = self.progress
        if progress is None or progress.manifest.name != match.name or progress.completed:
            return None
        if match.expected and progress.complete:
            progress.completed = True
            self._changed(definition=False)
            return progress.manifest.name
        return None

    def release(self, match: Match) -> None:
        """After the outbox refused the scan's event (not-accepted): it does not count."""
        progress = self.progress
        if progress is not None and progress.manifest.name == match.name:
            progress.release(match)
            self._changed(definition=False)

    # ---- closing --------------------------------------------------------------------------------

    def close(self, reason: str, now: float) -> dict[str, Any] | None:
        progress = self.progress
        if progress is None:
            return None
        report = progress.report(reason, now)
        self.progress = None
        self.closed_names = (self.closed_names + [progress.manifest.name])[-CLOSED_REMEMBERED:]
        self.reports.append(report)
        self._changed()
        return report

    def close_by(self, reason: str, now: float | None = None) -> dict[str, Any] | None:
        """Closed by a person (mode barcode, remote command): the report, or None with none active."""
        report = self.close(reason, time.time() if now is None else now)
        if report is not None and self.on_close is not None:
            self.on_close()
        return report

    def tick(self, now: float) -> dict[str, Any] | None:
        progress = self.progress
        if progress is not None and progress.manifest.expires is not None and progress.manifest.expires <= now:
            return self.close("expired", now)
        return None

    def report_sent(self, report: dict[str, Any]) -> None:
        if report in self.reports:
            self.reports.remove(report)
            self.published_reports += 1
            self._changed()

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"active": self.progress.status() if self.progress else None,
                               "reports_waiting": len(self.reports), "reports_published": self.published_reports,
                               "refused": self.refused}
        if self.last_error:
            out["last_error"] = self.last_error
        return out
