"""camera driver: repeat suppression, confirmation, and reading rendered video files end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from drivers import DeviceGone, DeviceUnavailable
from drivers.camera import Camera, RepeatFilter
from simulators.camera import Label, Scene, VideoFileCamera, demo_scene, write_output


def drain(drv: Camera) -> list:
    reads = []
    for _ in range(1000):
        if drv._ended:
            break
        reads += drv.read(0.5)
    return reads


def read_scene(tmp_path, scene: Scene, frames: int, **settings) -> tuple[list, dict[str, int]]:
    """The reads and counters of a camera driver playing `frames` rendered frames of `scene` to their end."""
    folder = write_output(scene, str(tmp_path / "frames") + "/", frames=frames)
    drv = Camera("cam", {"device": folder, **settings})
    drv.open()
    try:
        return drain(drv), drv.stats
    finally:
        drv.close()


def test_driver_module_imports_no_opencv_or_decoders():
    code = "import sys, drivers.camera; print(sorted(m for m in ('cv2', 'zxingcpp', 'pyzbar') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_option_defaults_pass_their_checks_and_bad_roi_is_named():
    for key, opt in Camera.options.items():
        if opt.check:
            assert opt.check(opt.default) is None, key
    check = Camera.options["roi"].check
    assert check([0, 0, 640, 360]) is None
    assert "x, y, width, height" in check([0, 0, 640])
    assert "positive" in check([0, 0, 0, 10])
    assert Camera.options["decoders"].check("zbar") is None and Camera.options["decoders"].check("x")
    assert Camera.options["device"].check(True) and Camera.options["device"].check(-1)


# --- repeat suppression (sans-I/O) --------------------------------------------------------

def test_same_code_in_consecutive_frames_is_one_read():
    f = RepeatFilter(repeat=1.0, absent_frames=3)
    got = [f.frame([("A", 1)], t / 10) for t in range(30)]
    assert got[0] == ["A"] and all(g == [] for g in got[1:])
    assert f.suppressed == 29


def test_code_is_read_again_only_after_leaving_for_repeat_time_and_frames():
    f = RepeatFilter(repeat=1.0, absent_frames=3)
    assert f.frame([("A", 1)], 0.0) == ["A"]
    for i in range(1, 5):  # gone 0.4 s: 4 frames but not long enough
        f.frame([], i / 10)
    assert f.frame([("A", 1)], 0.5) == []
    for i in range(6, 18):  # gone 1.2 s and 12 frames
        f.frame([], i / 10)
    assert f.frame([("A", 1)], 1.8) == ["A"]


def test_long_absence_in_few_frames_is_not_leaving():
    f = RepeatFilter(repeat=1.0, absent_frames=3)
    f.frame([("A", 1)], 0.0)
    f.frame([], 5.0)  # a slow camera: one empty frame, though 5 s passed
    assert f.frame([("A", 1)], 10.0) == []


def test_linear_codes_need_confirmation_and_a_single_misread_never_counts():
    f = RepeatFilter(repeat=1.0, absent_frames=3)
    assert f.frame([("]C1GOOD", 2), ("]C1BAD", 2)], 0.0) == []
    assert f.frame([("]C1GOOD", 2), ("]Q1QR", 1)], 0.1) == ["]C1GOOD", "]Q1QR"]
    for i in range(2, 40):
        assert f.frame([("]C1GOOD", 2)], i / 10) == []


def test_two_codes_and_duplicates_in_one_frame():
    f = RepeatFilter()
    assert f.frame([("A", 1), ("B", 1), ("A", 1)], 0.0) == ["A", "B"]


# --- the driver on rendered video ---------------------------------------------------------

@pytest.fixture(scope="module")
def demo_video():
    with VideoFileCamera(demo_scene(), frames=40, fps=15) as cam:
        yield cam


def test_camera_reads_a_generated_video_end_to_end(demo_video):
    manifest = json.load(open(demo_video.path + ".json"))
    drv = Camera("dock-cam", {"device": demo_video.path, "fps": 15})
    drv.open()
    try:
        reads = drain(drv)
    finally:
        drv.close()
    # every label once per appearance, in the order they came into view
    want = [(lb["expected_text"], lb["frames"][0]) for lb in sorted(manifest["labels"], key=lambda lb: lb["appear"])]
    assert [r.payload for r in reads] == [text for text, _ in want]
    for r, (_, appear) in zip(reads, want, strict=True):
        assert appear <= r.meta["frame"] <= appear + 2  # linear codes confirmed on their 2nd frame
    assert {r.meta["symbology"] for r in reads} == {"gs1-128", "ean-13", "gs1-datamatrix", "qr", "pdf417"}
    assert all(r.content == "barcode" and r.driver == "camera" and r.device == "dock-cam" for r in reads)


def test_fps_cap_decodes_fewer_frames_on_the_files_own_timeline(demo_video):
    drv = Camera("cam", {"device": demo_video.path, "fps": 5, "decoders": "zxing"})
    drv.open()
    try:
        reads = drain(drv)
    finally:
        drv.close()
    assert reads and all(r.meta["frame"] % 3 == 0 for r in reads)


def test_roi_restricts_the_driver_to_part_of_the_view(tmp_path):
    scene = Scene([Label("qr", "LEFT", x=0.25, module=5), Label("datamatrix", "RIGHT", x=0.75, module=6)], 640, 480)
    folder = write_output(scene, str(tmp_path / "frames") + "/", frames=3)
    drv = Camera("cam", {"device": folder, "roi": [320, 0, 320, 480]})
    drv.open()
    try:
        assert [r.payload for r in drain(drv)] == ["]d1RIGHT"]
    finally:
        drv.close()


def test_png_folder_and_end_of_file_idles(tmp_path):
    scene = Scene([Label("ean-13", "4006381333931", module=3)], 640, 480)
    folder = write_output(scene, str(tmp_path / "frames") + "/", frames=4)
    (tmp_path / "frames" / "notes.txt").write_text("not a frame")
    drv = Camera("cam", {"device": folder, "decoders": "zxing"})
    drv.open()
    try:
        assert [r.payload for r in drain(drv)] == ["]E04006381333931"]
        assert drv.read(0.01) == []  # the stream ended: idle, not gone
    finally:
        drv.close()


def test_missing_source_and_unopenable_file_are_unavailable(tmp_path):
    with pytest.raises(DeviceUnavailable, match="no such camera"):
        Camera("cam", {"device": str(tmp_path / "nothing.avi")}).open()
    junk = tmp_path / "junk.avi"
    junk.write_text("this is not a video")
    with pytest.raises(DeviceUnavailable, match="cannot open"):
        Camera("cam", {"device": str(junk)}).open()
    (tmp_path / "empty-folder").mkdir()
    with pytest.raises(DeviceUnavailable, match="cannot open"):
        Camera("cam", {"device": str(tmp_path / "empty-folder")}).open()


def test_live_camera_that_stops_delivering_frames_is_gone(demo_video):
    # No camera on this machine: a short video stands in, read as if it were live.
    drv = Camera("cam", {"device": demo_video.path, "fps": 120, "decoders": "zxing"})
    drv.open()
    drv._live = True
    try:
        with pytest.raises(DeviceGone, match="no frame"):
            for _ in range(200):
                drv.read(0.05)
    finally:
        drv.close()


def test_read_on_a_closed_camera_is_gone():
    with pytest.raises(DeviceGone):
        Camera("cam", {}).read(0.01)


def test_describe_hides_stream_credentials():
    assert Camera("cam", {"device": "rtsp://user:secret@10.0.0.5/stream"}).describe() == "camera rtsp://…"
    assert Camera("cam", {"device": "2"}).source == 2


def test_zbar_runs_beside_zxing_reads_on_its_cadence_so_a_code_only_zbar_reads_still_counts(tmp_path):
    from drivers import camera_decoder
    from drivers.camera import FULL_SEARCH_EVERY

    if not camera_decoder.zbar_available():
        pytest.skip("libzbar0 is not installed")
    # zxing-cpp reads the QR in every frame; only ZBar reads the 45° EAN-13 (tests/test_camera_decoder.py).
    scene = Scene([Label("qr", "HERE", x=0.2, module=5),
                   Label("ean-13", "4006381333931", x=0.65, module=3, angle=45, appear=1)], 1280, 720, seed=1)
    reads, _ = read_scene(tmp_path, scene, 2 * FULL_SEARCH_EVERY + 1, fps=30)
    frames = {r.payload: r.meta["frame"] for r in reads}
    # confirm_frames = 2: the EAN-13 is seen by ZBar on frames FULL_SEARCH_EVERY and 2 * FULL_SEARCH_EVERY
    assert frames == {"]Q1HERE": 0, "]E04006381333931": 2 * FULL_SEARCH_EVERY}


def test_with_zxing_alone_every_frame_gets_the_90_degree_search(tmp_path):
    scene = Scene([Label("code128", "TURNED", module=3, angle=90, appear=1)], 640, 480, seed=2)
    reads, _ = read_scene(tmp_path, scene, 3, decoders="zxing")
    # seen on frames 1 and 2 (confirm_frames = 2), though neither is a ZBar cadence frame
    assert [(r.payload, r.meta["frame"]) for r in reads] == [("]C0TURNED", 2)]


def test_frame_pass_searches_in_full_on_a_cadence_and_at_half_size_between():
    from drivers.camera import FULL_SEARCH_EVERY, frame_pass

    full = {"coarse_first": False, "zbar_only_if_none": False, "rotate": True}
    both = [frame_pass(i, "both") for i in range(2 * FULL_SEARCH_EVERY)]
    assert [i for i, p in enumerate(both) if p == full] == [0, FULL_SEARCH_EVERY]
    assert both[1] == {"coarse_first": True, "zbar_only_if_none": True, "rotate": False}
    # Without ZBar to scan columns, zxing-cpp keeps its 90° search on every frame.
    assert frame_pass(1, "zxing") == {"coarse_first": True, "zbar_only_if_none": True, "rotate": True}
    assert all(frame_pass(i, "zbar") == full for i in range(FULL_SEARCH_EVERY))


def test_a_code_too_small_for_the_half_size_pass_beside_a_big_one_counts_at_the_next_full_search(tmp_path):
    from drivers.camera import FULL_SEARCH_EVERY

    # The half-size copy reads the QR, not the DataMatrix of 2-pixel modules (tests/test_camera_decoder.py).
    scene = Scene([Label("qr", "BIG", x=0.2, module=6),
                   Label("datamatrix", "SMALL", x=0.65, module=2, appear=1)], 1280, 720, seed=3)
    reads, _ = read_scene(tmp_path, scene, FULL_SEARCH_EVERY + 1, fps=30)
    assert {r.payload: r.meta["frame"] for r in reads} == {"]Q1BIG": 0, "]d1SMALL": FULL_SEARCH_EVERY}


# --- live capture in its own thread --------------------------------------------------------

def test_frame_grabber_hands_over_the_newest_frame_and_counts_the_ones_it_replaced(tmp_path):
    from drivers.camera import _FolderCapture
    from drivers.frame_grabber import FrameGrabber

    folder = write_output(Scene([Label("qr", "X", module=5)], 320, 240), str(tmp_path / "frames") + "/", frames=12)
    cap = _FolderCapture(folder)
    grabber = FrameGrabber(cap, "cam").start()
    taken = []
    while True:
        item = grabber.take(5.0)
        assert item is not None
        ok, frame, error, index = item
        if not ok:
            break
        assert frame.shape == (240, 320) and error is None
        taken.append(index)
    assert taken == sorted(set(taken)) and set(taken) <= set(range(12))
    assert grabber.captured == 12 and len(taken) + grabber.dropped == 12
    grabber.stop()
    assert not grabber.running and cap.files == []  # the grabber released the capture


def test_a_live_stream_is_captured_beside_decoding_and_gone_at_its_end(demo_video):
    # An MJPEG stream from a URL is live: no own timeline, frames dropped when decoding is behind.
    manifest = json.load(open(demo_video.path + ".json"))
    drv = Camera("cam", {"device": "file://" + demo_video.path, "fps": 120})
    drv.open()
    reads = []
    try:
        assert drv._live and drv._grabber is not None
        with pytest.raises(DeviceGone, match="no frame"):
            for _ in range(1000):
                reads += drv.read(0.5)
        stats = drv.stats
    finally:
        drv.close()
    assert stats["frames_captured"] == 40 and 1 <= stats["frames_decoded"] <= 40 - stats["frames_dropped"]
    assert {r.payload for r in reads} <= {lb["expected_text"] for lb in manifest["labels"]}
    assert all(0 <= r.meta["frame"] < 40 for r in reads)


def test_an_unchanged_empty_view_gets_the_half_size_read_only_until_something_comes_into_view(tmp_path):
    from drivers.camera import FULL_SEARCH_EVERY

    # The DataMatrix of 2-pixel modules is read only at full size; it comes into view on frame 6.
    scene = Scene([Label("datamatrix", "SMALL", x=0.65, module=2, appear=6)], 1280, 720, seed=3)
    reads, stats = read_scene(tmp_path, scene, 8, fps=30)
    assert FULL_SEARCH_EVERY == 4  # frames 0 and 4 are full searches of the empty view
    assert [(r.payload, r.meta["frame"]) for r in reads] == [("]d1SMALL", 6)]
    assert stats["frames_decoded"] == 8 and stats["frames_unchanged"] == 4  # frames 1, 2, 3 and 5
