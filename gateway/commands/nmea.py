"""`tally nmea [FILE]`: NMEA 0183 from a file or stdin -> one gpsd-TPV-like JSON object per fix.

Binary-safe (a capture with UBX binary or line noise in it is fine), reads as data arrives
(so `cat /dev/ttyACM0 | tally nmea` is live), and ends with one summary line on stderr:

    nmea: 1200 sentences, 3 fixes, 2 bad checksums, 1 garbage

Exit 0 however bad the input; 2 only when FILE cannot be opened or read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from typing import BinaryIO

from gateway.decode.nmea import MAX_SENTENCE, NmeaStream

CHUNK = 65536


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", metavar="FILE", help="NMEA capture (default: stdin)")
    parser.add_argument("--date", type=_iso_date, metavar="YYYY-MM-DD",
                        help="the UTC date of the first fix, for captures from GGA-only receivers "
                             "(RMC and ZDA carry the date; GGA does not)")
    parser.add_argument("--max-length", type=int, default=MAX_SENTENCE, metavar="N",
                        help=f"longest sentence accepted, in characters (default {MAX_SENTENCE})")


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-05-31") from None


def run(args: argparse.Namespace) -> int:
    path = getattr(args, "file", None)
    stream = NmeaStream(max_length=max(16, getattr(args, "max_length", MAX_SENTENCE) or MAX_SENTENCE),
                        date_hint=getattr(args, "date", None))
    if path and path != "-":
        try:
            source: BinaryIO = open(path, "rb")
        except OSError as exc:
            print(f"nmea: cannot open {path}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    else:
        source = sys.stdin.buffer
        path = "stdin"
    status = 0
    out = sys.stdout
    try:
        with source:
            while True:
                try:
                    chunk = _read(source)
                except OSError as exc:
                    print(f"nmea: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
                    status = 2
                    break
                if not chunk:
                    break
                _write(out, stream.feed(chunk))
            _write(out, stream.flush())
    except KeyboardInterrupt:
        _write(out, stream.flush())
    except BrokenPipeError:
        # `tally nmea big.log | head`: the reader left; that is not an error of ours.
        _silence_stdout()
        print(stream.counters.summary(), file=sys.stderr)
        return 0
    print(stream.counters.summary(), file=sys.stderr)
    return status


def _read(source: BinaryIO) -> bytes:
    # read1 returns what is there instead of waiting for a full chunk: live pipes stay live.
    read1 = getattr(source, "read1", None)
    return read1(CHUNK) if read1 is not None else source.read(CHUNK)


def _write(out, fixes) -> None:
    if not fixes:
        return
    out.write("".join(json.dumps(fix.to_tpv(), separators=(",", ":")) + "\n" for fix in fixes))
    out.flush()


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
