"""The schema copy and the event builder agree with GS1: GS1's own examples validate, broken events don't."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from gateway import events
from gateway.events import Where

EXAMPLES = Path(__file__).parent / "data" / "epcis-examples"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.jsonld")), ids=lambda p: p.name)
def test_gs1_examples_validate(path, epcis_validator):
    doc = json.loads(path.read_text())
    assert not list(epcis_validator.iter_errors(doc))
    for event in doc["epcisBody"]["eventList"]:
        standalone = {"@context": doc["@context"], **event}
        assert not list(epcis_validator.iter_errors(standalone)), path.name


def test_schema_catches_a_broken_event(epcis_validator):
    event = events.object_event(wall=time.time(), where=Where(), epcs=["urn:epc:id:sgtin:0614141.107346.2017"])
    assert not list(epcis_validator.iter_errors(event))
    for broken in ({k: v for k, v in event.items() if k != "@context"},
                   {**event, "eventTimeZoneOffset": "+25:00"},
                   {**event, "action": "LOOK"},
                   {**event, "bizStep": "not a cbv word"},
                   {**event, "unprefixedExtension": 1}):
        assert list(epcis_validator.iter_errors(broken)), broken


def test_builder_events_validate(assert_epcis):
    where = Where("receiving", "in_progress", "urn:epc:id:sgln:0614141.07346.1234", "urn:epc:id:sgln:0614141.07346.0")
    now = time.time()
    assert_epcis(events.object_event(wall=now, where=where, epcs=["urn:epc:id:sscc:0614141.1234567890"],
                                     extensions={"seq": 1, "raw": "]C1\x1d00"}))
    assert_epcis(events.object_event(wall=now, where=where,
                                     classes=[("https://id.gs1.org/01/09506000134352/10/ABC", 12)]))
    agg = events.aggregation_event(wall=now, where=where, parent="urn:epc:id:sscc:0614141.1234567890",
                                   children=["urn:epc:id:sgtin:0614141.107346.2017"],
                                   child_classes=[("urn:epc:class:lgtin:0614141.107346.L1", 3)])
    assert_epcis(agg)
    assert agg["type"] == "AggregationEvent" and agg["action"] == "ADD"


def test_event_ids_are_unique_uuids():
    where = Where()
    ids = {events.object_event(wall=0, where=where, epcs=[])["eventID"] for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("urn:uuid:") for i in ids)


def test_time_format():
    assert events.iso_time(0.5) == "1970-01-01T00:00:00.500Z"
    assert events.tz_offset(time.time())[0] in "+-"
