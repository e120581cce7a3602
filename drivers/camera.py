"""Cameras (USB/CSI through V4L2, IP streams, or a video file / PNG folder for testing) reading barcodes.

OpenCV captures frames (blocking: the device runner gives each driver its own
thread; a network stream's frames are captured in one more, drivers.frame_grabber,
so they cannot queue up), drivers.camera_decoder finds the codes (FrameSearch
decides how hard to look in each frame), and a `RepeatFilter` turns
"the same label in 40 consecutive frames" into one read: a code is read again
only after it has left the view.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from typing import Any
from collections.abc import Mapping

from .base import DeviceGone, DeviceUnavailable, Driver, Option, Read, in_range, one_of

log = logging.getLogger(__name__)

#: Every FULL_SEARCH_EVERY-th decoded frame gets the full search: zxing-cpp on
#: the whole frame at full size, and for codes turned by 90° on a half-size copy
#: (drivers.camera_decoder.decode_frame), and with decoders = "both" (the
#: default) ZBar beside whatever zxing-cpp read. The frames between are first
#: read by zxing-cpp at half size (about a tenth of a full-size read on
#: 1280x720), which is the answer when it reads anything; only an empty
#: half-size read leads to the full-size row scan and then, if that too reads
#: nothing, ZBar (it scans columns too) - unless the view is still the empty one
#: a search found nothing in (drivers.empty_view). A code only the full search
#: reads (one too small for the half-size copy beside one it reads, a PDF417
#: turned 90°, a linear code only ZBar reads beside a code zxing-cpp reads) is
#: still seen twice (confirm_frames) within one appearance (absent_frames and
#: repeat_ms), a few frames later. benchmarks/camera_fps.py measures frames per
#: second and read rate.
FULL_SEARCH_EVERY = 4


def frame_pass(decoded: int, decoders: str) -> dict[str, bool]:
    """decode_frame's keywords for the camera's `decoded`-th decoded frame (0 first)."""
    if decoders == "zbar" or decoded % FULL_SEARCH_EVERY == 0:
        return {"coarse_first": False, "zbar_only_if_none": False, "rotate": True}
    # Only next to ZBar, which scans columns too, may zxing-cpp skip its 90° search.
    return {"coarse_first": True, "zbar_only_if_none": True, "rotate": decoders != "both"}


class FrameSearch:
    """How the camera reads the frames it decodes, one after the other (benchmarks/camera_fps.py runs it too).

    Each frame gets its frame_pass; on the frames between full searches, a view that is still the
    empty one a search found nothing in (drivers.empty_view) gets only the half-size read.
    """

    def __init__(self, decoders: str = "both", inverted: bool = False, roi: list[int] | None = None):
        from .empty_view import EmptyView

        self.decoders = decoders
        self.inverted = inverted
        self.roi = roi
        self.view = EmptyView()
        #: frames searched, and of those read at half size only because the view was unchanged
        self.decoded = 0
        self.unchanged = 0

    def __call__(self, frame: Any) -> list[dict[str, Any]]:
        """The codes in `frame` (grey or BGR); ValueError for a frame that is not a picture."""
        from .camera_decoder import _gray, decode_frame

        gray = _gray(frame)  # once, for the view and every decoder
        how = frame_pass(self.decoded, self.decoders)
        self.decoded += 1
        blocks = self.view.blocks(gray)
        unchanged = how["coarse_first"] and self.view.unchanged(blocks)
        codes = decode_frame(gray, roi=self.roi, decoders=self.decoders, inverted=self.inverted,
                             coarse_only=unchanged, **how)
        if unchanged:
            self.unchanged += 1
        else:
            self.view.searched(blocks, found=bool(codes))
        return codes


_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _check_roi(value: Any) -> str | None:
    if value == []:
        return None
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)):
        return "must be [x, y, width, height] in pixels (non-negative integers), or [] for the whole frame"
    if value[2] == 0 or value[3] == 0:
        return "width and height must be positive"
    return None


def _check_device(value: Any) -> str | None:
    if isinstance(value, bool):
        return "must be a camera index (0, 1, …), a device path, a video file, a folder of images or a URL"
    if isinstance(value, int) and value < 0:
        return "camera index must be 0 or more"
    return None


class RepeatFilter:
    """One read per appearance of a code in view (sans-I/O: feed each processed frame).

    A code counts once it has been decoded in `confirm` frames of one
    appearance (linear codes' check characters are weak; one stray misread
    never shows up twice), and is not counted again until it has been gone
    for `repeat` seconds *and* `absent_frames` frames. Both, because decoders
    miss a code in the odd blurred frame: time alone would re-read at high
    frame rates, frames alone at low ones.
    """

    def __init__(self, repeat: float = 1.0, absent_frames: int = 3):
        self.repeat = repeat
        self.absent_frames = absent_frames
        # text → [last time seen, last frame seen, frames seen, counted]
        self._seen: dict[str, list] = {}
        self._frame = 0
        self.suppressed = 0

    def frame(self, codes: list[tuple[str, int]], now: float) -> list[str]:
        """`codes`: (text, frames needed to confirm) found in this frame. Returns the texts that count now."""
        self._frame += 1
        counted = []
        for text, confirm in dict(codes).items():
            s = self._seen.get(text)
            if s is None or self._gone(s, now):
                s = self._seen[text] = [now, self._frame, 0, False]
            s[0], s[1], s[2] = now, self._frame, s[2] + 1
            if s[3]:
                self.suppressed += 1
            elif s[2] >= max(1, confirm):
                s[3] = True
                counted.append(text)
        for text, s in list(self._seen.items()):
            if self._gone(s, now):
                del self._seen[text]
        return counted

    def _gone(self, s: list, now: float) -> bool:
        return now - s[0] > self.repeat and self._frame - s[1] > self.absent_frames


class _FolderCapture:
    """cv2.VideoCapture's read()/release() over a sorted folder of images."""

    def __init__(self, folder: str):
        import cv2

        self._cv2 = cv2
        self.files = sorted(f for f in glob.glob(os.path.join(folder, "*")) if f.lower().endswith(_IMAGE_EXTS))
        self.index = 0

    def isOpened(self) -> bool:  # noqa: N802 - cv2's name
        return bool(self.files)

    def read(self) -> tuple[bool, Any]:
        while self.index < len(self.files):
            frame = self._cv2.imread(self.files[self.index], self._cv2.IMREAD_GRAYSCALE)
            self.index += 1
            if frame is not None:
                return True, frame
        return False, None

    def get(self, prop: int) -> float:
        return 0.0

    def release(self) -> None:
        self.files = []


class Camera(Driver):
    name = "camera"
    content = "barcode"
    options: Mapping[str, Option] = {
        "device": Option((int, str), 0, _check_device,
                         "camera index, /dev/videoN, video file, folder of images, or stream URL"),
        "fps": Option((int, float), 10, in_range(0.1, 120), "decode at most this many frames per second"),
        "width": Option(int, 0, in_range(0, 10_000), "capture width (0: the camera's default)"),
        "height": Option(int, 0, in_range(0, 10_000), "capture height (0: the camera's default)"),
        "roi": Option(list, [], _check_roi, "[x, y, width, height] to search, [] for the whole frame"),
        "repeat_ms": Option((int, float), 1000, in_range(0, 600_000),
                            "a code must be out of view this long before it is read again"),
        "absent_frames": Option(int, 3, in_range(0, 10_000),
                                "… and missing from this many processed frames"),
        "confirm_frames": Option(int, 2, in_range(1, 100),
                                 "a linear code counts once read in this many frames (2-D codes at once)"),
        "decoders": Option(str, "both", one_of("zxing", "zbar", "both"),
                           "zxing (zxing-cpp), zbar, or both (zxing-cpp, plus ZBar for linear codes on frames "
                           f"where zxing-cpp read nothing and on every {FULL_SEARCH_EVERY}th frame)"),
        "inverted": Option(bool, False, doc="also look for light-on-dark codes (about a third slower per frame)"),
    }

    #: capture a network stream's frames in a thread of their own (drivers.frame_grabber); False: in read(),
    #: as a V4L2 camera's are (benchmarks/camera_fps.py --part live compares the two)
    capture_thread = True

    def __init__(self, device: str, settings: Mapping[str, Any]):
        super().__init__(device, settings)
        source = self.settings["device"]
        self.source: int | str = int(source) if isinstance(source, str) and source.isdigit() else source
        self._cap: Any = None
        self._grabber: Any = None
        self._live = True
        self._ended = False
        self._last_decode: float | None = None
        self._frames = 0
        self._fps_cache: float | None = None
        self.filter = RepeatFilter(float(self.settings["repeat_ms"]) / 1000.0, int(self.settings["absent_frames"]))
        self.decoders = self.settings["decoders"]
        self._search: FrameSearch | None = None

    def describe(self) -> str:
        src = self.source
        if isinstance(src, str) and "://" in src:
            src = src.split("://", 1)[0] + "://…"  # stream URLs may carry credentials
        return f"camera {src}"

    def open(self) -> None:
        try:
            import cv2
        except ImportError as exc:
            raise DeviceUnavailable(f"OpenCV (cv2) is not installed: {exc}") from exc
        from . import camera_decoder

        if self.decoders != "zxing" and not camera_decoder.zbar_available():
            self.decoders = "zxing"
        src = self.source
        if isinstance(src, int):
            cap = cv2.VideoCapture(src)
            self._live = True
        elif "://" in src:
            cap = cv2.VideoCapture(src)
            self._live = True
        elif os.path.isdir(src):
            cap = _FolderCapture(src)
            self._live = False
        elif os.path.exists(src):
            cap = cv2.VideoCapture(src)
            self._live = src.startswith("/dev/")
        else:
            raise DeviceUnavailable(f"{src}: no such camera, file or folder")
        if not cap.isOpened():
            cap.release()
            raise DeviceUnavailable(f"cannot open camera {self.describe().split(' ', 1)[1]}")
        if self._live:
            if self.settings["width"]:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.settings["width"])
            if self.settings["height"]:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.settings["height"])
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # fresh frames, not a queue of old ones
        self._cap = cap
        self._ended = False
        self._last_decode = None
        self._search = FrameSearch(self.decoders, self.settings["inverted"], self.settings["roi"] or None)
        if self.capture_thread and isinstance(src, str) and "://" in src:
            from .frame_grabber import FrameGrabber

            self._grabber = FrameGrabber(cap, self.device).start()
        log.info("opened %s", self.describe())

    @property
    def stats(self) -> dict[str, int]:
        """Frames decoded, captured, dropped because decoding was behind (network streams), and read at
        half size only because the view was still the empty one a full search had found nothing in."""
        g, search = self._grabber, self._search
        return {"frames_decoded": search.decoded if search else 0,
                "frames_captured": g.captured if g else self._frames, "frames_dropped": g.dropped if g else 0,
                "frames_unchanged": search.unchanged if search else 0}

    def _frame_time(self) -> float:
        if self._live:
            return time.monotonic()
        # Files run on their own timeline so repeat_ms and fps mean the same
        # as they would live, however fast we decode them.
        return self._frames / self._file_fps()

    def _file_fps(self) -> float:
        if self._fps_cache is None:
            try:
                import cv2

                fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
            except Exception:  # noqa: BLE001 - a folder or odd container: fall back
                fps = 0.0
            self._fps_cache = fps if 0 < fps < 1000 else float(self.settings["fps"])
        return self._fps_cache

    def read(self, timeout: float) -> list[Read]:
        if self._cap is None:
            raise DeviceGone("camera is not open")
        from .camera_decoder import LINEAR

        deadline = time.monotonic() + max(0.0, timeout)
        interval = 1.0 / float(self.settings["fps"])
        while True:
            if self._ended:
                time.sleep(max(0.0, deadline - time.monotonic()))
                return []
            if self._grabber is not None:
                taken = self._grabber.take(deadline - time.monotonic())
                if taken is None:
                    return []
                ok, frame, error, index = taken
                self._frames = index  # the frame's number in the stream; counted on below as files are
                if error is not None:
                    raise DeviceGone(f"{self.describe()}: frame capture failed: {error}") from error
            else:
                try:
                    ok, frame = self._cap.read()
                except Exception as exc:  # noqa: BLE001 - OpenCV raises cv2.error on backend failures
                    raise DeviceGone(f"{self.describe()}: frame capture failed: {exc}") from exc
            if not ok or frame is None:
                if self._live:
                    raise DeviceGone(f"{self.describe()}: no frame (camera unplugged or stream lost)")
                self._ended = True
                log.info("%s: end of file after %d frames", self.describe(), self._frames)
                continue
            now = self._frame_time()
            self._frames += 1
            if self._last_decode is not None and now - self._last_decode < interval * 0.999:
                if time.monotonic() >= deadline:
                    return []
                continue  # over the frame-rate cap: drop the frame, keep the capture fresh
            self._last_decode = now
            try:
                codes = self._search(frame)
            except ValueError as exc:
                raise DeviceGone(f"{self.describe()}: unusable frame: {exc}") from exc
            confirm = int(self.settings["confirm_frames"])
            new = set(self.filter.frame(
                [(c["text"], confirm if c["symbology"] in LINEAR else 1) for c in codes], now))
            reads = []
            for c in codes:
                if c["text"] in new:
                    new.discard(c["text"])
                    reads.append(self.make_read(c["text"], symbology=c["symbology"], position=c["position"],
                                                decoder=c["decoder"], frame=self._frames - 1))
            if reads or time.monotonic() >= deadline:
                return reads

    def close(self) -> None:
        cap, self._cap = self._cap, None
        grabber, self._grabber = self._grabber, None
        if grabber is not None:
            grabber.stop()  # it releases the capture
        elif cap is not None:
            try:
                cap.release()
            except Exception:  # noqa: BLE001 - releasing a vanished device
                pass
