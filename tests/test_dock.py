"""Dock work in the pipeline: double scans, mode barcodes, packing sessions -> AggregationEvent, rejects."""

from __future__ import annotations

import json

import pytest

from drivers.base import Read
from gateway.config import parse
from gateway.outbox import Outbox
from gateway.pipeline import Pipeline

GTIN = "09506000134352"
SSCC = "106141411234567897"


@pytest.fixture
def pipeline(tmp_path):
    config = parse({
        "gateway": {"id": "dock-07", "data_dir": str(tmp_path), "company_prefixes": ["0614141"]},
        "site": {"read_point": "urn:epc:id:sgln:0614141.07346.1234"},
        "mqtt": {"host": "127.0.0.1"},
        "device": [{"name": "door-1", "driver": "serial-scanner", "port": "/dev/null", "biz_step": "receiving",
                    "dedupe_ms": 1000},
                   {"name": "door-2", "driver": "serial-scanner", "port": "/dev/null"}],
        "mode": [{"text": "MODE-SHIPPING", "biz_step": "shipping", "disposition": "in_transit"},
                 {"text": "MODE-DOOR2-ONLY", "biz_step": "loading", "devices": ["door-2"]},
                 {"text": "PACK-START", "action": "pack-start"},
                 {"text": "PACK-CLOSE", "action": "pack-close"},
                 {"text": "PACK-CANCEL", "action": "pack-cancel"}],
    })
    box = Outbox(tmp_path / "o.db").start()
    yield Pipeline(config, box)
    box.close()


def scan(p: Pipeline, text: str, device: str = "door-1", mono: float = 0.0, **meta) -> None:
    p.on_reads([Read(device, "serial-scanner", "barcode", text, mono=mono, wall=1_790_000_000.0 + mono,
                     meta=meta)])


def records(p: Pipeline, stream: str = "events") -> list[dict]:
    p.outbox.flush()
    return [json.loads(e.payload) for e in p.outbox.fetch(0, 10_000) if e.stream == stream]


def test_double_scan_within_window_is_one_event(pipeline):
    scan(pipeline, f"01{GTIN}21A", mono=0.0)
    scan(pipeline, f"01{GTIN}21A", mono=0.4)   # the nervous second pull
    scan(pipeline, f"01{GTIN}21B", mono=0.5)
    scan(pipeline, f"01{GTIN}21A", mono=2.0)   # a real re-scan, later
    scan(pipeline, f"01{GTIN}21A", mono=0.1, device="door-2")  # another door: its own window
    raws = [(e["tally:device"], e["tally:raw"][-1]) for e in records(pipeline)]
    assert raws == [("door-1", "A"), ("door-1", "B"), ("door-1", "A"), ("door-2", "A")]
    assert pipeline.counters["duplicates"] == 1


def test_mode_barcodes_switch_biz_step_per_device(pipeline, assert_epcis):
    scan(pipeline, f"01{GTIN}21A")
    scan(pipeline, "MODE-SHIPPING", mono=1)
    scan(pipeline, f"01{GTIN}21B", mono=2)
    scan(pipeline, f"01{GTIN}21C", mono=3, device="door-2")   # door-2 not switched
    scan(pipeline, "MODE-DOOR2-ONLY", mono=4)                  # not for door-1: an ordinary (rejected) scan
    scan(pipeline, "MODE-DOOR2-ONLY", mono=5, device="door-2")
    scan(pipeline, f"01{GTIN}21D", mono=6, device="door-2")
    events = records(pipeline)
    for event in events:
        assert_epcis(event)
    steps = [(e["tally:raw"][-1], e.get("bizStep"), e.get("disposition")) for e in events]
    assert steps == [("A", "receiving", None), ("B", "shipping", "in_transit"), ("C", None, None),
                     ("D", "loading", None)]
    assert [r["raw"] for r in records(pipeline, "rejects")] == ["MODE-DOOR2-ONLY"]


def test_packing_session_emits_an_aggregation(pipeline, assert_epcis):
    scan(pipeline, "PACK-START")
    scan(pipeline, f"]C100{SSCC}", mono=1)
    scan(pipeline, f"]d201{GTIN}21U1", mono=2)
    scan(pipeline, f"]d201{GTIN}21U2", mono=3)
    scan(pipeline, f"]C101{GTIN}10LOT7\x1d3005", mono=4)
    scan(pipeline, f"]C101{GTIN}10LOT7\x1d3005", mono=6)
    scan(pipeline, "PACK-CLOSE", mono=7)
    events = records(pipeline)
    assert [e["type"] for e in events] == ["ObjectEvent"] * 5 + ["AggregationEvent"]
    agg = events[-1]
    assert_epcis(agg)
    assert agg["action"] == "ADD" and agg["bizStep"] == "packing"
    assert agg["parentID"] == "urn:epc:id:sscc:0614141.1123456789"
    assert agg["childEPCs"] == [f"https://id.gs1.org/01/{GTIN}/21/U1", f"https://id.gs1.org/01/{GTIN}/21/U2"]
    assert agg["childQuantityList"] == [{"epcClass": f"https://id.gs1.org/01/{GTIN}/10/LOT7", "quantity": 2}]
    assert [e["tally:seq"] for e in events] == list(range(1, 7))


def test_packing_without_pallet_is_rejected_not_invented(pipeline):
    scan(pipeline, "PACK-START")
    scan(pipeline, f"01{GTIN}21U1", mono=1)
    scan(pipeline, "PACK-CLOSE", mono=2)
    scan(pipeline, "PACK-START", mono=3)
    scan(pipeline, f"00{SSCC}", mono=4)
    scan(pipeline, "PACK-CANCEL", mono=5)
    assert [e["type"] for e in records(pipeline)] == ["ObjectEvent", "ObjectEvent"]
    assert "without a pallet SSCC" in records(pipeline, "rejects")[0]["error"]


def test_nothing_is_dropped_silently(pipeline):
    for text in ["", "hello", "]C1", f"01{GTIN[:-1]}0", "\x00\x01", "x" * 10_000]:
        scan(pipeline, text, mono=len(text))
    scan(pipeline, "broken", error="not utf-8 text")
    rejects = records(pipeline, "rejects")
    assert len(rejects) == 7
    assert all(r["error"] for r in rejects)
    assert pipeline.counters["reads"] == 7


def test_non_text_reads_and_unknown_content_are_rejects(pipeline):
    pipeline.on_reads([Read("door-1", "x", "mystery", b"\x01\x02")])
    [reject] = records(pipeline, "rejects")
    assert reject["raw"] == "0102" and "no handler" in reject["error"]


def test_an_unset_clock_is_marked_not_trusted(pipeline):
    pipeline.on_reads([Read("door-1", "serial-scanner", "barcode", f"01{GTIN}21OLD", mono=0.0, wall=86_400.0)])
    scan(pipeline, f"01{GTIN}21NEW", mono=5.0)
    old, new = records(pipeline)
    assert old["eventTime"].startswith("1970-01-02") and old["tally:clockSource"] == "unsynchronised"
    assert "tally:clockSource" not in new
