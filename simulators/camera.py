"""A camera looking at labels: frames, PNG folders or video files with rendered barcodes.

Barcodes are written by zxing-cpp (its writer is zint) and drawn on a noisy,
unevenly lit background, with the things that make real camera reads hard:
rotation, blur, motion blur, low contrast, sensor noise, and codes that come
into view, move, and leave. Point the camera driver at the output:

    tally simulate camera -o /tmp/dock.avi            # MJPG AVI, OpenCV reads it back
    tally simulate camera -o /tmp/frames/ --frames 30  # a folder of PNGs

Each run also writes OUTPUT.json: every label, its frames, and the exact text
the decoder should return (AIM identifier first, GS as FNC1).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from typing import Any
from collections.abc import Iterator

GS = "\x1d"

# symbology → (zxing-cpp format name, GS1 mode, AIM identifier the decoder reports)
SYMBOLOGIES: dict[str, tuple[str, bool, str]] = {
    "code128": ("Code128", False, "]C0"),
    "gs1-128": ("Code128", True, "]C1"),
    "ean-13": ("EAN13", False, "]E0"),
    "ean-8": ("EAN8", False, "]E4"),
    "qr": ("QRCode", False, "]Q1"),
    "gs1-qr": ("QRCode", True, "]Q3"),
    "datamatrix": ("DataMatrix", False, "]d1"),
    "gs1-datamatrix": ("DataMatrix", True, "]d2"),
    "pdf417": ("PDF417", False, "]L2"),
}

# GS1 General Specifications 7.8.5: AIs starting with these two digits have a
# predefined length, so no FNC1/GS follows them. Value = length incl. the AI.
_PREDEFINED_LENGTH = {"00": 20, "01": 16, "02": 16, "03": 16, "04": 18, "11": 8, "12": 8, "13": 8, "14": 8,
                      "15": 8, "16": 8, "17": 8, "18": 8, "19": 8, "20": 4, "31": 10, "32": 10, "33": 10,
                      "34": 10, "35": 10, "36": 10, "41": 16}


def gs1_element_string(hri: str) -> str:
    """'(01)09506000134352(10)ABC(21)1' → '010950600013435210ABC\\x1d211' (GS after variable-length AIs)."""
    parts = []
    rest = hri
    while rest:
        if not rest.startswith("("):
            raise ValueError(f"GS1 data must be written as (AI)value…, got {hri!r}")
        close = rest.index(")")
        ai = rest[1:close]
        nxt = rest.find("(", close)
        value = rest[close + 1:] if nxt < 0 else rest[close + 1:nxt]
        parts.append((ai, value))
        rest = "" if nxt < 0 else rest[nxt:]
    out = ""
    for i, (ai, value) in enumerate(parts):
        out += ai + value
        if i < len(parts) - 1 and ai[:2] not in _PREDEFINED_LENGTH:
            out += GS
    return out


@dataclass
class Label:
    """One barcode in the scene. GS1 symbologies take data as '(01)…(10)…'."""

    symbology: str
    data: str
    x: float = 0.5          # centre, as a fraction of the frame
    y: float = 0.5
    module: int = 4         # pixels per module (bar width / matrix cell)
    angle: float = 0.0      # degrees, counter-clockwise
    blur: float = 0.0       # Gaussian sigma in pixels
    motion: float = 0.0     # motion-blur length in pixels (horizontal)
    contrast: float = 1.0   # 1 = black on white; 0.2 = dark grey on light grey
    appear: int = 0         # first frame it is visible in
    leave: int | None = None  # first frame it is gone again (None: stays)
    velocity: tuple[float, float] = (0.0, 0.0)  # fraction of the frame per frame

    def expected_text(self) -> str:
        fmt, gs1, aim = SYMBOLOGIES[self.symbology]
        data = gs1_element_string(self.data) if gs1 else self.data
        return aim + data

    def visible(self, frame: int) -> bool:
        return frame >= self.appear and (self.leave is None or frame < self.leave)


def render_symbol(symbology: str, data: str, module: int = 4):
    """The barcode alone, black on white with its quiet zone, as a uint8 array."""
    import numpy as np
    import zxingcpp

    if symbology not in SYMBOLOGIES:
        raise ValueError(f"unknown symbology {symbology!r} (known: {', '.join(SYMBOLOGIES)})")
    fmt, gs1, _ = SYMBOLOGIES[symbology]
    kwargs = {"gs1": True} if gs1 else {}
    barcode = zxingcpp.create_barcode(data, getattr(zxingcpp.BarcodeFormat, fmt), **kwargs)
    image = np.array(barcode.to_image(scale=max(1, int(module))), dtype=np.uint8)
    if symbology in ("ean-13", "ean-8", "code128", "gs1-128", "pdf417"):
        image = np.pad(image, ((module * 4, module * 4), (0, 0)), constant_values=255)
    return image


def background(width: int, height: int, rng: Any):
    """A grey, unevenly lit, textured surface (cardboard-ish)."""
    import cv2
    import numpy as np

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 150 + 50 * np.sin(xx / width * math.pi * rng.uniform(0.5, 1.5) + rng.uniform(0, 3)) \
        * np.cos(yy / height * math.pi * rng.uniform(0.5, 1.2))
    texture = cv2.GaussianBlur(rng.normal(0, 25, (height, width)).astype(np.float32), (0, 0), 3)
    return np.clip(light + texture, 0, 255).astype(np.uint8)


def _place(frame: Any, label: Label, centre: tuple[float, float]) -> None:
    import cv2
    import numpy as np

    sym = render_symbol(label.symbology, label.data, label.module).astype(np.float32)
    lo = 255 * (1 - label.contrast) * 0.55
    hi = 255 - 255 * (1 - label.contrast) * 0.25
    patch = lo + (sym / 255.0) * (hi - lo)
    h, w = patch.shape
    cx, cy = centre
    m = cv2.getRotationMatrix2D((w / 2, h / 2), label.angle, 1.0)
    m[0, 2] += cx - w / 2
    m[1, 2] += cy - h / 2
    size = (frame.shape[1], frame.shape[0])
    warped = cv2.warpAffine(patch, m, size, flags=cv2.INTER_LINEAR, borderValue=0)
    mask = cv2.warpAffine(np.ones_like(patch), m, size, flags=cv2.INTER_LINEAR, borderValue=0)
    if label.blur > 0 or label.motion > 0:
        if label.blur > 0:
            warped = cv2.GaussianBlur(warped, (0, 0), label.blur)
            mask = cv2.GaussianBlur(mask, (0, 0), label.blur)
        if label.motion > 0:
            n = max(2, int(label.motion))
            kernel = np.full((1, n), 1.0 / n, np.float32)
            warped = cv2.filter2D(warped, -1, kernel)
            mask = cv2.filter2D(mask, -1, kernel)
        warped = np.where(mask > 1e-3, warped / np.maximum(mask, 1e-3), 0)
    frame[:] = np.clip(frame * (1 - mask) + warped * mask, 0, 255).astype(np.uint8)


@dataclass
class Scene:
    labels: list[Label]
    width: int = 1280
    height: int = 720
    noise: float = 4.0   # sensor noise sigma
    seed: int = 1

    def frame(self, index: int):
        """Frame `index` as a grayscale uint8 array."""
        import numpy as np

        rng = np.random.default_rng(self.seed + index)
        frame = background(self.width, self.height, np.random.default_rng(self.seed))
        for label in self.labels:
            if label.visible(index):
                age = index - label.appear
                cx = (label.x + label.velocity[0] * age) * self.width
                cy = (label.y + label.velocity[1] * age) * self.height
                _place(frame, label, (cx, cy))
        if self.noise > 0:
            frame = np.clip(frame + rng.normal(0, self.noise, frame.shape), 0, 255).astype(np.uint8)
        return frame

    def frames(self, count: int) -> Iterator[Any]:
        for i in range(count):
            yield self.frame(i)

    def manifest(self, frames: int) -> list[dict[str, Any]]:
        return [{**asdict(lb), "expected_text": lb.expected_text(),
                 "frames": [lb.appear, frames if lb.leave is None else min(lb.leave, frames)]}
                for lb in self.labels]


def demo_scene(width: int = 1280, height: int = 720, seed: int = 1) -> Scene:
    """Codes coming and going, one of each kind, some rotated, blurred or faint."""
    return Scene([
        Label("gs1-128", "(01)09506000134352(10)LOT42(21)S1", x=0.33, y=0.18, module=2, appear=0, leave=12),
        Label("ean-13", "4006381333931", x=0.78, y=0.22, module=3, angle=8, appear=4, leave=20),
        Label("gs1-datamatrix", "(01)09506000134352(17)270131(10)ABC-1", x=0.22, y=0.72, module=6, angle=30,
              blur=1.0, appear=8, leave=28),
        Label("qr", "https://id.example.com/01/09506000134352/21/X1", x=0.75, y=0.72, module=5, angle=-15,
              contrast=0.5, appear=14, leave=30, velocity=(-0.004, 0.0)),
        Label("pdf417", "SHIP TO: DOCK 4 / PO 12345", x=0.5, y=0.45, module=3, contrast=0.6, appear=22,
              leave=36),
        Label("gs1-128", "(01)09506000134352(10)LOT42(21)S1", x=0.33, y=0.18, module=2, appear=30),
    ], width=width, height=height, seed=seed)


def write_video(scene: Scene, path: str, frames: int, fps: float = 15.0) -> str:
    """Render `frames` frames into an MJPG AVI (readable by OpenCV without extra codecs)."""
    import cv2

    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), fps, (scene.width, scene.height), True)
    if not writer.isOpened():
        raise OSError(f"cannot write video {path}")
    try:
        for frame in scene.frames(frames):
            writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    finally:
        writer.release()
    return path


def write_pngs(scene: Scene, folder: str, frames: int) -> str:
    import cv2

    os.makedirs(folder, exist_ok=True)
    for i, frame in enumerate(scene.frames(frames)):
        cv2.imwrite(os.path.join(folder, f"frame_{i:05d}.png"), frame)
    return folder


def write_output(scene: Scene, output: str, frames: int, fps: float = 15.0) -> str:
    """A video file (by extension) or a PNG folder (trailing slash or no extension), plus OUTPUT.json."""
    is_folder = output.endswith(os.sep) or not os.path.splitext(output)[1]
    target = write_pngs(scene, output, frames) if is_folder else write_video(scene, output, frames, fps)
    with open(target.rstrip(os.sep) + ".json", "w", encoding="utf-8") as f:
        json.dump({"frames": frames, "fps": fps, "width": scene.width, "height": scene.height,
                   "labels": scene.manifest(frames)}, f, indent=1)
    return target


class VideoFileCamera:
    """A rendered video in a temporary folder for tests: `with VideoFileCamera(scene, 40) as cam: cam.path`."""

    def __init__(self, scene: Scene | None = None, frames: int = 40, fps: float = 15.0, pngs: bool = False):
        self.scene = scene or demo_scene()
        self.frames, self.fps, self.pngs = frames, fps, pngs
        self._dir: str | None = None
        self.path = ""

    def start(self) -> VideoFileCamera:
        self._dir = tempfile.mkdtemp(prefix="tally-camera-")
        out = os.path.join(self._dir, "frames" + os.sep if self.pngs else "camera.avi")
        self.path = write_output(self.scene, out, self.frames, self.fps)
        return self

    def stop(self) -> None:
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> VideoFileCamera:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _parse_label(spec: str) -> Label:
    """'SYMBOLOGY:DATA[;key=value…]', e.g. 'gs1-datamatrix:(01)09506000134352(10)A;angle=30;blur=1'."""
    head, _, opts = spec.partition(";")
    symbology, sep, data = head.partition(":")
    if not sep or symbology not in SYMBOLOGIES:
        raise ValueError(f"label must be SYMBOLOGY:DATA with SYMBOLOGY one of {', '.join(SYMBOLOGIES)}")
    label = Label(symbology, data)
    for item in filter(None, opts.split(";")):
        key, _, value = item.partition("=")
        if key not in ("x", "y", "module", "angle", "blur", "motion", "contrast", "appear", "leave"):
            raise ValueError(f"unknown label option {key!r}")
        setattr(label, key, int(value) if key in ("module", "appear", "leave") else float(value))
    return label


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True,
                        help="video file (.avi, MJPG) or folder for PNG frames (trailing /)")
    parser.add_argument("--frames", type=int, default=45)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--label", action="append", default=[], metavar="SYMBOLOGY:DATA[;opt=v…]",
                        help="a label to show instead of the demo scene (repeatable); options: "
                             "x, y, module, angle, blur, motion, contrast, appear, leave")


def run(args: argparse.Namespace) -> int:
    try:
        if args.label:
            scene = Scene([_parse_label(s) for s in args.label], args.width, args.height, seed=args.seed)
        else:
            scene = demo_scene(args.width, args.height, args.seed)
        target = write_output(scene, args.output, args.frames, args.fps)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.frames} frames to {target} (labels in {target.rstrip(os.sep)}.json)", file=sys.stderr)
    return 0
