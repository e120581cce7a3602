"""Feedback: every read's outcome (gateway/outcomes.py) told back to the people scanning.

One module per channel: `serial` (host command bytes written back to a serial scanner), `gpio`
(stack lights and buzzers through libgpiod), `hid_pos` (beeper/LED output reports of HID POS
scanners) and `mqtt` (`{root}/{gateway_id}/feedback`, for a display or a handheld app).

Channels are outcome observers, called on the asyncio loop. The loop is where reads are handled,
so nothing here may wait on hardware: a channel that talks to a device hands the signal to its
own worker thread through a small bounded queue (`worker.SignalWorker`). When the queue is full
the oldest signal goes (a stale beep is worth less than the current one) and is counted; a write
that fails is counted with its error. Both show in `status` and in the metrics.
"""

from __future__ import annotations

from gateway.validation import validate_table
from drivers.base import Option, in_range

KEYS = ("accepted", "duplicate", "rejected", "unexpected", "not_accepted", "mode", "pack_open", "pack_close",
        "complete")


def key_of(kind: str) -> str:
    """An outcome kind as it is spelt in the config (TOML keys: not-accepted -> not_accepted)."""
    return kind.replace("-", "_")


FEEDBACK = {
    # Off unless asked for: on, it is a second QoS 1 message per scan for every gateway's broker, and it
    # took 40% of the daemon's CPU per scan when nobody subscribed (benchmarks: ./dev bench throughput).
    "mqtt": Option(bool, False, doc="publish each outcome on {root}/{gateway_id}/feedback (transient, QoS 1) "
                                    "for a display or a handheld app"),
    "queue": Option(int, 16, in_range(1, 1000), doc="signals waiting per hardware channel; when full the oldest "
                                                    "is dropped (counted)"),
}
FEEDBACK_DEFAULTS = {key: opt.default for key, opt in FEEDBACK.items()}

#: [[indicator]] keys, for the config reference (gpio.validate_indicators checks them)
INDICATOR_DOC = [
    ("name", "a string", "required", "unique; in status and metrics"),
    ("chip", "a string", "required", "the GPIO chip, e.g. /dev/gpiochip0 (`record:PATH`: a stand-in that logs changes)"),
    ("devices", "a list", "[]", "the devices whose outcomes it shows; empty = all"),
    (", ".join(KEYS), "tables", "", "per outcome `{ line = N, ms = 200, blink = 1 }`: on for ms, K times"),
]


def validate_feedback(raw: object, path: str, problems: list[str]) -> dict[str, object]:
    """`[feedback]` (gateway.config.EXTRA_SECTIONS)."""

    return validate_table(path, raw, FEEDBACK, problems)
