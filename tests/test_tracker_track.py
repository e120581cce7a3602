"""/track's containment walk in one statement: the same chain as the level-by-level walk it replaced
(that walk is kept here as the oracle, on random histories of packing, unpacking, loops and vehicle
cargo, on both engines), and a bounded number of statements per answer whatever the depth."""

from __future__ import annotations

import itertools
import json
from typing import Any, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.tracker import aggregation, object_event, store_url
from tracker import track
from tracker.db import Cursor
from tracker.http import Api
from tracker.identifiers import kind_of, resolve
from tracker.store import Message, Store, event_messages

T0 = 1_767_000_000.0
CHILD_ROLES = ("childEPC", "childEPCClass")


# ---- the level-by-level walk, one query per level, as /track did it before ----------------------------------

def _marks(items: Sequence[Any]) -> str:
    return ", ".join("?" for _ in items)


def oracle_container(cur: Cursor, spellings: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
    row = cur.one(
        f"SELECT e.body, e.record_time, e.action, EXISTS (SELECT 1 FROM identifiers p JOIN identifiers pd ON "
        f"pd.value = p.value AND pd.role = 'parentID' JOIN events d ON d.id = pd.event WHERE p.event = e.id AND "
        f"p.role = 'parentID' AND d.action = 'DELETE' AND d.event_time > e.event_time AND NOT EXISTS (SELECT 1 "
        f"FROM identifiers c WHERE c.event = d.id AND c.role IN ({_marks(CHILD_ROLES)}))) FROM events e JOIN "
        f"identifiers i ON i.event = e.id WHERE i.value IN ({_marks(spellings)}) AND i.role IN "
        f"({_marks(CHILD_ROLES)}) AND e.type = 'AggregationEvent' ORDER BY e.event_time DESC, e.id DESC LIMIT 1",
        [*CHILD_ROLES, *spellings, *CHILD_ROLES])
    if row is None or row[2] == "DELETE" or row[3]:
        return None
    event = json.loads(row[0])
    parent = event.get("parentID")
    return (parent, event) if isinstance(parent, str) else None


def oracle_vehicle(cur: Cursor, spellings: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
    row = cur.one(f"SELECT e.body, e.biz_step, e.gateway FROM events e JOIN identifiers i ON i.event = e.id WHERE "
                  f"i.value IN ({_marks(spellings)}) AND i.role IN ('epc', 'epcClass') AND e.biz_step IN "
                  f"('loading', 'unloading') ORDER BY e.event_time DESC, e.id DESC LIMIT 1", list(spellings))
    if row is None or row[1] != "loading" or not row[2]:
        return None
    return row[2], json.loads(row[0])


def oracle_chain(cur: Cursor, resolved) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = [{"identifier": resolved.identifier, "kind": resolved.kind}]
    spellings: Sequence[str] = resolved.spellings
    seen = set(spellings)
    for _ in range(track.MAX_DEPTH):
        found = oracle_container(cur, spellings)
        if found is not None and found[0] not in seen:
            parent, event = found
            links.append({"identifier": parent, "kind": kind_of(parent), "since": event["eventTime"],
                          "eventID": event.get("eventID")})
            spellings = [parent]
            seen.add(parent)
            continue
        on = oracle_vehicle(cur, spellings)
        if on is not None:
            gateway, event = on
            links.append({"identifier": track.vehicle_uri(gateway), "kind": "vehicle", "gateway": gateway,
                          "since": event["eventTime"], "eventID": event.get("eventID")})
        break
    return links


# ---- random histories ---------------------------------------------------------------------------------------

_example = itertools.count()
_stores: dict[str, Store] = {}


def shared_store(engine: str, tmp_path_factory) -> Store:
    """One store per engine for every example (each example names its own things, so they never meet)."""
    if engine not in _stores:
        _stores[engine] = Store(store_url(engine, tmp_path_factory.mktemp(f"walk-{engine}"))).open()
    return _stores[engine]


def things(n: int) -> list[str]:
    """Units, cartons and pallets of one example: SGTIN and SSCC URIs no other example uses."""
    out = [f"urn:epc:id:sgtin:0614141.107346.{n}x{i}" for i in range(3)]
    return out + [f"urn:epc:id:sscc:0614141.{n % 10**6:06d}{i:04d}" for i in range(4)]


step = st.one_of(
    st.tuples(st.just("pack"), st.sampled_from(["ADD", "OBSERVE", "DELETE"]), st.integers(0, 6),
              st.lists(st.integers(0, 6), max_size=3, unique=True), st.integers(0, 5)),
    st.tuples(st.just("cargo"), st.sampled_from(["loading", "unloading"]), st.sampled_from(["van-1", "van-2"]),
              st.lists(st.integers(0, 6), min_size=1, max_size=2, unique=True), st.integers(0, 5)),
)


def history(n: int, steps: list[tuple]) -> list[Message]:
    """Packing at a dock, loading and unloading by the vans (a vehicle is the gateway that says so)."""
    names = things(n)
    out: list[Message] = []
    for seq, (kind, how, who, members, tick) in enumerate(steps, 1):
        wall = T0 + tick  # few distinct times: ties are ordered by the store's id, as both walks do
        members = [names[m] for m in members]
        if kind == "pack":
            parent = names[who]
            children = [m for m in members if m != parent]
            if how != "DELETE" and not children:
                children = [names[(who + 1) % len(names)]]
            out += event_messages("tally", "dock-1", [aggregation(seq, parent, children, action=how, wall=wall)])
        else:
            out += event_messages("tally", who, [object_event(seq, members, gateway=who, wall=wall, biz_step=how)])
    return out


def check_walks_agree(store: Store, steps: list[tuple]) -> None:
    n = next(_example)
    outcomes = store.ingest(history(n, steps))
    assert set(outcomes) <= {"stored"}, outcomes
    with store.db.reading() as cur:
        for name in things(n):
            resolved = resolve(name)
            assert track.chain(cur, resolved) == oracle_chain(cur, resolved), (name, steps)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_the_one_statement_walk_gives_the_level_by_level_chain(engine, tmp_path_factory):
    store = shared_store(engine, tmp_path_factory)

    @settings(max_examples=60 if engine == "sqlite" else 30, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(step, min_size=1, max_size=12))
    def walks_agree(steps):
        check_walks_agree(store, steps)

    walks_agree()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_loop_deeper_than_the_walk_and_an_emptied_parent(engine, tmp_path_factory):
    store = shared_store(engine, tmp_path_factory)
    # 0 in 3, 3 in 4, 4 in 5, 5 in 6, 6 in 3: a loop the walk must leave; then 1 in 4 and 4 emptied.
    check_walks_agree(store, [("pack", "ADD", 3, [0], 0), ("pack", "ADD", 4, [3], 1), ("pack", "ADD", 5, [4], 2),
                              ("pack", "ADD", 6, [5], 3), ("pack", "ADD", 3, [6], 4),
                              ("cargo", "loading", "van-1", [3, 6], 5)])
    check_walks_agree(store, [("pack", "ADD", 4, [1], 0), ("pack", "ADD", 5, [4], 1), ("pack", "DELETE", 4, [], 2),
                              ("cargo", "loading", "van-2", [1], 3)])


# ---- statements per answer ----------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_track_answer_takes_the_same_few_statements_at_any_depth(engine, tmp_path, monkeypatch):
    store = Store(store_url(engine, tmp_path)).open()
    try:
        levels = [f"urn:epc:id:sscc:0614141.{i:010d}" for i in range(1, 7)]
        unit = "urn:epc:id:sgtin:0614141.107346.42"
        inner = [unit] + levels
        events = [aggregation(i + 1, parent, [child], wall=T0 + i)
                  for i, (child, parent) in enumerate(zip(inner, levels))]
        van = object_event(1, [levels[-1]], gateway="van-1", wall=T0 + 20, biz_step="loading")
        store.ingest(event_messages("tally", "dock-1", events) + event_messages("tally", "van-1", [van]))
        statements: list[str] = []
        round_trips: list[int] = []
        execute, many = Cursor.execute, Cursor.many

        def counting(self, sql, params=()):
            statements.append(sql)
            round_trips.append(1)
            return execute(self, sql, params)

        def counting_many(self, batch):
            statements.extend(sql for sql, _ in batch)
            round_trips.append(1)
            return many(self, batch)

        monkeypatch.setattr(Cursor, "execute", counting)
        monkeypatch.setattr(Cursor, "many", counting_many)
        api = Api(store)
        counts = {}
        for name in (unit, levels[3], levels[-1]):
            statements.clear()
            round_trips.clear()
            status, _, body = api.handle(f"/track/{name}", {})
            answer = json.loads(body)
            assert status == 200 and answer["chain"][-1]["identifier"] == "urn:tally:vehicle:van-1"
            counts[name] = (len(statements), len(round_trips))
        assert len(json.loads(api.handle(f"/track/{unit}", {})[2])["chain"]) == 8  # unit, 6 levels, the van
        # history and the walk, then the vehicle's last position and its route: 4 statements in 2 round trips
        # at any depth (it was BEGIN, a statement per level, 3 more and ROLLBACK: 12 for the unit)
        assert set(counts.values()) == {(4, 2)}, counts
    finally:
        store.close()
