"""Find and decode every barcode in a picture (camera frame or image file).

zxing-cpp is the main decoder: it reads every symbology a warehouse label
carries (GS1-128, EAN/UPC, QR, DataMatrix, PDF417, DataBar, …), reports the AIM
symbology identifier and GS1 mode, and returns FNC1 as GS. ZBar reads no
DataMatrix and no PDF417, but on our measurements (benchmarks/camera_fps.py)
it reads EAN-13 at 45° and under blur where zxing-cpp 3.1 gives up, so by
default (`decoders="both"`) ZBar also scans for linear codes and adds what
zxing-cpp missed. Without libzbar, decoding falls back to zxing-cpp alone.
The camera driver reads most frames at half size first and asks for ZBar only
on some frames (drivers.camera.frame_pass); a still picture gets many passes
of both (drivers.still_decoder).

Results are plain dicts:
    {"text": "]d2" + "0109506000134352\\x1d10ABC",   # AIM identifier first, GS as FNC1
     "symbology": "gs1-datamatrix", "position": {"x", "y", "w", "h"},
     "decoder": "zxing"}

cv2, zxingcpp and pyzbar are imported on first use, never at module import.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from collections.abc import Iterable, Sequence

log = logging.getLogger(__name__)

DECODERS = ("zxing", "zbar", "both")

# zxing-cpp format name → our symbology name; GS1 content gets the gs1- form.
_ZXING_NAMES = {
    "Code128": ("code128", "gs1-128"),
    "EAN13": ("ean-13", "ean-13"),
    "EAN8": ("ean-8", "ean-8"),
    "UPCA": ("upc-a", "upc-a"),
    "UPCE": ("upc-e", "upc-e"),
    "ISBN": ("isbn", "isbn"),
    "QRCode": ("qr", "gs1-qr"),
    "MicroQRCode": ("micro-qr", "micro-qr"),
    "RMQRCode": ("rmqr", "gs1-rmqr"),
    "DataMatrix": ("datamatrix", "gs1-datamatrix"),
    "PDF417": ("pdf417", "pdf417"),
    "CompactPDF417": ("pdf417", "pdf417"),
    "MicroPDF417": ("micropdf417", "micropdf417"),
    "Aztec": ("aztec", "gs1-aztec"),
    "AztecCode": ("aztec", "gs1-aztec"),
    "DataBar": ("gs1-databar", "gs1-databar"),
    "DataBarOmni": ("gs1-databar", "gs1-databar"),
    "DataBarStk": ("gs1-databar", "gs1-databar"),
    "DataBarStkOmni": ("gs1-databar", "gs1-databar"),
    "DataBarExpanded": ("gs1-databar-expanded", "gs1-databar-expanded"),
    "DataBarExp": ("gs1-databar-expanded", "gs1-databar-expanded"),
    "DataBarExpStk": ("gs1-databar-expanded", "gs1-databar-expanded"),
    "DataBarLimited": ("gs1-databar-limited", "gs1-databar-limited"),
    "DataBarLtd": ("gs1-databar-limited", "gs1-databar-limited"),
    "Code39": ("code39", "code39"),
    "Code39Std": ("code39", "code39"),
    "Code39Ext": ("code39", "code39"),
    "Code93": ("code93", "code93"),
    "ITF": ("itf", "itf"),
    "ITF14": ("itf-14", "itf-14"),
    "Codabar": ("codabar", "codabar"),
    "MaxiCode": ("maxicode", "maxicode"),
}

# ZBar symbol type (zbar.h) → (symbology, AIM identifier, GS1 symbology, GS1 AIM identifier).
_ZBAR_TYPES = {
    128: ("code128", "]C0", "gs1-128", "]C1"),
    13: ("ean-13", "]E0", "ean-13", "]E0"),
    8: ("ean-8", "]E4", "ean-8", "]E4"),
    12: ("upc-a", "]E0", "upc-a", "]E0"),
    9: ("upc-e", "]E0", "upc-e", "]E0"),
    39: ("code39", "]A0", "code39", "]A0"),
    93: ("code93", "]G0", "code93", "]G0"),
    25: ("itf", "]I0", "itf", "]I0"),
    38: ("codabar", "]F0", "codabar", "]F0"),
    34: ("gs1-databar", "]e0", "gs1-databar", "]e0"),
    35: ("gs1-databar-expanded", "]e0", "gs1-databar-expanded", "]e0"),
    64: ("qr", "]Q1", "gs1-qr", "]Q3"),
}
_ZBAR_LINEAR = (128, 13, 8, 12, 9, 39, 93, 25, 38, 34, 35)
_ZBAR_MOD_GS1 = 1 << 0
# Scan every Nth line. 3 keeps the reads on our test pictures at a third of
# the time of 1 (benchmarks/camera_fps.py); QR needs 2 or less.
ZBAR_DENSITY_LINEAR = 3
ZBAR_DENSITY_ALL = 2

# A frame or region of interest with a shorter side below this gets no half-size pass: it is
# cheap to search in full, and halving it would lose the small codes in it.
COARSE_MIN_SIDE = 360

_zbar_state: dict[str, Any] = {}


def _zbar_lib():
    """pyzbar's ctypes binding of libzbar, or None (logged once) when pyzbar or libzbar is missing.

    We drive libzbar through it rather than through pyzbar.decode(), which
    hides what we need: the symbol's GS1 modifier (FNC1 in first position, so
    ]C1/]Q3 can be told from ]C0/]Q1), scan density and symbology selection.
    """
    if "lib" not in _zbar_state:
        try:
            import ctypes

            from pyzbar import wrapper

            _zbar_state["modifiers"] = wrapper.zbar_function(
                "zbar_symbol_get_modifiers", ctypes.c_uint, ctypes.POINTER(wrapper.zbar_symbol))
            _zbar_state["lib"] = wrapper
        except (ImportError, OSError, AttributeError) as exc:
            log.warning("ZBar is unavailable (%s); decoding with zxing-cpp alone", exc)
            _zbar_state["lib"] = None
    return _zbar_state["lib"]


def zbar_available() -> bool:
    return _zbar_lib() is not None


def _gray(frame: Any):
    import numpy as np

    arr = np.asarray(frame)
    if arr.ndim == 2:
        gray = arr
    elif arr.ndim == 3 and arr.shape[2] in (3, 4):
        import cv2

        gray = cv2.cvtColor(arr, cv2.COLOR_BGR2GRAY if arr.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        gray = arr[:, :, 0]
    else:
        raise ValueError(f"expected a grayscale or BGR image, got an array of shape {arr.shape}")
    if gray.dtype != np.uint8:
        raise ValueError(f"expected 8-bit pixels, got {gray.dtype}")
    return np.ascontiguousarray(gray)


def _crop(gray: Any, roi: Sequence[int] | None):
    if not roi:
        return gray, 0, 0
    x, y, w, h = (int(v) for v in roi)
    height, width = gray.shape[:2]
    x0, y0 = max(0, min(x, width)), max(0, min(y, height))
    x1, y1 = max(x0, min(x + w, width)), max(y0, min(y + h, height))
    return gray[y0:y1, x0:x1], x0, y0


def _box(points: Iterable[tuple[float, float]], dx: int, dy: int) -> dict[str, int]:
    xs, ys = zip(*points, strict=True)
    x0, y0 = int(min(xs)), int(min(ys))
    return {"x": x0 + dx, "y": y0 + dy, "w": int(max(xs)) - x0, "h": int(max(ys)) - y0}


def _zxing(gray: Any, dx: int, dy: int, inverted: bool = True, binarizer: str = "LocalAverage",
           scale: float = 1, rotate: bool = True) -> list[dict[str, Any]]:
    """zxing-cpp's reads; `scale`: how much larger `gray` is than the frame the positions are for."""
    import zxingcpp

    # Looking for light-on-dark codes too costs about a third of a frame's time.
    return [zxing_result(bc, corners(bc.position, scale), dx, dy)
            for bc in zxingcpp.read_barcodes(gray, text_mode=zxingcpp.TextMode.Plain, try_invert=inverted,
                                             try_rotate=rotate, binarizer=getattr(zxingcpp.Binarizer, binarizer))]


def corners(position: Any, scale: float = 1) -> list[tuple[float, float]]:
    """A zxing-cpp position's corners (top left, top right, bottom right, bottom left), divided by `scale`."""
    return [(c.x / scale, c.y / scale)
            for c in (position.top_left, position.top_right, position.bottom_right, position.bottom_left)]


def zxing_result(bc: Any, points: Iterable[tuple[float, float]], dx: int = 0, dy: int = 0) -> dict[str, Any]:
    """One zxing-cpp barcode as a result dict, boxed around `points` moved by (dx, dy) (a roi's origin)."""
    fmt = bc.format.name
    plain, gs1 = _ZXING_NAMES.get(fmt, (fmt.lower(), fmt.lower()))
    return {
        "text": bc.symbology_identifier + bc.text,
        "symbology": gs1 if bc.content_type.name == "GS1" else plain,
        "position": _box(points, dx, dy),
        "decoder": "zxing",
    }


def _zbar(gray: Any, dx: int, dy: int, linear_only: bool, density: int | None = None,
          scale: float = 1, min_quality: int = 0) -> list[dict[str, Any]]:
    """ZBar's reads; `min_quality`: keep only symbols read on at least this many scan lines."""
    import ctypes

    w = _zbar_lib()
    if w is None:
        return []
    get_modifiers = _zbar_state["modifiers"]
    cfg = w.ZBarConfig
    if density is None:
        density = ZBAR_DENSITY_LINEAR if linear_only else ZBAR_DENSITY_ALL
    scanner = w.zbar_image_scanner_create()
    image = w.zbar_image_create()
    out = []
    try:
        if linear_only:
            w.zbar_image_scanner_set_config(scanner, 0, cfg.CFG_ENABLE, 0)
            for sym_type in _ZBAR_LINEAR:
                w.zbar_image_scanner_set_config(scanner, sym_type, cfg.CFG_ENABLE, 1)
        w.zbar_image_scanner_set_config(scanner, 0, cfg.CFG_X_DENSITY, density)
        w.zbar_image_scanner_set_config(scanner, 0, cfg.CFG_Y_DENSITY, density)
        import numpy as np

        # ZBar reads the frame's own pixels (no cleanup handler: `gray` outlives the image); a
        # cropped view is the only case that needs a contiguous copy.
        gray = np.ascontiguousarray(gray)
        height, width = gray.shape
        w.zbar_image_set_format(image, 0x30303859)  # fourcc "Y800": 8-bit grey
        w.zbar_image_set_size(image, width, height)
        w.zbar_image_set_data(image, gray.ctypes.data, gray.size, None)
        w.zbar_scan_image(scanner, image)
        sym = w.zbar_image_first_symbol(image)
        while sym:
            raw = ctypes.string_at(w.zbar_symbol_get_data(sym), w.zbar_symbol_get_data_length(sym))
            sym_type = sym.contents.type
            if sym_type in _ZBAR_LINEAR and w.zbar_symbol_get_quality(sym) < min_quality:
                sym = w.zbar_symbol_next(sym)
                continue
            gs1 = bool(get_modifiers(sym) & _ZBAR_MOD_GS1)
            name, aim, gs1_name, gs1_aim = _ZBAR_TYPES.get(sym_type, (f"zbar-{sym_type}", "", "", ""))
            points = [(w.zbar_symbol_get_loc_x(sym, i) / scale, w.zbar_symbol_get_loc_y(sym, i) / scale)
                      for i in range(w.zbar_symbol_get_loc_size(sym))]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            out.append({
                "text": (gs1_aim if gs1 else aim) + text,
                "symbology": gs1_name if gs1 else name,
                "position": _box(points or [(0, 0)], dx, dy),
                "decoder": "zbar",
            })
            sym = w.zbar_symbol_next(sym)
    finally:
        w.zbar_image_destroy(image)
        w.zbar_image_scanner_destroy(scanner)
    return out


LINEAR = frozenset({"code128", "gs1-128", "ean-13", "ean-8", "upc-a", "upc-e", "isbn", "code39", "code93", "itf",
                    "itf-14", "codabar", "gs1-databar", "gs1-databar-expanded", "gs1-databar-limited"})


def _drop_conflicting_linear(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Where two linear reads of one symbol disagree, keep the one read on the most scan lines.

    A linear code's check character is weak: on compressed video zxing-cpp was
    seen reading a 4-pixel strip at the edge of a Code 128 as a different,
    checksum-valid number, next to the right read of the rest of the bars.
    """
    def same_place(a: dict[str, int], b: dict[str, int]) -> bool:
        # Same bars: nearly the same horizontal extent, and vertically touching
        # (stacked labels, e.g. a sheet of codes, have a text line between them).
        overlap = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
        gap = max(a["y"], b["y"]) - min(a["y"] + a["h"], b["y"] + b["h"])
        return overlap > 0.9 * max(a["w"], b["w"]) and gap < max(4, 0.25 * max(a["h"], b["h"]))

    linear = [r for r in results if r["symbology"] in LINEAR]
    drop = set()
    for i, a in enumerate(linear):
        for b in linear[i + 1:]:
            if a["text"] != b["text"] and same_place(a["position"], b["position"]):
                drop.add(id(a) if a["position"]["h"] < b["position"]["h"] else id(b))
    return [r for r in results if id(r) not in drop]


def _data(result: dict[str, Any]) -> str:
    text = result["text"]
    return text[3:] if text.startswith("]") and len(text) >= 3 else text


def half_size(gray: Any):
    """`gray` at half its width and height."""
    import cv2

    # INTER_AREA averages each 2x2 block: a 1-pixel module becomes grey, not lost to aliasing.
    return cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2), interpolation=cv2.INTER_AREA)


def decode_frame(frame: Any, roi: Sequence[int] | None = None, decoders: str = "both",
                 inverted: bool = True, zbar_only_if_none: bool = False, rotate: bool = True,
                 coarse_first: bool = False, coarse_only: bool = False) -> list[dict[str, Any]]:
    """Every barcode in one frame (grayscale or BGR ndarray); `roi` = [x, y, w, h] limits the search.

    `inverted`: also look for light-on-dark codes (zxing-cpp); a camera that never sees them
    turns it off for speed.

    decoders: "zxing", "zbar", or "both" (the default: zxing-cpp for everything,
    ZBar added for linear codes zxing-cpp did not find). Positions are in full
    frame coordinates even with a roi.

    On a frame (or roi) with a shorter side of at least COARSE_MIN_SIDE,
    zxing-cpp's 90° search (`rotate`: linear codes and PDF417 turned by 90°)
    runs on a half-size copy beside a full-size read without it: about a fifth
    of the cost of turning the full frame, and on our pictures it reads every
    turned code the full-size search read and a few more
    (benchmarks/camera_fps.py).

    Four savings for video, where the next frame is a few tens of milliseconds
    away (drivers.camera.frame_pass uses them on all but every FULL_SEARCH_EVERY-th frame):
    `coarse_first` (with "zxing" or "both"): zxing-cpp first reads the half-size
    copy alone (about a tenth of a full-size read on 1280x720) and, where that
    reads anything, that is the answer; only a frame where it reads nothing gets
    the full-size search below. A code too small for the half-size copy beside
    one it reads waits for the next full search.
    `coarse_only`: the half-size read and nothing else, for a view known to
    show what a full search found nothing in (drivers.empty_view); a frame too
    small for a half-size copy is searched as asked.
    `zbar_only_if_none` (with "both"): ZBar looks only when zxing-cpp found
    nothing, which saves its whole cost where zxing-cpp already reads the label;
    `rotate=False`: no 90° search at all (ZBar scans columns anyway).
    """
    if decoders not in DECODERS:
        raise ValueError(f"decoders must be one of {', '.join(DECODERS)}")
    gray, dx, dy = _crop(_gray(frame), roi)
    if gray.size == 0:
        return []
    results: list[dict[str, Any]] = []
    if decoders in ("zxing", "both"):
        halved = min(gray.shape) >= COARSE_MIN_SIDE and (coarse_first or coarse_only or rotate)
        if halved:
            results = _zxing(half_size(gray), dx, dy, inverted, scale=0.5, rotate=rotate)
            if (coarse_first and results) or coarse_only:
                return _drop_conflicting_linear(results)
        full = _zxing(gray, dx, dy, inverted, rotate=rotate and not halved)
        seen = {_data(r) for r in full}
        results = full + [r for r in results if _data(r) not in seen]
    if decoders == "zbar":
        results = _zbar(gray, dx, dy, linear_only=False)
    elif decoders == "both" and not (zbar_only_if_none and results):
        seen = {_data(r) for r in results}
        results += [r for r in _zbar(gray, dx, dy, linear_only=True) if _data(r) not in seen]
    return _drop_conflicting_linear(results)


def decode_image(path: str | os.PathLike[str], decoders: str = "both", thorough: bool = True) -> list[dict[str, Any]]:
    """Every barcode in an image file; ValueError with a plain message if it is not a readable image.

    A still picture is read once, so by default (`thorough`) it gets every pass
    of drivers.still_decoder (binarizers, upscaling, ZBar scan densities) rather
    than the single pass a camera frame gets.
    """
    import cv2

    name = os.fspath(path)
    if not os.path.exists(name):
        raise ValueError(f"{name}: no such file")
    if os.path.isdir(name):
        raise ValueError(f"{name}: is a directory, not an image")
    image = cv2.imread(name, cv2.IMREAD_GRAYSCALE)
    if image is None or image.size == 0:
        raise ValueError(f"{name}: not an image this decoder can read (PNG, JPEG, BMP, TIFF, WebP, …)")
    if thorough:
        from .still_decoder import decode_still

        return decode_still(image, decoders=decoders)
    return decode_frame(image, decoders=decoders)
