"""Camera decoding on rendered pictures: every symbology, rotated, blurred, faint; GS1 FNC1; bad files."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import camera_decoder
from drivers.camera_decoder import decode_frame, decode_image
from simulators.camera import Label, Scene, gs1_element_string, render_symbol

GS = "\x1d"
W, H = 800, 600

CASES = {
    "code128": ("TALLY-0042-XZ", "]C0TALLY-0042-XZ", 3),
    "gs1-128": ("(01)09506000134352(10)LOT42(21)S1", "]C1010950600013435210LOT42" + GS + "21S1", 2),
    "ean-13": ("4006381333931", "]E04006381333931", 3),
    "qr": ("https://id.example.com/01/09506000134352", "]Q1https://id.example.com/01/09506000134352", 5),
    "gs1-qr": ("(01)09506000134352(10)ABC(21)77", "]Q3010950600013435210ABC" + GS + "2177", 5),
    "datamatrix": ("TALLY-DM-0001", "]d1TALLY-DM-0001", 6),
    "gs1-datamatrix": ("(01)09506000134352(17)270131(10)ABC-1(21)9",
                       "]d2010950600013435217270131" + "10ABC-1" + GS + "219", 6),
    "pdf417": ("SHIP TO: DOCK 4 / PO 12345", "]L2SHIP TO: DOCK 4 / PO 12345", 4),
}
# Hard but readable variants (benchmarks/camera_fps.py maps where each decoder gives up).
VARIANTS = {
    "clean": {},
    "rotated": {"angle": 90},
    "blurred": {"blur": 1.2},
    "low-contrast": {"contrast": 0.2},
}
MATRIX_ONLY = {"rotated-30": {"angle": 30}, "blurred-2": {"blur": 2.0}}


def frame_with(symbology: str, **variant):
    data, _, module = CASES[symbology]
    return Scene([Label(symbology, data, module=module, **variant)], W, H, seed=7).frame(0)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("symbology", sorted(CASES))
def test_each_symbology_decodes_to_its_text(symbology, variant):
    results = decode_frame(frame_with(symbology, **VARIANTS[variant]))
    assert [r["text"] for r in results] == [CASES[symbology][1]]
    assert results[0]["symbology"] == symbology


@pytest.mark.parametrize("variant", sorted(MATRIX_ONLY))
@pytest.mark.parametrize("symbology", ["qr", "gs1-qr", "datamatrix", "gs1-datamatrix"])
def test_matrix_codes_survive_harder_rotation_and_blur(symbology, variant):
    assert [r["text"] for r in decode_frame(frame_with(symbology, **MATRIX_ONLY[variant]))] == [CASES[symbology][1]]


def test_gs1_datamatrix_carries_fnc1_as_gs_only_after_variable_length_fields():
    (r,) = decode_frame(frame_with("gs1-datamatrix", angle=15))
    text = r["text"]
    assert text.startswith("]d2") and r["symbology"] == "gs1-datamatrix"
    # (01) and (17) are fixed length: no separator; (10) is variable: GS before (21)
    assert text[3:] == "0109506000134352" + "17270131" + "10ABC-1" + GS + "219"


def test_bgr_frames_and_positions():
    gray = frame_with("qr")
    (r,) = decode_frame(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    p = r["position"]
    assert abs(p["x"] + p["w"] / 2 - W / 2) < 20 and abs(p["y"] + p["h"] / 2 - H / 2) < 20
    assert 100 < p["w"] < 300 and r["decoder"] == "zxing"


def test_roi_limits_the_search_and_positions_stay_in_frame_coordinates():
    scene = Scene([Label("qr", "LEFT", x=0.25, module=5), Label("datamatrix", "RIGHT", x=0.75, module=6)], W, H)
    frame = scene.frame(0)
    assert sorted(r["text"] for r in decode_frame(frame)) == ["]Q1LEFT", "]d1RIGHT"]
    (right,) = decode_frame(frame, roi=[W // 2, 0, W // 2, H])
    assert right["text"] == "]d1RIGHT" and right["position"]["x"] > W // 2
    assert decode_frame(frame, roi=[W + 10, 0, 50, 50]) == []


def test_two_codes_in_one_frame():
    scene = Scene([Label("gs1-128", CASES["gs1-128"][0], x=0.5, y=0.2, module=2),
                   Label("ean-13", "4006381333931", x=0.5, y=0.7, module=3)], W, H)
    assert sorted(r["text"] for r in decode_frame(scene.frame(0), decoders="both")) == sorted(
        [CASES["gs1-128"][1], CASES["ean-13"][1]])


def test_zbar_reports_gs1_through_its_symbol_modifier():
    if not camera_decoder.zbar_available():
        pytest.skip("libzbar0 is not installed")
    (r,) = decode_frame(frame_with("gs1-128"), decoders="zbar")
    assert r["text"] == CASES["gs1-128"][1] and r["symbology"] == "gs1-128" and r["decoder"] == "zbar"
    (q,) = decode_frame(frame_with("gs1-qr"), decoders="zbar")
    assert q["text"] == CASES["gs1-qr"][1]


def test_both_adds_zbar_reads_of_linear_codes_zxing_missed():
    if not camera_decoder.zbar_available():
        pytest.skip("libzbar0 is not installed")
    frame = Scene([Label("ean-13", "4006381333931", module=3, angle=45)], 1280, 720, seed=1).frame(0)
    assert decode_frame(frame, decoders="zxing") == []  # measured: zxing-cpp 3.1 misses this one
    (r,) = decode_frame(frame, decoders="both")
    assert r["text"] == "]E04006381333931" and r["decoder"] == "zbar"


def test_conflicting_linear_reads_of_one_symbol_keep_the_taller():
    good = {"text": "]C1A", "symbology": "gs1-128", "position": {"x": 156, "y": 91, "w": 531, "h": 88}}
    strip = {"text": "]C1B", "symbology": "gs1-128", "position": {"x": 156, "y": 80, "w": 531, "h": 4}}
    other = {"text": "]E0C", "symbology": "ean-13", "position": {"x": 800, "y": 80, "w": 280, "h": 100}}
    qr = {"text": "]Q1D", "symbology": "qr", "position": {"x": 156, "y": 80, "w": 100, "h": 100}}
    assert camera_decoder._drop_conflicting_linear([strip, good, other, qr]) == [good, other, qr]


def test_decode_image_reads_a_file(tmp_path):
    path = tmp_path / "label.png"
    cv2.imwrite(str(path), frame_with("gs1-datamatrix"))
    assert [r["text"] for r in decode_image(path)] == [CASES["gs1-datamatrix"][1]]
    blank = tmp_path / "blank.jpg"
    cv2.imwrite(str(blank), Scene([], 320, 240).frame(0))
    assert decode_image(blank) == []


@pytest.mark.parametrize("content", [b"", b"not an image at all\n", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20])
def test_decode_image_on_a_non_image_raises_value_error_in_words(tmp_path, content):
    path = tmp_path / "label.png"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not an image"):
        decode_image(path)


def test_decode_image_missing_file_and_directory(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        decode_image(tmp_path / "nope.png")
    with pytest.raises(ValueError, match="directory"):
        decode_image(tmp_path)


def test_bad_frames_and_decoder_names_raise_value_error():
    import numpy as np

    with pytest.raises(ValueError, match="decoders"):
        decode_frame(np.zeros((10, 10), np.uint8), decoders="fast")
    with pytest.raises(ValueError, match="shape"):
        decode_frame(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ValueError, match="8-bit"):
        decode_frame(np.zeros((10, 10), np.float32))


def test_without_libzbar_decoding_degrades_to_zxing_with_a_warning(tmp_path):
    path = tmp_path / "label.png"
    cv2.imwrite(str(path), frame_with("gs1-128"))
    code = (
        "import sys, logging; sys.modules['pyzbar'] = None\n"  # as if libzbar0 / pyzbar were absent
        "logging.basicConfig(level=logging.WARNING, format='%(message)s')\n"
        "from drivers.camera_decoder import decode_image\n"
        f"print([r['text'] for r in decode_image({str(path)!r}, decoders='both')])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "zxing-cpp alone" in out.stderr
    assert "01095060001343521" in out.stdout


def test_gs1_element_string_puts_gs_only_after_variable_length_ais():
    assert gs1_element_string("(01)09506000134352(10)ABC(21)1") == "010950600013435210ABC" + GS + "211"
    assert gs1_element_string("(00)123456789012345675") == "00123456789012345675"
    with pytest.raises(ValueError):
        gs1_element_string("0109506000134352")


def test_rendered_symbols_are_black_on_white_with_quiet_zone():
    img = render_symbol("datamatrix", "X", module=4)
    assert img.dtype.name == "uint8" and img[0, 0] == 255 and img.min() == 0
    with pytest.raises(ValueError, match="unknown symbology"):
        render_symbol("maxicode", "X")


def test_zbar_only_if_none_skips_zbar_where_zxing_read_the_frame():
    if not camera_decoder.zbar_available():
        pytest.skip("libzbar0 is not installed")
    # zxing-cpp reads the QR, not the 45° EAN-13 beside it: ZBar's read comes only when it is asked every time.
    scene = Scene([Label("qr", "HERE", x=0.2, module=5), Label("ean-13", "4006381333931", x=0.65, module=3, angle=45)],
                  1280, 720, seed=1)
    frame = scene.frame(0)
    assert sorted(r["text"] for r in decode_frame(frame, decoders="both")) == ["]E04006381333931", "]Q1HERE"]
    assert [r["text"] for r in decode_frame(frame, decoders="both", zbar_only_if_none=True)] == ["]Q1HERE"]
    alone = Scene([Label("ean-13", "4006381333931", module=3, angle=45)], 1280, 720, seed=1).frame(0)
    (r,) = decode_frame(alone, decoders="both", zbar_only_if_none=True)
    assert r["decoder"] == "zbar"


def test_without_rotation_zxing_leaves_90_degree_linear_codes_to_zbar():
    frame = frame_with("code128", angle=90)
    assert [r["text"] for r in decode_frame(frame, decoders="zxing")] == [CASES["code128"][1]]
    assert decode_frame(frame, decoders="zxing", rotate=False) == []
    if camera_decoder.zbar_available():
        (r,) = decode_frame(frame, decoders="both", zbar_only_if_none=True, rotate=False)
        assert r["text"] == CASES["code128"][1] and r["decoder"] == "zbar"


# --- the half-size pass (coarse_first) ---------------------------------------------------------

def big_and_small(small: str, data: str, module: int):
    return Scene([Label("qr", "BIG", x=0.2, module=6), Label(small, data, x=0.65, module=module)],
                 1280, 720, seed=3).frame(0)


def test_coarse_first_reads_a_half_size_copy_and_stops_there():
    # The small DataMatrix is below what the half-size copy resolves: the read of the QR there is the
    # whole answer (the camera's full search, every few frames, finds the small one).
    frame = big_and_small("datamatrix", "TALLY-DM-0001", 2)
    assert sorted(r["text"] for r in decode_frame(frame, decoders="zxing")) == ["]Q1BIG", "]d1TALLY-DM-0001"]
    assert [r["text"] for r in decode_frame(frame, decoders="zxing", coarse_first=True)] == ["]Q1BIG"]
    assert [r["text"] for r in decode_frame(frame, coarse_first=True, zbar_only_if_none=True,
                                            rotate=False)] == ["]Q1BIG"]


@pytest.mark.parametrize("symbology", ["datamatrix", "code128"])
def test_coarse_first_falls_back_to_full_size_where_the_half_size_copy_reads_nothing(symbology):
    data = {"datamatrix": "TALLY-DM-0001", "code128": "TALLY-0042-XZ"}[symbology]
    frame = Scene([Label(symbology, data, x=0.65, module={"datamatrix": 2, "code128": 1}[symbology])],
                  1280, 720, seed=3).frame(0)
    full = decode_frame(frame, decoders="zxing", rotate=False)
    assert full and decode_frame(frame, decoders="zxing", rotate=False, coarse_first=True) == full


def test_coarse_first_positions_are_in_full_frame_coordinates_with_and_without_roi():
    frame = Scene([Label("qr", "LEFT", x=0.25, module=6), Label("datamatrix", "RIGHT", x=0.75, module=8)],
                  1280, 720).frame(0)
    for roi in (None, [640, 0, 640, 720]):
        full = {r["text"]: r["position"] for r in decode_frame(frame, roi=roi)}
        coarse = {r["text"]: r["position"] for r in decode_frame(frame, roi=roi, coarse_first=True)}
        assert coarse.keys() == full.keys() and coarse
        for text, p in coarse.items():
            # a pixel of the half-size copy is two of the frame
            assert all(abs(p[k] - full[text][k]) <= 4 for k in "xywh"), (p, full[text])
    assert [r["text"] for r in decode_frame(frame, roi=[640, 0, 640, 720], coarse_first=True)] == ["]d1RIGHT"]


def test_coarse_first_leaves_zbar_alone_and_small_views_at_full_size():
    if camera_decoder.zbar_available():
        frame = frame_with("ean-13")
        assert decode_frame(frame, decoders="zbar", coarse_first=True) == decode_frame(frame, decoders="zbar")
    # A 300-pixel view is searched at full size only: its half-size copy reads the QR, not the small
    # DataMatrix beside it, and would have been the answer.
    frame = Scene([Label("qr", "BIG", x=0.25, module=5), Label("datamatrix", "TINY", x=0.75, module=2)],
                  600, 300, seed=5).frame(0)
    assert min(frame.shape) < camera_decoder.COARSE_MIN_SIDE
    assert sorted(r["text"] for r in decode_frame(frame, decoders="zxing", coarse_first=True)) == ["]Q1BIG", "]d1TINY"]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 800), st.integers(1, 800), st.sampled_from([None, 1, 3, 4]), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_any_frame_gives_a_list_in_frame_coordinates_never_an_exception(height, width, channels, coarse, seed):
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels is None else (height, width, channels)
    frame = rng.integers(0, 256, shape, dtype=np.uint8)
    for results in (decode_frame(frame, coarse_first=coarse, zbar_only_if_none=coarse, rotate=not coarse),
                    decode_frame(frame, roi=[width // 3, height // 3, width, height], coarse_first=coarse)):
        assert isinstance(results, list)
        for r in results:
            assert set(r) == {"text", "symbology", "position", "decoder"}
