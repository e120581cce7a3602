"""`tally decode`: one JSON object per input, one line each, in order; exit 0 unless the command line is wrong."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.commands import decode as command
from gateway.decode import set_company_prefixes

ROOT = Path(__file__).resolve().parents[1]
GTIN = "09506000134352"


@pytest.fixture(autouse=True)
def reset_prefixes():
    yield
    set_company_prefixes([])


def run(argv: list[str], stdin: bytes | None = None, monkeypatch=None) -> int:
    parser = argparse.ArgumentParser(prog="tally decode")
    command.add_arguments(parser)
    args = parser.parse_args(argv)
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    return command.run(args)


def lines(capsys) -> list[dict]:
    out = capsys.readouterr().out
    assert out.endswith("\n")
    return [json.loads(line) for line in out.splitlines()]


def test_arguments_in_order(capsys):
    assert run(["1Z5R89390357567127", "]C1" + "01" + GTIN + "10ABC", "hello", "9506000134353"]) == 0
    out = lines(capsys)
    assert [o["kind"] for o in out] == ["tracking", "gs1", "text", "gs1"]
    assert [o["valid"] for o in out] == [True, True, True, False]
    assert out[1]["input"] == "]C1" + "01" + GTIN + "10ABC"
    assert out[3]["error"] == "GTIN check digit is 3, expected 2"


def test_stdin_lines_strip_only_the_line_end(capsys, monkeypatch):
    data = b"9506000134352\r\n  EC123456785US  \n\n\xff\xfe\n]C1" + b"01" + GTIN.encode() + b"\x1d10X"
    assert run([], stdin=data, monkeypatch=monkeypatch) == 0
    out = lines(capsys)
    assert [o["input"] for o in out] == ["9506000134352", "  EC123456785US  ", "", "\ufffd\ufffd",
                                         "]C1" + "01" + GTIN + "\x1d10X"]
    assert out[1]["carrier"] == "usps" and out[2]["error"] == "empty input"
    assert out[4]["ais"] == {"01": GTIN, "10": "X"}


def test_non_ascii_is_written_as_is(capsys):
    run(["Grüße"])
    assert '"Grüße"' in capsys.readouterr().out


def test_company_prefix_option(capsys):
    assert run(["--company-prefix", "9506000", "]C1" + "01" + GTIN + "21" + "7"]) == 0
    assert lines(capsys)[0]["identity"] == "urn:epc:id:sgtin:9506000.013435.7"
    assert run(["--company-prefix", "95x", "1"]) == 2


def test_symbology_option_changes_the_reading(capsys):
    run(["--symbology", "code128", "790535312317"])  # FedEx in plain Code 128, not a UPC-A
    assert lines(capsys)[0]["kind"] == "tracking"


def test_epc_option(capsys):
    assert run(["--epc", "3074257BF7194E4000001A85"]) == 0
    out = lines(capsys)[0]
    assert out["kind"] == "epc" and out["epc_uri"] == "urn:epc:id:sgtin:0614141.812345.6789"


def test_epc_and_image_together_is_a_usage_error(capsys):
    assert run(["--epc", "--image", "x.png"]) == 2
    assert "cannot be combined" in capsys.readouterr().err


def test_image_with_barcodes_without_and_unreadable(tmp_path, capsys):
    zxingcpp = pytest.importorskip("zxingcpp", reason="--image needs zxing-cpp (camera extra)")
    cv2 = pytest.importorskip("cv2", reason="--image needs OpenCV (camera extra)")
    import numpy as np

    def picture(content, fmt, **kw):
        image = np.array(zxingcpp.write_barcode_to_image(zxingcpp.create_barcode(content, fmt, **kw), scale=4))
        return cv2.copyMakeBorder(image, 30, 30, 30, 30, cv2.BORDER_CONSTANT, value=255)

    label = tmp_path / "label.png"
    dm = picture("(01)09506000134352(10)ABC", zxingcpp.BarcodeFormat.DataMatrix, gs1=True)
    code128 = picture("1Z5R89390357567127", zxingcpp.BarcodeFormat.Code128)
    width = max(dm.shape[1], code128.shape[1])
    pad = [cv2.copyMakeBorder(p, 0, 0, 0, width - p.shape[1], cv2.BORDER_CONSTANT, value=255) for p in (dm, code128)]
    cv2.imwrite(str(label), np.vstack(pad))
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((80, 80), 255, dtype=np.uint8))
    broken = tmp_path / "notes.png"
    broken.write_text("not a picture")

    assert run(["--image", str(label), str(blank), str(broken)]) == 0
    out = lines(capsys)
    found = {o["kind"]: o for o in out if o["image"] == str(label)}
    assert found["gs1"]["input"] == "]d2" + "01" + GTIN + "10ABC" and found["gs1"]["symbology"] == "gs1-datamatrix"
    assert found["gs1"]["ais"] == {"01": GTIN, "10": "ABC"}
    assert found["tracking"]["carrier"] == "ups" and found["tracking"]["symbology"] == "code128"
    assert [o for o in out if o["image"] == str(blank)] == [
        {"image": str(blank), "input": None, "kind": "none", "valid": True}]
    unreadable = [o for o in out if o["image"] == str(broken)]
    assert len(unreadable) == 1 and unreadable[0]["valid"] is False and unreadable[0]["error"]


@pytest.mark.slow
def test_python_dash_m_gateway_decode():
    done = subprocess.run([sys.executable, "-m", "gateway", "decode", "1Z5R89390357567127", "]E09506000134352"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["kind"] for o in out] == ["tracking", "gs1"]
    piped = subprocess.run([sys.executable, "-m", "gateway", "decode"], input="EC123456784US\n",
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0
    assert json.loads(piped.stdout)["error"] == "UPU S10 check digit is 4, expected 5"
    bad = subprocess.run([sys.executable, "-m", "gateway", "decode", "--no-such-flag"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
