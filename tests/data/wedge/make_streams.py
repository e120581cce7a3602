"""Regenerates the wedge event streams in this folder (python tests/data/wedge/make_streams.py).

No wedge scanner was at hand, so these streams are synthesised with
simulators.keyboard and then roughened the way real scanners behave (USB
polling jitter, Shift held across a run of capitals, Right Shift, Caps Lock
LED on with the scanner compensating, keypad emulation, a missing
terminator). EXPECTED.json holds the scans each stream must decode to,
written by hand, not derived from the decoder.
"""

from __future__ import annotations

import json
import random
from itertools import pairwise
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from drivers import keymaps as k  # noqa: E402
from simulators.keyboard import KeyEvent, key_events  # noqa: E402

GS = "\x1d"


def jitter(events, rng, poll=0.001, spread=0.004):
    """Re-time reports to a USB poll grid with random gaps, keeping the order."""
    out, t, last_src = [], events[0].t if events else 0.0, None
    for ev in events:
        if ev.t != last_src:
            if last_src is not None:
                t += poll * (1 + rng.randrange(int(spread / poll) + 1))
            last_src = ev.t
        out.append(KeyEvent(round(t, 6), ev.type, ev.code, ev.value))
    return out


def hold_shift(events):
    """Drop a Shift release immediately followed by a Shift press (scanner holds Shift across capitals)."""
    keys = [i for i, e in enumerate(events) if e.type == k.EV_KEY]
    drop = set()
    for a, b in pairwise(keys):
        ea, eb = events[a], events[b]
        if ea.code == eb.code == k.KEY_LEFTSHIFT and ea.value == 0 and eb.value == 1:
            drop |= {a, b, a - 1, a + 1, b - 1, b + 1}  # with their MSC_SCAN and SYN
    return [e for i, e in enumerate(events) if i not in drop]


def right_shift(events):
    return [KeyEvent(e.t, e.type, k.KEY_RIGHTSHIFT if (e.type == k.EV_KEY and e.code == k.KEY_LEFTSHIFT) else e.code,
                     0x700E5 if (e.type == k.EV_MSC and e.value == 0x700E1) else e.value) for e in events]


def caps_compensated(events):
    """Caps Lock LED on: the scanner inverts Shift around each letter key so the host still gets the right case."""
    letters = {code for code, entry in k.DE.levels.items() if entry[0].isalpha() and entry[1] == entry[0].upper()}
    out = [KeyEvent(events[0].t, k.EV_LED, k.LED_CAPSL, 1)]
    shifted = False
    for e in events:
        if e.type == k.EV_KEY and e.code == k.KEY_LEFTSHIFT:
            shifted = e.value == 1
        if e.type == k.EV_KEY and e.code in letters:
            flip = KeyEvent(e.t, k.EV_KEY, k.KEY_LEFTSHIFT, 0 if shifted else 1)
            back = KeyEvent(e.t, k.EV_KEY, k.KEY_LEFTSHIFT, 1 if shifted else 0)
            out += [flip, e, back] if e.value == 1 else [e]
            continue
        out.append(e)
    return out


def stream(scans, layout, rng, gap=0.6, **kw):
    events, t = [], 0.0
    for text in scans:
        evs = jitter(key_events(text, layout, start=t, **kw), rng)
        events += evs
        t = evs[-1].t + gap
    return events


def main() -> None:
    rng = random.Random(29)
    gs1_128 = "]C10109506000134352" + GS + "10ABC123" + GS + "21Xy7"
    ean13 = "]E04006381333931"
    gs1_dm = "]d20104012345678901" + GS + "17270131" + "10Lot-42/b" + GS + "21S3r!al"
    recordings = {
        "us_ctrl_gs.jsonl": hold_shift(stream([gs1_128, ean13, "Hello, World! #42 ~x"], "us", rng, gs="ctrl")),
        "us_rightshift_alt_gs.jsonl": right_shift(stream([gs1_dm, "A]0CODE39+TEXT"], "us", rng, gs="alt",
                                                         terminator="kp_enter")),
        "us_caret_substitute_tab.jsonl": stream([gs1_128.replace(GS, "^"), ean13], "us", rng, gs="ctrl",
                                                terminator="tab"),
        "de_ctrl_gs.jsonl": stream([gs1_dm, "Zürich-Yak_01/02 {x}@y"], "de", rng, gs="ctrl"),
        "de_alt_gs_caps_led.jsonl": caps_compensated(stream([gs1_128, "ABCxyz"], "de", rng, gs="alt")),
        "de_tilde_substitute.jsonl": stream([gs1_dm], "de", rng, gs="substitute", gs_substitute="~"),
        "fr_ctrl_gs.jsonl": stream([gs1_128, "azerty 1234567890 @#"], "fr", rng, gs="ctrl"),
        "fr_alt_gs_no_terminator.jsonl": stream([gs1_dm, ean13, "12345"], "fr", rng, gs="alt", terminator="none"),
        "fr_oversized_then_ok.jsonl": stream(["9" * 120, ean13], "fr", rng, gs="ctrl"),
    }
    for name, events in recordings.items():
        with open(HERE / name, "w", encoding="utf-8") as f:
            for e in events:
                f.write(e.as_json() + "\n")
    print(json.dumps(sorted(recordings)))


if __name__ == "__main__":
    main()
