"""ClockGuard: which clock an event is stamped with on a Pi without an RTC."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from gateway.decode.nmea import Fix
from gateway.gps import ClockGuard, system_clock_synchronised

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc).timestamp()
BOOTED_1970 = 3600.0  # what a Pi without network says an hour after boot
FAKE_HWCLOCK = datetime(2023, 6, 1, tzinfo=timezone.utc).timestamp()  # last shutdown, long ago


def gps_fix(at: float) -> Fix:
    return Fix(datetime.fromtimestamp(at, tz=timezone.utc), 3, 52.0, 5.0)


def test_synchronised_system_clock_is_trusted_even_against_gps():
    guard = ClockGuard()
    guard.set_synchronised(True)
    guard.observe(gps_fix(NOW - 1024 * 7 * 86400), NOW, 10.0)  # a receiver with a rollover bug
    assert guard.event_time(NOW + 5, 15.0) == (NOW + 5, "system")
    assert guard.ignored == 1


def test_unsynchronised_pi_in_1970_uses_gps_time():
    guard = ClockGuard()
    guard.set_synchronised(False)
    assert guard.event_time(BOOTED_1970, 3600.0) == (BOOTED_1970, "unsynchronised")
    guard.observe(gps_fix(NOW), received_wall=BOOTED_1970 + 0.3, received_mono=3600.3)  # 300 ms serial latency
    wall, source = guard.event_time(BOOTED_1970 + 60.3, 3660.3)
    assert source == "gps" and wall == pytest.approx(NOW + 60.0)


def test_fake_hwclock_time_is_corrected_by_gps():
    guard = ClockGuard()  # sync state unknown
    assert guard.event_time(FAKE_HWCLOCK, 10.0) == (FAKE_HWCLOCK, "unsynchronised")
    guard.observe(gps_fix(NOW), FAKE_HWCLOCK, 10.0)
    wall, source = guard.event_time(FAKE_HWCLOCK + 30, 40.0)
    assert source == "gps" and wall == pytest.approx(NOW + 30)


def test_plausible_clock_that_agrees_with_gps_is_the_system_clock():
    guard = ClockGuard(max_skew_s=5)
    guard.observe(gps_fix(NOW), NOW - 0.4, 10.0)
    assert guard.event_time(NOW + 10, 20.4) == (NOW + 10, "system")
    guard.observe(gps_fix(NOW + 100), NOW + 100 - 30, 110.0)  # the system clock drifted 30 s behind
    wall, source = guard.event_time(NOW + 80, 120.0)
    assert source == "gps" and wall == pytest.approx(NOW + 110)


def test_a_step_of_the_system_clock_discards_the_offset():
    guard = ClockGuard()
    guard.set_synchronised(False)
    guard.observe(gps_fix(NOW), BOOTED_1970, 100.0)
    # NTP... no: someone ran `date -s`; wall jumped by a day while 10 s passed
    assert guard.event_time(BOOTED_1970 + 86400 + 10, 110.0) == (BOOTED_1970 + 86400 + 10, "unsynchronised")


def test_an_old_offset_expires():
    guard = ClockGuard(max_offset_age_s=600)
    guard.set_synchronised(False)
    guard.observe(gps_fix(NOW), BOOTED_1970, 100.0)
    assert guard.event_time(BOOTED_1970 + 500, 600.0)[1] == "gps"
    assert guard.event_time(BOOTED_1970 + 700, 800.0)[1] == "unsynchronised"


def test_plausible_clock_without_gps_and_unknown_sync_is_believed():
    assert ClockGuard().event_time(NOW, 1.0) == (NOW, "system")


def test_kernel_sync_query_answers_or_says_unknown():
    assert system_clock_synchronised() in (True, False, None)


def test_status():
    guard = ClockGuard()
    guard.observe(gps_fix(NOW), NOW - 2.5, 1.0)
    assert guard.status() == {"synchronised": None, "gps_offset_s": 2.5, "observations": 1, "ignored_gps_times": 0}


def test_the_c_library_is_looked_up_once(monkeypatch):
    """The daemon asks every minute; find_library() forks ldconfig each time it is called."""
    import ctypes.util

    system_clock_synchronised()
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: pytest.fail("looked up again"))
    assert system_clock_synchronised() in (True, False, None)
