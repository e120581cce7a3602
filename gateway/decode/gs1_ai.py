"""The GS1 Application Identifier dictionary: every AI's format, and how to read its field.

The AI list, formats and the per-AI regular expressions come from the data biip ships
(`biip/gs1_application_identifiers/_application_identifiers.json`, GS1's own AI list,
541 AIs in biip 5.2). It is read as a file, without importing biip, because importing
biip also unpacks its 130 kB company-prefix table (~40 ms here, far more on a Pi) that
decoding does not need. If biip ever moves the file we fall back to importing it.

The value checks biip does not do (check digits other than GTIN/SSCC/GLN, dates beyond
the regex, ISO country and currency codes, GMN check pair, IBAN, piece-of-total ...) are
ours, in gs1_checks.py; the rules follow GS1's Barcode Syntax Dictionary linters.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from . import DecodeError

# GS1 AI encodable character sets (Gen Specs figure 7.11-1, -2, -3).
CSET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
CSET39 = frozenset("#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
CSET64 = frozenset("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz=")
DIGITS = frozenset("0123456789")

_CHARSETS = {
    "N": (DIGITS, "digits only"),
    "X": (CSET82, "GS1 character set 82"),
    "Y": (CSET39, "GS1 character set 39"),
    "Z": (CSET64, "GS1 character set 64"),
}

_COMPONENT = re.compile(r"(\[?)\+?(?:([NXYZ])(\.\.)?(\d+)|(-))(?:\.\.N?(\d+))?\]?")


@dataclass(frozen=True)
class Component:
    """One part of an AI's data field, e.g. the N13 of GDTI's N13+X..17."""

    charset: str  # N X Y Z, or "-" for a literal hyphen
    min_len: int
    max_len: int
    optional: bool


@dataclass(frozen=True)
class ApplicationIdentifier:
    ai: str
    title: str
    format: str
    fnc1_required: bool
    _pattern: str = field(repr=False)
    components: tuple[Component, ...] = field(default=(), repr=False)

    # Cached: every scan asks each of its AIs for these, and the answers never change.
    @cached_property
    def min_len(self) -> int:
        return sum(c.min_len for c in self.components if not c.optional)

    @cached_property
    def max_len(self) -> int:
        return sum(c.max_len for c in self.components)

    @cached_property
    def fixed_len(self) -> bool:
        return all(c.min_len == c.max_len and not c.optional for c in self.components)

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        # Compiled on first use: 541 patterns at import would cost more than the whole decode.
        return re.compile(self._pattern.removeprefix("^" + self.ai).removesuffix("$"))

    @cached_property
    def _label(self) -> str:
        return f"AI ({self.ai}) {self.title}" if self.title else f"AI ({self.ai})"

    def label(self) -> str:
        return self._label

    def check_syntax(self, value: str) -> None:
        """Raise DecodeError, in words, if `value` breaks the AI's length or character rules.

        The finer format rules (biip's regex: month 01-12, yes/no flags ...) are in
        `check_format`, run after the content checks so a bad date is named as such.
        """
        name = self.label()
        if not value:
            raise DecodeError(f"{name} has no data")
        if len(value) < self.min_len:
            raise DecodeError(f"{name} is too short: {len(value)} characters, needs {self._length_words()}")
        if len(value) > self.max_len:
            raise DecodeError(f"{name} is too long: {len(value)} characters, at most {self.max_len} allowed")
        pos = 0
        for comp in self.components:
            if pos >= len(value):
                break
            if comp.charset == "-":
                if value[pos] != "-":
                    raise DecodeError(f"{name}: expected '-' at position {pos + 1}, got {value[pos]!r}")
                pos += 1
                continue
            allowed, words = _CHARSETS[comp.charset]
            segment = value[pos:pos + comp.max_len]
            for offset, ch in enumerate(segment):
                if ch not in allowed:
                    raise DecodeError(
                        f"{name}: character {ch!r} at position {pos + offset + 1} is not allowed ({words})")
            if comp.min_len == comp.max_len and len(segment) < comp.min_len and not comp.optional:
                raise DecodeError(f"{name} is too short: needs {self._length_words()}")
            pos += len(segment)

    def check_format(self, value: str) -> None:
        name = self.label()
        if not self.pattern.fullmatch(value):
            raise DecodeError(f"{name}: {value!r} does not fit the format {self.format.split('+', 1)[-1]}")

    def _length_words(self) -> str:
        if self.fixed_len:
            return f"exactly {self.max_len}"
        return f"{self.min_len} to {self.max_len}"


def _components(fmt: str) -> tuple[Component, ...]:
    body = fmt.split("+", 1)[1] if "+" in fmt else ""
    comps = []
    for m in _COMPONENT.finditer(body):
        bracket, charset, dots, length, hyphen, upper = m.groups()
        optional = bool(bracket)
        if hyphen:
            comps.append(Component("-", 1, 1, optional))
            continue
        n = int(length)
        if dots:
            comps.append(Component(charset, 1, n, optional))
        elif upper:  # "[N1..N2]": one to two digits
            comps.append(Component(charset, n, int(upper), optional))
        else:
            comps.append(Component(charset, n, n, optional))
    return tuple(comps)


# biip's format text disagrees with its own regex here: a list of 1 to 5 country codes.
_FORMAT_FIXES = {"423": "N3+N3[+N..12]", "425": "N3+N3[+N..12]"}


def _load_entries() -> list[dict]:
    spec = importlib.util.find_spec("biip")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            path = Path(location) / "gs1_application_identifiers" / "_application_identifiers.json"
            if path.is_file():
                return json.loads(path.read_text(encoding="utf-8"))
    from biip.gs1_application_identifiers import _GS1_APPLICATION_IDENTIFIERS  # pragma: no cover

    return [  # pragma: no cover
        {"ai": a.ai, "description": a.description, "data_title": a.data_title,
         "separator_required": a.separator_required, "format": a.format, "pattern": a.pattern}
        for a in _GS1_APPLICATION_IDENTIFIERS.values()
    ]


def _build() -> tuple[dict[str, ApplicationIdentifier], dict[str, int]]:
    table: dict[str, ApplicationIdentifier] = {}
    length_by_prefix: dict[str, int] = {}
    for entry in _load_entries():
        ai = entry["ai"]
        table[ai] = ApplicationIdentifier(
            ai=ai,
            title=entry.get("data_title") or entry.get("description") or "",
            format=entry["format"],
            fnc1_required=bool(entry["separator_required"]),
            _pattern=entry["pattern"],
            components=_components(_FORMAT_FIXES.get(ai, entry["format"])),
        )
        # GS1 allocates AIs so that the first two digits fix the AI's length (Gen Specs 3.2).
        length_by_prefix[ai[:2]] = len(ai)
    return table, length_by_prefix


AI_TABLE, _AI_LENGTH = _build()


def lookup(text: str, pos: int = 0) -> ApplicationIdentifier | None:
    """The AI that starts at `text[pos]`, or None if those digits are no AI."""
    length = _AI_LENGTH.get(text[pos:pos + 2])
    if length is None:
        return None
    return AI_TABLE.get(text[pos:pos + length])


def get(ai: str) -> ApplicationIdentifier:
    try:
        return AI_TABLE[ai]
    except KeyError:
        raise DecodeError(f"({ai}) is not a GS1 Application Identifier") from None
