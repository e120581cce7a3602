"""GS1 date and time fields (YYMMDD, YYYYMMDD, HHMM...) to ISO 8601, with the standard's rules.

- Two-digit years: Gen Specs 7.12 — a year up to 49 years back or 50 ahead of the current
  year, so a 2024 reader sees 74 as 2074 and 75 as 1975.
- Day "00" (only where the AI allows it, the "yymmd0" fields such as best-before and
  expiry) means the last day of that month.
"""

from __future__ import annotations

import calendar
import datetime as dt

from . import DecodeError


def century_year(yy: int, today: dt.date | None = None) -> int:
    """The full year for a two-digit GS1 year, per Gen Specs 7.12 (sliding window)."""
    current = (today or dt.date.today()).year
    century, current_yy = divmod(current, 100)
    difference = yy - current_yy
    if 51 <= difference <= 99:
        century -= 1
    elif -99 <= difference <= -50:
        century += 1
    return century * 100 + yy


def _date(year: int, month: int, day: int, *, day_zero: bool, what: str) -> dt.date:
    if not 1 <= month <= 12:
        raise DecodeError(f"{what}: month {month:02d} does not exist")
    last = calendar.monthrange(year, month)[1]
    if day == 0:
        if not day_zero:
            raise DecodeError(f"{what}: day 00 is not allowed here")
        return dt.date(year, month, last)
    if day > last:
        raise DecodeError(f"{what}: {calendar.month_name[month]} {year} has no day {day}")
    return dt.date(year, month, day)


def yymmdd(text: str, *, day_zero: bool, what: str, today: dt.date | None = None) -> dt.date:
    """A six-digit GS1 date; `day_zero` allows 00 for 'last day of the month'."""
    if len(text) != 6 or not text.isdigit():
        raise DecodeError(f"{what}: {text!r} is not a YYMMDD date")
    year = century_year(int(text[:2]), today)
    return _date(year, int(text[2:4]), int(text[4:6]), day_zero=day_zero, what=what)


def yyyymmdd(text: str, *, what: str) -> dt.date:
    if len(text) != 8 or not text.isdigit():
        raise DecodeError(f"{what}: {text!r} is not a YYYYMMDD date")
    return _date(int(text[:4]), int(text[4:6]), int(text[6:8]), day_zero=False, what=what)


def hhmm(text: str, *, what: str, allow_unknown: bool = False) -> dt.time | None:
    """Hours and minutes; with `allow_unknown`, '9999' means 'no time given' (AIs 4324/4325)."""
    if allow_unknown and text == "9999":
        return None
    if len(text) != 4 or not text.isdigit():
        raise DecodeError(f"{what}: {text!r} is not an HHMM time")
    hour, minute = int(text[:2]), int(text[2:])
    if hour > 23:
        raise DecodeError(f"{what}: hour {hour:02d} does not exist")
    if minute > 59:
        raise DecodeError(f"{what}: minute {minute:02d} does not exist")
    return dt.time(hour, minute)


def iso(date: dt.date, time: dt.time | None = None, seconds: int | None = None) -> str:
    """ISO 8601 text: a date, or a local date-time when the label gives a time."""
    if time is None:
        return date.isoformat()
    moment = dt.datetime.combine(date, time.replace(second=seconds or 0))
    return moment.isoformat(timespec="seconds" if seconds is not None else "minutes")
