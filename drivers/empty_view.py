"""Whether a camera still shows what it showed when a full search of it found nothing (sans-I/O).

A camera over an empty packing table sees the same picture frame after frame,
and a full search of a frame with no code in view is the most expensive
search there is (every pass of zxing-cpp and ZBar, nothing to stop early on).
Where the view has not changed since such a search, the camera can skip it
on the frames between its full searches.

The view is compared as block means of a small copy: sensor noise averages
out over a block, while a label coming into view, a hand or a box darkens or
lightens the blocks it covers by far more than the threshold. A change of
focus or sharpness alone moves no block mean, so a code that comes into focus
without moving waits for the camera's next full search.
"""

from __future__ import annotations

from typing import Any

from .camera_decoder import half_size

#: the frame is halved (means of 2x2 pixels) until its shorter side is below this: blocks of
#: 16x16 pixels on 1280x720, where a code of 2-pixel modules coming into view moves a block
#: mean by 24 grey levels and sensor noise by 2 (halving is OpenCV's fast path: ~0.2 ms a frame)
SHORT_SIDE = 90
#: grey levels (0-255) a block's mean may move before the view counts as changed
THRESHOLD = 8


class EmptyView:
    def __init__(self, threshold: float = THRESHOLD, short_side: int = SHORT_SIDE):
        self.threshold = threshold
        self.short_side = short_side
        self._empty: Any = None  # block means of the last frame a full search found nothing in

    def blocks(self, gray: Any) -> Any:
        """Block means of a grey frame."""
        import numpy as np

        if gray.size == 0:
            return np.zeros(0, np.int16)
        small = gray
        while min(small.shape) >= self.short_side:
            small = half_size(small)
        return small.astype(np.int16)

    def unchanged(self, blocks: Any) -> bool:
        """True if `blocks` match those of the last frame searched in full in vain."""
        empty = self._empty
        if empty is None or empty.shape != blocks.shape or blocks.size == 0:
            return False
        import numpy as np

        return bool(np.abs(blocks - empty).max() <= self.threshold)

    def searched(self, blocks: Any, found: bool) -> None:
        """Record a full search of the frame with these `blocks`: what it found decides what comes next."""
        self._empty = None if found else blocks
