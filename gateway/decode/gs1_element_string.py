"""Split GS1 element strings into (AI, value) pairs: the scanned form and the printed (HRI) form.

Scanned form: "0109506000134352" "17261231" "10ABC" GS "21XYZ" — FNC1 arrives as GS (0x1D).
A fixed-length AI (01, 17, ...) takes exactly its length; a variable-length one runs to
the next GS or the end. A variable field longer than its maximum means a separator went
missing, and is an error rather than a guess at where the next AI starts.

Printed form (HRI): "(01)09506000134352(17)261231(10)ABC"; spaces around values are
ignored, "\\(" stands for a "(" inside a value.

Both return pairs in order and check only the structure (which AI, how long); the values'
content is checked by gs1_checks.
"""

from __future__ import annotations

import re

from . import DecodeError
from .gs1_ai import AI_TABLE, lookup

GS = "\x1d"

_MAX_ELEMENTS = 64  # far beyond any symbol's capacity; bounds work on hostile input


def parse_element_string(data: str) -> list[tuple[str, str]]:
    """Pairs from a scanned GS1 message (no AIM prefix). Raises DecodeError."""
    elements, error = split_element_string(data)
    if error is not None:
        raise DecodeError(error)
    return elements


def split_element_string(data: str) -> tuple[list[tuple[str, str]], str | None]:
    """Pairs read so far, and the reason reading stopped early (None if it did not)."""
    elements: list[tuple[str, str]] = []
    try:
        return _split(data, elements)
    except DecodeError as exc:
        return elements, str(exc)


def _split(data: str, elements: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], None]:
    n = len(data)
    pos = 0
    while pos < n:
        if data[pos] == GS:  # FNC1 in first position, or a separator after any element
            pos += 1
            continue
        if len(elements) >= _MAX_ELEMENTS:
            raise DecodeError(f"more than {_MAX_ELEMENTS} element strings")
        ai = lookup(data, pos)
        if ai is None:
            raise DecodeError(f"no GS1 Application Identifier at position {pos + 1}: {data[pos:pos + 4]!r}")
        start = pos + len(ai.ai)
        if ai.fixed_len:
            value = data[start:start + ai.max_len]
            cut = value.find(GS)
            if cut != -1:
                value = value[:cut]
            if len(value) < ai.max_len:
                raise DecodeError(f"{ai.label()} is cut short: {len(value)} characters, needs exactly {ai.max_len}")
            pos = start + ai.max_len
        else:
            end = data.find(GS, start)
            if end == -1:
                end = n
            value = data[start:end]
            if len(value) > ai.max_len:
                raise DecodeError(
                    f"{ai.label()} is too long: {len(value)} characters, at most {ai.max_len} allowed "
                    "(is an FNC1 separator missing?)")
            pos = end
        if not value:
            raise DecodeError(f"{ai.label()} has no data")
        elements.append((ai.ai, value))
    if not elements:
        raise DecodeError("no element strings")
    return elements, None


_HRI_AI = re.compile(r"\((\d{2,4})\)")


def parse_hri(text: str) -> list[tuple[str, str]]:
    """Pairs from the human-readable form '(01)...(10)...'. Raises DecodeError."""
    text = text.strip()
    if not text.startswith("("):
        raise DecodeError("a GS1 human-readable string starts with '(AI)'")
    # An opening bracket starts a new AI only if it is not escaped and names a real AI.
    marks = [m for m in _HRI_AI.finditer(text)
             if m.group(1) in AI_TABLE and (m.start() == 0 or text[m.start() - 1] != "\\")]
    if not marks or marks[0].start() != 0:
        found = _HRI_AI.match(text)
        name = f"({found.group(1)})" if found else repr(text[:6])
        raise DecodeError(f"{name} is not a GS1 Application Identifier")
    if len(marks) > _MAX_ELEMENTS:
        raise DecodeError(f"more than {_MAX_ELEMENTS} element strings")
    elements = []
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        value = text[mark.end():end].strip().replace("\\(", "(")
        ai = AI_TABLE[mark.group(1)]
        if not value:
            raise DecodeError(f"{ai.label()} has no data")
        elements.append((ai.ai, value))
    return elements
