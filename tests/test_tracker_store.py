"""The tracker's store on SQLite and on a real private PostgreSQL: idempotent by eventID, nothing dropped,
gaps and liveness per gateway."""

from __future__ import annotations

import json
import logging
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.tracker import aggregation, object_event, store  # noqa: F401  (fixture)
from tracker import db as tracker_db
from tracker import epcis
from tracker.schema import MIGRATIONS
from tracker.store import Message, Store, event_messages

UNIT = "urn:epc:id:sgtin:0614141.107346.2017"
LOT = "urn:epc:class:lgtin:0614141.107346.L7"
PALLET = "urn:epc:id:sscc:0614141.1123456789"


def test_migrations_are_versioned_and_run_once(store):
    assert store.db.schema_version() == len(MIGRATIONS)
    assert store.db.migrate() == []
    assert store.totals()["events"] == 0


def test_a_redelivery_is_a_no_op_and_other_content_is_kept_aside(store):
    event = object_event(1, [UNIT], [(LOT, 3)])
    assert store.ingest(event_messages("tally", "gw-1", [event])) == ["stored"]
    assert store.ingest(event_messages("tally", "gw-1", [event, event])) == ["duplicate", "duplicate"]
    changed = dict(event, bizStep="shipping")
    assert store.ingest(event_messages("tally", "gw-1", [changed])) == ["conflict"]
    stored = store.event(event["eventID"])
    assert stored["bizStep"] == "receiving" and stored["recordTime"].endswith("Z")
    conflicts = store.aside("conflicts")
    assert [c["eventID"] for c in conflicts] == [event["eventID"]]
    assert conflicts[0]["event"]["bizStep"] == "shipping"
    assert store.totals() == {"events": 1, "conflicts": 1, "invalid": 0, "positions": 0, "rejects": 0,
                              "gateways": 1, "open_gaps": 0}


def test_identifiers_of_every_role_are_indexed(store):
    event = aggregation(1, PALLET, [UNIT], classes=[(LOT, 2)])
    store.ingest(event_messages("tally", "gw-1", [event]))
    with store.db.reading() as cur:
        rows = cur.all("SELECT role, value, quantity FROM identifiers ORDER BY role")
    assert rows == [("childEPC", UNIT, None), ("childEPCClass", LOT, 2.0), ("parentID", PALLET, None)]


def test_what_the_schema_refuses_is_kept_with_the_reason(store):
    bad = object_event(1, [UNIT])
    del bad["eventTime"]
    nul = dict(object_event(2, [UNIT]), bizStep="rec\u0000eiving")
    huge = dict(object_event(3, [UNIT]), **{"tally:seq": 2 ** 70})
    before_year_one = dict(object_event(4, [UNIT]), eventTime="0001-01-01T00:00:00+01:00")
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000  # json.loads raises RecursionError on it
    messages = [Message("tally/gw-1/events", json.dumps(bad).encode()), Message("tally/gw-1/events", b"\xff{"),
                Message("tally/gw-1/events", b"[1, 2]"), Message("tally/gw-1/events", json.dumps(nul).encode()),
                Message("tally/gw-1/events", b"\x00\x00"), Message("tally/gw-1/events", json.dumps(huge).encode()),
                Message("tally/gw-1/events", json.dumps(before_year_one).encode()), Message("tally/gw-1/events", deep),
                Message("tally/gw-1/positions", deep), Message("tally/gw-1/status", deep)]
    assert store.ingest(messages) == ["invalid"] * 10
    invalid = store.aside("invalid")
    assert len(invalid) == 10
    reasons = {i["reason"] for i in invalid}
    assert any("eventTime" in r for r in reasons) and any(r.startswith("not UTF-8") for r in reasons)
    assert any("U+0000" in r for r in reasons) and any("out of range" in r for r in reasons)
    assert any("out of range in UTC" in r for r in reasons) and any("nested too deeply" in r for r in reasons)
    assert store.totals()["events"] == 0


def test_gaps_open_and_close_by_late_delivery(store):
    evs = {n: object_event(n, [f"{UNIT[:-4]}{n}"]) for n in range(1, 7)}
    store.ingest(event_messages("tally", "gw-1", [evs[1], evs[2], evs[5]]))
    [gw] = store.gaps()
    assert gw["lastSeq"] == 5 and gw["events"] == 3
    assert [(g["first"], g["last"], g["missing"]) for g in gw["openGaps"]] == [(3, 4, 2)]
    store.ingest(event_messages("tally", "gw-1", [evs[4]]))
    assert [(g["first"], g["last"], g["missing"]) for g in store.gaps()[0]["openGaps"]] == [(3, 4, 1)]
    store.ingest(event_messages("tally", "gw-1", [evs[3], evs[6]]))
    [gw] = store.gaps()
    assert gw["openGaps"] == [] and [(g["first"], g["last"]) for g in gw["closedGaps"]] == [(3, 4)]
    assert gw["lastSeq"] == 6


def test_many_gaps_of_several_gateways_close_in_one_batch(store):
    """As when instances sharing a fleet commit each gateway's numbers out of order."""
    evs = {(gw, n): object_event(n, [f"{UNIT[:-4]}{gw}{n}"], gateway=gw) for gw in ("a", "b") for n in range(1, 10)}

    def deliver(*keys):
        store.ingest([m for gw, n in keys for m in event_messages("tally", gw, [evs[(gw, n)]])])

    def gaps():
        return {g["gateway"]: ([(o["first"], o["last"], o["missing"]) for o in g["openGaps"]],
                               [(c["first"], c["last"]) for c in g["closedGaps"]]) for g in store.gaps()}

    deliver(("a", 1), ("a", 5), ("b", 2), ("a", 9), ("b", 6))
    assert gaps() == {"a": ([(2, 4, 3), (6, 8, 3)], []), "b": ([(1, 1, 1), (3, 5, 3)], [])}
    deliver(("a", 2), ("b", 1), ("a", 3), ("a", 4), ("a", 6), ("a", 7), ("b", 3), ("b", 4), ("b", 5))
    assert gaps() == {"a": ([(6, 8, 1)], [(2, 4)]), "b": ([], [(1, 1), (3, 5)])}
    deliver(("a", 8))
    assert gaps() == {"a": ([], [(2, 4), (6, 8)]), "b": ([], [(1, 1), (3, 5)])}


def _graced(store, grace: float) -> Store:
    again = Store(store.db.url, gap_grace=grace).open()
    return again


def _open(store):
    return {g["gateway"]: ([(o["first"], o["last"]) for o in g["openGaps"]],
                           [(p["first"], p["last"]) for p in g["pendingGaps"]],
                           [(c["first"], c["last"]) for c in g["closedGaps"]]) for g in store.gaps()}


def test_a_gap_filled_within_the_grace_is_never_told(store, caplog):
    """Instances sharing a gateway commit its numbers out of order: such a gap is pending, then forgotten."""
    graced = _graced(store, 3600)
    try:
        evs = {n: object_event(n, [f"{UNIT[:-4]}{n}"]) for n in range(1, 5)}
        with caplog.at_level(logging.INFO, logger="tally.tracker.store"):
            graced.ingest(event_messages("tally", "gw-1", [evs[1], evs[4]]))
            assert _open(graced) == {"gw-1": ([], [(2, 3)], [])}
            assert graced.gaps()[0]["pendingGaps"][0]["missing"] == 2
            assert graced.report_gaps() == 0  # within the grace
            graced.ingest(event_messages("tally", "gw-1", [evs[3], evs[2]]))
        assert _open(graced) == {"gw-1": ([], [], [])}
        assert not [r for r in caplog.records if "gap" in r.getMessage() or "missing" in r.getMessage()]
        assert graced.gap_counts == {"filled_in_grace": 1}
        with graced.db.reading() as cur:
            assert cur.one("SELECT COUNT(*) FROM gaps")[0] == 0  # nothing left to list for ever
    finally:
        graced.close()


def test_a_gap_open_past_the_grace_is_reported_once_then_closed_late(store, caplog):
    graced, other = _graced(store, 0.2), _graced(store, 0.2)  # two instances on one store
    try:
        with graced.db.transaction() as cur:
            cur.execute("INSERT INTO subscriptions (query, dest, created_at) VALUES ('gaps', 'http://x', ?)",
                        (epcis.utc_now(),))
        evs = {n: object_event(n, [f"{UNIT[:-4]}{n}"]) for n in range(1, 5)}
        graced.ingest(event_messages("tally", "gw-1", [evs[1], evs[4]]))
        with caplog.at_level(logging.INFO, logger="tally.tracker.store"):
            deadline = time.monotonic() + 30
            told = 0
            while not told and time.monotonic() < deadline:
                told = graced.report_gaps() + other.report_gaps()
                time.sleep(0.05)
            assert told == 1 and graced.report_gaps() == other.report_gaps() == 0
            assert _open(graced) == {"gw-1": ([(2, 3)], [], [])}
            assert graced.gaps()[0]["openGaps"][0]["reported"]
            assert [r.getMessage() for r in caplog.records if "missing" in r.getMessage()] == [
                f"gateway gw-1: events 2..3 missing (since {graced.gaps()[0]['openGaps'][0]['detected'][:23]}Z)"]
            other.ingest(event_messages("tally", "gw-1", [evs[2], evs[3]]))
        assert _open(graced) == {"gw-1": ([], [], [(2, 3)])}
        assert any("gap 2..3 closed by late delivery" in r.getMessage() for r in caplog.records)
        assert graced.gap_counts["reported"] + other.gap_counts["reported"] == 1
        with graced.db.reading() as cur:
            [body] = [json.loads(b) for (b,) in cur.all("SELECT body FROM deliveries")]
        assert (body["type"], body["gateway"], body["first"], body["last"]) == ("tally:GapDetected", "gw-1", 2, 3)
    finally:
        graced.close()
        other.close()


def test_gaps_of_a_store_from_before_the_grace_count_as_reported(tmp_path, monkeypatch):
    url = f"sqlite:{tmp_path / 'old.sqlite3'}"
    monkeypatch.setattr(tracker_db, "MIGRATIONS", MIGRATIONS[:2])
    old = Store(url).open()
    with old.db.transaction() as cur:
        cur.execute("INSERT INTO gateways (gateway, max_seq) VALUES ('gw-1', 9)")
        cur.execute("INSERT INTO gaps (gateway, first_seq, last_seq, detected_at) VALUES ('gw-1', 3, 4, ?)",
                    (epcis.utc_now(),))
    old.close()
    monkeypatch.setattr(tracker_db, "MIGRATIONS", MIGRATIONS)
    new = Store(url, gap_grace=3600).open()
    try:
        assert _open(new) == {"gw-1": ([(3, 4)], [], [])}
    finally:
        new.close()


def test_status_positions_and_rejects_per_gateway(store):
    online = {"state": "online", "gateway": "van-7", "backlog": 0}
    store.ingest([Message("fleet/eu/van-7/status", json.dumps(online).encode()),
                  Message("fleet/eu/van-7/positions", json.dumps({"lat": 52.1, "lon": 4.3, "device": "gps",
                                                                  "time": "2026-01-01T00:00:00Z"}).encode()),
                  Message("fleet/eu/van-7/rejects", b'{"raw": "?"}')])
    [gw] = store.gaps()
    assert gw["gateway"] == "van-7" and gw["state"] == "online" and gw["lastSeen"]
    store.ingest([Message("fleet/eu/van-7/status", b'{"state": "offline", "reason": "lost"}')])
    assert store.gaps()[0]["state"] == "offline"
    assert store.totals()["positions"] == 1 and store.totals()["rejects"] == 1


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["events", "positions", "rejects", "status", "other"]),
       payload=st.one_of(st.binary(max_size=200), st.builds(lambda e: json.dumps(e).encode(), st.dictionaries(
           st.sampled_from(["type", "eventTime", "eventID", "tally:seq", "epcList", "state", "lat"]),
           st.one_of(st.none(), st.integers(), st.text(max_size=20), st.lists(st.text(max_size=10), max_size=2))))))
def test_any_payload_gets_an_outcome_and_nothing_is_lost(tmp_path_factory, kind, payload):
    s = fuzz_store(tmp_path_factory)
    before = s.totals()
    [outcome] = s.ingest([Message(f"tally/gw/{kind}", payload)])
    after = s.totals()
    assert outcome in {"stored", "duplicate", "invalid", "position", "reject", "status", "ignored"}
    kept = sum(after[t] - before[t] for t in ("events", "invalid", "positions", "rejects"))
    assert kept == (0 if outcome in ("status", "ignored", "duplicate") else 1)


_fuzz: list[Store] = []


def fuzz_store(tmp_path_factory) -> Store:
    """One store for every example: a fresh one each would be most of the test's time."""
    if not _fuzz:
        _fuzz.append(Store(f"sqlite:{tmp_path_factory.mktemp('fuzz') / 'fuzz.sqlite3'}").open())
    return _fuzz[0]


def test_the_fast_validator_agrees_with_jsonschema(epcis_validator):
    from tracker.epcis import schema_problem

    good = [object_event(1, [UNIT], [(LOT, 2)]), aggregation(2, PALLET, [UNIT], classes=[(LOT, 1)])]
    bad = [dict(good[0], eventTime="yesterday"), dict(good[0], action="SOMETIMES"), {"type": "ObjectEvent"},
           dict(good[1], parentID=7), {k: v for k, v in good[0].items() if k != "@context"},
           dict(good[0], readPoint={"id": "not a uri"}), dict(good[0], eventTime="2026-11-30T25:00:00Z")]
    for event in good + bad:
        assert (schema_problem(event) is None) == epcis_validator.is_valid(event), event


def test_instances_starting_together_migrate_once():
    import threading

    from tests.helpers.tracker import postgres_url

    url = postgres_url()
    errors: list[Exception] = []

    def start() -> None:
        try:
            Store(url).open().close()
        except Exception as exc:  # what the test reports
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    s = Store(url).open()
    try:
        with s.db.reading() as cur:
            assert cur.all("SELECT version FROM tracker_migrations ORDER BY version") == [
                (v,) for v, _, _ in MIGRATIONS]
    finally:
        s.close()
