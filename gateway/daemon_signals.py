"""A SIGTERM or SIGINT that arrives while the daemon is still starting must still mean a clean stop.

Kept apart from daemon.py so it can be installed before the slow imports.
"""

from __future__ import annotations

import signal
from typing import Any

early_stop = False


def catch_early_signals() -> None:
    def remember(signum: int, frame: Any) -> None:
        global early_stop
        early_stop = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, remember)
