"""NMEA: sentences per second through gateway.decode.nmea.NmeaStream against pynmea2.parse alone.

Input: the GPS simulator's output (u-blox order RMC VTG GGA GSA GSV, NMEA 4.10) for a drive of
`seconds` epochs, rendered without a pty. NmeaStream is fed 64-byte chunks as a serial port hands
them over (framing + checked, typed parsing + fix assembly); parse_sentence is the gateway's
parser alone per line; pynmea2.parse (checksum checked, fields left as text) is the baseline.
One core, best of 3 runs.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Callable


def best_rate(work: Callable[[], int], repeat: int = 3) -> tuple[float, int]:
    best, out = 0.0, 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = work()
        best = max(best, 1.0 / (time.perf_counter() - t0))
    return best, out


def run(opts: Any, broker: Any) -> dict[str, Any]:
    try:
        from gateway.decode.nmea import NmeaStream, parse_sentence
    except ImportError as exc:
        return {"skipped": f"gateway.decode.nmea has no NmeaStream yet: {exc}"}
    from simulators.gps import GpsSimulator

    seconds = 600 if opts.quick else 3000
    sim = GpsSimulator(rate_hz=1.0, seed=1, start_time=datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc))
    data = sim.generate(seconds)
    lines = [line.decode("ascii") for line in data.split(b"\r\n") if line]
    n = len(lines)
    chunks = [data[i:i + 64] for i in range(0, len(data), 64)]

    def stream() -> int:
        s = NmeaStream()
        fixes = 0
        for chunk in chunks:
            fixes += len(s.feed(chunk))
        return fixes + len(s.flush())

    def ours() -> int:
        for line in lines:
            parse_sentence(line)
        return n

    out: dict[str, Any] = {"sentences": n, "epochs": seconds, "bytes": len(data)}
    rate, fixes = best_rate(stream)
    out["nmea_stream"] = {"sentences_per_s": round(rate * n), "fixes": fixes}
    rate, _ = best_rate(ours)
    out["parse_sentence"] = {"sentences_per_s": round(rate * n)}
    try:
        import pynmea2
    except ImportError:
        out["pynmea2"] = None
    else:
        def baseline() -> int:
            for line in lines:
                pynmea2.parse(line, check=True)
            return n

        rate, _ = best_rate(baseline)
        out["pynmea2"] = {"sentences_per_s": round(rate * n), "version": getattr(pynmea2, "__version__", "?")}
    base = out["pynmea2"]["sentences_per_s"] if out["pynmea2"] else None
    out["table"] = [
        ("NmeaStream (frame+parse+fix), sentences/s", out["nmea_stream"]["sentences_per_s"],
         f"{round(100 * out['nmea_stream']['sentences_per_s'] / base)}% of pynmea2.parse" if base else "", None),
        ("parse_sentence alone, sentences/s", out["parse_sentence"]["sentences_per_s"], "", None),
        ("baseline: pynmea2.parse, sentences/s", base or "not installed", "fields left as text", None),
    ]
    return out
