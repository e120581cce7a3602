"""Sentences -> one `Fix` per receiver epoch, sans-I/O; the rules for when a fix is a fix."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Iterable

from .counters import NmeaCounters
from .fix import Fix
from .parse import parse_sentence
from .sentence import TIMED, NmeaError, Sentence


#: sentences kept for one epoch; a u-blox F9 with every sentence and GSV signal ids sends ~40
MAX_EPOCH = 100

_DAY_MS = 86_400_000
_HALF_DAY_MS = _DAY_MS // 2


class NmeaAssembler:
    """Sentences (strings) -> one `Fix` per receiver epoch. Never raises; rejects are counted.

    An epoch is the burst of sentences a receiver sends for one time of day. It ends when a
    sentence with another time arrives, or as soon as the sentence that ended the previous
    epoch comes again (learnt like gpsd does, so a fix is not held back a whole cycle).
    Sentences without a time (GSA, GSV, VTG) belong to the epoch they arrive in.

    When an epoch is a fix follows gpsd's driver_nmea0183.c, so that Tally never reports a
    position where gpsd, on the same bytes, reports none:

    - any position sentence of the epoch saying "no fix" makes it none, counted as `no_fix`:
      RMC/GLL status V or missing, GGA quality 0 or missing, GGA with fewer than 3 satellites
      used, GNS whose first (GPS) mode letter is N, GSA fix type 1, VTG mode N, or an FAA mode
      N; and a GGA whose time did not advance since the previous GGA of that talker (a receiver
      that lost lock and repeats its last cycle, gpsd's "latch mode");
    - the date: GGA, GLL and GNS carry only the time of day; the date comes from RMC (status
      A) or ZDA. gpsd uses a date only from the moment it has one: an epoch whose first timed
      sentence arrives before any date is known is not dated by a date later in that epoch
      (gpsd reports it without a time), except while the cycle order is still being learnt
      (the first epoch of a stream, where gpsd reports sentence by sentence). A date never
      reaches back to an earlier epoch, and an RMC with status V does not give one (MTK
      receivers send 1980 dates until they have a fix). Later epochs take the last date,
      rolled over at midnight. `date_hint` dates logs of GGA-only receivers. Not dated ->
      dropped and counted as `undated`.

    Memory is bounded: at most `max_epoch` sentences are kept for one epoch (a receiver that
    never sends a time, or the same time forever, would otherwise grow it without end); the
    rest are dropped and counted as `overflow`.
    """

    def __init__(self, counters: NmeaCounters | None = None, date_hint: date | None = None,
                 max_epoch: int = MAX_EPOCH):
        self.counters = counters if counters is not None else NmeaCounters()
        self.max_epoch = max_epoch
        self._date_hint = date_hint
        self._date_ref: tuple[date, int] | None = None
        self._epoch: list[Sentence] = []
        self._epoch_time: int | None = None
        self._epoch_dated = False  # a date was known when the epoch's first timed sentence came
        self._epoch_learning = False  # the cycle order was not known yet when the epoch opened
        self._epoch_stale = False
        self._last_time: int | None = None  # time of the latest timed sentence
        self._emitted: int | None = None  # epoch time already reported
        self._seen: dict[str, int] = {}  # address -> occurrences since the last time change
        self._last_key: tuple[str, int] | None = None
        self._ender: tuple[str, int] | None = None
        self._last_gga: tuple[str, int] | None = None  # talker, time
        self._repeating = False  # since a GGA repeated a reported time, until the time changes

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
        if t is not None and t != self._last_time:
            if self._last_time is not None and self._last_key is not None:
                self._ender = self._last_key  # what came last before the time changed
            self._seen = {}
            self._repeating = False
            fixes += self._finish()
            self._last_time = t
        stale = False
        if sentence.kind == "GGA" and t is not None:
            stale = self._last_gga == (sentence.talker, t)
            self._last_gga = (sentence.talker, t)
        day = _date_of(sentence)
        if day is not None and t is not None:
            self._date_ref = (day, t)  # only after the previous epoch is finished: never dates back
        if t is not None and self._epoch_time is None and t != self._emitted:
            self._epoch_time = t
            self._epoch_dated = self._date_ref is not None or self._date_hint is not None
            self._epoch_learning = self._ender is None
        if stale:
            self._stale(t)
        elif (t is None and not self._repeating) or (t is not None and t == self._epoch_time):
            self._keep(sentence)
        # else: a timed sentence of an epoch already reported (its cycle ended early): nothing to add
        address = sentence.address
        n = self._seen.get(address, 0) + 1
        self._seen[address] = n
        self._last_key = (address, n)
        if self._last_key == self._ender and self._epoch_time is not None:
            fixes += self._finish()
        return fixes

    def flush(self) -> list[Fix]:
        """End of input: report the epoch in progress."""
        return self._finish()

    def _keep(self, sentence: Sentence) -> None:
        if len(self._epoch) >= self.max_epoch:
            self.counters.overflow += 1
            return
        self._epoch.append(sentence)

    def _stale(self, t: int | None) -> None:
        if t == self._epoch_time:
            self._epoch_stale = True  # reported as no fix when the epoch ends
        else:
            self.counters.no_fix += 1  # a repeat of an epoch already reported
            self._repeating = True  # what comes with it (GSA, ...) is not trusted either, as in gpsd

    def _finish(self) -> list[Fix]:
        epoch, t = self._epoch, self._epoch_time
        stale = self._epoch_stale
        self._epoch, self._epoch_time, self._epoch_stale = [], None, False
        if t is None:
            if epoch:  # timeless sentences only: keep them for the epoch they precede
                self._epoch = epoch
            return []
        self._emitted = t
        if stale:
            self.counters.no_fix += 1
            return []
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
        if day is None or not (self._epoch_dated or (self._epoch_learning and _dated(epoch, t))):
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
            if s.time_ms == t and _date_of(s) is not None:
                return _date_of(s)
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


def _date_of(sentence: Sentence) -> date | None:
    """The date a sentence vouches for: ZDA's, or an RMC's unless its status says no fix."""
    if sentence.date is None or (sentence.kind == "RMC" and sentence.fix is False):
        return None
    return sentence.date


def _dated(epoch: list[Sentence], t: int) -> bool:
    return any(s.time_ms == t and _date_of(s) is not None for s in epoch)
