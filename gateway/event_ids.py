"""eventIDs: random (version 4) UUID URNs, as EPCIS recommends when no hash-based ID is wanted.

`uuid.uuid4()` asks the kernel for 16 bytes every call; at thousands of scans a second that
syscall and the UUID object were a tenth of the loop's time. This takes the same kernel
randomness (os.urandom) 4 KiB at a time and formats the URN directly. Thread-safe, and a forked
child starts with fresh randomness: two processes must never hand out the same bytes.
"""

from __future__ import annotations

import os
import threading

_POOL = 4096
_lock = threading.Lock()
_buffer = b""
_at = 0


def _forget() -> None:
    global _buffer, _at, _lock
    _buffer, _at, _lock = b"", 0, threading.Lock()


os.register_at_fork(after_in_child=_forget)


def new_event_id() -> str:
    """`urn:uuid:xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx` from 122 random bits."""
    global _buffer, _at
    with _lock:
        at = _at
        if at + 16 > len(_buffer):
            _buffer, at = os.urandom(_POOL), 0
        _at = at + 16
        raw = _buffer[at:at + 16]
    h = raw.hex()
    # RFC 9562: version nibble 4, variant bits 10
    return f"urn:uuid:{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
