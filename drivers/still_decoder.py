"""Reading a still picture (`tally decode --image`): every decoding pass, combined without duplicates.

A camera frame gets one zxing-cpp pass (and ZBar for what it missed) because
the next frame is 33 ms away. A picture is read once, so it gets all the
passes that each read codes the others miss on real photographs
(tests/data/images, figures in tests/test_camera_photo_set.py):

- zxing-cpp with its default local-average binarizer, light-on-dark search,
  rotation and downscaling; then the global-histogram binarizer, which reads
  unevenly lit linear codes the local one breaks up;
- zxing-cpp on the picture upscaled 2x (small or distant codes: a module of
  one or two pixels is below what its detectors resolve);
- ZBar's linear decoders at three scan densities, upscaled, and sharpened:
  ZBar's scan-line decoder reads blurred and tilted EAN/UPC that zxing-cpp's
  row sampling gives up on, and which scan lines catch the bars cleanly
  differs with the density;
- last, a QR code zxing-cpp found but could not decode (on cloth or a curved
  surface its grid bends) is sampled module by module (drivers.warped_qr).

Combining must not invent codes. A 2-D symbol carries Reed-Solomon error
correction, so one read is enough. A linear code's single check digit is
weak: on blurred photos a pass now and then reads a different, check-valid
number, so a linear value is taken from the first zxing-cpp pass (what the
camera would report) or when two passes read it. Where two different linear
values lie on the same bars, the one both decoders read wins, else the one of
zxing-cpp's first pass, else the one more passes agree on; a UPC-E or EAN-8
read inside the bars of an EAN-13/UPC-A is a fragment of it.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable

from . import camera_decoder as cd
from . import warped_qr

#: upscale pictures whose longer side is at most this (a 4,000-pixel phone photo needs none, and 4x the pixels)
UPSCALE_MAX_SIDE = 1600
#: … and 3x at most this (a 240-pixel phone thumbnail of a glared label: ean13-4 in tests/data/images)
UPSCALE_3X_MAX_SIDE = 800
#: ZBar scan densities tried on the picture as it is
ZBAR_DENSITIES = (3, 2, 4)
#: scan lines a ZBar read must be seen on (zbar_symbol_get_quality)
ZBAR_MIN_QUALITY = 2

_SHORT_LINEAR = frozenset({"upc-e", "ean-8"})
_LONG_EAN = frozenset({"ean-13", "upc-a", "isbn"})


def key(result: dict[str, Any]) -> str:
    """What a read says, whoever read it: data without the AIM identifier, UPC-A as its EAN-13 form.

    zxing-cpp reports a 0-prefixed EAN-13 as UPC-A (12 digits), ZBar as EAN-13
    (13 digits): the same code must not count twice.
    """
    data = cd._data(result)
    if result["symbology"] == "upc-a" and len(data) == 12:
        return "0" + data
    return data


def _upscaled(gray: Any, factor: int):
    import cv2

    return cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)


def _sharpened(gray: Any):
    import cv2

    soft = cv2.GaussianBlur(gray, (0, 0), 2)
    return cv2.addWeighted(gray, 1.8, soft, -0.8, 0)


def _zbar(gray: Any, dx: int, dy: int, **kw: Any) -> list[dict[str, Any]]:
    # A symbol read on a single scan line of a processed picture is as often a
    # wrong number as a right one (ZBar on contrast-equalised glare).
    return cd._zbar(gray, dx, dy, min_quality=ZBAR_MIN_QUALITY, **kw)


def _equalised(gray: Any):
    import cv2

    return cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(gray)


def _passes(gray: Any, decoders: str) -> list[tuple[str, Callable[[], list[dict[str, Any]]]]]:
    zxing = decoders in ("zxing", "both")
    zbar = decoders in ("zbar", "both") and cd.zbar_available()
    small = max(gray.shape) <= UPSCALE_MAX_SIDE
    passes: list[tuple[str, Callable[[], list[dict[str, Any]]]]] = []
    if zxing:
        passes.append(("zxing", lambda: cd._zxing(gray, 0, 0, True)))
        passes.append(("zxing-histogram", lambda: cd._zxing(gray, 0, 0, True, binarizer="GlobalHistogram")))
    if zbar:
        # ZBar alone also reads its 2-D code (QR); next to zxing-cpp it adds linear reads only,
        # since it decodes some QR text encodings (Shift JIS) differently.
        passes.append(("zbar", lambda: _zbar(gray, 0, 0, linear_only=zxing)))
        for density in ZBAR_DENSITIES[1:]:
            passes.append((f"zbar-density-{density}",
                           lambda density=density: _zbar(gray, 0, 0, linear_only=True, density=density)))
    if small:
        big = None

        def upscaled():
            nonlocal big
            if big is None:
                big = _upscaled(gray, 2)
            return big

        if zxing:
            passes.append(("zxing-2x", lambda: cd._zxing(upscaled(), 0, 0, True, scale=2)))
        if zbar:
            passes.append(("zbar-2x", lambda: _zbar(upscaled(), 0, 0, linear_only=True, scale=2)))
    if zbar:
        passes.append(("zbar-sharpened", lambda: _zbar(_sharpened(gray), 0, 0, linear_only=True)))
    # Glare and shadow on a label: equalising contrast locally (CLAHE) gives back the bars under a highlight.
    flat = None

    def equalised():
        nonlocal flat
        if flat is None:
            flat = _equalised(gray)
        return flat

    if zxing:
        passes.append(("zxing-equalised", lambda: cd._zxing(equalised(), 0, 0, True)))
    if zbar:
        passes.append(("zbar-equalised", lambda: _zbar(equalised(), 0, 0, linear_only=True)))
    if zbar and small:
        for density in (3, 2):
            passes.append((f"zbar-equalised-2x-density-{density}", lambda density=density: _zbar(
                _upscaled(equalised(), 2), 0, 0, linear_only=True, density=density, scale=2)))
    if zbar and max(gray.shape) <= UPSCALE_3X_MAX_SIDE:
        for density in (3, 2):
            passes.append((f"zbar-equalised-3x-density-{density}", lambda density=density: _zbar(
                _upscaled(equalised(), 3), 0, 0, linear_only=True, density=density, scale=3)))
    return passes


def _same_bars(a: dict[str, int], b: dict[str, int]) -> bool:
    overlap_x = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    overlap_y = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    if overlap_x <= 0 or overlap_y < 0:
        return False
    # Reads of one symbol from different scan lines share most of their width
    # (a linear box from a single line is a few pixels high, so height says little).
    return overlap_x > 0.5 * min(max(a["w"], 1), max(b["w"], 1))


def decode_still(gray_or_bgr: Any, decoders: str = "both") -> list[dict[str, Any]]:
    """Every barcode in a picture, read by every pass (see the module doc); same dicts as decode_frame."""
    if decoders not in cd.DECODERS:
        raise ValueError(f"decoders must be one of {', '.join(cd.DECODERS)}")
    gray = cd._gray(gray_or_bgr)
    if gray.size == 0:
        return []
    first: dict[str, dict[str, Any]] = {}
    votes: dict[str, set[str]] = {}
    trusted: set[str] = set()
    # Where all passes saw each code: one pass's box of a linear code may be a single scan line.
    extent: dict[str, dict[str, int]] = {}
    passes = _passes(gray, decoders)
    if decoders in ("zxing", "both"):
        passes.append(("zxing-warped", lambda: _warped_qr(gray, [first[k]["position"] for k in first])))
    for i, (name, run) in enumerate(passes):
        for result in run():
            k = key(result)
            first.setdefault(k, result)
            votes.setdefault(k, set()).add(name)
            if i == 0 or result["symbology"] not in cd.LINEAR:
                trusted.add(k)
            box = extent.get(k)
            p = result["position"]
            extent[k] = p if box is None else _union(box, p)
    kept = [first[k] for k in first if k in trusted or len(votes[k]) >= 2]
    return _resolve_linear_conflicts(kept, votes, extent)


def _warped_qr(gray: Any, read: list[dict[str, int]]) -> list[dict[str, Any]]:
    """QR codes zxing-cpp found and could not decode, sampled module by module; none where a code was read."""
    out = []
    for n, corners in warped_qr.failed_symbols(gray):
        xs, ys = zip(*corners, strict=True)
        cx, cy = sum(xs) / 4, sum(ys) / 4
        if any(b["x"] <= cx <= b["x"] + b["w"] and b["y"] <= cy <= b["y"] + b["h"] for b in read):
            continue
        bc = warped_qr.read(gray, n, corners)
        if bc is not None:  # boxed where the symbol is in the picture, not in the resampled symbol
            out.append(cd.zxing_result(bc, corners))
    return out


def _union(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    x0, y0 = min(a["x"], b["x"]), min(a["y"], b["y"])
    x1, y1 = max(a["x"] + a["w"], b["x"] + b["w"]), max(a["y"] + a["h"], b["y"] + b["h"])
    return {"x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0}


def _weight(passes: set[str]) -> tuple[int, bool, int]:
    """How much to believe a read: both decoders over one; then zxing-cpp's first pass; then more passes.

    Decoders first, because one decoder's passes repeat its own reading of the
    same bars: on a Code 128 with function characters ZBar's six passes agree
    on its rendering of them, zxing-cpp's on the right one.
    """
    decoders = {name.split("-")[0] for name in passes}
    return len(decoders), "zxing" in passes, len(passes)


def _resolve_linear_conflicts(results: list[dict[str, Any]], votes: dict[str, set[str]],
                              extent: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    linear = [r for r in results if r["symbology"] in cd.LINEAR]
    drop: set[int] = set()
    for i, a in enumerate(linear):
        for b in linear[i + 1:]:
            if key(a) == key(b) or not _same_bars(extent[key(a)], extent[key(b)]):
                continue
            if a["symbology"] in _SHORT_LINEAR and b["symbology"] in _LONG_EAN:
                drop.add(id(a))
            elif b["symbology"] in _SHORT_LINEAR and a["symbology"] in _LONG_EAN:
                drop.add(id(b))
            elif a["symbology"] == b["symbology"] or {a["symbology"], b["symbology"]} <= _LONG_EAN:
                va, vb = _weight(votes[key(a)]), _weight(votes[key(b)])
                if va != vb:
                    drop.add(id(a) if va < vb else id(b))
    return cd._drop_conflicting_linear([r for r in results if id(r) not in drop])
