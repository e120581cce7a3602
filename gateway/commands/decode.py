"""Decode barcode text, RFID EPCs or pictures to JSON: one object per input, one line each, in order.

Each TEXT argument, or each line of standard input when there is none, is one input.
--epc reads the inputs as EPC hex (or EPC URIs); --image decodes every barcode in the
given pictures (each object then names its "image"; a picture without a barcode gives
one object with kind "none"). Invalid barcodes are output, not failures: the exit status
is 0 unless the command line itself is wrong (2) or a decoder is not installed (1).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epc", action="store_true", help="the inputs are RFID EPCs (hex, or EPC URIs)")
    parser.add_argument("--image", nargs="+", action="extend", metavar="FILE", default=[],
                        help="decode every barcode in these pictures")
    parser.add_argument("--symbology", metavar="NAME",
                        help="symbology of every TEXT when it has no AIM identifier (e.g. code128, ean-13)")
    parser.add_argument("--company-prefix", action="append", default=[], metavar="DIGITS",
                        help="a GS1 Company Prefix you own, so identities become EPC URIs (repeatable)")
    parser.add_argument("text", nargs="*", metavar="TEXT", help="barcode text; standard input when none")


def _clean(text: str) -> str:
    """Bytes that were not UTF-8 become U+FFFD, so every line can be printed as JSON."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _stdin_lines() -> Iterator[str]:
    for raw in sys.stdin.buffer:
        line = raw.decode("utf-8", "replace")
        if line.endswith("\n"):
            line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
        yield line


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _image_objects(path: str, decode_image: Callable[[str], list[dict[str, Any]]],
                   decode: Callable[..., dict[str, Any]]) -> Iterable[dict[str, Any]]:
    try:
        barcodes = decode_image(path)
    except Exception as exc:  # an unreadable picture is one line of output, not a crash
        yield {"image": path, "input": None, "kind": "none", "valid": False, "error": str(exc) or type(exc).__name__}
        return
    if not barcodes:
        yield {"image": path, "input": None, "kind": "none", "valid": True}
        return
    for barcode in barcodes:
        text = str(barcode.get("text", ""))
        decoded = decode(text, symbology=barcode.get("symbology"))
        obj = {"image": path}
        obj.update(decoded)
        if barcode.get("symbology") and "symbology" not in decoded:
            obj["symbology"] = barcode["symbology"]
        yield obj


def run(args: argparse.Namespace) -> int:
    if args.epc and args.image:
        print("tally decode: --epc and --image cannot be combined", file=sys.stderr)
        return 2
    from gateway.decode import DecodeError, decode, set_company_prefixes

    if args.company_prefix:
        try:
            set_company_prefixes(args.company_prefix)
        except DecodeError as exc:
            print(f"tally decode: --company-prefix: {exc}", file=sys.stderr)
            return 2

    if args.image:
        try:
            from drivers.camera_decoder import decode_image
        except ImportError as exc:
            print(f"tally decode: --image needs the camera extra (pip install tally-gateway[camera]): {exc}",
                  file=sys.stderr)
            return 1
        for path in args.image:
            for obj in _image_objects(path, decode_image, decode):
                _emit(obj)
        if not args.text:
            return 0

    if args.epc:
        try:
            from gateway.decode.epc import decode_epc
        except ImportError as exc:
            print(f"tally decode: --epc is not available: {exc}", file=sys.stderr)
            return 1
        convert: Callable[[str], dict[str, Any]] = decode_epc
    else:
        def convert(text: str) -> dict[str, Any]:
            return decode(text, symbology=args.symbology)

    inputs = [_clean(t) for t in args.text] if args.text else _stdin_lines()
    for text in inputs:
        try:
            obj = convert(text)
        except Exception as exc:  # decoders promise never to raise; a line of output beats a traceback
            obj = {"input": text, "kind": "text", "valid": False, "error": f"decoder failed ({type(exc).__name__})"}
        _emit(obj)
    return 0
