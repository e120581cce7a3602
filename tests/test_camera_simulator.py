"""`tally simulate camera`: writes frames or a video plus a manifest of what the decoder should see."""

from __future__ import annotations

import argparse
import json

import cv2

from drivers.camera_decoder import decode_frame
from simulators import camera as sim


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    sim.add_arguments(parser)
    return sim.run(parser.parse_args(list(argv)))


def test_writes_a_png_folder_with_manifest_from_label_options(tmp_path):
    out = str(tmp_path / "frames") + "/"
    assert run("-o", out, "--frames", "3", "--width", "640", "--height", "480",
               "--label", "gs1-datamatrix:(01)09506000134352(10)A1;angle=20;blur=0.8;module=6;y=0.72",
               "--label", "ean-13:4006381333931;x=0.5;y=0.2;appear=1") == 0
    manifest = json.load(open(tmp_path / "frames.json"))
    assert [lb["expected_text"] for lb in manifest["labels"]] == [
        "]d2010950600013435210A1", "]E04006381333931"]
    frames = sorted((tmp_path / "frames").glob("*.png"))
    assert len(frames) == 3
    first = sorted(r["text"] for r in decode_frame(cv2.imread(str(frames[0]), cv2.IMREAD_GRAYSCALE)))
    last = sorted(r["text"] for r in decode_frame(cv2.imread(str(frames[2]), cv2.IMREAD_GRAYSCALE)))
    assert first == ["]d2010950600013435210A1"] and last == ["]E04006381333931", "]d2010950600013435210A1"]


def test_writes_an_mjpg_video_opencv_reads_back(tmp_path):
    out = tmp_path / "dock.avi"
    assert run("-o", str(out), "--frames", "5", "--width", "320", "--height", "240",
               "--label", "qr:HELLO;module=4") == 0
    cap = cv2.VideoCapture(str(out))
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    assert count == 5


def test_bad_label_is_an_error_not_a_traceback(tmp_path, capsys):
    assert run("-o", str(tmp_path / "x.avi"), "--label", "maxicode:HELLO") == 2
    assert "SYMBOLOGY:DATA" in capsys.readouterr().err
    assert run("-o", str(tmp_path / "x.avi"), "--label", "qr:HELLO;spin=3") == 2
