"""The pty + serial-scanner driver alone (no pipeline): how fast scans come in through the pty path.

    python benchmarks/pty_intake.py --port /path/to/pty --count N

Prints {"ready": true} once the port is open, then {"reads": n, "first": t, "last": t} (time.monotonic()).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.serial_scanner import SerialScanner  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--deadline", type=float, default=120)
    args = parser.parse_args()
    driver = SerialScanner("door-1-scanner", {"port": args.port})
    driver.open()
    print(json.dumps({"ready": True}), flush=True)
    n, first, last = 0, None, None
    end = time.monotonic() + args.deadline
    try:
        while n < args.count and time.monotonic() < end:
            reads = driver.read(0.2)  # as the device runner calls it
            if reads:
                last = time.monotonic()
                first = first or last
                n += len(reads)
    finally:
        driver.close()
    print(json.dumps({"reads": n, "first": first, "last": last}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
