"""The keyboard-wedge decoder on recorded event streams (tests/data/wedge, see make_streams.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.keyboard_wedge import Scan, ScanRejected, WedgeDecoder
from simulators.keyboard import read_jsonl

DATA = Path(__file__).parent / "data" / "wedge"
EXPECTED = {k: v for k, v in json.loads((DATA / "EXPECTED.json").read_text()).items() if not k.startswith("_")}


def decode_file(name: str, layout: str, options: dict) -> list:
    decoder = WedgeDecoder(layout, **options)
    out: list = []
    last = 0.0
    with open(DATA / name, encoding="utf-8") as f:
        for ev in read_jsonl(f):
            out += decoder.feed(ev.type, ev.code, ev.value, ev.t)
            last = ev.t
    out += decoder.tick(last + 1.0)
    return out


def test_every_recording_has_an_expectation():
    assert sorted(p.name for p in DATA.glob("*.jsonl")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_stream_decodes_to_expected_scans(name):
    spec = EXPECTED[name]
    got = decode_file(name, spec["layout"], spec["options"])
    want = spec["scans"]
    assert len(got) == len(want), [getattr(s, "text", s) for s in got]
    for g, w in zip(got, want, strict=True):
        if isinstance(w, dict):
            assert isinstance(g, ScanRejected) and w["rejected"] in g.reason
        else:
            assert isinstance(g, Scan) and g.text == w


def test_recordings_cover_gs_by_every_method_on_us_and_european_layouts():
    for layout in ("us", "de", "fr"):
        names = [n for n, spec in EXPECTED.items() if spec["layout"] == layout]
        assert any("ctrl_gs" in n for n in names) and any("alt_gs" in n for n in names), layout
    assert any("substitute" in n for n in EXPECTED if n.startswith("us"))
    assert any("substitute" in n for n in EXPECTED if n.startswith("de"))


def test_scan_times_come_from_the_events():
    spec = EXPECTED["us_ctrl_gs.jsonl"]
    first, second, _ = decode_file("us_ctrl_gs.jsonl", spec["layout"], spec["options"])
    assert first.started == 0.0 and first.ended_by == "enter"
    assert first.started < first.ended < second.started
