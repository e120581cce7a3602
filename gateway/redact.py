"""Secrets out of anything shown: status pages, /status.json, remote `status` answers."""

from __future__ import annotations

import re
from typing import Any

SECRET_KEY = re.compile(r"passw(or)?d|passphrase|secret|token|credential|private[-_]?key|psk", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(value: Any) -> Any:
    """A copy with every value under a secret-sounding key replaced: status pages are not for passwords."""
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and SECRET_KEY.search(k) and v is not None else redact(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value
