"""A QR code whose grid bends (cloth, a bag) is read by sampling each module where it is (drivers.warped_qr)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import warped_qr
from drivers.still_decoder import decode_still
from simulators.camera import render_symbol

TEXT = "https://id.example.com/01/09506000134352/21/TSHIRT-0042"
SHIRT = Path(__file__).parent / "data" / "images" / "zxing-blackbox" / "qrcode-4"


def on_cloth(text: str, amplitude: float, period: float):
    """The symbol printed on fabric that ripples: every module displaced along smooth waves."""
    symbol = cv2.copyMakeBorder(render_symbol("qr", text, module=6), 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
    yy, xx = np.mgrid[0:symbol.shape[0], 0:symbol.shape[1]].astype(np.float32)
    map_x = xx + amplitude * np.sin(2 * np.pi * yy / period) + 0.6 * amplitude * np.sin(2 * np.pi * xx / (1.3 * period))
    map_y = yy + amplitude * np.sin(2 * np.pi * xx / period)
    rippled = cv2.remap(symbol, map_x, map_y, cv2.INTER_LINEAR, borderValue=255)
    return cv2.GaussianBlur(rippled, (0, 0), 1.0)


def test_a_rippled_qr_zxing_cannot_decode_is_read_module_by_module():
    picture = on_cloth(TEXT, 2, 160)
    assert zxingcpp.read_barcodes(picture) == []
    [(n, corners)] = warped_qr.failed_symbols(picture)
    # the version zxing-cpp read from the symbol's version and format information
    [clean] = zxingcpp.read_barcodes(render_symbol("qr", TEXT))
    assert n == 17 + 4 * int(clean.extra["Version"])
    assert warped_qr.read(picture, n, corners).text == TEXT
    assert [r["text"] for r in decode_still(picture)] == ["]Q1" + TEXT]


def test_a_grid_of_another_version_reads_nothing():
    picture = on_cloth(TEXT, 2, 160)
    [(n, corners)] = warped_qr.failed_symbols(picture)
    assert warped_qr.read(picture, n - 4, corners) is None
    assert warped_qr.read(picture, n + 4, corners) is None


@pytest.mark.parametrize("picture", ["05", "30"])
def test_the_t_shirt_pictures_zxing_misses_are_read(picture):
    gray = cv2.imread(str(SHIRT / f"{picture}.png"), cv2.IMREAD_GRAYSCALE)
    want = (SHIRT / f"{picture}.txt").read_text(encoding="utf-8")
    assert zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode) == []
    reads = [warped_qr.read(gray, n, corners) for n, corners in warped_qr.failed_symbols(gray)]
    assert [bc.text.replace("\r\n", "\n") for bc in reads if bc is not None] == [want]


def test_a_picture_with_nothing_found_costs_no_resampling():
    assert warped_qr.failed_symbols(np.full((120, 160), 200, np.uint8)) == []


coordinate = st.floats(-50, 300, allow_nan=False)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([21, 25, 29, 33]),
       st.lists(st.tuples(coordinate, coordinate), min_size=4, max_size=4))
def test_any_picture_and_corners_give_a_read_or_none_never_an_exception(seed, n, corners):
    picture = np.random.default_rng(seed).integers(0, 256, (160, 200), dtype=np.uint8)
    bc = warped_qr.read(picture, n, corners)
    assert bc is None or (bc.valid and bc.text)
