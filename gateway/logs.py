"""Logging an operator can read in journald: levels, one line per record, no raw control characters."""

from __future__ import annotations

import logging
import os
import sys

_CONTROL = {c: f"\\x{c:02x}" for c in range(0x20) if c not in (0x09,)}
_CONTROL[0x7F] = "\\x7f"


class PlainFormatter(logging.Formatter):
    """Escapes control characters so a scanned GS or an ESC sequence can't garble or forge log lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        # Only the message: tracebacks keep their newlines.
        record.message = record.message.translate(_CONTROL)
        return super().formatMessage(record)


def setup(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    # journald stamps time and PID itself; a terminal user wants the time.
    if os.environ.get("JOURNAL_STREAM") or not sys.stderr.isatty():
        fmt = "%(levelname)s %(name)s: %(message)s"
    else:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(PlainFormatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("paho").setLevel(logging.WARNING)
