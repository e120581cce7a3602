"""A network camera's frames, captured in a thread of their own; only the newest waits to be decoded.

An IP camera sends frames at its own rate whether or not they are read: read
one after the other with decoding, they queue in the socket and in FFmpeg
whenever decoding is slower than the camera, and every read comes later after
the label was in view. Captured in a thread of their own (OpenCV's capture,
zxing-cpp and ZBar all run without the GIL), decoding takes the newest frame;
one that arrives before the last was taken replaces it and is counted as
dropped. The price is decoding the stream's every frame (MJPEG 1280x720: about
5 ms of CPU), dropped ones too. A V4L2 camera needs none of this: with one
driver buffer the kernel drops what is not read, and the next read is fresh.

The grabber owns the capture from start() on and releases it itself: OpenCV
must not release a capture another thread is reading, and a network stream's
read can block for seconds.
"""

from __future__ import annotations

import threading
from typing import Any


class FrameGrabber:
    def __init__(self, cap: Any, name: str = "camera"):
        self._cap = cap
        self._cond = threading.Condition()
        self._pending: tuple[bool, Any, BaseException | None, int] | None = None
        self._stopping = False
        #: frames the capture delivered, and those replaced before decoding took them
        self.captured = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=f"grab {name}", daemon=True)

    def start(self) -> FrameGrabber:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while True:
                error = None
                try:
                    ok, frame = self._cap.read()
                except Exception as exc:  # noqa: BLE001 - OpenCV raises cv2.error on backend failures
                    ok, frame, error = False, None, exc
                ok = bool(ok) and frame is not None
                with self._cond:
                    if self._stopping:
                        return
                    self.captured += ok
                    # The end of the stream replaces an undecoded frame too: the camera is gone either way.
                    self.dropped += self._pending is not None
                    self._pending = (ok, frame, error, self.captured - 1)
                    self._cond.notify_all()
                if not ok:
                    return
        finally:
            try:
                self._cap.release()
            except Exception:  # noqa: BLE001 - releasing a vanished device
                pass

    def take(self, timeout: float) -> tuple[bool, Any, BaseException | None, int] | None:
        """(ok, frame, capture error, frame number from 0) of the newest frame not yet taken, or None
        when none came within `timeout` seconds."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending is not None, max(0.0, timeout))
            item, self._pending = self._pending, None
            return item

    def stop(self, wait: float = 1.0) -> None:
        """Stop capturing; the capture is released once its current read returns (waited for up to `wait` s)."""
        with self._cond:
            self._stopping = True
            self._pending = None
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(wait)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()
