"""A QR code on cloth or a curved surface, read by sampling each module where it really is.

zxing-cpp samples a QR code through one perspective transform fitted to its
finder and alignment patterns. A code printed on a T-shirt bends between those
patterns, so modules away from them are sampled off-centre, Reed-Solomon gives
up and nothing is read (qrcode-4 in tests/data/images: 8 of 48 pictures).
zxing-cpp still says where the symbol is and which version it has
(`return_errors`), and that is where this module starts:

1. rectify the symbol's quadrilateral to a square of `MODULE_PX` pixels per module;
2. find the three finder patterns (and the alignment pattern) by template
   matching near where they should be, and refit the perspective to them;
3. move a coarse mesh of control points, each to the offset where the module
   centres around it are farthest from the local mean (a module centre is
   clearly dark or light, a module edge is grey), coarse to fine, with a small
   pull towards no offset so a control point does not jump a whole module;
4. sample every module through the mesh and give zxing-cpp the clean module
   matrix as a pure symbol.

Nothing here can invent a value: the sampled matrix goes through zxing-cpp's
own format, version and Reed-Solomon checks, and a read whose version is not
the one the grid was built for is dropped.
"""

from __future__ import annotations

from typing import Any

from .camera_decoder import corners

#: pixels per module in the rectified picture; the mesh moves in whole pixels, so this is its resolution
MODULE_PX = 8
#: modules of margin around the rectified symbol (zxing-cpp's corners may be a module off)
MARGIN = 3
#: the meshes tried in turn: (a control point every N modules, blur sigma in px, local-mean window in modules).
#: A coarse mesh follows the cloth but not single modules: on the 8 qrcode-4 pictures zxing-cpp misses, a
#: control point every 3 or 4 modules read 0 to 2 of them, every 6 to 8 modules 7 or 8 (7, 1, 9: all 8).
MESHES = ((7, 1.0, 9), (6, 1.0, 9), (8, 1.0, 5))
#: search radii, in pixels, of the successive refinement rounds
ROUNDS = (MODULE_PX // 2, MODULE_PX // 4, 2)
#: pull towards no offset, per squared pixel, against the contrast score
PULL = 0.5
#: the largest QR code version (177 modules a side)
MAX_VERSION = 40


def _finder(size: int):
    """A finder pattern (7 modules) in its ring of light modules, as the rectified picture shows it."""
    import cv2
    import numpy as np

    t = np.full((size, size), 255, np.uint8)
    t[1:size - 1, 1:size - 1] = 0
    t[2:size - 2, 2:size - 2] = 255
    t[3:size - 3, 3:size - 3] = 0
    return cv2.resize(t, (size * MODULE_PX, size * MODULE_PX), interpolation=cv2.INTER_NEAREST)


def _alignment():
    """An alignment pattern (5 modules) in its ring of light modules."""
    import cv2
    import numpy as np

    t = np.full((7, 7), 255, np.uint8)
    t[1:6, 1:6] = 0
    t[2:5, 2:5] = 255
    t[3, 3] = 0
    return cv2.resize(t, (7 * MODULE_PX, 7 * MODULE_PX), interpolation=cv2.INTER_NEAREST)


def _locate(picture: Any, template: Any, centre: tuple[float, float], radius: int) -> tuple[float, float]:
    """Where the template matches best within `radius` pixels of `centre`; `centre` if there is no room."""
    import cv2

    h, w = template.shape
    x0, y0 = int(centre[0] - w / 2 - radius), int(centre[1] - h / 2 - radius)
    if x0 < 0 or y0 < 0:
        return centre
    window = picture[y0:y0 + h + 2 * radius, x0:x0 + w + 2 * radius]
    if window.shape[0] < h + 2 * radius or window.shape[1] < w + 2 * radius:
        return centre
    _, _, _, best = cv2.minMaxLoc(cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED))
    return x0 + best[0] + w / 2, y0 + best[1] + h / 2


def _rectified(gray: Any, quad: list[tuple[float, float]], n: int):
    import cv2
    import numpy as np

    lo, hi = MARGIN * MODULE_PX, (MARGIN + n) * MODULE_PX
    side = (n + 2 * MARGIN) * MODULE_PX
    h = cv2.getPerspectiveTransform(np.float32(quad), np.float32([[lo, lo], [hi, lo], [hi, hi], [lo, hi]]))
    return cv2.warpPerspective(gray, h, (side, side), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def _pattern_fit(picture: Any, n: int):
    """The perspective from module space to the rectified picture, refitted to the function patterns."""
    import cv2
    import numpy as np

    def px(u: float) -> float:
        return (MARGIN + u) * MODULE_PX

    search = int(1.5 * MODULE_PX)
    finder = _finder(9)
    where = [(3.5, 3.5), (n - 3.5, 3.5), (3.5, n - 3.5)]
    found = [_locate(picture, finder, (px(u), px(v)), search) for u, v in where]
    if n > 21:  # versions 2 and up have an alignment pattern 6.5 modules in from the bottom-right corner
        where.append((n - 6.5, n - 6.5))
        found.append(_locate(picture, _alignment(), (px(n - 6.5), px(n - 6.5)), search))
    else:
        where.append((n, n))
        found.append((px(n), px(n)))
    src = np.float32([[px(u), px(v)] for u, v in where])
    return cv2.getPerspectiveTransform(src, np.float32(found))


def _module_matrix(picture: Any, n: int, step: int, sigma: float, window: int):
    """Dark modules (n x n booleans) sampled through a mesh fitted to the picture."""
    import cv2
    import numpy as np

    fit = _pattern_fit(picture, n)
    centres_u = np.arange(n) + 0.5
    mu, mv = np.meshgrid(centres_u, centres_u)
    grid = np.stack([(MARGIN + mu) * MODULE_PX, (MARGIN + mv) * MODULE_PX], -1).reshape(-1, 1, 2)
    base = cv2.perspectiveTransform(np.float32(grid), fit).reshape(n, n, 2)
    ctrl = np.unique(np.r_[np.arange(0, n, step), n - 1]).astype(float) + 0.5
    blurred = cv2.GaussianBlur(picture, (0, 0), sigma).astype(np.float32)
    mean = cv2.blur(blurred, (window * MODULE_PX, window * MODULE_PX))
    height, width = picture.shape

    def spread(d):  # control point offsets -> every module's offset, bilinear
        rows = np.array([np.interp(centres_u, ctrl, row) for row in d])
        return np.array([np.interp(centres_u, ctrl, col) for col in rows.T]).T

    def at(img, pts):
        x = np.clip(np.rint(pts[..., 0]).astype(int), 0, width - 1)
        y = np.clip(np.rint(pts[..., 1]).astype(int), 0, height - 1)
        return img[y, x]

    offsets = np.zeros((len(ctrl), len(ctrl), 2))
    for radius in ROUNDS:
        reach = np.arange(-radius, radius + 1)
        shifts = np.stack(np.meshgrid(reach, reach), -1).reshape(-1, 2)
        pull = PULL * (shifts ** 2).sum(1)
        points = base + np.stack([spread(offsets[..., 0]), spread(offsets[..., 1])], -1)
        moved = offsets.copy()
        for a, cv in enumerate(ctrl):
            for b, cu in enumerate(ctrl):
                near = (np.abs(mu - cu) <= step) & (np.abs(mv - cv) <= step)
                p = points[near]  # K x 2
                level = at(mean, p)
                candidates = p[None, :, :] + shifts[:, None, :]  # S x K x 2
                score = np.abs(at(blurred, candidates) - level[None, :]).sum(1) - pull
                moved[a, b] += shifts[int(np.argmax(score))]
        offsets = moved
    points = base + np.stack([spread(offsets[..., 0]), spread(offsets[..., 1])], -1)
    return at(blurred, points) < at(mean, points)


def _pure(dark: Any, quiet: int = 4, px: int = 4):
    """The module matrix drawn as a generated symbol with its quiet zone."""
    import cv2
    import numpy as np

    n = dark.shape[0]
    img = np.full((n + 2 * quiet, n + 2 * quiet), 255, np.uint8)
    img[quiet:quiet + n, quiet:quiet + n] = np.where(dark, 0, 255)
    return cv2.resize(img, None, fx=px, fy=px, interpolation=cv2.INTER_NEAREST)


def failed_symbols(gray: Any) -> list[tuple[int, list[tuple[float, float]]]]:
    """QR codes zxing-cpp found but could not decode: (modules per side, corners TL, TR, BR, BL)."""
    import zxingcpp

    out = []
    for bc in zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode, return_errors=True):
        version = bc.extra.get("Version", "") if isinstance(bc.extra, dict) else ""
        if bc.valid or bc.format != zxingcpp.BarcodeFormat.QRCode or not str(version).isdigit():
            continue
        if not 1 <= int(version) <= MAX_VERSION:
            continue
        out.append((17 + 4 * int(version), corners(bc.position)))
    return out


def read(gray: Any, n: int, quad: list[tuple[float, float]]):
    """The zxing-cpp barcode read from the resampled symbol, or None."""
    import zxingcpp

    picture = _rectified(gray, quad, n)
    for step, sigma, window in MESHES:
        symbol = _pure(_module_matrix(picture, n, step, sigma, window))
        for bc in zxingcpp.read_barcodes(symbol, formats=zxingcpp.BarcodeFormat.QRCode, is_pure=True,
                                         text_mode=zxingcpp.TextMode.Plain):
            # zxing-cpp hands back an empty, invalid result when a pure symbol does not decode
            if bc.valid and bc.text and str(bc.extra.get("Version", "")) == str((n - 17) // 4):
                return bc
    return None
