"""A serial barcode scanner on a pty that types labels at a chosen rate.

    tally simulate serial-scanner --rate 2                   # generated GS1 labels, forever
    tally simulate serial-scanner --file labels.txt          # one scan per line
    echo "]C10109506000134352" | tally simulate serial-scanner --stdin

What the host sends back (feedback commands: beeps, LED, "bad read") is recorded with the time it
arrived, in `received`, so tests can assert the signals and their order.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Callable, Iterable, Iterator

from .labels import labels as generated_labels
from .pty_device import PtyDevice

TERMINATORS = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n", "none": b""}


class SerialScannerSimulator:
    def __init__(self, path: str | None = None, terminator: str = "cr", char_delay: float = 0.0):
        self.pty = PtyDevice(path)
        self.terminator = TERMINATORS[terminator]
        self.char_delay = char_delay
        self.sent = 0
        self.received: list[tuple[float, bytes]] = []   # (time.time(), bytes) as the host wrote them
        self.on_receive: Callable[[bytes], None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: threading.Thread | None = None

    @property
    def path(self) -> str:
        return str(self.pty.path)

    def start(self) -> "SerialScannerSimulator":
        self.pty.plug()
        self._listener = threading.Thread(target=self._listen, name="serial-scanner-sim-rx", daemon=True)
        self._listener.start()
        return self

    def _listen(self) -> None:
        while not self._stop.is_set():
            if not self.pty.plugged:
                self._stop.wait(0.05)
                continue
            try:
                data = self.pty.read(4096, timeout=0.05)
            except (OSError, ValueError):  # unplugged under us
                continue
            if data:
                # The callback first: whoever waits on `received` then also sees what the callback did.
                if self.on_receive is not None:
                    self.on_receive(data)
                self.received.append((time.time(), data))

    def host_bytes(self) -> bytes:
        """Everything the host sent, in order."""
        return b"".join(data for _, data in list(self.received))

    def wait_received(self, data: bytes, count: int = 1, timeout: float = 10.0) -> bool:
        """Until the host has sent `data` at least `count` times."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.host_bytes().count(data) >= count:
                return True
            time.sleep(0.01)
        return self.host_bytes().count(data) >= count

    def scan(self, text: str | bytes) -> None:
        """Send one scan as the scanner would (text + terminator)."""
        data = text.encode("utf-8") if isinstance(text, str) else text
        if self.char_delay:
            for b in data:
                self.pty.write(bytes([b]))
                time.sleep(self.char_delay)
            self.pty.write(self.terminator)
        else:
            self.pty.write(data + self.terminator)
        self.sent += 1

    def unplug(self) -> None:
        self.pty.unplug()

    def replug(self) -> None:
        self.pty.plug()

    def play(self, scans: Iterable[str], rate: float, count: int | None = None) -> threading.Thread:
        """Type `scans` at `rate` per second in a background thread."""

        def run() -> None:
            interval = 1.0 / rate if rate > 0 else 0.0
            next_at = time.monotonic()
            for n, text in enumerate(scans):
                if self._stop.is_set() or (count is not None and n >= count):
                    return
                self.scan(text)
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)

        self._thread = threading.Thread(target=run, name="serial-scanner-sim", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._listener is not None:
            self._listener.join(5)
        self.pty.close()

    def __enter__(self) -> "SerialScannerSimulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--link", help="path of the device symlink to create (default: a temp dir)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--file", help="scan each line of this file")
    source.add_argument("--stdin", action="store_true", help="scan each line read from stdin")
    parser.add_argument("--rate", type=float, default=1.0, help="scans per second (default 1)")
    parser.add_argument("--count", type=int, help="stop after this many scans")
    parser.add_argument("--seed", type=int, help="seed for generated labels")
    parser.add_argument("--no-aim", action="store_true", help="generated labels without AIM identifiers")
    parser.add_argument("--terminator", choices=sorted(TERMINATORS), default="cr")


def _lines(stream: Iterable[str]) -> Iterator[str]:
    for line in stream:
        line = line.rstrip("\r\n")
        if line:
            yield line


def run(args: argparse.Namespace) -> int:
    sim = SerialScannerSimulator(args.link, args.terminator).start()
    print(f"serial scanner on {sim.path}", file=sys.stderr, flush=True)
    print(sim.path, flush=True)
    if args.file:
        with open(args.file, encoding="utf-8") as fh:
            scans: Iterable[str] = list(_lines(fh))
    elif args.stdin:
        scans = _lines(sys.stdin)
    else:
        scans = generated_labels(args.seed, aim=not args.no_aim)
    try:
        sim.play(scans, args.rate, args.count).join()
        time.sleep(0.5)  # let the last bytes drain before the pty goes away
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0
