"""eventTime, its offset and eventIDs: the fast paths say exactly what the slow, obvious ones say."""

from __future__ import annotations

import os
import re
import time
import uuid
from datetime import datetime, timezone

from hypothesis import given, settings, strategies as st

from gateway.event_ids import new_event_id
from gateway.events import iso_time, tz_offset

URN = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def by_datetime(wall: float) -> str:
    dt = datetime.fromtimestamp(wall, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


@settings(max_examples=3000)
@given(st.floats(min_value=0, max_value=4e9, allow_nan=False) | st.integers(0, 4_000_000_000).map(lambda s: s + 0.9999995))
def test_iso_time_is_what_datetime_says(wall):
    assert iso_time(wall) == by_datetime(wall)


def test_iso_time_in_the_same_second_and_across_seconds():
    base = 1_796_040_387.0
    assert [iso_time(base + d) for d in (0.0, 0.5, 0.999, 1.0, 0.25)] == [by_datetime(base + d) for d in
                                                                         (0.0, 0.5, 0.999, 1.0, 0.25)]


def test_tz_offset_follows_a_zone_change(monkeypatch):
    wall = 1_796_040_387.0
    try:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()
        assert tz_offset(wall) == "+00:00"
        monkeypatch.setenv("TZ", "America/New_York")
        time.tzset()
        assert tz_offset(wall + 60) == "-05:00"  # the next minute asks again
        assert tz_offset(1_783_000_000.0) == "-04:00"  # summer
    finally:
        monkeypatch.undo()
        time.tzset()


def test_event_ids_are_version_4_urns_and_unique():
    ids = [new_event_id() for _ in range(20_000)]
    assert all(URN.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0][len("urn:uuid:"):])
    assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_child_never_repeats_the_parents_ids():
    new_event_id()  # the pool holds unused bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, "\n".join(new_event_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split("\n"))
    parent = {new_event_id() for _ in range(50)}
    assert len(child) == 50 and not child & parent
