"""Events that grow (an RFID portal's cycle, a vehicle's cargo, a pallet) are split below a size before they
reach the outbox, each part a valid standalone EPCIS event; the read is accepted when its last part is."""

from __future__ import annotations

import json

from drivers.base import Read
from gateway import events
from gateway.config import parse
from gateway.event_split import split
from gateway.events import Where
from gateway.outbox import Outbox
from gateway.outcomes import ACCEPTED, PACK_CLOSE
from gateway.pipeline import Pipeline

WHERE = Where(biz_step="shipping", read_point="urn:epc:id:sgln:0614141.07346.1234")


def sgtins(n: int) -> list[str]:
    return [f"urn:epc:id:sgtin:0614141.107346.{i}" for i in range(n)]


def size(event: dict) -> int:
    return len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode())


def test_a_large_cycle_is_split_into_valid_parts_that_keep_every_tag(assert_epcis):
    event = events.object_event(wall=1_790_000_000.0, where=WHERE, epcs=sgtins(1500),
                                extensions={"additions": sgtins(1500)[:700], "deletions": []})
    assert size(event) > 64 * 1024
    parts = split(event, 16 * 1024)
    assert len(parts) > 4
    for part in parts:
        assert size(part) <= 16 * 1024
        assert_epcis(part)
        assert part["tally:part"]["whole"] == event["eventID"] and part["tally:part"]["of"] == len(parts)
    assert [e for p in parts for e in p["epcList"]] == event["epcList"]
    assert [e for p in parts for e in p.get("tally:additions", [])] == event["tally:additions"]
    assert len({p["eventID"] for p in parts}) == len(parts)


def test_small_events_are_not_touched():
    event = events.object_event(wall=1_790_000_000.0, where=WHERE, epcs=sgtins(3))
    assert split(event, 1024) == [event]
    assert split(event, 0) == [event]


def test_an_aggregation_too_large_for_the_broker_becomes_parts_and_one_outcome(tmp_path, assert_epcis):
    config = parse({"gateway": {"id": "dock-7", "company_prefixes": ["0614141"]}, "mqtt": {"host": "localhost"},
                    "outbox": {"max_event_kb": 8},
                    "device": [{"name": "d1", "driver": "serial-scanner", "port": "/dev/null", "dedupe_ms": 0}],
                    "mode": [{"text": "START", "action": "pack-start"}, {"text": "CLOSE", "action": "pack-close"}]})
    heard = []
    box = Outbox(tmp_path / "o.db", on_results=lambda results: pipeline.on_results(results)).start()
    pipeline = Pipeline(config, box)
    pipeline.outcomes.subscribe(heard.append)
    scans = ["START", "]C100106141411234567897"] + [f"]d20109506000134352 21S{i:05d}".replace(" ", "")
                                                     for i in range(300)] + ["CLOSE"]
    pipeline.on_reads([Read("d1", "serial-scanner", "barcode", s, mono=float(i), wall=1_790_000_000.0 + i)
                       for i, s in enumerate(scans)])
    assert box.flush()
    stored = [json.loads(e.payload) for e in box.fetch(0, 10_000)]
    packed = [e for e in stored if e["type"] == "AggregationEvent"]
    assert len(packed) > 1 and pipeline.counters["split_events"] == 1
    for part in packed:
        assert_epcis(part)
        assert size(part) <= 8 * 1024 + 200  # + tally:seq, added at the commit
    assert sum(len(p["childEPCs"]) for p in packed) == 300
    closes = [o for o in heard if o.kind == PACK_CLOSE]
    assert len(closes) == 1 and closes[0].event_id == packed[-1]["eventID"]  # said once, for the whole
    assert sum(o.kind == ACCEPTED for o in heard) == 301
    box.close()
