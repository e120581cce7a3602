"""Whether to believe the system clock, and what to stamp events with when not.

A Raspberry Pi has no real-time clock: it boots at the last shutdown time (fake-hwclock) or
in 1970, and keeps that until NTP reaches a server, which a vehicle out of coverage may not
for hours. A GPS receiver knows the time to well under a second. `ClockGuard` decides:

    system clock synchronised (NTP/chrony/timesyncd told the kernel)      -> "system"
    a recent GPS fix agrees with the system clock within `max_skew_s`     -> "system"
    a recent GPS fix disagrees                                            -> "gps": wall + offset
    no GPS, and the clock is before `not_before` (the build / 2024-01-01) -> "unsynchronised"
    no GPS, clock plausible, sync state unknown                           -> "system"
    no GPS, kernel says unsynchronised                                    -> "unsynchronised"

The offset is learnt as (GPS fix time - system wall time when its sentence arrived), so it
includes the serial latency (tens to a few hundred ms at 9600 baud): fine for event times,
not for PPS-grade timekeeping (use gpsd + chrony for that). A step of the system clock
since the offset was learnt (seen through the monotonic clock) discards the offset.
GPS times before `not_before` (receivers with a week-number rollover bug report 19.6 years
ago) are ignored.

Pure: every clock reading is passed in. `system_clock_synchronised()` is the one helper
that asks the kernel (adjtimex), for the caller to pass in.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from datetime import datetime, timezone

from gateway.decode.nmea import Fix

#: a Pi whose clock says earlier than this has not been told the time (fake-hwclock or 1970)
NOT_BEFORE = datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp()


class ClockGuard:
    def __init__(self, *, not_before: float = NOT_BEFORE, max_skew_s: float = 5.0, max_offset_age_s: float = 3600.0):
        self.not_before = not_before
        self.max_skew_s = max_skew_s
        self.max_offset_age_s = max_offset_age_s
        #: True/False from the kernel (system_clock_synchronised), None = unknown
        self.synchronised: bool | None = None
        self.offset: float | None = None  # GPS time - system time, seconds
        self._learnt_wall: float | None = None
        self._learnt_mono: float | None = None
        self.observations = 0
        self.ignored = 0

    def set_synchronised(self, synchronised: bool | None) -> None:
        self.synchronised = synchronised

    def observe(self, fix: Fix, received_wall: float, received_mono: float | None = None) -> None:
        """A fix and the system wall (and monotonic) time at which its sentence arrived."""
        gps = fix.timestamp
        if gps < self.not_before:
            self.ignored += 1
            return
        self.offset = gps - received_wall
        self._learnt_wall, self._learnt_mono = received_wall, received_mono
        self.observations += 1

    def _offset_valid(self, system_wall: float, mono: float | None) -> bool:
        if self.offset is None or self._learnt_wall is None:
            return False
        if mono is not None and self._learnt_mono is not None:
            elapsed_mono = mono - self._learnt_mono
            if elapsed_mono > self.max_offset_age_s:
                return False
            if abs((system_wall - self._learnt_wall) - elapsed_mono) > 1.0:
                return False  # the system clock was stepped since: the offset means nothing now
        return True

    def event_time(self, system_wall: float, mono: float | None = None) -> tuple[float, str]:
        """(wall time to stamp an event with, source: "system" | "gps" | "unsynchronised")."""
        if self.synchronised:
            return system_wall, "system"
        if self._offset_valid(system_wall, mono):
            assert self.offset is not None
            if abs(self.offset) <= self.max_skew_s and system_wall >= self.not_before:
                return system_wall, "system"
            return system_wall + self.offset, "gps"
        if system_wall < self.not_before or self.synchronised is False:
            return system_wall, "unsynchronised"
        return system_wall, "system"

    def status(self) -> dict[str, object]:
        offset = None if self.offset is None else round(self.offset, 3)
        return {"synchronised": self.synchronised, "gps_offset_s": offset, "observations": self.observations,
                "ignored_gps_times": self.ignored}


class _Timex(ctypes.Structure):
    # struct timex is 208 bytes on 64-bit Linux (less on 32-bit); only `modes` (first field) is
    # written, so a zeroed buffer larger than any ABI's struct is enough for a read-only query.
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_char * 508)]


TIME_ERROR = 5  # adjtimex's return when the kernel clock is not synchronised


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    # Once: find_library() runs ldconfig in a child, a fork of the daemon, each time it is asked.
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def system_clock_synchronised() -> bool | None:
    """The kernel's view (what `timedatectl` shows as "System clock synchronized"), None if unknown."""
    try:
        libc = _libc()
        timex = _Timex()
        state = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR
