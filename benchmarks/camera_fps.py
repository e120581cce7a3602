"""Camera decoding: read rate per decoder on hard pictures, and frames per second on 1280x720.

    .venv/bin/python benchmarks/camera_fps.py            # accuracy, fps and photos; JSON on stdout
    .venv/bin/python benchmarks/camera_fps.py --part fps --frames 30
    .venv/bin/python benchmarks/camera_fps.py --part live --seconds 15

Pictures are rendered by simulators.camera (zxing-cpp's writer), so "correct"
means the decoded text equals the label's expected text. `data_rate` ignores
the AIM identifier, `exact_rate` does not (ZBar's is derived from its symbol type
and GS1 modifier); `wrong` counts reads of a text the picture does not carry.
"camera-between" is how the camera's default (decoders = "both") reads the
frames between its full searches (drivers.camera.frame_pass): zxing-cpp on a
half-size copy, and only where that read nothing zxing-cpp at full size
without the 90° column scan, then ZBar where that too read nothing;
"camera-between-full-size" is the same without the half-size pass (the way
before). Every FULL_SEARCH_EVERY-th frame is read as "both". The fps part runs
"camera" exactly as the driver does (drivers.camera.FrameSearch: the passes,
and the half-size read alone while the view is the empty one a search found
nothing in) beside "both" (every frame searched in full), and gives CPU ms per
frame too, which other load on the machine disturbs less than frames per second.
The "live" part runs the driver on a paced MJPEG stream over HTTP, with the
capture in its own thread (drivers.frame_grabber) and in read().

The "photos" part reads the real photographs in tests/data/images (see
SOURCE.md there): still-image decoding (decode_image, every pass) per set and
symbology, beside one pass of each decoder and the camera's frame pass.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.camera import FULL_SEARCH_EVERY, FrameSearch, frame_pass  # noqa: E402
from drivers.camera_decoder import decode_frame  # noqa: E402
from simulators.camera import Label, Scene  # noqa: E402

SAMPLES = {
    "code128": "TALLY-0042-XZ",
    "gs1-128": "(01)09506000134352(10)LOT42(21)S1",
    "ean-13": "4006381333931",
    "qr": "https://id.example.com/01/09506000134352",
    "gs1-qr": "(01)09506000134352(10)ABC(21)77",
    "datamatrix": "TALLY-DM-0001",
    "gs1-datamatrix": "(01)09506000134352(17)270131(10)ABC-1",
    "pdf417": "SHIP TO: DOCK 4 / PO 12345",
}
MODULE = {"code128": 3, "gs1-128": 3, "ean-13": 3, "pdf417": 3}
VARIANTS = {
    "clean": {},
    "rotated-15": {"angle": 15},
    "rotated-45": {"angle": 45},
    "rotated-90": {"angle": 90},
    "blur-1.5": {"blur": 1.5},
    "blur-2.5": {"blur": 2.5},
    "contrast-0.3": {"contrast": 0.3},
    "contrast-0.15": {"contrast": 0.15},
    "motion-4": {"motion": 4},
    "small-module": {"module": -1},
}


def label(symbology: str, variant: dict) -> Label:
    module = MODULE.get(symbology, 5)
    opts = dict(variant)
    if opts.pop("module", 0) == -1:
        module = max(1, module // 2) if module > 2 else 1
    return Label(symbology, SAMPLES[symbology], module=module, **opts)


def strip_aim(text: str) -> str:
    return text[3:] if text.startswith("]") else text


def accuracy(seeds: int, width: int, height: int) -> dict:
    decoders = ("zxing", "zbar", "both", "camera-between", "camera-between-full-size")
    table: dict = {}
    totals = {d: {"data_ok": 0, "exact_ok": 0, "wrong": 0, "n": 0, "seconds": 0.0} for d in decoders}
    for sym in SAMPLES:
        for vname, variant in VARIANTS.items():
            row = {d: {"data_ok": 0, "exact_ok": 0} for d in decoders}
            for seed in range(seeds):
                lb = label(sym, variant)
                frame = Scene([lb], width, height, seed=seed + 1).frame(0)
                want = lb.expected_text()
                for d in decoders:
                    t0 = time.perf_counter()
                    if d.startswith("camera-between"):
                        how = frame_pass(1, "both") | ({"coarse_first": False} if d.endswith("full-size") else {})
                        got = [r["text"] for r in decode_frame(frame, decoders="both", **how)]
                    else:
                        got = [r["text"] for r in decode_frame(frame, decoders=d)]
                    totals[d]["seconds"] += time.perf_counter() - t0
                    totals[d]["n"] += 1
                    data_ok = strip_aim(want) in {strip_aim(g) for g in got}
                    row[d]["data_ok"] += data_ok
                    row[d]["exact_ok"] += want in got
                    totals[d]["data_ok"] += data_ok
                    totals[d]["exact_ok"] += want in got
                    totals[d]["wrong"] += len({strip_aim(g) for g in got} - {strip_aim(want)})
            table.setdefault(sym, {})[vname] = " ".join(f"{d}={row[d]['data_ok']}/{seeds}" for d in decoders)
    summary = {d: {"data_rate": round(t["data_ok"] / t["n"], 3), "exact_rate": round(t["exact_ok"] / t["n"], 3),
                   "wrong": t["wrong"],
                   "ms_per_frame": round(1000 * t["seconds"] / t["n"], 1)} for d, t in totals.items()}
    return {"frame": f"{width}x{height}", "seeds": seeds, "summary": summary, "by_symbology_and_variant": table}


def fps(frames: int) -> dict:
    scenes = {
        "one-code": Scene([Label("gs1-datamatrix", SAMPLES["gs1-datamatrix"], x=0.4, y=0.5, module=6, angle=12)]),
        "two-codes": Scene([
            Label("gs1-128", SAMPLES["gs1-128"], x=0.35, y=0.25, module=2),
            Label("qr", SAMPLES["qr"], x=0.75, y=0.65, module=5, angle=-10),
        ]),
        "no-code": Scene([]),
    }
    out = {}
    for name, scene in scenes.items():
        imgs = [scene.frame(i) for i in range(frames)]
        want = {lb.expected_text() for lb in scene.labels}
        # The camera driver's default (inverted = false), and zxing-cpp also searching light-on-dark codes.
        for d, inverted in (("zxing", False), ("zbar", False), ("both", False), ("camera", False),
                            ("zxing+inverted", True)):
            found = 0
            camera = FrameSearch("both", inverted) if d == "camera" else None
            t0, c0 = time.perf_counter(), time.process_time()
            for img in imgs:
                codes = camera(img) if camera else decode_frame(img, decoders=d.split("+")[0], inverted=inverted)
                found += {strip_aim(w) for w in want} <= {strip_aim(r["text"]) for r in codes}
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            out.setdefault(name, {})[d] = {"fps": round(frames / dt, 1), "cpu_ms_per_frame": round(1000 * cpu / frames, 1),
                                           "frames_all_found": f"{found}/{frames}"}
    return {"frame": "1280x720 grayscale, the same scene in every frame (fresh sensor noise)", "frames": frames,
            "full_search_every": FULL_SEARCH_EVERY,
            "camera": "decoders = both as drivers.camera runs it", "results": out}


class _MjpegCamera:
    """An IP camera on loopback: `frames` sent as an MJPEG stream (multipart/x-mixed-replace) at `rate` fps.

    The stream is paced like a camera, so decoding that falls behind meets fresh frames (with
    the capture thread) or a queue of old ones (without).
    """

    def __init__(self, frames: list, rate: float):
        import cv2
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        jpegs = [cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_GRAY2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
                 for f in frames]
        self.sent = 0
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                t = time.monotonic()
                try:
                    while not camera.closed:
                        jpeg = jpegs[camera.sent % len(jpegs)]
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                         % len(jpeg) + jpeg + b"\r\n")
                        camera.sent += 1
                        t += 1.0 / rate
                        time.sleep(max(0.0, t - time.monotonic()))
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.closed = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/video.mjpg"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.closed = True
        self.server.shutdown()
        self.server.server_close()


def live(seconds: float, rate: float) -> dict:
    """The camera driver on a paced 1280x720 MJPEG stream, capture in its own thread or in read().

    CPU is the whole process's: the stream's server thread, capture, MJPEG decoding and barcode decoding.
    """
    from drivers.camera import Camera

    scene = Scene([Label("gs1-datamatrix", SAMPLES["gs1-datamatrix"], x=0.4, y=0.5, module=6, angle=12)])
    frames = [scene.frame(i) for i in range(8)]
    out = {}
    for threaded in (True, False):
        source = _MjpegCamera(frames, rate)
        Camera.capture_thread = threaded
        drv = Camera("cam", {"device": source.url, "fps": 120, "repeat_ms": 0, "absent_frames": 0})
        try:
            drv.open()
            drv.read(2.0)  # the stream is up and the first frames are decoded
            start, sent0, c0 = drv.stats, source.sent, time.process_time()
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                drv.read(0.2)
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            end, sent = drv.stats, source.sent - sent0
        finally:
            drv.close()
            source.close()
            Camera.capture_thread = True
        decoded = end["frames_decoded"] - start["frames_decoded"]
        captured = end["frames_captured"] - start["frames_captured"]
        out["capture thread" if threaded else "capture in read()"] = {
            "decoded_fps": round(decoded / dt, 1), "camera_fps": round(sent / dt, 1),
            "cpu_ms_per_decoded_frame": round(1000 * cpu / max(1, decoded), 1),
            "dropped": end["frames_dropped"] - start["frames_dropped"],
            # frames the camera sent that the driver has not captured yet: a queue (in the socket and
            # FFmpeg) that grows is a growing delay between a label in view and its read
            "queue_growth_frames": sent - captured}
    return {"frame": "1280x720 MJPEG over HTTP (loopback), one code", "seconds": seconds, "stream_fps": rate,
            "cpu": "the whole process: stream server, capture, MJPEG decoding and barcode decoding", "results": out}


def photos() -> dict:
    """Read rate on the real photographs: per set and per symbology, for each way of decoding."""
    from drivers.camera_decoder import decode_image
    from drivers.still_decoder import key

    folder = Path(__file__).resolve().parents[1] / "tests" / "data" / "images"
    modes = {"still (both, all passes)": {"decoders": "both"},
             "zxing, all passes": {"decoders": "zxing"}, "zbar, all passes": {"decoders": "zbar"},
             "zxing, one pass": {"decoders": "zxing", "thorough": False},
             "zbar, one pass": {"decoders": "zbar", "thorough": False},
             "camera frame pass (both)": {"decoders": "both", "thorough": False}}
    cases = []  # (set, image, expected texts)
    for truth in sorted(folder.glob("*.txt")):  # one picture, whitespace-separated values
        image = next((p for p in folder.glob(truth.stem + ".*") if p.suffix != ".txt"), None)
        if image is not None:
            cases.append((image.stem, image, set(truth.read_text().split())))
    for image in sorted(folder.glob("*/*/*.png")):  # a set of pictures, one code each, exact text
        truth = image.with_suffix(".txt")
        if truth.exists():
            cases.append((image.parent.name, image, {truth.read_text(encoding="utf-8").replace("\r\n", "\n")}))
    out: dict = {}
    for mode, kw in modes.items():
        per_set: dict = {}
        per_symbology: dict = {}
        right = total = 0
        took = []  # (seconds, picture)
        t0 = time.perf_counter()
        for name, image, want in cases:
            t1 = time.perf_counter()
            results = decode_image(image, **kw)
            took.append((time.perf_counter() - t1, f"{name}/{image.name}"))
            got = {key(r).replace("\r\n", "\n") for r in results}
            ok = len(want & got)
            row = per_set.setdefault(name, [0, 0])
            row[0] += ok
            row[1] += len(want)
            symbology = name.split("-")[0] if "-" in name and name[-1].isdigit() else "code39"
            row = per_symbology.setdefault(symbology, [0, 0])
            row[0] += ok
            row[1] += len(want)
            right += ok
            total += len(want)
        out[mode] = {"read": f"{right}/{total}", "rate": round(right / total, 3),
                     "seconds": round(time.perf_counter() - t0, 1),
                     "ms_per_photo": {"mean": round(1000 * sum(t for t, _ in took) / len(took)),
                                      "max": round(1000 * max(took)[0]), "slowest": max(took)[1]},
                     "per_set": {k: f"{a}/{b}" for k, (a, b) in per_set.items()},
                     "per_symbology": {k: f"{a}/{b}" for k, (a, b) in per_symbology.items()}}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["all", "accuracy", "fps", "photos", "live"], default="all")
    ap.add_argument("--seeds", type=int, default=2, help="pictures per symbology and variant")
    ap.add_argument("--frames", type=int, default=20, help="frames per fps measurement")
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds per live measurement")
    ap.add_argument("--stream-fps", type=float, default=30.0, help="frame rate of the live part's stream")
    args = ap.parse_args()
    import cv2

    report: dict = {"machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                                "opencv": cv2.__version__, "zxing_cpp": importlib.metadata.version("zxing-cpp"),
                                "cv2_threads": cv2.getNumThreads()}}
    if args.part in ("all", "accuracy"):
        report["accuracy"] = accuracy(args.seeds, 1280, 720)
    if args.part in ("all", "fps"):
        report["fps"] = fps(args.frames)
    if args.part in ("all", "photos"):
        report["photos"] = photos()
    if args.part == "live":  # not in "all": ./dev bench camera keeps its time
        report["live"] = live(args.seconds, args.stream_fps)
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
