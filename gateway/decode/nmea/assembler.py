"""Sentences -> one `Fix` per receiver epoch, sans-I/O; the rules for when a fix is a fix."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Iterable

from .counters import NmeaCounters
from .fix import Fix
from .parse import parse_sentence
from .sentence import TIMED, NmeaError, Sentence


_DAY_MS = 86_400_000
_HALF_DAY_MS = _DAY_MS // 2


class NmeaAssembler:
    """Sentences (strings) -> one `Fix` per receiver epoch. Never raises; rejects are counted.

    An epoch is the burst of sentences a receiver sends for one time of day. It ends when a
    sentence with another time arrives, or as soon as the sentence that ended the previous
    epoch comes again (learnt like gpsd does, so a fix is not held back a whole cycle).
    Sentences without a time (GSA, GSV, VTG) belong to the epoch they arrive in.

    Date: GGA, GLL and GNS carry only the time of day; the date comes from RMC or ZDA
    (same epoch, else the last one seen, rolled over at midnight), or `date_hint` for logs of
    GGA-only receivers. No date known -> the fix is dropped and counted as `undated`.
    No fix: any position sentence of the epoch saying so (RMC/GLL status V, GGA quality 0,
    GNS mode N, GSA fix type 1) -> no Fix, counted as `no_fix`.
    """

    def __init__(self, counters: NmeaCounters | None = None, date_hint: date | None = None):
        self.counters = counters if counters is not None else NmeaCounters()
        self._date_hint = date_hint
        self._date_ref: tuple[date, int] | None = None
        self._epoch: list[Sentence] = []
        self._epoch_time: int | None = None
        self._last_time: int | None = None  # time of the latest timed sentence
        self._emitted: int | None = None  # epoch time already reported
        self._seen: dict[str, int] = {}  # address -> occurrences since the last time change
        self._last_key: tuple[str, int] | None = None
        self._ender: tuple[str, int] | None = None

    def feed(self, line: str) -> list[Fix]:
        """One sentence string (as framed by NmeaFramer or carried by an `nmea` Read)."""
        try:
            sentence = parse_sentence(line)
        except NmeaError as exc:
            setattr(self.counters, exc.reason, getattr(self.counters, exc.reason) + 1)
            return []
        except Exception:  # pragma: no cover - parse_sentence is total; belt and braces for a daemon
            self.counters.malformed += 1
            return []
        return self.push(sentence)

    def feed_many(self, lines: Iterable[str]) -> list[Fix]:
        fixes: list[Fix] = []
        for line in lines:
            fixes.extend(self.feed(line))
        return fixes

    def push(self, sentence: Sentence) -> list[Fix]:
        """An already parsed sentence."""
        self.counters.sentences += 1
        fixes: list[Fix] = []
        t = sentence.time_ms if sentence.kind in TIMED else None
        if sentence.date is not None and t is not None:
            self._date_ref = (sentence.date, t)
        if t is not None and t != self._last_time:
            if self._last_time is not None and self._last_key is not None:
                self._ender = self._last_key  # what came last before the time changed
            self._seen = {}
            fixes += self._finish()
            self._last_time = t
        if t is not None and self._epoch_time is None and t != self._emitted:
            self._epoch_time = t
        if t is None or t == self._epoch_time or self._epoch_time is None:
            self._epoch.append(sentence)
        n = self._seen.get(sentence.address, 0) + 1
        self._seen[sentence.address] = n
        self._last_key = (sentence.address, n)
        if self._last_key == self._ender and self._epoch_time is not None:
            fixes += self._finish()
        return fixes

    def flush(self) -> list[Fix]:
        """End of input: report the epoch in progress."""
        return self._finish()

    def _finish(self) -> list[Fix]:
        epoch, t = self._epoch, self._epoch_time
        self._epoch, self._epoch_time = [], None
        if t is None:
            if epoch:  # timeless sentences only: keep them for the epoch they precede
                self._epoch = epoch
            return []
        self._emitted = t
        fix = self._build(epoch, t)
        if fix is None:
            return []
        self.counters.fixes += 1
        return [fix]

    def _build(self, epoch: list[Sentence], t: int) -> Fix | None:
        by_kind: dict[str, list[Sentence]] = {}
        for s in epoch:
            by_kind.setdefault(s.kind, []).append(s)
        positional = [s for k in ("GGA", "GNS", "RMC", "GLL") for s in by_kind.get(k, ()) if s.time_ms == t]
        gsas = [s for s in by_kind.get("GSA", ()) if s.mode is not None]
        says = [s.fix for s in positional if s.fix is not None]
        says += [s.fix for s in by_kind.get("VTG", ()) if s.fix is False]
        if gsas:
            says.append(any(s.fix for s in gsas))
        placed = [s for s in positional if s.lat is not None and s.fix is not False]
        if False in says or not placed:
            if says or positional:
                self.counters.no_fix += 1
            return None
        day = self._day(epoch, t)
        if day is None:
            self.counters.undated += 1
            return None
        where = placed[0]
        ggas = [s for s in positional if s.kind in ("GGA", "GNS") and s.fix is not False]
        alt = next((s.alt for s in ggas if s.alt is not None), None)
        mode = max((s.mode for s in gsas), default=None) or (3 if alt is not None else 2)
        motion = [s for s in positional if s.kind == "RMC"] + by_kind.get("VTG", [])
        speed = next((s.speed for s in motion if s.speed is not None), None)
        track = next((s.track for s in motion if s.track is not None), None)
        gns_sats = [s.sats for s in positional if s.kind == "GNS" and s.sats is not None and s.lat is not None]
        gga_sats = [s.sats for s in ggas if s.sats is not None]
        gsa_prns = {(s.system_id, p) for s in gsas for p in s.prns}
        sats = (gns_sats or gga_sats or [len(gsa_prns) if gsa_prns else None])[0]
        hdop = next((s.hdop for s in gsas if s.hdop is not None), None)
        if hdop is None:
            hdop = next((s.hdop for s in ggas if s.hdop is not None), None)
        when = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(milliseconds=t)
        assert where.lat is not None and where.lon is not None
        return Fix(time=when, mode=mode, lat=where.lat, lon=where.lon, alt=alt if mode == 3 else None,
                   speed=speed, track=track, sats=sats, hdop=hdop)

    def _day(self, epoch: list[Sentence], t: int) -> date | None:
        for s in epoch:
            if s.date is not None and s.time_ms == t:
                return s.date
        if self._date_ref is None:
            if self._date_hint is None:
                return None
            self._date_ref = (self._date_hint, t)  # the hint is the date of the first fix
        ref_day, ref_t = self._date_ref
        if t < ref_t - _HALF_DAY_MS:
            return ref_day + timedelta(days=1)  # past midnight since the last dated sentence
        if t > ref_t + _HALF_DAY_MS:
            return ref_day - timedelta(days=1)
        return ref_day
