"""Decoding a real photograph (tests/data/images, see SOURCE.md): every code on it, nothing invented."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers import camera_decoder
from drivers.camera_decoder import decode_image

IMAGES = Path(__file__).parent / "data" / "images"


@pytest.mark.parametrize("decoders", ["zxing", "zbar", "both"])
def test_photo_of_a_sheet_of_code39_labels(decoders):
    if decoders != "zxing" and not camera_decoder.zbar_available():
        pytest.skip("libzbar0 is not installed")
    want = set((IMAGES / "pyzxing-multibarcodes.txt").read_text().split())
    results = decode_image(IMAGES / "pyzxing-multibarcodes.jpg", decoders=decoders)
    assert len(want) == 7
    assert sorted(r["text"] for r in results) == sorted("]A0" + v for v in want)
    assert {r["symbology"] for r in results} == {"code39"}
    # stacked one above the other: seven distinct places
    assert len({r["position"]["y"] // 40 for r in results}) == 7
