"""Manifests (gateway/manifest.py): parsing, matching scans, progress, reports, persistence."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.decode import decode
from gateway.manifest import ManifestBoard, ManifestError, parse

SSCC_A = "106141411234567897"
SSCC_B = "006141411234567890"
GTIN = "09506000134352"
UPS = "1Z999AA10123456784"
NOW = 1_790_000_000.0


def manifest(**kw) -> bytes:
    doc = {"name": "truck-0815", "expected": [{"sscc": SSCC_A}, {"tracking_number": UPS, "carrier": "ups"},
                                              {"gtin": GTIN, "lot": "L1", "quantity": 3}]}
    doc.update(kw)
    return json.dumps(doc).encode()


def sscc(s: str) -> dict:
    return decode(f"]C100{s}")


def gtin_lot(lot: str, qty: int | None = None) -> dict:
    return decode(f"]C101{GTIN}10{lot}" + (f"\x1d30{qty}" if qty else ""))


def board(**kw) -> tuple[ManifestBoard, dict]:
    saved: dict = {}
    b = ManifestBoard(save=saved.__setitem__)
    assert "active" in b.receive(manifest(**kw), NOW)
    return b, saved


def test_progress_extra_and_report():
    b, saved = board()
    assert b.status()["active"]["expected"] == 5
    m = b.check("door-1", sscc(SSCC_A))
    assert m.expected and m.mark == {"name": "truck-0815", "expected": True}
    assert b.check("door-1", decode(UPS)).expected
    assert b.check("door-1", gtin_lot("L1", 2)).expected
    wrong = b.check("door-1", sscc(SSCC_B))
    assert not wrong.expected and wrong.mark["expected"] is False
    assert not b.check("door-1", gtin_lot("L1", 2)).expected  # 4 of a GTIN that wants 3: the surplus is extra
    assert not b.check("door-1", gtin_lot("L2")).expected      # another lot
    assert b.status()["active"]["seen"] == 4
    assert saved, "progress is saved with each checked scan"
    report = b.close_by("closed by mode barcode", NOW + 60)
    assert report["name"] == "truck-0815" and report["reason"] == "closed by mode barcode"
    assert report["expected"] == 5 and report["seen"] == 4
    assert report["missing"] == [{"gtin": GTIN, "lot": "L1", "quantity": 1}]
    assert {json.dumps(e, sort_keys=True) for e in report["extra"]} == {
        json.dumps(e, sort_keys=True) for e in (
            {"sscc": SSCC_B, "count": 1}, {"gtin": GTIN, "lot": "L1", "count": 2}, {"gtin": GTIN, "lot": "L2", "count": 1})}
    assert b.progress is None and b.reports == [report]
    assert b.check("door-1", sscc(SSCC_A)) is None  # nothing active: no verdict


def test_complete_is_said_once_and_rescanning_a_carton_is_not_more_of_it():
    b, _ = board(expected=[{"sscc": SSCC_A}, {"sscc": SSCC_B}])
    first = b.check("d", sscc(SSCC_A))
    assert b.confirm(first) is None
    again = b.check("d", sscc(SSCC_A))
    assert again.expected and b.status()["active"]["seen"] == 1
    last = b.check("d", sscc(SSCC_B))
    assert b.confirm(last) == "truck-0815"
    assert b.confirm(last) is None


def test_devices_and_door_scope():
    b, _ = board(devices=["door-1"])
    assert b.check("door-2", sscc(SSCC_A)) is None
    assert b.check("door-1", sscc(SSCC_A)) is not None
    b, _ = board(door="urn:epc:id:sgln:0614141.07346.1234")
    b.places = lambda device: ("urn:epc:id:sgln:0614141.07346.1234", None) if device == "d1" else ()
    assert b.check("d2", sscc(SSCC_A)) is None and b.check("d1", sscc(SSCC_A)) is not None


def test_rejected_labels_are_not_counted():
    b, _ = board()
    assert b.check("d", decode("garbage")) is None
    assert b.status()["active"]["extra"] == 0


def test_retained_again_keeps_progress_closed_name_never_reopens_empty_withdraws():
    b, _ = board()
    b.check("d", sscc(SSCC_A))
    assert "still active" in b.receive(manifest(), NOW + 1)
    assert b.status()["active"]["seen"] == 1
    assert "amended" in b.receive(manifest(expected=[{"sscc": SSCC_A}, {"sscc": SSCC_B}]), NOW + 2)
    assert b.status()["active"]["seen"] == 1 and b.status()["active"]["expected"] == 2
    b.receive(b"", NOW + 3)
    assert b.progress is None and b.reports[-1]["reason"] == "withdrawn"
    assert "not reopened" in b.receive(manifest(), NOW + 4)
    assert b.progress is None
    assert "active" in b.receive(manifest(name="truck-0816"), NOW + 5)


def test_a_new_manifest_closes_the_old_one():
    b, _ = board()
    b.receive(manifest(name="next"), NOW + 1)
    assert b.reports[-1]["name"] == "truck-0815" and b.reports[-1]["reason"] == "replaced"
    assert b.progress.manifest.name == "next"


def test_expiry():
    b, _ = board(expires="2026-09-23T12:00:00Z")
    expires = b.progress.manifest.expires
    assert b.tick(expires - 1) is None
    report = b.tick(expires)
    assert report["reason"] == "expired" and b.progress is None
    assert "already expired" in b.receive(manifest(name="late", expires="2000-01-01T00:00:00Z"), NOW)


def test_restore_from_saved_state():
    b, saved = board()
    b.check("d", sscc(SSCC_A))
    b.check("d", sscc(SSCC_B))
    again = ManifestBoard()
    stored = json.loads(json.dumps(saved))  # as put_state / load_state hand it back
    again.restore(stored["manifest"], stored["manifest-progress"])
    assert again.status()["active"] == b.status()["active"]
    assert "still active" in again.receive(manifest(), NOW + 1)
    again.restore({"active": "nonsense"})  # an older, unreadable state: nothing active
    assert again.progress is None


def test_a_scan_saves_only_the_progress():
    writes: list[str] = []
    b = ManifestBoard(save=lambda key, value: writes.append(key))
    b.receive(manifest(), NOW)
    writes.clear()
    b.check("d", sscc(SSCC_A))
    b.check("d", sscc(SSCC_B))
    assert writes == ["manifest-progress", "manifest-progress"]


@pytest.mark.parametrize("payload, problem", [
    (b"\xff", "UTF-8"), (b"{", "JSON"), (b"[]", "object"), (b'{"expected": [{"sscc": "1"}]}', "name"),
    (manifest(expected=[]), "non-empty"), (manifest(expected=[{"sscc": "12"}]), "18 digits"),
    (manifest(expected=[{"gtin": GTIN, "quantity": 0}]), "quantity"), (manifest(expected=[{"lot": "x"}]), "one of"),
    (manifest(expires="tomorrow"), "ISO"), (manifest(expires="2026-01-01T00:00:00"), "time zone"),
    (manifest(devices="door-1"), "devices"),
])
def test_bad_manifests_are_refused_with_the_reason(payload, problem):
    with pytest.raises(ManifestError, match=problem):
        parse(payload)
    b = ManifestBoard()
    assert "refused" in b.receive(payload, NOW) and b.status()["refused"] == 1 and b.progress is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["name", "expected", "sscc", "gtin", "lot", "quantity", "tracking_number", "carrier",
                         "devices", "door", "expires"]), inner, max_size=5), max_leaves=20).map(
    lambda doc: json.dumps(doc).encode())))
def test_parse_is_total(payload):
    try:
        parse(payload)
    except ManifestError:
        pass


def test_a_scan_the_outbox_refused_does_not_count():
    b, _ = board()
    kept = b.check("d", sscc(SSCC_A))
    lost = b.check("d", gtin_lot("L1", 2))
    wrong = b.check("d", sscc(SSCC_B))
    b.release(lost)
    b.release(wrong)
    assert b.status()["active"]["seen"] == 1 and b.status()["active"]["extra"] == 0
    again = b.check("d", sscc(SSCC_A))  # the same carton again: counted once, and releasing the repeat keeps it
    b.release(again)
    assert kept.expected and b.status()["active"]["seen"] == 1
