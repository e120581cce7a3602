"""Camera decoding: read rate per decoder on hard pictures, and frames per second on 1280x720.

    .venv/bin/python benchmarks/camera_fps.py            # both parts, JSON on stdout
    .venv/bin/python benchmarks/camera_fps.py --part fps --frames 30

Pictures are rendered by simulators.camera (zxing-cpp's writer), so "correct"
means the decoded text equals the label's expected text. `data_rate` ignores
the AIM identifier, `exact_rate` does not (ZBar's is derived from its symbol type
and GS1 modifier). The "photos" part reads the real photographs in
tests/data/images (see SOURCE.md there).
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
    decoders = ("zxing", "zbar", "both")
    table: dict = {}
    totals = {d: {"data_ok": 0, "exact_ok": 0, "n": 0, "seconds": 0.0} for d in decoders}
    for sym in SAMPLES:
        for vname, variant in VARIANTS.items():
            row = {d: {"data_ok": 0, "exact_ok": 0} for d in decoders}
            for seed in range(seeds):
                lb = label(sym, variant)
                frame = Scene([lb], width, height, seed=seed + 1).frame(0)
                want = lb.expected_text()
                for d in decoders:
                    t0 = time.perf_counter()
                    got = [r["text"] for r in decode_frame(frame, decoders=d)]
                    totals[d]["seconds"] += time.perf_counter() - t0
                    totals[d]["n"] += 1
                    data_ok = strip_aim(want) in {strip_aim(g) for g in got}
                    row[d]["data_ok"] += data_ok
                    row[d]["exact_ok"] += want in got
                    totals[d]["data_ok"] += data_ok
                    totals[d]["exact_ok"] += want in got
            table.setdefault(sym, {})[vname] = " ".join(f"{d}={row[d]['data_ok']}/{seeds}" for d in decoders)
    summary = {d: {"data_rate": round(t["data_ok"] / t["n"], 3), "exact_rate": round(t["exact_ok"] / t["n"], 3),
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
        for d, inverted in (("zxing", False), ("zbar", False), ("both", False), ("zxing+inverted", True)):
            found = 0
            t0 = time.perf_counter()
            for img in imgs:
                got = {strip_aim(r["text"]) for r in decode_frame(img, decoders=d.split("+")[0], inverted=inverted)}
                found += {strip_aim(w) for w in want} <= got
            dt = time.perf_counter() - t0
            out.setdefault(name, {})[d] = {"fps": round(frames / dt, 1), "frames_all_found": f"{found}/{frames}"}
    return {"frame": "1280x720 grayscale", "frames": frames, "results": out}


def photos() -> dict:
    from drivers.camera_decoder import decode_image

    folder = Path(__file__).resolve().parents[1] / "tests" / "data" / "images"
    out = {}
    for truth in sorted(folder.glob("*.txt")):
        image = next((p for p in folder.glob(truth.stem + ".*") if p.suffix != ".txt"), None)
        if image is None:
            continue
        want = set(truth.read_text().split())
        for d in ("zxing", "zbar", "both"):
            got = [strip_aim(r["text"]) for r in decode_image(image, decoders=d)]
            out.setdefault(image.name, {})[d] = {"correct": f"{len(want & set(got))}/{len(want)}",
                                                 "wrong": len([g for g in got if g not in want])}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["all", "accuracy", "fps", "photos"], default="all")
    ap.add_argument("--seeds", type=int, default=2, help="pictures per symbology and variant")
    ap.add_argument("--frames", type=int, default=20, help="frames per fps measurement")
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
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
