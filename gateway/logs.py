"""Logging an operator can read in journald: levels, one line per record, no raw control characters."""

from __future__ import annotations

import logging
import os
import sys

def _escape(c: str) -> str:
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def printable(text: str) -> str:
    """Scan content made safe to show in a log line, a terminal or a page: control and other
    non-printing characters (GS, ESC, line separators) escaped, never acted on. The one place this
    is done (logs, the status page, the status server's request log)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\t" else _escape(c) for c in text)


class PlainFormatter(logging.Formatter):
    """Escapes control characters so a scanned GS or an ESC sequence can't garble or forge log lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        # Only the message: tracebacks keep their newlines.
        record.message = printable(record.message)
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
