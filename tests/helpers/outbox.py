"""What an outbox said of each record, gathered from its writer thread for a test to read."""

from __future__ import annotations

import threading
from typing import Any, Callable


def collect() -> tuple[list[Any], Callable[[list[Any]], None]]:
    """(results, on_results): pass on_results to Outbox; results fills as commits finish."""
    results: list[Any] = []
    lock = threading.Lock()

    def on_results(batch: list[Any]) -> None:
        with lock:
            results.extend(batch)

    return results, on_results
