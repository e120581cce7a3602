"""Still pictures get every decoding pass (drivers.still_decoder): more reads, no duplicates, nothing invented."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import camera_decoder, still_decoder
from drivers.camera_decoder import decode_image
from drivers.still_decoder import decode_still, key
from simulators.camera import Label, Scene


def _read(text: str, symbology: str, x: int, y: int, w: int, h: int) -> dict:
    return {"text": text, "symbology": symbology, "position": {"x": x, "y": y, "w": w, "h": h}, "decoder": "zxing"}


def test_upc_a_and_its_ean_13_form_are_one_code():
    assert key(_read("]E0012345678905", "upc-a", 0, 0, 1, 1)) == "0012345678905"
    assert key(_read("]E00012345678905", "ean-13", 0, 0, 1, 1)) == "0012345678905"
    assert key(_read("]Q1hello", "qr", 0, 0, 1, 1)) == "hello"


def test_a_upc_e_inside_the_bars_of_an_ean_13_is_a_fragment():
    ean = _read("]E09780441014989", "ean-13", 36, 67, 156, 66)
    fragment = _read("]E00178100000449", "upc-e", 35, 178, 85, 15)  # zxing-cpp on ean13-4/06.png
    elsewhere = _read("]E01234565", "ean-8", 400, 70, 80, 60)
    votes = {key(ean): {"zxing", "zbar"}, key(fragment): {"zxing"}, key(elsewhere): {"zxing"}}
    extent = {key(ean): {"x": 35, "y": 67, "w": 160, "h": 129}, key(fragment): fragment["position"],
              key(elsewhere): elsewhere["position"]}
    assert still_decoder._resolve_linear_conflicts([ean, fragment, elsewhere], votes, extent) == [ean, elsewhere]


def test_two_linear_reads_of_the_same_bars_keep_the_better_attested():
    right = _read("]E09780345348036", "ean-13", 100, 80, 160, 50)
    wrong = _read("]E03710445342036", "ean-13", 104, 120, 150, 10)
    extent = {key(right): right["position"], key(wrong): wrong["position"]}

    def winner(right_passes, wrong_passes):
        votes = {key(right): set(right_passes), key(wrong): set(wrong_passes)}
        kept = still_decoder._resolve_linear_conflicts([wrong, right], votes, extent)
        assert len(kept) == 1
        return "right" if kept == [right] else "wrong"

    # more passes of one decoder
    assert winner({"zbar-2x", "zbar-equalised", "zbar"}, {"zbar-density-2", "zbar-sharpened"}) == "right"
    # both decoders beat many passes of one
    assert winner({"zxing-2x", "zbar-2x"}, {"zbar", "zbar-density-2", "zbar-density-4", "zbar-sharpened"}) == "right"
    # zxing-cpp's first pass beats ZBar's passes (ZBar renders Code 128 function characters its own way)
    assert winner({"zxing"}, {"zbar", "zbar-density-2", "zbar-density-4"}) == "right"


def test_a_linear_read_of_one_extra_pass_alone_is_not_reported(monkeypatch):
    lone = _read("]E05780407014989", "ean-13", 10, 10, 100, 40)
    twice = _read("]E04006381333931", "ean-13", 300, 10, 100, 40)
    qr = _read("]Q1once", "qr", 10, 200, 50, 50)
    passes = [("zxing", lambda: []), ("other", lambda: [lone, twice, qr]), ("third", lambda: [dict(twice)])]
    monkeypatch.setattr(still_decoder, "_passes", lambda gray, decoders: passes)
    gray = Scene([], 320, 240).frame(0)
    assert [r["text"] for r in decode_still(gray)] == ["]E04006381333931", "]Q1once"]


def test_still_reads_a_blurred_tilted_label_the_frame_pass_misses_and_drops_a_fragment_it_invents(tmp_path):
    def picture(angle):
        path = tmp_path / f"blurred-{angle}.png"
        scene = Scene([Label("ean-13", "4006381333931", module=2, blur=1.2, angle=angle)], 320, 240, seed=1)
        cv2.imwrite(str(path), scene.frame(0))
        return path

    tilted, straight = picture(10), picture(0)
    assert decode_image(tilted, thorough=False) == []
    assert [r["text"] for r in decode_image(tilted)] == ["]E04006381333931"]
    if camera_decoder.zbar_available():
        # one pass of both decoders also reads part of the bars as a short code
        assert len(decode_image(straight, thorough=False)) == 2
    assert [r["text"] for r in decode_image(straight)] == ["]E04006381333931"]


@pytest.mark.parametrize("decoders", ["zxing", "zbar", "both"])
def test_every_decoder_choice_reads_a_clean_label_once(decoders, tmp_path):
    if decoders != "zxing" and not camera_decoder.zbar_available():
        pytest.skip("libzbar0 is not installed")
    scene = Scene([Label("ean-13", "4006381333931", module=3), Label("qr", "HELLO", x=0.8, module=4)], 640, 480)
    path = tmp_path / "two.png"
    cv2.imwrite(str(path), scene.frame(0))
    want = ["]E04006381333931", "]Q1HELLO"]
    assert sorted(r["text"] for r in decode_image(path, decoders=decoders)) == want
    with pytest.raises(ValueError):
        decode_still(scene.frame(0), decoders="all")


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 48), st.integers(1, 48), st.sampled_from([None, 3, 4]), st.integers(0, 2**32 - 1))
def test_any_small_picture_gives_a_list_never_an_exception(height, width, channels, seed):
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels is None else (height, width, channels)
    picture = rng.integers(0, 256, shape, dtype=np.uint8)
    results = decode_still(picture)
    assert isinstance(results, list)
    assert len({key(r) for r in results}) == len(results)
