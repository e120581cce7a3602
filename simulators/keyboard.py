"""A keyboard-wedge scanner: text in, the key events a real one would send.

`key_events()` turns scan text into the evdev event stream a USB wedge scanner
programmed for a layout produces (the MSC_SCAN / EV_KEY / SYN_REPORT triple per
HID report, Shift pressed around each shifted character as scanners do, GS
typed by the chosen method). The stream can be written as JSON lines for
replay, or typed through a uinput virtual keyboard (`VirtualWedge`) where
/dev/uinput exists, so the hid-scanner driver can be tested end to end.

`tally simulate keyboard "0109506000134352\\x1d10ABC" --layout de --gs alt`
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import IO
from collections.abc import Iterable, Iterator

from simulators import wedge_layouts as w
from simulators.wedge_layouts import EV_KEY, EV_MSC, EV_SYN, KEY, MSC_SCAN, Layout

GS = "\x1d"
GS_METHODS = ("ctrl", "alt", "substitute")
TERMINATORS = {"enter": KEY["enter"], "kp_enter": KEY["kpenter"], "tab": KEY["tab"], "none": None}


@dataclass(frozen=True, slots=True)
class KeyEvent:
    t: float
    type: int
    code: int
    value: int

    def as_json(self) -> str:
        return json.dumps({"t": round(self.t, 6), "type": self.type, "code": self.code, "value": self.value})


class UnencodableError(ValueError):
    """The text holds a character the layout cannot type by any method."""


def alt_code_strokes(ch: str) -> list[tuple[tuple[int, ...], int]] | None:
    """Alt + keypad digits typing `ch` (ANSI code page with a leading 0), or None."""
    if ord(ch) < 32 or ord(ch) == 127:
        digits = f"{ord(ch):04d}"
    else:
        try:
            digits = f"0{ch.encode('cp1252')[0]:03d}"
        except UnicodeEncodeError:
            return None
    return [((w.ALT,), w.KEYPAD[d]) for d in digits]


def key_strokes(
    text: str, layout: str | Layout = "us", *, gs: str = "ctrl", gs_substitute: str = "~",
) -> list[list[tuple[tuple[int, ...], int]]]:
    """Per character, the chord(s) typing it. Alt codes share one Alt press per character."""
    keymap = layout if isinstance(layout, Layout) else w.layout(layout)
    if gs not in GS_METHODS:
        raise ValueError(f"gs must be one of {', '.join(GS_METHODS)}")
    table = keymap.strokes()
    controls = keymap.controls()
    out = []
    for ch in text:
        if ch == GS and gs == "substitute":
            ch = gs_substitute
        elif ch == GS and gs == "alt":
            out.append(alt_code_strokes(ch))
            continue
        if ch in table:
            out.append(table[ch])
        elif ch in controls:
            out.append([((w.CTRL,), controls[ch])])
        elif ch == "\t":
            out.append([((), KEY["tab"])])
        else:
            strokes = alt_code_strokes(ch)
            if strokes is None:
                raise UnencodableError(f"{ch!r} cannot be typed on the {keymap.name} layout")
            out.append(strokes)
    return out


def key_events(
    text: str,
    layout: str | Layout = "us",
    *,
    gs: str = "ctrl",
    gs_substitute: str = "~",
    terminator: str = "enter",
    start: float = 0.0,
    report_interval: float = 0.002,
    msc_scan: bool = True,
) -> list[KeyEvent]:
    """The evdev events a wedge scanner sends for one scan of `text`.

    One HID report every `report_interval` seconds (a USB full-speed keyboard
    endpoint polls at 1–10 ms); each report becomes MSC_SCAN + EV_KEY + SYN.
    """
    if terminator not in TERMINATORS:
        raise ValueError(f"terminator must be one of {', '.join(TERMINATORS)}")
    events: list[KeyEvent] = []
    t = start

    def report(code: int, value: int) -> None:
        nonlocal t
        if msc_scan and code in w.HID_USAGE:
            events.append(KeyEvent(t, EV_MSC, MSC_SCAN, w.HID_USAGE[code]))
        events.append(KeyEvent(t, EV_KEY, code, value))
        events.append(KeyEvent(t, EV_SYN, 0, 0))
        t += report_interval

    chords = key_strokes(text, layout, gs=gs, gs_substitute=gs_substitute)
    end = TERMINATORS[terminator]
    if end is not None:
        chords.append([((), end)])
    for chord in chords:
        held: tuple[int, ...] = ()
        for mods, key in chord:
            if mods != held:
                for m in held:
                    report(m, 0)
                for m in mods:
                    report(m, 1)
                held = mods
            report(key, 1)
            report(key, 0)
        for m in held:
            report(m, 0)
    return events


def write_jsonl(events: Iterable[KeyEvent], out: IO[str]) -> None:
    for ev in events:
        out.write(ev.as_json() + "\n")


def read_jsonl(lines: Iterable[str]) -> Iterator[KeyEvent]:
    """Events from JSON lines; blank lines and lines starting with '#' are skipped."""
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        obj = json.loads(line)
        yield KeyEvent(float(obj["t"]), int(obj["type"]), int(obj["code"]), int(obj["value"]))


def uinput_available() -> bool:
    return os.path.exists("/dev/uinput") and os.access("/dev/uinput", os.W_OK)


class VirtualWedge:
    """A uinput virtual keyboard that types scans like a wedge scanner (needs /dev/uinput)."""

    NAME = "Tally virtual wedge scanner"

    def __init__(self, layout: str = "us", *, gs: str = "ctrl", gs_substitute: str = "~",
                 terminator: str = "enter", report_interval: float = 0.002):
        self.layout, self.gs, self.gs_substitute = layout, gs, gs_substitute
        self.terminator, self.report_interval = terminator, report_interval
        self._ui = None

    @property
    def path(self) -> str:
        """The /dev/input/eventN node of the virtual keyboard."""
        if self._ui is None:
            raise RuntimeError("virtual keyboard not started")
        return self._ui.device.path

    def start(self) -> VirtualWedge:
        import evdev  # lazily: only where uinput is used

        keys = sorted(set(w.HID_USAGE) | {KEY["space"]})
        self._ui = evdev.UInput({EV_KEY: keys, EV_MSC: [MSC_SCAN]}, name=self.NAME)
        return self

    def type(self, text: str) -> None:
        if self._ui is None:
            raise RuntimeError("virtual keyboard not started")
        events = key_events(text, self.layout, gs=self.gs, gs_substitute=self.gs_substitute,
                            terminator=self.terminator, report_interval=self.report_interval)
        last = events[0].t if events else 0.0
        for ev in events:
            if ev.t > last:
                time.sleep(ev.t - last)
                last = ev.t
            self._ui.write(ev.type, ev.code, ev.value)

    def stop(self) -> None:
        if self._ui is not None:
            self._ui.close()
            self._ui = None

    def __enter__(self) -> VirtualWedge:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="*", help="scan texts (\\x1d or <GS> for GS); default: stdin lines")
    parser.add_argument("--layout", default="us", choices=sorted(w.LAYOUTS), help="scanner's keyboard country")
    parser.add_argument("--gs", default="ctrl", choices=GS_METHODS,
                        help="how GS (FNC1) is typed: Ctrl+], Alt+0029, or a substitute character")
    parser.add_argument("--gs-substitute", default="~", help="character sent for GS with --gs substitute")
    parser.add_argument("--terminator", default="enter", choices=sorted(TERMINATORS))
    parser.add_argument("--interval-ms", type=float, default=2.0, help="time between HID reports")
    parser.add_argument("--gap-ms", type=float, default=500.0, help="time between scans")
    parser.add_argument("--uinput", action="store_true",
                        help="type through a uinput virtual keyboard instead of writing JSON lines")
    parser.add_argument("-o", "--output", default="-", help="JSON lines file (default stdout)")


def _unescape(text: str) -> str:
    return text.replace("<GS>", GS).replace("\\x1d", GS).replace("\\x1e", "\x1e").replace("\\x04", "\x04")


def run(args: argparse.Namespace) -> int:
    texts = [_unescape(t) for t in (args.text or [line.rstrip("\n") for line in sys.stdin])]
    texts = [t for t in texts if t]
    try:
        for t in texts:  # fail before typing anything
            key_strokes(t, args.layout, gs=args.gs, gs_substitute=args.gs_substitute)
    except UnencodableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.uinput:
        if not uinput_available():
            print("error: /dev/uinput is missing or not writable (modprobe uinput; needs root or the input group)",
                  file=sys.stderr)
            return 2
        with VirtualWedge(args.layout, gs=args.gs, gs_substitute=args.gs_substitute,
                          terminator=args.terminator, report_interval=args.interval_ms / 1000) as kb:
            print(f"virtual keyboard at {kb.path}", file=sys.stderr)
            time.sleep(0.5)  # let udev and readers see the new device
            for t in texts:
                kb.type(t)
                time.sleep(args.gap_ms / 1000)
        return 0
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    try:
        start = 0.0
        for t in texts:
            events = key_events(t, args.layout, gs=args.gs, gs_substitute=args.gs_substitute,
                                terminator=args.terminator, start=start,
                                report_interval=args.interval_ms / 1000)
            write_jsonl(events, out)
            start = (events[-1].t if events else start) + args.gap_ms / 1000
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
